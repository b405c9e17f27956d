import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sessionIdFor } from '../../lib/core/host/session-id.ts';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { FakeDiscord } from '../fakes/discord.ts';
import { FakeTelegram } from '../fakes/telegram.ts';
import { OWNER_ID, Sandbox, flagValue, resumedId } from '../helpers.ts';

let sb: Sandbox;
beforeAll(() => {
  sb = new Sandbox();
});
afterAll(async () => {
  await sb.cleanup();
});

describe('spawn', () => {
  test('starts claude in tmux with our bridge as its channel, permission flag, session id, name and state dir', async () => {
    const result = await sb.run('spawn', '123456789012345678', '--name', 'general');
    expect(result.code).toBe(0);
    expect(result.out).toContain('SPAWNED  dc-123456789012345678  name=general');
    const [run] = await sb.waitForRuns(1);
    const sid = sessionIdFor('123456789012345678');
    const stateDir = join(sb.sessionsDir, '123456789012345678');
    expect(run!.argv.slice(0, 6)).toEqual(['--mcp-config', join(stateDir, 'mcp.json'), '--dangerously-load-development-channels', 'server:crs-discord', '--dangerously-skip-permissions', '--session-id']);
    expect(run!.argv).not.toContain('--channels');
    expect(flagValue(run!.argv, '--session-id')).toBe(sid);
    expect(flagValue(run!.argv, '--name')).toBe('general');
    expect(run!.cwd).toBe(join(sb.home, 'work'));
    expect(run!.env.DISCORD_STATE_DIR).toBe(stateDir);
    expect(run!.env.CLAUDE_CONFIG_DIR).toBe(sb.root);
    expect(readFileSync(join(stateDir, '.session-id'), 'utf8')).toBe(sid);
    expect(readFileSync(join(stateDir, '.workdir'), 'utf8')).toBe(join(sb.home, 'work'));
    expect(readFileSync(join(stateDir, '.profile'), 'utf8')).toBe('default');
    expect(readlinkSync(join(stateDir, '.env'))).toBe(join(sb.root, 'channels/discord/.env'));
    expect(lstatSync(join(stateDir, 'approved')).isDirectory()).toBe(true);
    // access.json is the official plugin's: a session on our bridge has none.
    expect(existsSync(join(stateDir, 'access.json'))).toBe(false);
    const entry = sb.registry()['123456789012345678'];
    expect(entry).toMatchObject({ type: 'channel', name: 'general', tmux: 'dc-123456789012345678', parent: null });
    expect(String(entry!.created)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    expect(sb.read('discord-sessions/SESSIONS.md')).toContain('| 123456789012345678 | channel | `dc-123456789012345678` | general | - |');
  });

  test('a second spawn of a live session is a no-op that says ALIVE', async () => {
    const result = await sb.run('spawn', '123456789012345678');
    expect(result.out).toBe('ALIVE  dc-123456789012345678');
    expect(sb.claudeRuns()).toHaveLength(1);
  });

  test('after the session dies, a respawn resumes the conversation with --resume (never the same --session-id)', async () => {
    await sb.waitForPane('dc-123456789012345678', /session .* \(new\)/);
    await sb.tmux.run(['kill-session', '-t', '=dc-123456789012345678']);
    const result = await sb.run('respawn-dead');
    expect(result.code).toBe(0);
    expect(result.out).toContain('RESPAWNED  dc-123456789012345678');
    const runs = await sb.waitForRuns(2);
    expect(runs[1]!.argv).not.toContain('--session-id');
    expect(resumedId(runs[1]!.argv)).toBe(sessionIdFor('123456789012345678'));
    await sb.waitForPane('dc-123456789012345678', /session .* \(resume\)/);
  });

  test('--fresh starts a new random conversation id and keeps it for later respawns', async () => {
    await sb.run('kill', '123456789012345678');
    const result = await sb.run('spawn', '123456789012345678', '--fresh', '--name', 'general');
    expect(result.out).toMatch(/^FRESH  new session-id=[0-9a-f-]{36}$/m);
    const fresh = /session-id=([0-9a-f-]{36})/.exec(result.out)![1]!;
    expect(fresh).not.toBe(sessionIdFor('123456789012345678'));
    const runs = await sb.waitForRuns(3);
    expect(flagValue(runs[2]!.argv, '--session-id')).toBe(fresh);
    expect(readFileSync(join(sb.sessionsDir, '123456789012345678/.session-id'), 'utf8')).toBe(fresh);
  });

  test('the session stays UP in list and shows its profile and type', async () => {
    const list = await sb.run('list', '--json');
    const rows = JSON.parse(list.out);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: '123456789012345678', status: 'UP', type: 'channel', name: 'general', profile: 'default' });
    const text = await sb.run('list');
    expect(text.out).toContain('[UP  ]  dc-123456789012345678');
  });

  test('kill stops the session and deregisters it; the state dir stays for a later resume', async () => {
    const result = await sb.run('kill', '123456789012345678');
    expect(result.out.split('\n')[0]).toBe('KILLED  dc-123456789012345678');
    expect(sb.registry()).toEqual({});
    expect(await sb.tmux.hasSession('dc-123456789012345678')).toBe(false);
    expect(existsSync(join(sb.sessionsDir, '123456789012345678/.session-id'))).toBe(true);
  });
});

