/**
 * The namespace of the original skill's UUID v5 ids: keeping it means a channel's conversation id is
 * the same as before the switch, so existing sessions resume their conversations.
 */
export const SESSION_ID_NAMESPACE = 'a1b2c3d4-e5f6-4789-abcd-ef0123456789';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * The deterministic conversation id of a channel/thread/chat: RFC 4122 v5 of the id under the namespace
 * above (Bun's own implementation; the `uuid` package's import alone costs ~15 ms at every start).
 */
export function sessionIdFor(id: string): string {
  return Bun.randomUUIDv5(id, SESSION_ID_NAMESPACE);
}

/** A random (v4) id for `--fresh`. */
export function freshSessionId(): string {
  return crypto.randomUUID();
}

export function isSessionId(value: string): boolean {
  return UUID_PATTERN.test(value);
}
