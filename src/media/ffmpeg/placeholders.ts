/**
 * Placeholders and names (spec §1.6, Decision 8). `{{alias}}`, `{{ alias }}` and `<<alias>>` are the same
 * placeholder; {@link normalisePlaceholders} removes the inner spaces before word splitting so that
 * `{{ in_a }}` stays one word. A placeholder is only ever valid as a whole word (an `-i` value or an
 * output) or as the whole value of a file option inside a filter; the planner enforces where.
 */

const LOOSE = /\{\{[ \t]*([A-Za-z0-9_]+)[ \t]*\}\}|<<[ \t]*([A-Za-z0-9_]+)[ \t]*>>/g;
const ANY = /\{\{([A-Za-z0-9_]+)\}\}|<<([A-Za-z0-9_]+)>>/g;
const WHOLE = /^(?:\{\{([A-Za-z0-9_]+)\}\}|<<([A-Za-z0-9_]+)>>)$/;
const ALIAS = /^(in|out)_[A-Za-z0-9_]+$/;
const OUTPUT_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$/;
/** A plain file name written by one chain step and read by a later one (relative to the job dir). */
const INTERMEDIATE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
const EXTENSION = /\.[A-Za-z0-9]+$/;

/** Rewrites `{{ a }}` / `<< a >>` to `{{a}}` / `<<a>>` (spaces and tabs only). */
export function normalisePlaceholders(command: string): string {
  return command.replace(LOOSE, (_m, a?: string, b?: string) => (a !== undefined ? `{{${a}}}` : `<<${b}>>`));
}

/** The alias when `text` is exactly one placeholder, else null. */
export function wholePlaceholder(text: string): string | null {
  const m = WHOLE.exec(text);
  return m === null ? null : (m[1] ?? m[2] ?? null);
}

/** Every placeholder alias in `text`, in order. */
export function placeholdersIn(text: string): string[] {
  return [...text.matchAll(ANY)].map((m) => m[1] ?? m[2] ?? "");
}

/** True when `text` holds placeholder syntax (valid or not): `{{`, `}}`, `<<` or `>>`. */
export function looksLikePlaceholder(text: string): boolean {
  return /\{\{|\}\}|<<|>>/.test(text);
}

/** Decision 8: `^(in|out)_[A-Za-z0-9_]+$`, with the prefix matching the role. null = valid. */
export function validateAlias(alias: string, role: "in" | "out"): string | null {
  if (!ALIAS.test(alias)) {
    return `Alias "${alias}" must match ^(in|out)_[A-Za-z0-9_]+$`;
  }
  if (!alias.startsWith(`${role}_`)) {
    return `Alias "${alias}" must start with "${role}_"`;
  }
  return null;
}

/**
 * Decision 8: 1–255 of `[A-Za-z0-9._-]`, an extension, no path separators, not starting with `.` or `-`.
 * null = valid.
 */
export function validateOutputFilename(name: string): string | null {
  if (!OUTPUT_NAME.test(name)) {
    return `Output file name "${name}" must be 1-255 characters of [A-Za-z0-9._-], not starting with "." or "-"`;
  }
  if (!EXTENSION.test(name)) {
    return `Output file name "${name}" must have an extension (e.g. ".mp4")`;
  }
  return null;
}

/** A chain intermediate: `[A-Za-z0-9][A-Za-z0-9._-]{0,254}` with an extension, no slash. */
export function isIntermediateName(word: string): boolean {
  return INTERMEDIATE.test(word) && EXTENSION.test(word);
}
