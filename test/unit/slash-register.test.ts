import { afterAll, beforeAll, expect, test } from 'bun:test';
import { FakeDiscord } from '../fakes/discord.ts';
import { OWNER_ID, Sandbox } from '../helpers.ts';

let fake: FakeDiscord;
let sb: Sandbox;
beforeAll(() => {
  fake = new FakeDiscord().start();
  sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, config: `DISCORD_ALLOWED_USER_ID="${OWNER_ID}"\nDISCORD_GUILD_ID="${fake.guildId}"` });
});
afterAll(async () => {
  await sb.cleanup();
  await fake.stop();
});

test('register puts the five commands in the guild; register --clear removes them', async () => {
  const registered = await sb.runBin('discord-slash-daemon', ['register']);
  expect(registered.code).toBe(0);
  expect(registered.out).toContain('Registered 5 slash commands in the guild.');
  expect(fake.commands.map((c) => c.name).sort()).toEqual(['ask', 'discover', 'run', 'session', 'skills']);
  const cleared = await sb.runBin('discord-slash-daemon', ['register', '--clear']);
  expect(cleared.code).toBe(0);
  expect(fake.commands).toEqual([]);
});

test('a rejected token is a one-line error with exit 1, and nothing is registered', async () => {
  sb.write('channels/discord/.env', 'DISCORD_BOT_TOKEN=wrong-token-0123456789abcdef\n', 0o600);
  const result = await sb.runBin('discord-slash-daemon', ['register']);
  expect(result.code).toBe(1);
  expect(result.err.trim().split('\n')).toHaveLength(1);
  expect(result.err).toContain('Registering slash commands');
  expect(fake.commands).toEqual([]);
  const daemon = await sb.runBin('discord-slash-daemon', []);
  expect(daemon.code).toBe(1);
  expect(daemon.err).toContain('Discord login failed');
});
