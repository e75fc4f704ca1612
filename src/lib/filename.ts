/**
 * A client's file name is display data only. `sanitizeFilename` keeps what a person would recognise
 * and removes everything that could act on a path, a terminal or a reader's eyes:
 * - directory parts (both `/` and `\`), so `../../etc/passwd` becomes `passwd`;
 * - control characters (C0, DEL, C1) and bidi overrides/isolates (U+202A–202E, U+2066–2069, U+200E/F,
 *   U+061C), which can make `exe.mp4` display as `mp4.exe`;
 * - leading dots and dashes (hidden files, option-like names), trailing dots and spaces;
 * - characters outside a conservative set become `_`, so the name is safe in a URL path, an S3 key
 *   and a Content-Disposition header.
 * The result is at most 255 bytes and never empty (`file` + the extension when nothing survives).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const BIDI_AND_CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE = /[^\p{L}\p{N}._\- ()+,=@]/gu;
const MAX_BYTES = 255;

export function sanitizeFilename(raw: string | null | undefined, fallback = "file"): string {
  let name = (raw ?? "").normalize("NFC").replace(BIDI_AND_CONTROL, "");
  name = name.split(/[/\\]/).pop() ?? "";
  name = name.replace(UNSAFE, "_").replace(/\s+/g, " ");
  name = name.replace(/^[.\-\s]+/, "").replace(/[.\s]+$/, "");
  if (name === "" || /^_*$/.test(name)) name = fallback;
  return truncateUtf8(name, MAX_BYTES);
}

/** Cuts a name to `max` UTF-8 bytes, keeping its extension when it has a short one. */
export function truncateUtf8(name: string, max: number): string {
  const enc = new TextEncoder();
  if (enc.encode(name).length <= max) return name;
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
  let stem = name.slice(0, name.length - ext.length);
  while (enc.encode(stem + ext).length > max) stem = [...stem].slice(0, -1).join("");
  return stem + ext;
}

/** The lowercase extension without the dot, or "" when there is none. */
export function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}
