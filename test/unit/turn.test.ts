import { afterAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { classifyPane } from '../../lib/core/host/pane.ts';
import { recordTurnHook } from '../../lib/core/store/turn.ts';
import { Sandbox } from '../helpers.ts';

const ID = '123456789012345678';
const sb = new Sandbox();
afterAll(() => sb.cleanup());

/** What `list --json` says of the session. */
async function listed(): Promise<{ status: string; cause?: string; fix?: string }> {
  const rows = JSON.parse((await sb.run('list', '--json')).out) as Array<{ id: string; status: string; condition?: { cause: string; fix: string } }>;
  const row = rows.find((r) => r.id === ID)!;
  return { status: row.status, cause: row.condition?.cause, fix: row.condition?.fix };
}

describe('a failed login (LOGGED_OUT)', () => {
  test('the StopFailure hook with authentication_failed makes the session LOGGED_OUT, with the LaunchAgent case in its fix', async () => {
    expect((await sb.run('spawn', ID, '--name', 'general')).code).toBe(0);
    await sb.waitForRuns(1);
    recordTurnHook(join(sb.sessionsDir, ID), { hook_event_name: 'UserPromptSubmit' }, Date.now());
    recordTurnHook(join(sb.sessionsDir, ID), { hook_event_name: 'StopFailure', error: 'authentication_failed', last_assistant_message: 'OAuth token has expired' }, Date.now());
    const row = await listed();
    expect(row.status).toBe('LOGGED_OUT');
    expect(row.cause).toBe('OAuth token has expired');
    expect(row.fix).toContain('`claude /login`');
    expect(row.fix).toContain('LaunchAgent (install-service on macOS), its sessions may not reach the login keychain');
    expect(row.fix).toContain('`claude setup-token`');
    expect(row.fix).toContain('CLAUDE_CODE_OAUTH_TOKEN in config.env or in the profile (profiles.env)');

    // The next turn that ends well clears it.
    recordTurnHook(join(sb.sessionsDir, ID), { hook_event_name: 'Stop' }, Date.now());
    expect((await listed()).status).toBe('UP');
  });

  test('"Not logged in" on the screen gives the same fix, then the restart command', () => {
    const reading = classifyPane('Not logged in · Run /login\n', { platform: 'telegram' });
    expect(reading.condition?.state).toBe('LOGGED_OUT');
    expect(reading.condition?.fix).toMatch(/LaunchAgent \(install-service on macOS\).*`claude setup-token`.*CLAUDE_CODE_OAUTH_TOKEN in config\.env.*; then `\/restart`$/);
  });
});
