import { afterAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SESSION_ID_NAMESPACE, freshSessionId, hasTranscript, isSessionId, launchMode, sessionIdFor } from '../lib/session-id.ts';

const dir = mkdtempSync(join(tmpdir(), 'crs-sid-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sessionIdFor', () => {
  test('keeps the original skill namespace', () => {
    expect(SESSION_ID_NAMESPACE).toBe('a1b2c3d4-e5f6-4789-abcd-ef0123456789');
  });

  // Known answers from Python: uuid.uuid5(uuid.UUID('a1b2c3d4-e5f6-4789-abcd-ef0123456789'), id).
  test.each([
    ['123456789012345678', '207c1e82-6c14-5f7c-9fda-64ac19896650'],
    ['1000000000000000001', 'fd6e5e59-2170-57d2-b452-5e43d3aa7a51'],
    ['-1001234567890', '76f3bb01-ba26-52da-af50-706bc7f45eca'],
  ])('v5(%s) = %s', (id, expected) => {
    expect(sessionIdFor(id)).toBe(expected);
  });

  test('is deterministic, version 5 and distinct per id', () => {
    const a = sessionIdFor('555555555555555555');
    expect(sessionIdFor('555555555555555555')).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(sessionIdFor('555555555555555556')).not.toBe(a);
  });
});

describe('freshSessionId', () => {
  test('is a random version-4 id', () => {
    const ids = new Set(Array.from({ length: 50 }, () => freshSessionId()));
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('isSessionId', () => {
  test.each<[string, boolean]>([
    ['207c1e82-6c14-5f7c-9fda-64ac19896650', true],
    [freshSessionId(), true],
    ['207c1e82-6c14-5f7c-9fda-64ac1989665', false],
    ['207c1e82-6c14-5f7c-9fda-64ac19896650\n', false],
    ['../../etc/passwd', false],
    ['', false],
  ])('%j → %p', (value, ok) => {
    expect(isSessionId(value)).toBe(ok);
  });
});

describe('launchMode', () => {
  test('--session-id without a transcript, --resume once projects/<slug>/<id>.jsonl exists', () => {
    const projects = join(dir, 'projects');
    const id = sessionIdFor('123456789012345678');
    expect(launchMode(projects, id)).toEqual(['--session-id', id]);
    mkdirSync(join(projects, '-home-me-other'), { recursive: true });
    writeFileSync(join(projects, '-home-me-other', `${freshSessionId()}.jsonl`), '{}\n');
    expect(launchMode(projects, id)).toEqual(['--session-id', id]);
    mkdirSync(join(projects, '-home-me-proj'), { recursive: true });
    writeFileSync(join(projects, '-home-me-proj', `${id}.jsonl`), '{}\n');
    expect(launchMode(projects, id)).toEqual(['--resume', id]);
    expect(hasTranscript(projects, id)).toBe(true);
  });

  test('a transcript in any cwd slug counts (the workdir may have changed)', () => {
    const projects = join(dir, 'projects2');
    const id = freshSessionId();
    for (const slug of ['-a', '-b', '-c']) mkdirSync(join(projects, slug), { recursive: true });
    expect(hasTranscript(projects, id)).toBe(false);
    writeFileSync(join(projects, '-c', `${id}.jsonl`), '');
    expect(launchMode(projects, id)).toEqual(['--resume', id]);
  });

  test('a missing projects dir means no transcript', () => {
    expect(launchMode(join(dir, 'nope'), 'x')).toEqual(['--session-id', 'x']);
  });

  test('a transcript of another id, or a file that is not <id>.jsonl, does not count', () => {
    const projects = join(dir, 'projects3');
    const id = freshSessionId();
    mkdirSync(join(projects, '-p', id), { recursive: true });
    writeFileSync(join(projects, '-p', `${id}.json`), '');
    writeFileSync(join(projects, `${id}.jsonl`), '');
    expect(launchMode(projects, id)[0]).toBe('--session-id');
  });
});
