import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { CommandContext } from '../../lib/commands/_context.ts';
import { createDiscordSessionManagerCommand } from '../../lib/commands/discord-session-manager/index.ts';
import { runCli } from '../../lib/commands/program.ts';
import { setEnvKeys } from '../../lib/commands/sessions/init.ts';
import { parseEnvText } from '../../lib/core/config/env-file.ts';
import { OWNER_ID, Sandbox } from '../helpers.ts';

const TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz_-0123';

describe('setEnvKeys', () => {
  test.each<[string, string, Record<string, string>, string]>([
    ['empty file', '', { A: '1' }, 'A="1"\n'],
    ['appends a new key', 'B="2"\n', { A: '1' }, 'B="2"\nA="1"\n'],
    ['adds the missing final newline', 'B=2', { A: '1' }, 'B=2\nA="1"\n'],
    ['replaces in place', '# c\nA=old # why\nB=2\n', { A: 'new' }, '# c\nA="new"\nB=2\n'],
    ['replaces an export line', 'export A=old\n', { A: 'new' }, 'A="new"\n'],
    ['replaces an indented line', '  A=old\n', { A: 'new' }, 'A="new"\n'],
    ['keeps a commented-out key', '# A=old\n', { A: 'new' }, '# A=old\nA="new"\n'],
    ['does not touch a longer key', 'AB=1\n', { A: '2' }, 'AB=1\nA="2"\n'],
    ['quotes what needs quoting', '', { A: 'a "b" $c `d` \\e' }, 'A="a \\"b\\" \\$c \\`d\\` \\\\e"\n'],
    ['several keys', 'A=1\n', { A: '2', B: '3' }, 'A="2"\nB="3"\n'],
    ['keeps blank lines and comments', '# head\n\nX=1\n\n# tail\n', { X: '2' }, '# head\n\nX="2"\n\n# tail\n'],
    ['sets every line of a repeated key', 'A=1\nB=2\nexport A=3\n', { A: '4' }, 'A="4"\nB=2\nA="4"\n'],
  ])('%s', (_, text, values, expected) => {
    expect(setEnvKeys(text, values)).toBe(expected);
  });

  test('the result reads back with the new values', () => {
    const text = setEnvKeys('# x\nDISCORD_GUILD_ID=1\nOTHER="$HOME/x"\n', { DISCORD_GUILD_ID: '123456', DISCORD_SESSION_WORKDIR: '/a b/$c' });
    expect(parseEnvText(text, 'f', { HOME: '/h' })).toEqual({ DISCORD_GUILD_ID: '123456', OTHER: '/h/x', DISCORD_SESSION_WORKDIR: '/a b/$c' });
  });

  test('a custom line format (the token file is written unquoted)', () => {
    expect(setEnvKeys('X=1\nDISCORD_BOT_TOKEN=old\n', { DISCORD_BOT_TOKEN: 'new' }, (k, v) => `${k}=${v}`)).toBe('X=1\nDISCORD_BOT_TOKEN=new\n');
  });
});