describe('spawn in plugin mode', () => {
  let sb: Sandbox;
  beforeAll(() => {
    sb = new Sandbox();
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  test('a profile with its own bot token keeps the official plugin and writes its access.json', async () => {
    sb.write('discord-sessions/profiles.env', '[own-bot]\nDISCORD_BOT_TOKEN=another-bot-token\n');
    sb.write('discord-sessions/channel-profiles.json', JSON.stringify({ 'plugin-room': 'own-bot' }));
    const result = await sb.run('spawn', '223456789012345678', '--name', 'plugin-room');
    expect(result.code).toBe(0);
    const [run] = await sb.waitForRuns(1);
    expect(run!.argv.slice(0, 3)).toEqual(['--channels', 'plugin:discord@claude-plugins-official', '--dangerously-skip-permissions']);
    expect(run!.env.DISCORD_BOT_TOKEN).toBe('another-bot-token');
    const stateDir = join(sb.sessionsDir, '223456789012345678');
    expect(JSON.parse(readFileSync(join(stateDir, 'access.json'), 'utf8'))).toEqual({
      dmPolicy: 'allowlist',
      allowFrom: [OWNER_ID],
      groups: { '223456789012345678': { requireMention: false, allowFrom: [OWNER_ID] } },
      pending: {},
    });
    expect(statSync(join(stateDir, 'access.json')).mode & 0o777).toBe(0o600);
  });
});

describe('spawn --fresh of a running session', () => {
  let sb: Sandbox;
  const ID = '323456789012345678';
  beforeAll(() => {
    sb = new Sandbox();
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  test('restarts it in a new conversation, in the workdir it had, as /fresh does', async () => {
    mkdirSync(join(sb.home, 'elsewhere'));
    expect((await sb.run('spawn', ID, '--name', 'general', '--workdir', join(sb.home, 'elsewhere'))).code).toBe(0);
    await sb.waitForPane(`dc-${ID}`, /session .* \(new\)/);
    const result = await sb.run('spawn', ID, '--fresh');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^FRESH  new session-id=[0-9a-f-]{36}$/m);
    expect(result.out).toContain(`SPAWNED  dc-${ID}  name=general  workdir=${join(sb.home, 'elsewhere')}`);
    const fresh = /session-id=([0-9a-f-]{36})/.exec(result.out)![1]!;
    expect(fresh).not.toBe(sessionIdFor(ID));
    const runs = await sb.waitForRuns(2);
    expect(flagValue(runs[1]!.argv, '--session-id')).toBe(fresh);
    expect(runs[1]!.cwd).toBe(join(sb.home, 'elsewhere'));
    await sb.waitForPane(`dc-${ID}`, new RegExp(`session ${fresh} \\(new\\)`));
  }, 15_000);
});

describe('spawn <id> applies workdir-map.json and channel-profiles.json by the channel name', () => {
  test('Discord: the name comes from the channel, as discovery has it', async () => {
    const fake = new FakeDiscord().start();
    const sb = new Sandbox({ env: { DISCORD_API_URL: fake.url }, token: fake.token });
    try {
      const mapped = fake.addChannel('mapped');
      mkdirSync(join(sb.home, 'proj'));
      sb.write('discord-sessions/workdir-map.json', JSON.stringify({ mapped: '$HOME/proj' }));
      sb.write('discord-sessions/profiles.env', '[work]\nCLAUDE_MODEL=opus\n');
      sb.write('discord-sessions/channel-profiles.json', JSON.stringify({ mapped: 'work' }));
      const result = await sb.run('spawn', mapped.id);
      expect(result.code).toBe(0);
      expect(result.out).toContain(`SPAWNED  dc-${mapped.id}  name=mapped  workdir=${join(sb.home, 'proj')}  profile=work`);
      const [run] = await sb.waitForRuns(1);
      expect(run!.cwd).toBe(join(sb.home, 'proj'));
      expect(flagValue(run!.argv, '--model')).toBe('opus');

      // A channel Discord does not know is refused before anything starts.
      const unknown = await sb.run('spawn', '423456789012345678');
      expect(unknown.code).toBe(1);
      expect(unknown.err).toContain('Could not read the name of Discord 423456789012345678, which');
      expect(unknown.err).toContain('Discord has no channel 423456789012345678 (Unknown Channel).');
      expect(unknown.err).toContain('Give the name with --name');
      expect(await sb.tmux.hasSession('dc-423456789012345678')).toBe(false);

      // --name skips the look-up.
      const requests = fake.requests.length;
      expect((await sb.run('spawn', '523456789012345678', '--name', 'mapped')).out).toContain(`workdir=${join(sb.home, 'proj')}`);
      expect(fake.requests.length).toBe(requests);
    } finally {
      await sb.cleanup();
      await fake.stop();
    }
  }, 15_000);

  test('Telegram: the name is the chat title', async () => {
    const fake = new FakeTelegram().start();
    const sb = new Sandbox({
      platform: TELEGRAM,
      token: fake.token,
      env: { TELEGRAM_API_URL: fake.url },
      config: `TELEGRAM_ALLOWED_USER_ID="${OWNER_ID}"\nTELEGRAM_SESSION_WORKDIR="$HOME/work"`,
    });
    try {
      fake.addChat({ id: -1001234567890, type: 'supergroup', title: 'Team' });
      mkdirSync(join(sb.home, 'team'));
      sb.write('telegram-sessions/workdir-map.json', JSON.stringify({ Team: '$HOME/team' }));
      const result = await sb.run('spawn', '-1001234567890');
      expect(result.code).toBe(0);
      expect(result.out).toContain(`SPAWNED  tg--1001234567890  name=Team  workdir=${join(sb.home, 'team')}`);
    } finally {
      await sb.cleanup();
      await fake.stop();
    }
  }, 15_000);
});

describe('secrets of a profile stay off every command line', () => {
  const SECRET = 'sk-ant-oat01-not-a-real-token-but-secret-0123456789';
  let box: Sandbox;
  beforeAll(() => {
    box = new Sandbox();
  });
  afterAll(async () => {
    await box.cleanup();
  });

  test('the token reaches claude through a 0600 file, and is in no ps line, nor in tmux', async () => {
    box.write('discord-sessions/profiles.env', `[work]\nCLAUDE_CODE_OAUTH_TOKEN=${SECRET}\nODD_VALUE='$(touch pwned) \`x\` "y" ;|&'\nAPOSTROPHE="it's"\n`);
    box.write('discord-sessions/channel-profiles.json', JSON.stringify({ secretive: 'work' }));
    // This start also starts the tmux server, whose command line is the one that started it.
    const result = await box.run('spawn', '323456789012345678', '--name', 'secretive');
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    const [run] = await box.waitForRuns(1);
    expect(run!.env.CLAUDE_CODE_OAUTH_TOKEN).toBe(SECRET);
    // Whatever a value holds, the pane's shell reads it as data.
    expect(run!.env.ODD_VALUE).toBe('$(touch pwned) `x` "y" ;|&');
    expect(run!.env.APOSTROPHE).toBe("it's");
    expect(existsSync(join(box.home, 'work', 'pwned'))).toBe(false);
    expect(run!.env.DISCORD_STATE_DIR).toBe(join(box.sessionsDir, '323456789012345678'));
    const envFile = join(box.sessionsDir, '323456789012345678', '.launch-env');
    expect(statSync(envFile).mode & 0o777).toBe(0o600);

    const ps = Bun.spawnSync(['ps', '-eo', 'args']).stdout.toString();
    expect(ps).toContain(box.env.CRS_TMUX_SOCKET!);
    expect(ps).not.toContain(SECRET);
    const server = (await box.tmux.run(['display-message', '-p', '#{pid}'])).stdout.trim();
    expect(Number(server)).toBeGreaterThan(0);
    expect(readFileSync(`/proc/${server}/cmdline`, 'utf8')).not.toContain(SECRET);
    expect((await box.tmux.run(['show-environment', '-t', '=dc-323456789012345678'])).stdout).not.toContain(SECRET);
  });
});
