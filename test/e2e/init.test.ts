import { afterEach, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnvText } from '../../lib/core/config/env-file.ts';
import { DISCORD, type Platform, TELEGRAM } from '../../lib/core/config/platform.ts';
import { ROOT, Sandbox, waitFor } from '../helpers.ts';

/** `init` as a person runs it: the program's own bin/ entry in a pseudo-terminal, answers typed key by key. */
const TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz_-0123';
const ENTER = '\r';
const CTRL_C = '\u0003';
const CTRL_D = '\u0004';

class TerminalRun {
  output = '';
  private readonly proc: Bun.Subprocess;
  private seen = 0;

  constructor(sb: Sandbox, program: string, args: string[]) {
    const decoder = new TextDecoder();
    this.proc = Bun.spawn(['bun', join(ROOT, 'bin', `${program}.ts`), ...args], {
      env: sb.env as Record<string, string>,
      terminal: { cols: 250, rows: 40, data: (_, data) => (this.output += decoder.decode(data, { stream: true })) },
    });
  }

  /** Waits for the next question (the last line, ending in ": ") to match `question`, then types `keys`. */
  async answer(question: RegExp, keys: string): Promise<void> {
    const lastLine = () => this.output.slice(this.seen).split('\n').at(-1)!;
    await waitFor(() => question.test(lastLine()) && lastLine().endsWith(': '), 10_000).catch(() => {
      throw new Error(`No question matching ${question}; the terminal shows ${JSON.stringify(this.output)}`);
    });
    this.seen = this.output.length;
    this.proc.terminal!.write(keys);
  }

  /** The exit code, and what the terminal showed after the last answer. */
  async exit(): Promise<{ code: number; after: string }> {
    const code = await this.proc.exited;
    // The terminal may still hold the last lines the program wrote.
    await waitFor(() => this.proc.terminal!.closed || this.output.endsWith('\n'), 2000).catch(() => {});
    this.proc.terminal!.close();
    return { code, after: this.output.slice(this.seen) };
  }
}

const sandboxes: Sandbox[] = [];
afterEach(async () => {
  for (const sb of sandboxes.splice(0)) await sb.cleanup();
});

/** A machine with nothing set up: no config.env, no token file. */
function freshSandbox(platform: Platform): Sandbox {
  const sb = new Sandbox({ platform, token: null });
  rmSync(join(sb.sessionsDir, 'config.env'));
  sandboxes.push(sb);
  return sb;
}

const lines = (text: string) => text.split(/\r?\n/).map((line) => line.replace(/\r/g, '').trim()).filter(Boolean);