describe('init (non-interactive)', () => {
  const CONFIG = ['# My Discord sessions', 'DISCORD_ALLOWED_USER_ID="1"', '', 'export DISCORD_GUILD_ID=22222', 'DISCORD_IDLE_TIMEOUT=30 # half an hour', 'CUSTOM_KEY="kept"', ''].join('\n');
  let sb: Sandbox;
  beforeEach(() => {
    sb = new Sandbox({ config: CONFIG.trimEnd(), token: null });
    sb.write('channels/discord/.env', '# written by /discord:configure\nOTHER_SETTING=1\n', 0o644);
  });
  afterEach(async () => {
    await sb.cleanup();
  });

  const configText = () => sb.read('discord-sessions/config.env');
  const tokenFile = () => join(sb.root, 'channels/discord/.env');

  test('writes config.env in place, keeping comments and other keys, and the token file with mode 600', async () => {
    const result = await sb.run('init', '--user-id', '111111, 222222', '--guild-id', '333333333333333333', '--workdir', '~/work', '--token', TOKEN);
    expect(result.code).toBe(0);
    expect(configText()).toBe(
      [
        '# My Discord sessions',
        'DISCORD_ALLOWED_USER_ID="111111,222222"',
        '',
        'DISCORD_GUILD_ID="333333333333333333"',
        'DISCORD_IDLE_TIMEOUT=30 # half an hour',
        'CUSTOM_KEY="kept"',
        `DISCORD_SESSION_WORKDIR="${join(sb.home, 'work')}"`,
        '',
      ].join('\n'),
    );
    expect(readFileSync(tokenFile(), 'utf8')).toBe(`# written by /discord:configure\nOTHER_SETTING=1\nDISCORD_BOT_TOKEN=${TOKEN}\n`);
    expect(statSync(tokenFile()).mode & 0o777).toBe(0o600);
    expect(result.out.split('\n')).toEqual([
      `Config saved to ${join(sb.sessionsDir, 'config.env')}`,
      `Token saved to ${tokenFile()} (mode 600)`,
      'Next: discord-session-manager doctor, then discord-watchdog --daemon (it discovers the channels and runs the slash daemon; install-service starts it at login)',
    ]);
    // What init wrote is what the tools read.
    const status = JSON.parse((await sb.run('status', '--json')).out);
    expect(status).toMatchObject({ token: true, guildId: '333333333333333333', allowedUserIds: ['111111', '222222'] });
  });

  test('a fresh setup: creates the folders, the token file is private from the start', async () => {
    const fresh = new Sandbox({ config: '', token: null });
    try {
      const result = await fresh.run('init', '--user-id', '111111', '--guild-id', '333333333333333333', '--token', TOKEN);
      expect(result.code).toBe(0);
      const file = join(fresh.root, 'channels/discord/.env');
      expect(readFileSync(file, 'utf8')).toBe(`DISCORD_BOT_TOKEN=${TOKEN}\n`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(join(fresh.root, 'channels/discord')).mode & 0o777).toBe(0o700);
      expect(fresh.read('discord-sessions/config.env')).toBe('\nDISCORD_ALLOWED_USER_ID="111111"\nDISCORD_GUILD_ID="333333333333333333"\n');
    } finally {
      await fresh.cleanup();
    }
  });

  test('a new setup asks for approvals from the chat (default mode); an existing one keeps bypass unless told', async () => {
    const fresh = new Sandbox({ token: null });
    try {
      rmSync(join(fresh.sessionsDir, 'config.env'));
      expect((await fresh.run('init', '--user-id', '111111', '--guild-id', '333333333333333333', '--token', TOKEN)).code).toBe(0);
      expect(parseEnvText(fresh.read('discord-sessions/config.env'), 'f', {}).CLAUDE_PERMISSION_MODE).toBe('default');
    } finally {
      await fresh.cleanup();
    }
    // The existing config of this sandbox has no mode (bypass, as the original skill ran): init leaves it so.
    expect((await sb.run('init', '--user-id', '111111')).code).toBe(0);
    expect(configText()).not.toContain('CLAUDE_PERMISSION_MODE');
    expect((await sb.run('init', '--permission-mode', 'bypassPermissions')).code).toBe(0);
    expect(configText()).toContain('CLAUDE_PERMISSION_MODE="bypassPermissions"');
    const bad = await sb.run('init', '--permission-mode', 'yolo');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('Invalid permission mode "yolo"');
  });

  test('a relative workdir is saved as an absolute path', async () => {
    const result = await sb.run('init', '--workdir', relative(process.cwd(), join(sb.home, 'work')));
    expect(result.code).toBe(0);
    expect(parseEnvText(configText(), 'f').DISCORD_SESSION_WORKDIR).toBe(join(sb.home, 'work'));
  });

  test('a repeated key is set where it counts', async () => {
    sb.write('discord-sessions/config.env', 'DISCORD_GUILD_ID=11111\n# later override\nDISCORD_GUILD_ID=22222\n');
    expect((await sb.run('init', '--guild-id', '333333333333333333')).code).toBe(0);
    expect(JSON.parse((await sb.run('status', '--json')).out).guildId).toBe('333333333333333333');
  });

  test('a partial init warns about what is still missing and exits 0', async () => {
    rmSync(tokenFile());
    const result = await sb.run('init', '--user-id', '111111');
    expect(result.code).toBe(0);
    expect(result.err).toContain('Still missing: No Discord bot token');
    expect(configText()).toContain('DISCORD_ALLOWED_USER_ID="111111"');
  });

  test('a token alone replaces the old one', async () => {
    sb.write('channels/discord/.env', 'DISCORD_BOT_TOKEN=old-token-old-token-old\n', 0o644);
    const result = await sb.run('init', '--token', TOKEN);
    expect(result.code).toBe(0);
    expect(readFileSync(tokenFile(), 'utf8')).toBe(`DISCORD_BOT_TOKEN=${TOKEN}\n`);
    expect(statSync(tokenFile()).mode & 0o777).toBe(0o600);
    expect(configText()).toBe(CONFIG);
  });

  test('init repairs a config.env that no longer validates', async () => {
    sb.write('discord-sessions/config.env', 'DISCORD_GUILD_ID="my server"\nDISCORD_ALLOWED_USER_ID=1\n');
    expect((await sb.run('status')).code).toBe(1);
    const result = await sb.run('init', '--guild-id', '333333333333333333');
    expect(result.code).toBe(0);
    expect(configText()).toBe('DISCORD_GUILD_ID="333333333333333333"\nDISCORD_ALLOWED_USER_ID=1\n');
  });

  test.each<[string, string[], RegExp]>([
    ['a non-numeric user id', ['--user-id', 'bob'], /Invalid user id "bob": expected digits/],
    ['one bad id among good ones', ['--user-id', '111111,bob', '--guild-id', '333333333333333333'], /Invalid user id "111111,bob"/],
    ['an empty user id', ['--user-id', ','], /Invalid user id/],
    ['a non-numeric guild id', ['--user-id', '111111', '--guild-id', 'my-server'], /Invalid guild id "my-server"/],
    ['a too short guild id', ['--guild-id', '12'], /Invalid guild id "12"/],
    ['a missing workdir', ['--user-id', '111111', '--workdir', '/does/not/exist'], /Workdir \/does\/not\/exist does not exist/],
    ['a workdir that is a file', ['--workdir', '/etc/hostname'], /Workdir \/etc\/hostname does not exist/],
    ['a short token', ['--user-id', '111111', '--token', 'abc'], /does not look like one/],
    ['a token with a newline', ['--token', `${TOKEN}\nEVIL=1`], /does not look like one/],
    ['a token with shell syntax', ['--token', `${TOKEN};rm`], /does not look like one/],
    ['nothing to write', [], /Nothing to write/],
  ])('refuses %s with exit 2 and writes nothing', async (_, args, message) => {
    const tokenBefore = readFileSync(tokenFile(), 'utf8');
    const result = await sb.run('init', ...args);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(result.out).toBe('');
    expect(configText()).toBe(CONFIG);
    expect(readFileSync(tokenFile(), 'utf8')).toBe(tokenBefore);
    expect(statSync(tokenFile()).mode & 0o777).toBe(0o644);
  });

  test('refusals write nothing on a fresh machine either', async () => {
    const fresh = new Sandbox({ config: '', token: null });
    try {
      const result = await fresh.run('init', '--user-id', '111111', '--workdir', '/does/not/exist', '--token', TOKEN);
      expect(result.code).toBe(2);
      expect(existsSync(join(fresh.root, 'channels'))).toBe(false);
      expect(fresh.read('discord-sessions/config.env')).toBe('\n');
    } finally {
      await fresh.cleanup();
    }
  });
});

