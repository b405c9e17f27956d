import { afterAll, beforeAll, expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { FakeTelegram } from '../fakes/telegram.ts';
import { ROOT, Sandbox, waitFor } from '../helpers.ts';

const OWNER = 123456789;
let fake: FakeTelegram;
let sb: Sandbox;
let proc: Subprocess<'ignore', 'pipe', 'pipe'>;

beforeAll(() => {
  fake = new FakeTelegram().start();
  sb = new Sandbox({
    platform: TELEGRAM,
    token: fake.token,
    env: { TELEGRAM_API_URL: fake.url, CLAUDE_BIN: join(ROOT, 'test/fakes/claude-mcp') },
    config: `TELEGRAM_ALLOWED_USER_ID="${OWNER}"\nTELEGRAM_SESSION_WORKDIR="$HOME/work"\nTELEGRAM_WATCHDOG_INTERVAL=1`,
  });
  proc = Bun.spawn(['bun', join(ROOT, 'bin/telegram-session-manager.ts'), 'watchdog'], { env: sb.env as Record<string, string>, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
});

afterAll(async () => {
  proc.kill('SIGTERM');
  await proc.exited;
  await sb.runBin('telegram-session-manager', ['serve', '--stop']);
  await sb.cleanup();
  await fake.stop();
});

test('the Telegram watchdog keeps the router up in tmux tg-router and brings a killed chat session back', async () => {
  await waitFor(async () => (await sb.tmux.listSessions()).get('tg-router')?.dead === false, 10_000, 'the router in tmux');
  await waitFor(() => existsSync(join(sb.sessionsDir, 'router.pid')), 10_000, 'the router pid file');
  const status = await sb.runBin('telegram-session-manager', ['watchdog', '--status']);
  expect(status.out).toContain('Watchdog: RUNNING');
  expect(status.out).toContain('Router: RUNNING (tmux: tg-router)');

  fake.userMessage(OWNER, { fromId: OWNER, text: 'start me' });
  const notifications = join(sb.sessionsDir, String(OWNER), 'channel-notifications.jsonl');
  await waitFor(() => existsSync(notifications) && readFileSync(notifications, 'utf8').includes('start me'), 20_000, 'the first delivery');
  const before = (await sb.tmux.listSessions()).get(`tg-${OWNER}`)!.panePid;
  await sb.tmux.killSession(`tg-${OWNER}`);
  await waitFor(async () => {
    const info = (await sb.tmux.listSessions()).get(`tg-${OWNER}`);
    return Boolean(info && !info.dead && info.panePid !== before);
  }, 5000, 'the respawn');
  fake.userMessage(OWNER, { fromId: OWNER, text: 'still there?' });
  await waitFor(() => readFileSync(notifications, 'utf8').includes('still there?'), 20_000, 'delivery after the respawn');

  // The router is kept alive too.
  await sb.tmux.killSession('tg-router');
  await waitFor(async () => (await sb.tmux.listSessions()).get('tg-router')?.dead === false, 10_000, 'the router restarted');
}, 60_000);
