/**
 * The namespace of the original skill's UUID v5 ids: keeping it means a channel's conversation id is
 * the same as before the switch, so existing sessions resume their conversations.
 */
export const SESSION_ID_NAMESPACE = 'a1b2c3d4-e5f6-4789-abcd-ef0123456789';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * RFC 4122 UUID v5: SHA-1 of the namespace bytes and the name, version and variant bits set. Written
 * with Bun's hasher rather than the `uuid` package, whose import alone costs ~15 ms at every start.
 */
export function uuidV5(name: string, namespace: string): string {
  const hasher = new Bun.CryptoHasher('sha1');
  hasher.update(Buffer.from(namespace.replace(/-/g, ''), 'hex'));
  hasher.update(name);
  const bytes = hasher.digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The deterministic conversation id of a channel/thread/chat. */
export function sessionIdFor(id: string): string {
  return uuidV5(id, SESSION_ID_NAMESPACE);
}

/** A random (v4) id for `--fresh`. */
export function freshSessionId(): string {
  return crypto.randomUUID();
}

export function isSessionId(value: string): boolean {
  return UUID_PATTERN.test(value);
}
