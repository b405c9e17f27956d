import { describe, expect, test } from 'bun:test';
import { SESSION_ID_NAMESPACE, freshSessionId, isSessionId, sessionIdFor } from '../../lib/core/host/session-id.ts';

describe('sessionIdFor', () => {
  test('keeps the original skill namespace', () => {
    expect(SESSION_ID_NAMESPACE).toBe('a1b2c3d4-e5f6-4789-abcd-ef0123456789');
  });

  // Known answers from Python (uuid.uuid5(uuid.UUID('a1b2c3d4-e5f6-4789-abcd-ef0123456789'), id)) and from
  // the hand-written SHA-1 version this module used before: existing sessions must keep their ids.
  test.each([
    ['123456789012345678', '207c1e82-6c14-5f7c-9fda-64ac19896650'],
    ['1000000000000000001', 'fd6e5e59-2170-57d2-b452-5e43d3aa7a51'],
    ['-1001234567890', '76f3bb01-ba26-52da-af50-706bc7f45eca'],
    ['42', 'f299543b-8db0-5ccc-8e65-bebdd8a0b9d7'],
    ['dm-owner', '578903a8-7ea9-5dfc-ba81-935e22a5c909'],
    ['général 💬', 'a9dd5857-f941-5a9f-bf86-6ca241d440fc'],
    ['', '28dc1b27-4467-538e-85ac-a44b5aa668ca'],
    ['x'.repeat(300), 'c5ea8949-f1e8-5240-b007-ce596413ea30'],
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
