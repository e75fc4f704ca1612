/**
 * POSIX-shell-like word splitting, without the shell: no expansion, no operators, no globbing.
 * `$`, `` ` ``, `|`, `;`, `&`, `<`, `>` are ordinary characters (`<<alias>>` is a placeholder form).
 * Only quoting and backslashes are interpreted, so the result is exactly the argv a user meant.
 */
import { CommandError } from "./errors";

/** Characters a backslash escapes inside double quotes (POSIX); before anything else it stays literal. */
const DQ_ESCAPABLE = new Set(['"', "\\", "$", "`", "\n"]);

/** Control characters are refused anywhere (TAB only separates words or sits inside quotes). */
function checkChar(c: string): void {
  const code = c.charCodeAt(0);
  if ((code < 0x20 && c !== "\t" && c !== "\n") || code === 0x7f) {
    const name = c === "\0" ? "NUL" : c === "\r" ? "CR" : `U+${code.toString(16).padStart(4, "0")}`;
    throw new CommandError(`Control character ${name} is not allowed in a command`, c);
  }
}

/**
 * Splits a command into words like `sh` would: `'…'` is literal, `"…"` honours `\"`, `\\`, `\$`, `` \` ``
 * and backslash-newline, and outside quotes `\x` is `x` and backslash-newline is a line continuation.
 * Throws {@link CommandError} on NUL, CR, a bare LF, other control characters, an unbalanced quote or a
 * trailing backslash.
 */
export function tokenize(command: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  const n = command.length;
  while (i < n) {
    const c = command.charAt(i);
    checkChar(c);
    if (c === " " || c === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else if (c === "\n") {
      throw new CommandError("Line breaks are not allowed in a command (use a backslash continuation)", "\n");
    } else if (c === "\\") {
      if (i + 1 >= n) throw new CommandError("Trailing backslash at the end of the command", "\\");
      const next = command.charAt(i + 1);
      checkChar(next);
      if (next !== "\n") {
        word += next;
        inWord = true;
      }
      i += 2;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new CommandError("Unbalanced single quote", command.slice(i));
      const quoted = command.slice(i + 1, end);
      for (const q of quoted) {
        checkChar(q);
        if (q === "\n") throw new CommandError("Line breaks are not allowed inside quotes", "\n");
      }
      word += quoted;
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      const [text, end] = readDoubleQuoted(command, i + 1);
      word += text;
      inWord = true;
      i = end + 1;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Reads a double-quoted string starting after its opening quote; returns its text and the closing index. */
function readDoubleQuoted(s: string, from: number): [string, number] {
  let out = "";
  for (let i = from; i < s.length; i++) {
    const c = s.charAt(i);
    checkChar(c);
    if (c === '"') return [out, i];
    if (c === "\n") throw new CommandError("Line breaks are not allowed inside quotes", "\n");
    if (c === "\\" && i + 1 < s.length && DQ_ESCAPABLE.has(s.charAt(i + 1))) {
      if (s.charAt(i + 1) !== "\n") out += s.charAt(i + 1);
      i++;
    } else {
      out += c;
    }
  }
  throw new CommandError("Unbalanced double quote", s.slice(from - 1));
}
