import { describe, expect, test } from 'bun:test';
import { parseEnvText, formatEnvLine } from '../../lib/core/config/env-file.ts';
import { CrsError } from '../../lib/core/util/errors.ts';

const FILE = '/cfg/config.env';
const ENV = { HOME: '/home/me', OUTER: 'from-env', EMPTY: '' };

function parse(text: string): Record<string, string> {
  return parseEnvText(text, FILE, ENV);
}

function failure(text: string): CrsError {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(CrsError);
    return error as CrsError;
  }
  throw new Error(`parsed without error: ${JSON.stringify(text)}`);
}

describe('parseEnvText reads values', () => {
  test.each<[string, string, Record<string, string>]>([
    ['plain value', 'A=1', { A: '1' }],
    ['empty value', 'A=', { A: '' }],
    ['empty quotes', `A=''\nB=""`, { A: '', B: '' }],
    ['double quotes keep spaces', 'A="x  y"', { A: 'x  y' }],
    ['single quotes are literal', `A='x "$HOME" \\n \`id\` $(id)'`, { A: 'x "$HOME" \\n `id` $(id)' }],
    ['double-quote escapes', 'A="a\\"b\\\\c\\$d\\`e"', { A: 'a"b\\c$d`e' }],
    ['other backslashes in double quotes stay', 'A="a\\nb\\tc"', { A: 'a\\nb\\tc' }],
    ['unquoted backslash escapes the next char', 'A=a\\ b\\$c', { A: 'a b$c' }],
    ['adjacent quoted parts join', `A=a"b c"'d e'f`, { A: 'ab cd ef' }],
    ['export prefix', 'export A=1\nexport\tB=2', { A: '1', B: '2' }],
    ['comments and blank lines', '# heading\n\n   # indented\nA=1 # trailing\n\nB=2\t# tab', { A: '1', B: '2' }],
    ['# inside a word is literal', 'A=b#c', { A: 'b#c' }],
    ['# inside quotes is literal', 'A="x # y"', { A: 'x # y' }],
    ['leading blanks before a key', '   A=1', { A: '1' }],
    ['CRLF line ends', 'A=1\r\nB="2"\r\n', { A: '1', B: '2' }],
    ['multi-line double-quoted value', 'A="l1\nl2"\nB=3', { A: 'l1\nl2', B: '3' }],
    ['multi-line single-quoted value', "A='l1\nl2'\nB=3", { A: 'l1\nl2', B: '3' }],
    ['later key wins', 'A=1\nA=2', { A: '2' }],
    ['$HOME from env', 'A=$HOME/work', { A: '/home/me/work' }],
    ['${HOME} in quotes', 'A="${HOME}/my dir"', { A: '/home/me/my dir' }],
    ['$VAR from an earlier key', 'B=2\nA=x$B', { B: '2', A: 'x2' }],
    ['${VAR} from an earlier key beats env', 'OUTER=mine\nA=${OUTER}', { OUTER: 'mine', A: 'mine' }],
    ['$VAR from env', 'A=$OUTER', { A: 'from-env' }],
    ['unset $VAR is empty', 'A=[$NOPE]', { A: '[]' }],
    ['$VAR stops at a non-name char', 'A=$HOME.bak', { A: '/home/me.bak' }],
    ['${VAR:-d} when unset', 'A=${NOPE:-d e}', { A: 'd e' }],
    ['${VAR:-d} when empty', 'A=${EMPTY:-d}', { A: 'd' }],
    ['${VAR:-d} when set', 'A=${OUTER:-d}', { A: 'from-env' }],
    ['${VAR-d} when unset', 'A=${NOPE-d}', { A: 'd' }],
    ['${VAR-d} when empty keeps empty', 'A=${EMPTY-d}', { A: '' }],
    ['${VAR-d} whose default holds :-', 'A=${EMPTY-x:-y}', { A: '' }],
    ['${VAR:-d} whose default holds :-', 'A=${NOPE:-x:-y}', { A: 'x:-y' }],
    ['${VAR:-$HOME} default is not expanded', 'A=${NOPE:-$HOME}', { A: '$HOME' }],
    ['escaped $ is literal', 'A=\\$HOME\nB="\\$HOME"', { A: '$HOME', B: '$HOME' }],
    ['lone $ is literal', 'A=$\nB="a$"\nC=$1', { A: '$', B: 'a$', C: '$1' }],
    ['backslash-newline continues a line', 'A=foo\\\nbar\nB=2', { A: 'foobar', B: '2' }],
    ['backslash-newline in double quotes', 'A="foo\\\nbar"', { A: 'foobar' }],
    ['value with = signs', 'A=a=b=c', { A: 'a=b=c' }],
    ['unicode', 'A="héllo ✓"', { A: 'héllo ✓' }],
  ])('%s', (_, text, expected) => {
    expect(parse(text)).toEqual(expected);
  });

  test('an empty file is an empty map', () => {
    expect(parse('')).toEqual({});
    expect(parse('\n\n# only a comment\n')).toEqual({});
  });

  test('the env argument is optional', () => {
    expect(parseEnvText('A=$HOME', FILE)).toEqual({ A: '' });
  });
});

