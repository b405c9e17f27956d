import { afterAll, describe, expect, test } from 'bun:test';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import {
  assertSendable,
  DISCORD_UPLOAD_LIMITS,
  type FileGuardOptions,
  readCapped,
  resolveUploads,
  sanitizeFileName,
  saveDownload,
  TELEGRAM_UPLOAD_LIMITS,
} from '../../lib/bridge/files.ts';
import { formatError } from '../../lib/core/util/errors.ts';

const MB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'crs-files-'));
const home = join(dir, 'home');
const root = join(home, '.claude');
const profileRoot = join(dir, 'profile-claude');
const sessions = join(root, 'discord-sessions');
const state = join(sessions, '1300000000000000001');
const work = join(home, 'work');
const guard: FileGuardOptions = { stateDir: state, configDirs: [root, profileRoot], home };

/** Creates a file (and its folders); returns its path. */
function file(path: string, content = 'x'): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

/** A sparse file of `bytes` bytes: big on paper, instant to make. */
function bigFile(path: string, bytes: number): string {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
  return path;
}

function link(path: string, target: string): string {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path);
  return path;
}

const token = file(join(root, 'channels/discord/.env'), 'DISCORD_BOT_TOKEN=secret\n');
file(join(state, '.link-secret'), 'secret');
file(join(state, 'access.json'), '{}');
file(join(state, 'inbox/1.json'), '{}');
link(join(state, '.env'), token);
file(join(state, 'downloads/photo.png'), 'png');
link(join(state, 'downloads/sneaky.txt'), join(state, '.link-secret'));
file(join(sessions, 'config.env'), 'X=1');
file(join(sessions, '1300000000000000002/.link-secret'), 'other');
file(join(root, 'telegram-sessions/42/.link-secret'), 'tg');
file(join(root, 'channels/telegram/access.json'), '{}');
file(join(root, '.claude.json'), '{}');
file(join(root, '.credentials.json'), '{}');
file(join(root, 'settings.json'), '{}');
file(join(root, 'settings.local.json'), '{}');
file(join(home, '.claude.json'), '{}');
file(join(profileRoot, '.credentials.json'), '{}');
file(join(work, 'notes.txt'), 'notes');
file(join(work, 'settings.json'), '{}');
file(join(work, '.env'), 'API_KEY=1');
file(join(work, 'app/.env.local'), 'API_KEY=2');
link(join(work, 'innocent.txt'), token);
link(join(work, 'secret-link'), join(state, '.link-secret'));
link(join(work, 'state-link'), state);
bigFile(join(work, 'big.bin'), 26 * MB);
bigFile(join(work, 'huge.bin'), 51 * MB);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('assertSendable: what a tool may attach', () => {
  test.each([
    ['a file in the session state dir', join(state, 'access.json')],
    ['the link secret', join(state, '.link-secret')],
    ['the router inbox', join(state, 'inbox/1.json')],
    ["the state dir's token link", join(state, '.env')],
    ['the state dir through .. out of downloads', join(state, 'downloads/../.link-secret')],
    ['a symlink in downloads to the link secret', join(state, 'downloads/sneaky.txt')],
    ['the token file', token],
    ['the token file through a symlink', join(work, 'innocent.txt')],
    ['the token file through ..', join(work, '../.claude/channels/discord/.env')],
    ['another bot token folder file', join(root, 'channels/telegram/access.json')],
    ['the link secret through a symlink', join(work, 'secret-link')],
    ['the state dir through a symlinked folder', join(work, 'state-link/access.json')],
    ['the sessions config', join(sessions, 'config.env')],
    ["another session's state", join(sessions, '1300000000000000002/.link-secret')],
    ["the other platform's sessions", join(root, 'telegram-sessions/42/.link-secret')],
    ['.claude.json in the config root', join(root, '.claude.json')],
    ['.claude.json in HOME', join(home, '.claude.json')],
    ['.credentials.json', join(root, '.credentials.json')],
    ['settings.json of the config root', join(root, 'settings.json')],
    ['settings.local.json of the config root', join(root, 'settings.local.json')],
    ["a profile's credentials", join(profileRoot, '.credentials.json')],
    ['an .env in the workdir', join(work, '.env')],
    ['an .env.local anywhere', join(work, 'app/.env.local')],
  ])('refuses %s', (_what, path) => {
    expect(() => assertSendable(path, guard)).toThrow(/^Refusing to send /);
  });

  test.each([
    ['a normal file in the workdir', join(work, 'notes.txt')],
    ['a settings.json outside the config root', join(work, 'settings.json')],
    ["the session's own download", join(state, 'downloads/photo.png')],
  ])('allows %s', (_what, path) => {
    expect(assertSendable(path, guard)).toMatchObject({ path, name: basename(path) });
  });

  test.each([
    ['a missing file', join(work, 'nope.txt'), /^No such file: /],
    ['a folder', work, /^Not a file: /],
    ['a relative path', 'notes.txt', /^Not an absolute path: /],
  ])('a clear error for %s', (_what, path, message) => {
    expect(() => assertSendable(path, guard)).toThrow(message);
  });
});

