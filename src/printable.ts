/**
 * Control characters (C0, DEL, C1) and the bidirectional marks, embeddings, overrides and isolates
 * that can reorder what a terminal shows: a file name is the recorder's to choose, and printed raw
 * it could clear the screen, move the cursor or disguise itself.
 */
function isUnprintable(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

function escapeUnprintable(text: string, escape: (code: number) => string): string {
  let shown = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    shown += isUnprintable(code) ? escape(code) : char;
  }
  return shown;
}

/** `text` with every character a terminal would act on written as a `\u{...}` escape instead. */
export function printable(text: string): string {
  return escapeUnprintable(text, (code) => `\\u{${code.toString(16)}}`);
}

/**
 * `value` as JSON (indented by `indent`) that is safe to print. JSON.stringify escapes C0 inside
 * strings, so a line break it writes is the indentation's; but it writes DEL, C1 and the
 * bidirectional controls as they are. These can only occur inside strings, where `\uXXXX` means
 * the same character, so the JSON still parses to `value`.
 */
export function printableJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent)
    .split('\n')
    .map((line) => escapeUnprintable(line, (code) => `\\u${code.toString(16).padStart(4, '0')}`))
    .join('\n');
}
