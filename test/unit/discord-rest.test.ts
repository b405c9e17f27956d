import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createChatPoster } from '../../lib/platforms/notify.ts';
import { FakeDiscord, type FakeChannel } from '../fakes/discord.ts';
import { OWNER_ID, Sandbox } from '../helpers.ts';

// One Discord REST client per process: discord.js's REST keeps the rate limits Discord announces, and
// only a client that every call of the process goes through can keep the process within them.

let fake: FakeDiscord;
let sb: Sandbox;
let general: FakeChannel;

beforeAll(() => {
  // A fake (and so a base URL) of this file's own: the process's client for it starts with no limits.
  fake = new FakeDiscord().start();
  general = fake.addChannel('general');
  sb = new Sandbox({ token: fake.token, env: { DISCORD_API_URL: fake.url }, config: `DISCORD_ALLOWED_USER_ID="${OWNER_ID}"\nDISCORD_GUILD_ID="${fake.guildId}"` });
});

afterAll(async () => {
  await sb.cleanup();
  await fake.stop();
});

test('a global rate limit one command met holds back the next command and the notifier, with no request to Discord', async () => {
  fake.fail(/^GET \/guilds\//, 429, 1, 30, true);
  const first = await sb.run('discover');
  expect(first.code).toBe(1);
  expect(first.err).toMatch(/rate limited for 3\d s/);
  const sent = fake.requests.length;

  // The limit was answered once; a client of its own would now get through.
  const second = await sb.run('discover');
  expect(second.code).toBe(1);
  expect(second.err).toMatch(/rate limited for \d+ s/);
  const post = createChatPoster(sb.context().ctx.manager);
  await expect(post(general.id, 'hello')).rejects.toThrow(/rate limited for \d+ s/);
  expect(fake.requests.length).toBe(sent);
});
