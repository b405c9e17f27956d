/** Splits text into pieces of at most `limit` characters, cutting at a line break when one is near. */
export function chunkText(text: string, limit: number): string[] {
  const chunks: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    const cut = rest.lastIndexOf('\n', limit);
    const at = cut > limit / 2 ? cut : limit;
    chunks.push(rest.slice(0, at));
    rest = rest.slice(at).replace(/^\n/, '');
  }
  chunks.push(rest);
  return chunks;
}

/**
 * Characters never shown as they are: controls (C0, DEL, C1), line and paragraph separators, and the
 * invisible bidi marks, embeddings, overrides and isolates (U+202E shows the text after it reversed).
 */
const HIDDEN = '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';
const HIDDEN_RUNS = new RegExp(`[${HIDDEN}]+`, 'g');
const HIDDEN_BUT_LINES = new RegExp(`[${HIDDEN.replace('\\u0000-\\u001f', '\\u0000-\\u0008\\u000b-\\u001f')}]`, 'g');

/** One printable line of a name or label from chat: hidden characters become a space, spaces are collapsed. */
export function cleanLine(text: string): string {
  return text.replace(HIDDEN_RUNS, ' ').replace(/\s+/g, ' ').trim();
}

/** Text for a terminal or a log, kept in its lines (newlines and tabs stay), hidden characters removed. */
export function cleanLines(text: string): string {
  return text.replace(HIDDEN_BUT_LINES, '');
}
