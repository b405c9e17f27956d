import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConsola } from 'consola';
import { START_FAILURE_SUMMARY_MS, respawnDuty } from '../../lib/daemons/duties.ts';
import { FAKE_CLAUDE, Sandbox } from '../helpers.ts';

const IDS = ['420000000000000001', '420000000000000002', '420000000000000003'];
const MISSING = '/nonexistent/claude';
/** Time between two passes of the duty here (the watchdog runs it every half second). */
const STEP_MS = 30_000;

let sb: Sandbox;
beforeAll(() => {
  sb = new Sandbox({ env: { CLAUDE_BIN: MISSING } });
  const registry = Object.fromEntries(IDS.map((id, i) => [id, { type: 'channel', name: `room-${i}`, tmux: `dc-${id}`, parent: null, created: `2026-01-01T00:00:0${i}` }]));
  writeFileSync(join(sb.sessionsDir, 'sessions.json'), JSON.stringify(registry));
});
afterAll(() => sb.cleanup());

test('with claude missing, dead sessions are logged once, then one summary line every 10 minutes, until they start', async () => {
  const lines: string[] = [];
  const log = createConsola({ level: 4, reporters: [{ log: (e) => lines.push(`${e.type}: ${e.args.join(' ')}`) }] });
  const { manager } = sb.context().ctx;
  let now = Date.parse('2026-05-01T12:00:00Z');
  const duty = respawnDuty({ manager, log, now: () => now });
  const notFound = `Claude Code (\`${MISSING}\`) was not found. Install it (npm install -g @anthropic-ai/claude-code) or set CLAUDE_BIN to its path.`;
  const names = IDS.map((id) => `dc-${id}`).join(', ');

  // A pass every half minute for ten minutes: the one line of the start.
  for (let t = 0; t < START_FAILURE_SUMMARY_MS; t += STEP_MS) {
    await duty.run();
    now += STEP_MS;
  }
  expect(lines).toEqual([`error: respawn ${names} failed: ${notFound}`]);
  // Then a summary, and only every ten minutes.
  for (let t = 0; t < 2 * START_FAILURE_SUMMARY_MS; t += STEP_MS) {
    await duty.run();
    now += STEP_MS;
  }
  expect(lines.slice(1)).toEqual([`error: 3 sessions still cannot start: ${names}: ${notFound}`, `error: 3 sessions still cannot start: ${names}: ${notFound}`]);

  // Claude Code is installed: they start, say so, and no summary follows.
  (manager.deps as { claudeBin: string }).claudeBin = FAKE_CLAUDE;
  await duty.run();
  expect(lines.slice(3).map((l) => l.split('  ')[0])).toEqual(['info: RESPAWNED', 'info: RESPAWNED', 'info: RESPAWNED']);
  now += 2 * START_FAILURE_SUMMARY_MS;
  await duty.run();
  expect(lines).toHaveLength(6);
}, 30_000);