describe('resolveUploads: caps per platform', () => {
  test('Discord: 25 MB per file', () => {
    expect(() => resolveUploads([join(work, 'big.bin')], guard, DISCORD_UPLOAD_LIMITS)).toThrow(/^File too large: .*big\.bin \(26\.0 MB, at most 25\.0 MB\)/);
  });

  test('Discord: at most 10 files', () => {
    const eleven = Array.from({ length: 11 }, () => join(work, 'notes.txt'));
    expect(() => resolveUploads(eleven, guard, DISCORD_UPLOAD_LIMITS)).toThrow(/^Too many files: 11, at most 10/);
    expect(resolveUploads(eleven.slice(1), guard, DISCORD_UPLOAD_LIMITS)).toHaveLength(10);
  });

  test('Telegram: 50 MB per file, any number of files', () => {
    expect(resolveUploads([join(work, 'big.bin'), join(work, 'notes.txt')], guard, TELEGRAM_UPLOAD_LIMITS).map((f) => f.size)).toEqual([26 * MB, 5]);
    expect(() => resolveUploads([join(work, 'huge.bin')], guard, TELEGRAM_UPLOAD_LIMITS)).toThrow(/^File too large: .*huge\.bin/);
  });

  test('one refused file refuses the whole reply, naming it', () => {
    let error: unknown;
    try {
      resolveUploads([join(work, 'notes.txt'), token], guard, DISCORD_UPLOAD_LIMITS);
    } catch (caught) {
      error = caught;
    }
    expect(formatError(error)).toContain(token);
  });

  test('files must be a list of paths', () => {
    expect(resolveUploads(undefined, guard, DISCORD_UPLOAD_LIMITS)).toEqual([]);
    expect(() => resolveUploads('/etc/hosts', guard, DISCORD_UPLOAD_LIMITS)).toThrow(/list of absolute file paths/);
  });
});

describe('downloads', () => {
  test.each([
    ['report.pdf', 'report.pdf'],
    ['../../.env', 'env'],
    ['.bashrc', 'bashrc'],
    ['a b/c\\d.txt', 'a_b_c_d.txt'],
    ['$(rm -rf ~).sh', 'rm_-rf_.sh'],
    ['x..y', 'x.y'],
    ['', 'file'],
    ['...', 'file'],
    [undefined, 'file'],
  ])('sanitizeFileName(%p) = %p', (name, expected) => {
    expect(sanitizeFileName(name)).toBe(expected);
  });

  test('a download lands in <state>/downloads/ with a safe, unique name, mode 0600', () => {
    const bytes = new TextEncoder().encode('payload');
    const first = saveDownload(state, '../../.env', bytes, 'abc');
    const second = saveDownload(state, '../../.env', bytes, 'abc');
    for (const path of [first, second]) {
      expect(dirname(path)).toBe(join(state, 'downloads'));
      expect(basename(path)).toMatch(/^\d+-abc(-\d+)?-env$/);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readFileSync(path, 'utf8')).toBe('payload');
    }
    expect(first).not.toBe(second);
    // What was downloaded may be sent back.
    expect(assertSendable(first, guard).size).toBe(7);
  });

  test('readCapped refuses a body over the cap, even without Content-Length', async () => {
    const body = () => new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array(600)), c.enqueue(new Uint8Array(600)), c.close()) });
    await expect(readCapped(new Response(body()), 1000, 'The file')).rejects.toThrow(/^The file is too large/);
    expect((await readCapped(new Response(body()), 2000, 'The file')).byteLength).toBe(1200);
  });
});
