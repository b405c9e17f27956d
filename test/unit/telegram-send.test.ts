import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../lib/core/util/clock.ts';
import { readCondition } from '../../lib/core/store/condition.ts';
import { TELEGRAM } from '../../lib/core/config/platform.ts';
import { TelegramRouter } from '../../lib/platforms/telegram/router.ts';
import { FakeTelegram } from '../fakes/telegram.ts';
import { ROOT, Sandbox, waitFor } from '../helpers.ts';

const OWNER = 123456789;
const STRANGER = 987654321;
const GROUP = -100200300;

let fake: FakeTelegram;
let sb: Sandbox;
let stop: AbortController;
let serving: Promise<void>;
let log: string[];

/**
 * A stand-in claude that shows Claude Code's real workspace trust dialog and waits for one key: on
 * `1` it shows the development-channel dialog (the manager's to answer), then the prompt.
 */
function dialogClaude(dir: string): string {
  const file = join(dir, 'claude-at-trust');
  writeFileSync(
    file,
    `#!/usr/bin/env bash
cat '${join(ROOT, 'test/fixtures/panes/trust.txt')}'
IFS= read -rsn1 key
printf '\\nkey %s\\n' "$key"
if [ "$key" = 1 ]; then
  printf 'WARNING: Loading development channels\\n\\n\\u276f 1. I am using this for local development\\n  2. Exit\\n'
  IFS= read -rsn1 key
  printf 'development channels answered\\n> '
fi
exec sleep 2147483647
`,
  );
  chmodSync(file, 0o755);
  return file;
}

async function pane(): Promise<string> {
  return (await sb.tmux.run(['capture-pane', '-p', '-J', '-t', `=tg-${GROUP}:`])).stdout;
}

beforeAll(async () => {
  fake = new FakeTelegram().start();
  sb = new Sandbox({
    platform: TELEGRAM,
    token: fake.token,
    env: { TELEGRAM_API_URL: fake.url },
    config: `TELEGRAM_ALLOWED_USER_ID="${OWNER}"\nTELEGRAM_SESSION_WORKDIR="$HOME/work"\nTELEGRAM_IDLE_TIMEOUT=0`,
  });
  sb.env.CLAUDE_BIN = dialogClaude(sb.dir);
  const { ctx, err } = sb.context();
  log = err;
  await ctx.manager.spawn(String(GROUP), { name: 'group', type: 'chat' });
  stop = new AbortController();
  const router = new TelegramRouter({ manager: ctx.manager, clock: systemClock, log: ctx.io.log, token: fake.token, apiRoot: fake.url, signal: stop.signal });
  serving = router.run();
  await waitFor(() => fake.polling, 8000, 'the router polling');
});

afterAll(async () => {
  stop.abort();
  await serving;
  await sb.cleanup();
  await fake.stop();
});

describe('a Telegram session that starts at the workspace trust dialog', () => {
  test('the start does not answer it: the session is WAITING with the /send fix', async () => {
    const condition = readCondition(join(sb.sessionsDir, String(GROUP)), 'pane');
    expect(condition).toMatchObject({ state: 'WAITING' });
    expect(condition!.cause).toContain('workspace trust dialog');
    expect(condition!.fix).toMatch(/^`\/send 1` trusts the folder/);
    expect(await pane()).not.toMatch(/^key /m);
    const rows = JSON.parse((await sb.runBin('telegram-session-manager', ['list', '--json'])).out);
    expect(rows[0]).toMatchObject({ status: 'WAITING', condition: { state: 'WAITING', fix: condition!.fix } });
  });

  test("a stranger's /send is refused and logged, and nothing reaches the pane", async () => {
    fake.command(GROUP, STRANGER, '/send 1', { chatType: 'group', chatTitle: 'group' });
    await waitFor(() => log.some((l) => l.includes('REFUSED /send') && l.includes(String(STRANGER))), 5000, 'the refusal log line');
    await waitFor(() => fake.pending().length === 0, 5000, 'the update confirmed');
    expect(await pane()).not.toMatch(/^key /m);
    expect(fake.sentTo(GROUP)).toEqual([]);
  });

  test('/status shows the state, the cause and the fix; /sessions the state and cause (in the owner’s own chat)', async () => {
    const pointer = '📬 Sent to you in our private chat (it shows private data).';
    fake.command(GROUP, OWNER, '/status', { chatType: 'group', chatTitle: 'group' });
    expect(await fake.waitForSent(GROUP, 1, 5000)).toEqual([pointer]);
    const [status] = await fake.waitForSent(OWNER, 1, 5000);
    expect(status).toMatch(new RegExp(`^/status in group \\(${GROUP}\\):\\nWAITING {2}group\\nClaude Code asks whether to trust the workdir .*\\nfix: \`/send 1\` trusts the folder`));
    fake.command(GROUP, OWNER, '/sessions', { chatType: 'group', chatTitle: 'group' });
    expect((await fake.waitForSent(GROUP, 2, 5000))[1]).toBe(pointer);
    const sessions = (await fake.waitForSent(OWNER, 2, 5000))[1]!;
    expect(sessions).toMatch(new RegExp(`^/sessions in group \\(${GROUP}\\):\\nWAITING +group \\(${GROUP}\\) · since \\d+s ago · in — · out — · [^·]+ · Claude Code asks whether to trust`));
  });

  test("/send without input explains itself; the owner's /send 1 answers the dialog, and the development-channel one after it is answered too", async () => {
    fake.command(GROUP, OWNER, '/send', { chatType: 'group', chatTitle: 'group' });
    expect((await fake.waitForSent(GROUP, 3, 5000))[2]).toMatch(/^Usage: \/send <key or text>\. Keys: 1, 2, 3, 4, 5, yes, no, enter, esc/);
    fake.command(GROUP, OWNER, '/send 1', { chatType: 'group', chatTitle: 'group' });
    expect((await fake.waitForSent(GROUP, 4, 5000))[3]).toBe('Sent 1');
    await sb.waitForPane(`tg-${GROUP}`, /^key 1$/m);
    await sb.waitForPane(`tg-${GROUP}`, /development channels answered/, 8000);
    expect(log.some((l) => l.includes(`send 1 to tg-${GROUP} by user ${OWNER}`))).toBe(true);
  }, 20_000);

  test('/send text types it and presses Enter', async () => {
    fake.command(GROUP, OWNER, '/send hello there', { chatType: 'group', chatTitle: 'group' });
    expect((await fake.waitForSent(GROUP, 5, 5000))[4]).toBe('Typed: hello there');
    await sb.waitForPane(`tg-${GROUP}`, /hello there/);
  });
});

test('the stand-in shows the real trust screen', () => {
  expect(readFileSync(join(ROOT, 'test/fixtures/panes/trust.txt'), 'utf8')).toContain('❯ 1. Yes, I trust this folder');
});