describe('init (questions and --token-stdin)', () => {
  let sb: Sandbox;
  beforeEach(() => {
    sb = new Sandbox({ token: null });
  });
  afterEach(async () => {
    await sb.cleanup();
  });

  /** Runs init in-process with scripted answers (null = input ended) and, optionally, a piped stdin. */
  async function runInit(args: string[], options: { answers?: Array<string | null>; stdin?: string | null; interactive?: boolean } = {}) {
    const { ctx, out, err } = sb.context();
    const answers = [...(options.answers ?? [])];
    const asked: Array<{ question: string; hidden: boolean }> = [];
    const terminal: CommandContext = {
      ...ctx,
      interactive: options.interactive ?? true,
      prompt: async (question, o) => {
        asked.push({ question, hidden: Boolean(o?.hidden) });
        return answers.length ? answers.shift()! : null;
      },
      readStdin: async () => options.stdin ?? null,
    };
    const code = await runCli(createDiscordSessionManagerCommand(terminal), ['init', ...args], terminal.io);
    return { code, out: out.join('\n'), err: err.join('\n'), asked };
  }
  const config = () => parseEnvText(sb.read('discord-sessions/config.env'), 'f', {});
  const tokenFile = () => join(sb.root, 'channels/discord/.env');

  test('asks only for what no option gave, shows current values, and takes the token without echo', async () => {
    const result = await runInit(['--guild-id', '444444444444444444'], { answers: ['222222', '', TOKEN] });
    expect(result.code).toBe(0);
    expect(result.asked).toEqual([
      { question: `Your Discord user id (several: comma-separated) [${OWNER_ID}]: `, hidden: false },
      { question: `Default working directory of sessions [${join(sb.home, 'work')}]: `, hidden: false },
      { question: 'Bot token (not shown as you type): ', hidden: true },
    ]);
    expect(config()).toMatchObject({ DISCORD_ALLOWED_USER_ID: '222222', DISCORD_GUILD_ID: '444444444444444444', DISCORD_SESSION_WORKDIR: join(sb.home, 'work') });
    expect(readFileSync(tokenFile(), 'utf8')).toBe(`DISCORD_BOT_TOKEN=${TOKEN}\n`);
  });

  test('Enter at the token question keeps the token there is', async () => {
    sb.write('channels/discord/.env', 'DISCORD_BOT_TOKEN=old-token-old-token-old\n', 0o600);
    const result = await runInit([], { answers: ['', '', '', ''] });
    expect(result.code).toBe(0);
    expect(result.asked.at(-1)).toEqual({ question: 'Bot token (not shown as you type; Enter keeps the current one): ', hidden: true });
    expect(result.out).not.toContain('Token saved');
    expect(readFileSync(tokenFile(), 'utf8')).toBe('DISCORD_BOT_TOKEN=old-token-old-token-old\n');
  });

  test('a bad answer is asked again with the reason; the third bad one stops init', async () => {
    const fixed = await runInit([], { answers: ['bob', '111111', '', '', TOKEN] });
    expect(fixed.code).toBe(0);
    expect(fixed.err).toContain('[warn] Invalid user id "bob": expected digits. Try again.');
    expect(fixed.asked.map((a) => a.question.slice(0, 20))).toEqual(['Your Discord user id', 'Your Discord user id', 'Your Discord server ', 'Default working dire', 'Bot token (not shown']);
    expect(config().DISCORD_ALLOWED_USER_ID).toBe('111111');

    const before = sb.read('discord-sessions/config.env');
    const failed = await runInit([], { answers: ['bob', 'x', 'y'] });
    expect(failed.code).toBe(2);
    expect(failed.err).toContain('Invalid user id "y"');
    expect(sb.read('discord-sessions/config.env')).toBe(before);
  });

  test.each<[string, Array<string | null>, RegExp]>([
    ['the input ends (Ctrl-D)', [null], /^\[error\] No answer to "Your Discord server \(guild\) id" \(input ended\); nothing was written\. Run init again, or pass --guild-id\.$/],
    ['a required answer is empty', ['', '', ''], /^\[error\] "Bot token \(not shown as you type\)" needs an answer; nothing was written\. Run init again, or pass --token\.$/],
  ])('when %s, init exits 2 with one line and writes nothing', async (_, answers, message) => {
    const before = sb.read('discord-sessions/config.env');
    const result = await runInit(['--user-id', '111111'], { answers });
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(result.out).toBe('');
    expect(sb.read('discord-sessions/config.env')).toBe(before);
    expect(existsSync(tokenFile())).toBe(false);
  });

  test('--token-stdin takes the piped token (trailing newline and all) and asks nothing', async () => {
    const result = await runInit(['--token-stdin'], { stdin: `${TOKEN}\n`, interactive: false });
    expect(result.code).toBe(0);
    expect(result.asked).toEqual([]);
    expect(readFileSync(tokenFile(), 'utf8')).toBe(`DISCORD_BOT_TOKEN=${TOKEN}\n`);
    expect(statSync(tokenFile()).mode & 0o777).toBe(0o600);
  });

  test.each<[string, string[], string | null, RegExp]>([
    ['stdin is a terminal', ['--token-stdin'], null, /--token-stdin reads the token from a pipe, but stdin is a terminal\. Pipe it in/],
    ['stdin is empty', ['--token-stdin'], '\n', /No bot token on stdin\./],
    ['the piped text is no token', ['--token-stdin'], 'not a token; rm -rf /\n', /does not look like one/],
    ['both ways at once', ['--token-stdin', '--token', TOKEN], TOKEN, /Give the bot token one way: --token or --token-stdin\./],
  ])('--token-stdin refuses when %s, exit 2, nothing written', async (_, args, stdin, message) => {
    const before = sb.read('discord-sessions/config.env');
    const result = await runInit(['--user-id', '111111', ...args], { stdin, interactive: false });
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(sb.read('discord-sessions/config.env')).toBe(before);
    expect(existsSync(tokenFile())).toBe(false);
  });
});
