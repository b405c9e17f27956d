/**
 * The root check against the REAL Claude Code: as root it refuses the bypass modes unless IS_SANDBOX=1,
 * so `spawn` must refuse up front without the opt-in, and with `IS_SANDBOX=1` in config.env the session
 * must really run (prompt shown, pane alive, a typed line reaching the model). As a normal user the
 * session runs without any opt-in.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { FakeAnthropic } from '../fakes/anthropic.ts';
import { OWNER_ID, Sandbox, waitFor } from '../helpers.ts';
import { isRoot, prepareClaudeConfig, realClaude } from './real-claude.ts';

const ID = '123456789012345678';
const TMUX_NAME = `dc-${ID}`;
/** Claude Code's input prompt, once no dialog is in the way. */
const PROMPT = /❯/;
const DIALOG = /Yes, I trust this folder|Bypass Permissions mode|Loading development channels/;

let claude: string;
let fake: FakeAnthropic;
const sandboxes: Sandbox[] = [];

beforeAll(async () => {
  claude = await realClaude();
  fake = await FakeAnthropic.start();
}, 300_000);

afterAll(async () => {
  for (const sb of sandboxes) await sb.cleanup();
  fake?.stop();
});

/** A sandbox running the real CLI on the loopback API, its root check seeing this process's real uid. */
function sandbox(extraConfig: string[] = []): Sandbox {
  const sb = new Sandbox({
    env: { CLAUDE_BIN: claude },
    config: [`DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`, 'DISCORD_GUILD_ID="1100000000000000001"', 'DISCORD_SESSION_WORKDIR="$HOME/work"', ...extraConfig].join('\n'),
  });
  delete sb.env.CRS_UID;
  sandboxes.push(sb);
  prepareClaudeConfig(sb.root, { apiUrl: fake.url, trusted: [join(sb.home, 'work')] });
  return sb;
}

/** Starts the session and proves it runs: the prompt, a typed line reaching the model, the pane still alive. */
async function expectRunningSession(sb: Sandbox): Promise<void> {
  const result = await sb.run('spawn', ID, '--name', 'general');
  expect(result.err).toBe('');
  expect(result.code).toBe(0);
  expect(result.out).toContain(`SPAWNED  ${TMUX_NAME}`);
  // The start answers the development-channel confirmation; the screen may take a moment to redraw.
  let screen = '';
  await waitFor(async () => {
    screen = await sb.tmux.capturePane(TMUX_NAME).catch(() => '');
    return PROMPT.test(screen) && !DIALOG.test(screen);
  }, 30_000, 'the prompt without a dialog');
  expect(screen).not.toContain('cannot be used with root/sudo privileges');

  const line = `root-check hello ${Date.now()}`;
  await sb.tmux.sendKeys(TMUX_NAME, [line], true);
  await sb.tmux.sendKeys(TMUX_NAME, ['Enter']);
  await waitFor(() => fake.turns.some((turn) => turn.lastUserText.includes(line)), 30_000, 'the typed line at the model');
  // The model's answer (`ok` from the fake) on screen, in the permission mode the session was started with.
  const after = await sb.waitForPane(TMUX_NAME, /● ok/, 15_000);
  expect(after).toContain('bypass permissions on');

  const info = (await sb.tmux.listSessions()).get(TMUX_NAME);
  expect(info?.dead).toBe(false);
  // UP once the turn's Stop hook has run (a moment after the answer).
  const listed = async () => JSON.parse((await sb.run('list', '--json')).out) as Array<{ id: string; status: string }>;
  await waitFor(async () => (await listed())[0]?.status !== 'BUSY', 10_000, 'the turn to end');
  expect(await listed()).toEqual([expect.objectContaining({ id: ID, status: 'UP' })]);
}

describe('the real Claude Code and the root check', () => {
  if (isRoot()) {
    test('as root without an opt-in: the CLI itself refuses, and spawn refuses first with one line and no tmux session', async () => {
      const sb = sandbox();
      // What the check stands in for: the real CLI exits 1 at once.
      const direct = Bun.spawnSync([claude, '--dangerously-skip-permissions', '-p', 'hi'], {
        env: { PATH: process.env.PATH!, HOME: sb.home, CLAUDE_CONFIG_DIR: sb.root },
        stdout: 'pipe',
        stderr: 'pipe',
      });
      expect(direct.exitCode).toBe(1);
      expect(direct.stderr.toString()).toContain('cannot be used with root/sudo privileges for security reasons');

      const result = await sb.run('spawn', ID, '--name', 'general');
      expect(result.code).toBe(1);
      expect(result.out).toBe('');
      expect(result.err.split('\n')).toHaveLength(1);
      expect(result.err).toContain('Claude Code refuses --dangerously-skip-permissions as root, so no session was started.');
      expect(result.err).toContain(`add IS_SANDBOX=1 to ${join(sb.sessionsDir, 'config.env')}`);
      expect(await sb.tmux.hasSession(TMUX_NAME)).toBe(false);
      expect((await sb.tmux.listSessions()).size).toBe(0);
    }, 60_000);

    test('as root with IS_SANDBOX=1 in config.env: the session runs and takes a line typed into it', async () => {
      await expectRunningSession(sandbox(['IS_SANDBOX=1']));
    }, 90_000);
  } else {
    test('as a normal user: the session runs without any opt-in', async () => {
      await expectRunningSession(sandbox());
    }, 90_000);
  }
});
