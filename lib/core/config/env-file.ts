import { CrsError } from '../util/errors.ts';
import type { Env } from './paths.ts';

const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses a shell-style `KEY=value` file as data, never by running a shell: `#` comments, `export`,
 * single quotes (literal), double quotes (with `\` escapes), and `$VAR` / `${VAR}` / `${VAR:-default}`
 * expansion from earlier keys, then `env`. Command substitution is refused, not run.
 */
export function parseEnvText(text: string, file: string, env: Env = {}): Record<string, string> {
  const values: Record<string, string> = {};
  const lookup = (name: string): string | undefined => values[name] ?? env[name];
  let pos = 0;
  let line = 1;
  const fail = (what: string, hint = 'Fix the line; values with spaces need quotes.'): never => {
    throw new CrsError(`${file} line ${line}: ${what}.`, { hint, exitCode: 1 });
  };

  const expand = (quoted: boolean): string => {
    // pos is at '$'
    pos++;
    if (text[pos] === '{') {
      const end = text.indexOf('}', pos);
      if (end < 0) fail('unclosed ${');
      const body = text.slice(pos + 1, end);
      pos = end + 1;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)-(.*))?$/s.exec(body);
      if (!m) fail(`unsupported expansion \${${body}}`);
      const value = lookup(m![1]!);
      return value === undefined || (value === '' && m![2] === ':') ? (m![3] ?? '') : value;
    }
    if (text[pos] === '(') fail('command substitution $(...) is not supported, the file is read as data');
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(pos, pos + 256));
    if (!m) return '$';
    pos += m[0].length;
    void quoted;
    return lookup(m[0]) ?? '';
  };

  while (pos < text.length) {
    // Skip blank space and comment lines.
    const ch = text[pos]!;
    if (ch === '\n') { line++; pos++; continue; }
    if (ch === ' ' || ch === '\t' || ch === '\r') { pos++; continue; }
    if (ch === '#') { while (pos < text.length && text[pos] !== '\n') pos++; continue; }

    const eol = text.indexOf('\n', pos);
    const rest = text.slice(pos, eol < 0 ? text.length : eol);
    const m = /^(?:export[ \t]+)?([^=\s]+)=/.exec(rest);
    if (!m) fail(`expected KEY=value, found ${JSON.stringify(rest.slice(0, 40))}`);
    const key = m![1]!;
    if (!KEY_PATTERN.test(key)) fail(`invalid key ${JSON.stringify(key)}`);
    pos += m![0].length;

    let value = '';
    for (;;) {
      const c = text[pos];
      if (c === undefined || c === '\n' || c === ' ' || c === '\t' || c === '\r') break;
      if (c === "'") {
        const end = text.indexOf("'", pos + 1);
        if (end < 0) fail('unclosed single quote');
        const literal = text.slice(pos + 1, end);
        line += literal.split('\n').length - 1;
        value += literal;
        pos = end + 1;
      } else if (c === '"') {
        pos++;
        for (;;) {
          const d = text[pos];
          if (d === undefined) fail('unclosed double quote');
          if (d === '"') { pos++; break; }
          if (d === '\\' && '"\\$`\n'.includes(text[pos + 1] ?? '')) {
            if (text[pos + 1] === '\n') line++;
            else value += text[pos + 1];
            pos += 2;
          } else if (d === '$') {
            value += expand(true);
          } else if (d === '`') {
            fail('command substitution `...` is not supported, the file is read as data');
          } else {
            if (d === '\n') line++;
            value += d;
            pos++;
          }
        }
      } else if (c === '$') {
        value += expand(false);
      } else if (c === '`') {
        fail('command substitution `...` is not supported, the file is read as data');
      } else if (c === '\\') {
        // Backslash-newline continues the line, as in a shell.
        if (text[pos + 1] === '\n') line++;
        else value += text[pos + 1] ?? '';
        pos += 2;
      } else if (c === ';' || c === '|' || c === '&' || c === '<' || c === '>' || c === '(' || c === ')') {
        fail(`unexpected ${JSON.stringify(c)}: only KEY=value lines are read`);
      } else {
        value += c;
        pos++;
      }
    }
    // After the value only blanks and a comment may follow.
    while (text[pos] === ' ' || text[pos] === '\t' || text[pos] === '\r') pos++;
    if (text[pos] === '#') while (pos < text.length && text[pos] !== '\n') pos++;
    if (pos < text.length && text[pos] !== '\n') fail('unexpected text after the value');
    values[key] = value;
  }
  return values;
}

/** Formats one `KEY="value"` line that `parseEnvText` reads back unchanged. */
export function formatEnvLine(key: string, value: string): string {
  return `${key}="${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}