describe('parseEnvText refuses what only a shell would do, naming the file and line', () => {
  test.each<[string, string, number, RegExp]>([
    ['command substitution $(...)', 'A=$(id)', 1, /command substitution \$\(\.\.\.\) is not supported/],
    ['command substitution $(...) in double quotes', 'A=1\nB="$(id)"', 2, /command substitution \$\(\.\.\.\)/],
    ['backticks', 'A=`id`', 1, /command substitution `\.\.\.`/],
    ['backticks in double quotes', '\n\nA="x `id`"', 3, /command substitution `\.\.\.`/],
    ['; after a value', 'A=1;B=2', 1, /unexpected ";"/],
    ['; followed by a command', 'A=1; rm -rf /', 1, /unexpected ";"/],
    ['a pipe', 'A=a|b', 1, /unexpected "\|"/],
    ['&&', 'A=1&&id', 1, /unexpected "&"/],
    ['a redirection', 'A=1>x', 1, /unexpected ">"/],
    ['a subshell', 'A=(x)', 1, /unexpected "\("/],
    ['a second word', 'A=b c', 1, /unexpected text after the value/],
    ['a second word after quotes', 'A="b" c', 1, /unexpected text after the value/],
    ['two assignments on a line', 'A=1 B=2', 1, /unexpected text after the value/],
    ['a bare word', 'A=1\nhello', 2, /expected KEY=value, found "hello"/],
    ['a bare export', 'export', 1, /expected KEY=value/],
    ['a key starting with a digit', '1A=2', 1, /invalid key "1A"/],
    ['a key with a dash', 'A-B=2', 1, /invalid key "A-B"/],
    ['an unclosed single quote', "A='x", 1, /unclosed single quote/],
    ['an unclosed double quote', 'A="x', 1, /unclosed double quote/],
    ['an unclosed ${', 'A=${HOME', 1, /unclosed \$\{/],
    ['a positional expansion', 'A=${1}', 1, /unsupported expansion \$\{1\}/],
    ['a pattern expansion', 'A=${HOME#/}', 1, /unsupported expansion/],
    ['an error after a multi-line quoted value', "A='1\n2\n3'\nB=`x`", 4, /command substitution/],
    ['an error after a comment block', '# a\n# b\n\nA=1\nB=(', 5, /unexpected "\("/],
    ['an error after a continued line', 'A=x\\\ny\nB=`z`', 3, /command substitution/],
  ])('%s', (_, text, line, pattern) => {
    const error = failure(text);
    expect(error.message).toStartWith(`${FILE} line ${line}: `);
    expect(error.message).toMatch(pattern);
    expect(error.exitCode).toBe(1);
    expect(error.hint).toBeTruthy();
  });
});

describe('formatEnvLine', () => {
  test.each([
    ['plain'],
    ['with space'],
    ['quote " and backslash \\'],
    ['dollar $HOME ${X} $(id)'],
    ['backtick `id`'],
    ['#hash ;semi |pipe'],
    [''],
  ])('%j is read back unchanged', (value) => {
    const line = formatEnvLine('KEY', value);
    expect(line).toStartWith('KEY="');
    expect(parseEnvText(line, FILE, { HOME: '/h' })).toEqual({ KEY: value });
  });
});
