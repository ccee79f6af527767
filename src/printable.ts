/**
 * Control characters (C0, DEL, C1) and the bidirectional overrides that can reorder what a
 * terminal shows: a file name is the recorder's to choose, and printed raw it could clear the
 * screen, move the cursor or disguise itself.
 */
function isUnprintable(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/** `text` with every character a terminal would act on written as a `\u{...}` escape instead. */
export function printable(text: string): string {
  let shown = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    shown += isUnprintable(code) ? `\\u{${code.toString(16)}}` : char;
  }
  return shown;
}