describe('init in a terminal', () => {
  test.each([
    ['discord', DISCORD, 'Next: discord-session-manager doctor, then discord-watchdog --daemon'],
    ['telegram', TELEGRAM, 'Next: telegram-session-manager doctor, then telegram-session-manager watchdog --daemon'],
  ] as const)('%s: the answers typed end up in config.env and the token file (0600, never echoed); exit 0', async (_, platform, next) => {
    const sb = freshSandbox(platform);
    const P = platform.configPrefix;
    const run = new TerminalRun(sb, platform.cli, ['init']);
    await run.answer(new RegExp(`^Your ${platform.label} user id .*: $`), `111111, 222222${ENTER}`);
    if (platform === DISCORD) await run.answer(/^Your Discord server \(guild\) id: $/, `333333333333333333${ENTER}`);
    // A typo fixed with Backspace, as a person would.
    await run.answer(/^Default working directory of sessions \[.*\]: $/, `~/wrok\u007f\u007f\u007fork${ENTER}`);
    await run.answer(/^Bot token \(not shown as you type\): $/, `${TOKEN}${ENTER}`);
    await run.answer(/^Permission mode: .*\[default\]: $/, ENTER);
    const { code, after } = await run.exit();

    expect(code).toBe(0);
    expect(parseEnvText(sb.read(`${platform.sessionsDirName}/config.env`), 'f', {})).toEqual({
      [`${P}_ALLOWED_USER_ID`]: '111111,222222',
      ...(platform === DISCORD ? { DISCORD_GUILD_ID: '333333333333333333' } : {}),
      [`${P}_SESSION_WORKDIR`]: join(sb.home, 'work'),
      CLAUDE_PERMISSION_MODE: 'default',
    });
    const tokenFile = join(sb.root, `channels/${platform.key}/.env`);
    expect(readFileSync(tokenFile, 'utf8')).toBe(`${platform.tokenVar}=${TOKEN}\n`);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(run.output).not.toContain(TOKEN.slice(0, 12));
    expect(run.output).toContain('111111, 222222');
    expect(lines(after).at(-1)).toStartWith(next);
  }, 20_000);

  test.each([
    ['discord: Ctrl-D at the first question', DISCORD, CTRL_D, 2, /^error: No answer to "Your Discord user id \(several: comma-separated\)" \(input ended\); nothing was written\. Run init again, or pass --user-id\.$/],
    ['telegram: an empty answer to a required question', TELEGRAM, ENTER, 2, /^error: "Your Telegram user id \(several: comma-separated\)" needs an answer; nothing was written\. Run init again, or pass --user-id\.$/],
    ['telegram: Ctrl-C', TELEGRAM, CTRL_C, 130, /^error: Cancelled \(Ctrl-C\)\.$/],
  ] as const)('%s gives one error line, a non-zero exit, and writes nothing', async (_, platform, keys, exitCode, message) => {
    const sb = freshSandbox(platform);
    const run = new TerminalRun(sb, platform.cli, ['init']);
    await run.answer(/user id .*: $/, keys);
    const { code, after } = await run.exit();
    expect(code).toBe(exitCode);
    expect(lines(after)).toHaveLength(1);
    expect(lines(after)[0]).toMatch(message);
    expect(existsSync(join(sb.sessionsDir, 'config.env'))).toBe(false);
    expect(existsSync(join(sb.root, 'channels'))).toBe(false);
  }, 20_000);

  test('an existing setup: Enter keeps every value and the token', async () => {
    const sb = new Sandbox({ platform: TELEGRAM, token: TOKEN });
    sandboxes.push(sb);
    const config = sb.read('telegram-sessions/config.env');
    const run = new TerminalRun(sb, 'telegram-session-manager', ['init']);
    await run.answer(/user id .*\[1000000000000000001\]: $/, ENTER);
    await run.answer(/working directory .*: $/, ENTER);
    await run.answer(/^Bot token \(not shown as you type; Enter keeps the current one\): $/, ENTER);
    const { code } = await run.exit();
    expect(code).toBe(0);
    expect(parseEnvText(sb.read('telegram-sessions/config.env'), 'f', { HOME: sb.home })).toEqual(parseEnvText(config, 'f', { HOME: sb.home }));
    expect(sb.read('channels/telegram/.env')).toBe(`TELEGRAM_BOT_TOKEN=${TOKEN}\n`);
  }, 20_000);
});

describe('init --token-stdin', () => {
  test.each([DISCORD, TELEGRAM])('$key: the token piped in is saved with mode 600', async (platform) => {
    const sb = freshSandbox(platform);
    const args = ['init', '--token-stdin', '--user-id', '111111', ...(platform === DISCORD ? ['--guild-id', '333333333333333333'] : [])];
    const proc = Bun.spawn(['bun', join(ROOT, 'bin', `${platform.cli}.ts`), ...args], {
      env: sb.env as Record<string, string>,
      stdin: new Blob([`${TOKEN}\n`]),
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain(`Token saved to ${join(sb.root, `channels/${platform.key}/.env`)} (mode 600)`);
    const tokenFile = join(sb.root, `channels/${platform.key}/.env`);
    expect(readFileSync(tokenFile, 'utf8')).toBe(`${platform.tokenVar}=${TOKEN}\n`);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
  }, 20_000);
});
