import { afterAll, describe, expect, test } from 'bun:test';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshSessionId } from '../../lib/core/host/session-id.ts';
import { TranscriptWatch, expectedTranscript, findTranscript, isResumable, parseMentions, projectSlug, resumeArgs, setTranscriptAside } from '../../lib/core/host/transcript.ts';

const dir = mkdtempSync(join(tmpdir(), 'crs-transcript-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(path: string, text: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** A queue-operation line as Claude Code appends it when it takes a channel message. */
function queueLine(chatId: string, messageId: string, operation = 'enqueue'): string {
  const content = `<channel source="crs-telegram" chat_id="${chatId}" message_id="${messageId}" user="me">\nhello\n</channel>`;
  return `${JSON.stringify({ type: 'queue-operation', operation, timestamp: new Date().toISOString(), sessionId: 'x', content })}\n`;
}

describe('projectSlug (Claude Code folder names; real-CLI agreement is checked in test/e2e)', () => {
  test.each([
    ['/home/me/project', '-home-me-project'],
    ['/a/my.proj', '-a-my-proj'],
    ['/srv/my project_1/x~y', '-srv-my-project-1-x-y'],
    ['/tmp/café', '-tmp-caf-'],
    ['/tmp/🚀x', '-tmp---x'],
  ])('%s → %s', (path, slug) => {
    expect(projectSlug(path)).toBe(slug);
  });

  test('a path longer than 200 characters is cut and gets a hash of the whole path', () => {
    const long = `/${'a'.repeat(250)}`;
    const slug = projectSlug(long);
    expect(slug.startsWith(`-${'a'.repeat(199)}-`)).toBe(true);
    expect(slug).toMatch(/^-a{199}-[0-9a-z]+$/);
    expect(projectSlug(`/${'a'.repeat(249)}b`)).not.toBe(slug);
  });

  test('a symlinked workdir uses its target', () => {
    const real = join(dir, 'real.dir');
    mkdirSync(real);
    symlinkSync(real, join(dir, 'link'));
    expect(expectedTranscript('/cfg', join(dir, 'link'), 'u')).toBe(join('/cfg/projects', projectSlug(real), 'u.jsonl'));
  });
});

describe('findTranscript', () => {
  test('finds the id under any project folder of any config dir, the newest first', () => {
    const a = join(dir, 'cfg-a');
    const b = join(dir, 'cfg-b');
    const id = freshSessionId();
    expect(findTranscript([a, b], id)).toBeUndefined();
    const old = write(join(a, 'projects', '-one', `${id}.jsonl`), '{}\n');
    expect(findTranscript([a, b], id)).toBe(old);
    const newer = write(join(b, 'projects', '-two', `${id}.jsonl`), '{}\n');
    utimesSync(old, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    expect(findTranscript([a, b], id)).toBe(newer);
    expect(findTranscript([a], id)).toBe(old);
  });

  test('another id, a folder named like the file, or a file outside projects/<slug>/ does not count', () => {
    const c = join(dir, 'cfg-c');
    const id = freshSessionId();
    mkdirSync(join(c, 'projects', '-p', `${id}.jsonl`), { recursive: true });
    write(join(c, 'projects', `${id}.jsonl`), '');
    write(join(c, 'projects', '-q', `${freshSessionId()}.jsonl`), '');
    expect(findTranscript([c, join(dir, 'missing')], id)).toBeUndefined();
  });
});

describe('resumability', () => {
  test('a transcript with a conversation is resumable; one with only a queue-operation line is not', () => {
    const good = write(join(dir, 'r', 'good.jsonl'), `${queueLine('1', '2')}{"type":"user","message":{"role":"user","content":"hi"}}\n`);
    const bad = write(join(dir, 'r', 'bad.jsonl'), queueLine('1', '2'));
    expect(isResumable(good)).toBe(true);
    expect(isResumable(bad)).toBe(false);
    expect(isResumable(join(dir, 'r', 'missing.jsonl'))).toBe(false);
    const aside = setTranscriptAside(bad, 42);
    expect(aside).toBe(`${bad}.unusable-42`);
    expect(existsSync(bad)).toBe(false);
    expect(existsSync(aside)).toBe(true);
  });

  test('resumeArgs: the transcript path once there is one, else --session-id', () => {
    expect(resumeArgs('/c/projects/-x/u.jsonl', 'u')).toEqual(['--resume', '/c/projects/-x/u.jsonl']);
    expect(resumeArgs(undefined, 'u')).toEqual(['--session-id', 'u']);
  });
});

/** The conversation line Claude Code writes once it works on a channel message. */
function userLine(chatId: string, messageId: string): string {
  return `${JSON.stringify({ type: 'user', message: { role: 'user', content: `<channel source="crs-telegram" chat_id="${chatId}" message_id="${messageId}">\nhello\n</channel>` } })}\n`;
}

describe('taken and recorded messages', () => {
  test.each<[string, string, ReturnType<typeof parseMentions>]>([
    ['an enqueue line', queueLine('-100123', '77'), [{ kind: 'taken', chatId: '-100123', messageId: '77' }]],
    ['a dequeue line', queueLine('5', '6', 'dequeue'), []],
    ['a user line', userLine('5', '6'), [{ kind: 'recorded', chatId: '5', messageId: '6' }]],
    [
      'an attachment of messages queued during a busy turn',
      JSON.stringify({ type: 'attachment', attachment: { type: 'queued_command', prompt: [{ type: 'text', text: '<channel source="s" chat_id="1" message_id="2">a</channel><channel source="s" chat_id="1" message_id="3">b</channel>' }] } }),
      [{ kind: 'recorded', chatId: '1', messageId: '2' }, { kind: 'recorded', chatId: '1', messageId: '3' }],
    ],
    ['an assistant line quoting a tag', JSON.stringify({ type: 'assistant', message: { content: '<channel chat_id="5" message_id="6">' } }), []],
    ['typed text', '{"type":"queue-operation","operation":"enqueue","content":"plain typed text"}', []],
    ['not JSON', 'not json <channel chat_id="1" message_id="2"> enqueue', []],
  ])('%s', (_name, line, expected) => {
    expect(parseMentions(line.trimEnd())).toEqual(expected);
  });

  test('the watch reads only what was appended, across partial lines, and finds a transcript that appears later', () => {
    const expected = join(dir, 'w', 'projects', '-x', 'u.jsonl');
    const watch = new TranscriptWatch(expected);
    expect(watch.hasTaken('1', '10')).toBe(false);
    write(expected, queueLine('1', '10'));
    expect(watch.hasTaken('1', '10')).toBe(true);
    const line = queueLine('1', '11');
    appendFileSync(expected, line.slice(0, 20));
    expect(watch.poll()).toEqual([]);
    appendFileSync(expected, line.slice(20));
    expect(watch.poll()).toEqual([{ kind: 'taken', chatId: '1', messageId: '11' }]);
    expect(watch.poll()).toEqual([]);
    expect(watch.hasTaken('2', '10')).toBe(false);
  });

  test('taken by an earlier Claude Code process but never recorded does not count; recorded does', () => {
    const path = write(join(dir, 'w3', 'u.jsonl'), `${queueLine('1', '20')}${queueLine('1', '21')}${userLine('1', '21')}`);
    const watch = new TranscriptWatch(path);
    expect(watch.hasTaken('1', '20')).toBe(false);
    expect(watch.hasTaken('1', '21')).toBe(true);
    appendFileSync(path, queueLine('1', '20'));
    expect(watch.hasTaken('1', '20')).toBe(true);
  });

  test('the watch locates a transcript that is not where it was expected', () => {
    const elsewhere = write(join(dir, 'w2', 'projects', '-other', 'u.jsonl'), queueLine('3', '4'));
    const watch = new TranscriptWatch(join(dir, 'w2', 'projects', '-x', 'u.jsonl'), () => elsewhere);
    expect(watch.hasTaken('3', '4')).toBe(true);
    expect(watch.file).toBe(elsewhere);
  });
});
