import { afterEach, describe, expect, test } from 'bun:test';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConsola } from 'consola';
import type { Clock } from '../../lib/core/util/clock.ts';
import { CrsError } from '../../lib/core/util/errors.ts';
import { loadCrashState } from '../../lib/core/sessions/crash-guard.ts';
import { SessionManager } from '../../lib/core/sessions/manager.ts';
import { findChannelOffKeys, findProfileChannelOffKeys } from '../../lib/core/host/preflight.ts';
import { respawnDuty } from '../../lib/daemons/duties.ts';
import { Scheduler } from '../../lib/daemons/scheduler.ts';
import { FakeDiscord } from '../fakes/discord.ts';
import { OWNER_ID, Sandbox, flagValue } from '../helpers.ts';

const ID = '123456789012345678';
const TMUX_NAME = `dc-${ID}`;
const BASE_CONFIG = [`DISCORD_ALLOWED_USER_ID="${OWNER_ID}"`, 'DISCORD_GUILD_ID="1100000000000000001"', 'DISCORD_SESSION_WORKDIR="$HOME/work"'];
/** The one line a refused start prints, in the parts a user needs: the cause and the three ways out. */
const REFUSAL = /Claude Code refuses --dangerously-skip-permissions as root, so no session was started\. Run this tool as a normal user; or set CLAUDE_PERMISSION_MODE to a non-bypass mode \(e\.g\. default or acceptEdits\) in \S+config\.env; or, only if this host is a disposable sandbox or container, add IS_SANDBOX=1 to \S+config\.env\./;

const sandboxes: Sandbox[] = [];
afterEach(async () => {
  for (const sb of sandboxes.splice(0)) await sb.cleanup();
});

/** A sandbox whose root check sees `uid` (CRS_UID), with extra config.env lines. */
function sandbox(uid: number, extraConfig: string[] = [], options: { env?: Record<string, string>; token?: string } = {}): Sandbox {
  const sb = new Sandbox({ config: [...BASE_CONFIG, ...extraConfig].join('\n'), env: { CRS_UID: String(uid), ...options.env }, token: options.token });
  sandboxes.push(sb);
  return sb;
}

/** A doctor line as the command prints it. */
function row(mark: string, name: string, detail: string): string {
  return `${mark} ${name.padEnd(18)} ${detail}`;
}

function recordingLog(lines: string[]) {
  return createConsola({ level: 4, reporters: [{ log: (e) => lines.push(`${e.type}: ${e.args.join(' ')}`) }] });
}

/** Asserts a refused spawn changed nothing: no registry entry, no tmux session, no state dir, no claude run. */
async function expectNothingChanged(sb: Sandbox): Promise<void> {
  expect(existsSync(join(sb.sessionsDir, 'sessions.json'))).toBe(false);
  expect(existsSync(join(sb.sessionsDir, ID))).toBe(false);
  expect(await sb.tmux.hasSession(TMUX_NAME)).toBe(false);
  expect(sb.claudeRuns()).toEqual([]);
}

describe('spawn as root in a bypass mode', () => {
  test('without an opt-in it is one line naming the fixes and the config file, exit 1, and nothing changes', async () => {
    const sb = sandbox(0);
    const result = await sb.run('spawn', ID, '--name', 'general');
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.err.split('\n')).toHaveLength(1);
    expect(result.err).toMatch(REFUSAL);
    expect(result.err).toContain(`add IS_SANDBOX=1 to ${join(sb.sessionsDir, 'config.env')}.`);
    await expectNothingChanged(sb);
  });

  test('CLAUDE_PERMISSION_MODE=bypassPermissions is refused the same way, naming that flag', async () => {
    const sb = sandbox(0, ['CLAUDE_PERMISSION_MODE=bypassPermissions']);
    const result = await sb.run('spawn', ID);
    expect(result.code).toBe(1);
    expect(result.err).toContain('Claude Code refuses --permission-mode bypassPermissions as root');
    await expectNothingChanged(sb);
  });

  test('the program run as its own process exits 1 with the same single line', async () => {
    const sb = sandbox(0);
    const result = await sb.runBin('discord-session-manager', ['spawn', ID]);
    expect(result.code).toBe(1);
    expect(result.err.trim().split('\n')).toHaveLength(1);
    expect(result.err).toMatch(REFUSAL);
    await expectNothingChanged(sb);
  });

  test.each(['1', 'true', 'YES'])('IS_SANDBOX=%s in config.env starts it with IS_SANDBOX=1 in the session env', async (value) => {
    const sb = sandbox(0, [`IS_SANDBOX=${value}`]);
    const result = await sb.run('spawn', ID, '--name', 'general');
    expect(result.code).toBe(0);
    expect(result.out).toContain(`SPAWNED  ${TMUX_NAME}`);
    const [run] = await sb.waitForRuns(1);
    expect(run!.env.IS_SANDBOX).toBe('1');
    expect(run!.argv).toContain('--dangerously-skip-permissions');
    expect(await sb.tmux.hasSession(TMUX_NAME)).toBe(true);
  });

  test('a profile with IS_SANDBOX=1 opts its sessions in', async () => {
    const sb = sandbox(0);
    sb.write('discord-sessions/profiles.env', '[box]\nIS_SANDBOX=1\n');
    sb.write('discord-sessions/channel-profiles.json', JSON.stringify({ general: 'box' }));
    const refused = await sb.run('spawn', '223456789012345678', '--name', 'other');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(REFUSAL);
    const result = await sb.run('spawn', ID, '--name', 'general');
    expect(result.code).toBe(0);
    expect(result.out).toContain('profile=box');
    const [run] = await sb.waitForRuns(1);
    expect(run!.env.IS_SANDBOX).toBe('1');
  });

  test('a profile value the CLI would not take (IS_SANDBOX=true) is no opt-in', async () => {
    const sb = sandbox(0);
    sb.write('discord-sessions/profiles.env', '[default]\nIS_SANDBOX=true\n');
    const result = await sb.run('spawn', ID);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(REFUSAL);
    await expectNothingChanged(sb);
  });

  test('CLAUDE_PERMISSION_MODE=default starts as root without IS_SANDBOX', async () => {
    const sb = sandbox(0, ['CLAUDE_PERMISSION_MODE=default']);
    const result = await sb.run('spawn', ID);
    expect(result.code).toBe(0);
    const [run] = await sb.waitForRuns(1);
    expect(flagValue(run!.argv, '--permission-mode')).toBe('default');
    expect(run!.env).not.toHaveProperty('IS_SANDBOX');
  });

  test('a bad IS_SANDBOX value is a config error naming the file and the key', async () => {
    const sb = sandbox(0, ['IS_SANDBOX=perhaps']);
    const result = await sb.run('spawn', ID);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`${join(sb.sessionsDir, 'config.env')}: IS_SANDBOX="perhaps" is not 1, true, yes, 0, false or no. Fix IS_SANDBOX in`);
    await expectNothingChanged(sb);
  });

  test('not root: it starts without an opt-in and without IS_SANDBOX', async () => {
    const sb = sandbox(1000);
    const result = await sb.run('spawn', ID);
    expect(result.code).toBe(0);
    const [run] = await sb.waitForRuns(1);
    expect(run!.argv).toContain('--dangerously-skip-permissions');
    expect(run!.env).not.toHaveProperty('IS_SANDBOX');
  });

  test('the uid is injected through ManagerDeps: 0 refuses, another uid starts', async () => {
    const sb = sandbox(1000);
    const { manager } = sb.context().ctx;
    const asRoot = new SessionManager({ ...manager.deps, uid: 0 });
    const error = await asRoot.spawn(ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrsError);
    expect((error as CrsError).exitCode).toBe(1);
    await expectNothingChanged(sb);
    const asUser = new SessionManager({ ...manager.deps, uid: 501 });
    expect((await asUser.spawn(ID)).status).toBe('SPAWNED');
  });
});

describe('registered sessions on a host that became root-refused', () => {
  /** A session started as a normal user, then the same setup seen as root. */
  async function startedThenRoot(): Promise<Sandbox> {
    const sb = sandbox(1000);
    expect((await sb.run('spawn', ID, '--name', 'general')).code).toBe(0);
    await sb.waitForRuns(1);
    sb.env.CRS_UID = '0';
    return sb;
  }

  test('wake keeps a stopped session suspended and starts nothing', async () => {
    const sb = await startedThenRoot();
    const user = new SessionManager({ ...sb.context().ctx.manager.deps, uid: 1000 });
    await user.stop(ID);
    const result = await sb.run('wake', ID);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(REFUSAL);
    expect(existsSync(join(sb.sessionsDir, ID, '.suspended'))).toBe(true);
    expect(await sb.tmux.hasSession(TMUX_NAME)).toBe(false);
    expect(sb.claudeRuns()).toHaveLength(1);
  });

  test('restart refuses before it stops the running session', async () => {
    const sb = await startedThenRoot();
    const before = (await sb.tmux.listSessions()).get(TMUX_NAME)!.panePid;
    await expect(sb.context().ctx.manager.restart(ID, { fresh: true })).rejects.toThrow(/refuses --dangerously-skip-permissions as root/);
    const after = (await sb.tmux.listSessions()).get(TMUX_NAME);
    expect(after?.dead).toBe(false);
    expect(after?.panePid).toBe(before);
    expect(sb.claudeRuns()).toHaveLength(1);
  });

  test('the watchdog respawn duty logs the refusal once over many ticks and records no crash loop', async () => {
    const sb = await startedThenRoot();
    await sb.tmux.killSession(TMUX_NAME);
    const lines: string[] = [];
    const log = recordingLog(lines);
    const { manager } = sb.context().ctx;
    let now = Date.now();
    const clock: Clock = { now: () => now, sleep: async () => {} };
    const scheduler = new Scheduler([respawnDuty({ manager, log, now: clock.now })], { clock, log });
    for (let tick = 0; tick < 40; tick++) {
      await scheduler.tick();
      now += 500;
    }
    const errors = lines.filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toStartWith(`error: respawn ${TMUX_NAME} failed: `);
    expect(errors[0]).toMatch(REFUSAL);
    // Only the one real death (the kill) is counted; the refused starts are not.
    expect(loadCrashState(join(sb.sessionsDir, ID)).quickDeaths).toBe(1);
    expect((await manager.list())[0]!.status).toBe('DOWN');
    expect(sb.claudeRuns()).toHaveLength(1);

    // Once the host opts in, the next tick brings it back and says so.
    sb.write('discord-sessions/config.env', [...BASE_CONFIG, 'IS_SANDBOX=1'].join('\n'));
    await scheduler.tick();
    expect(lines.at(-1)).toStartWith(`info: RESPAWNED  ${TMUX_NAME}`);
    const runs = await sb.waitForRuns(2);
    expect(runs[1]!.env.IS_SANDBOX).toBe('1');
  });
});

describe('channel-off keys at spawn', () => {
  test.each<[string, (sb: Sandbox) => void, string]>([
    ['a profile', (sb) => sb.write('discord-sessions/profiles.env', '[default]\nDISABLE_TELEMETRY=1\n'), 'DISABLE_TELEMETRY (in PROFILES [default])'],
    ['config.env', (sb) => sb.write('discord-sessions/config.env', [...BASE_CONFIG, 'DO_NOT_TRACK=1'].join('\n')), 'DO_NOT_TRACK (in CONFIG)'],
  ])('one warning line when %s carries one; the session still starts', async (_, setup, where) => {
    const sb = sandbox(1000);
    setup(sb);
    const result = await sb.run('spawn', ID);
    expect(result.code).toBe(0);
    expect(result.out).toContain(`SPAWNED  ${TMUX_NAME}`);
    const expected = where.replace('PROFILES', join(sb.sessionsDir, 'profiles.env')).replace('CONFIG', join(sb.sessionsDir, 'config.env'));
    expect(result.err.split('\n')).toEqual([
      `[warn] ${expected} switches Claude Code's channels off: a session that gets it is deaf to Discord. Remove it for channel sessions.`,
    ]);
  });

  test('no warning without one (DO_NOT_TRACK=0 does not switch channels off)', async () => {
    const sb = sandbox(1000, ['DO_NOT_TRACK=0']);
    const result = await sb.run('spawn', ID);
    expect(result.code).toBe(0);
    expect(result.err).toBe('');
  });
});

describe('finding channel-off keys', () => {
  test.each<[Record<string, unknown>, string[]]>([
    [{}, []],
    [{ DISABLE_TELEMETRY: '1', OTHER: '1' }, ['DISABLE_TELEMETRY']],
    [{ DISABLE_TELEMETRY: '0' }, ['DISABLE_TELEMETRY']],
    [{ CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: 'true', DISABLE_GROWTHBOOK: 1 }, ['CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC', 'DISABLE_GROWTHBOOK']],
    [{ DISABLE_TELEMETRY: '', DISABLE_GROWTHBOOK: null }, []],
    [{ DO_NOT_TRACK: '1' }, ['DO_NOT_TRACK']],
    [{ DO_NOT_TRACK: 'on' }, ['DO_NOT_TRACK']],
    [{ DO_NOT_TRACK: '0' }, []],
    [{ DO_NOT_TRACK: 'false' }, []],
  ])('%j → %j (as Claude Code reads them)', (values, keys) => {
    expect(findChannelOffKeys(values, 'f').map((f) => f.key)).toEqual(keys);
  });

  test('a profile inherits [default]\'s keys, names the section that sets each, and can clear one', () => {
    const profiles = { default: { DISABLE_TELEMETRY: '1', DO_NOT_TRACK: '1' }, work: { DO_NOT_TRACK: '0', DISABLE_GROWTHBOOK: '1' } };
    expect(findProfileChannelOffKeys(profiles, 'work', 'p.env')).toEqual([
      { key: 'DISABLE_TELEMETRY', source: 'p.env [default]' },
      { key: 'DISABLE_GROWTHBOOK', source: 'p.env [work]' },
    ]);
    expect(findProfileChannelOffKeys(profiles, 'default', 'p.env').map((f) => f.key)).toEqual(['DISABLE_TELEMETRY', 'DO_NOT_TRACK']);
  });
});

describe('doctor', () => {
  let fake: FakeDiscord;
  afterEach(async () => {
    await fake.stop();
  });

  /** A sandbox doctor can pass in, on a Discord fake. */
  function doctorSandbox(uid: number, extraConfig: string[] = [], env: Record<string, string> = {}): Sandbox {
    fake = new FakeDiscord().start();
    return sandbox(uid, extraConfig, { env: { DISCORD_API_URL: fake.url, ...env }, token: fake.token });
  }

  /** A stand-in claude that answers --version with `answer`. */
  function versionDouble(sb: Sandbox, answer: string): string {
    const file = join(sb.dir, 'claude-version');
    writeFileSync(file, `#!/bin/sh\necho '${answer}'\n`);
    chmodSync(file, 0o755);
    return file;
  }

  test.each<[string, number, RegExp]>([
    ['2.0.5 (Claude Code)', 1, /✗ claude\s+\S+ 2\.0\.5 \(Claude Code\) is older than 2\.1\.80\n    → Update Claude Code \(`claude update` or `npm install -g @anthropic-ai\/claude-code@latest`\)/],
    ['2.1.79 (Claude Code)', 1, /✗ claude\s+\S+ 2\.1\.79 \(Claude Code\) is older than 2\.1\.80/],
    ['2.1.80 (Claude Code)', 0, /✓ claude\s+\S+ 2\.1\.80 \(Claude Code\)\n/],
    ['2.1.197 (Claude Code)', 0, /✓ claude\s+\S+ 2\.1\.197 \(Claude Code\)\n/],
    ['10.0.0 (Claude Code)', 0, /✓ claude\s+\S+ 10\.0\.0 \(Claude Code\)\n/],
  ])('Claude Code %s: exit %d', async (answer, code, line) => {
    const sb = doctorSandbox(1000);
    sb.env.CLAUDE_BIN = versionDouble(sb, answer);
    const result = await sb.run('doctor');
    expect(result.out).toMatch(line);
    expect(result.code).toBe(code);
  });

  test('the stand-in claude of the tests passes (it says 2.1.197)', async () => {
    const sb = doctorSandbox(1000);
    const result = await sb.run('doctor');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/✓ claude\s+\S+fakes\/claude 2\.1\.197 \(Claude Code\)/);
    expect(result.out).toContain(row('✓', 'root', 'not root (uid 1000)'));
  });

  test('root in a bypass mode fails with the fix; it passes with a non-bypass mode or an opt-in', async () => {
    const sb = doctorSandbox(0);
    const config = join(sb.sessionsDir, 'config.env');
    const failing = await sb.run('doctor');
    expect(failing.code).toBe(1);
    expect(failing.out).toContain(
      `${row('✗', 'root', 'root in a bypass mode: Claude Code exits at once, no session can start')}\n    → Run this tool as a normal user; or set CLAUDE_PERMISSION_MODE to a non-bypass mode (e.g. default or acceptEdits) in ${config}; or, only if this host is a disposable sandbox or container, add IS_SANDBOX=1 to ${config}.`,
    );
    expect(failing.err).toContain('1 check(s) failed.');

    sb.write('discord-sessions/profiles.env', '[box]\nIS_SANDBOX=1\n');
    expect((await sb.run('doctor')).out).toContain(row('✗', 'root', 'root in a bypass mode: Claude Code exits at once, no session can start (profiles without IS_SANDBOX=1: default)'));

    sb.write('discord-sessions/profiles.env', '[default]\nIS_SANDBOX=1\n[box]\nCLAUDE_MODEL=opus\n');
    const profiles = await sb.run('doctor');
    expect(profiles.out).toContain(row('✓', 'root', `root, IS_SANDBOX=1 in every profile of ${join(sb.sessionsDir, 'profiles.env')}`));
    expect(profiles.code).toBe(0);

    sb.write('discord-sessions/profiles.env', '');
    sb.write('discord-sessions/config.env', [...BASE_CONFIG, 'CLAUDE_PERMISSION_MODE=acceptEdits'].join('\n'));
    const mode = await sb.run('doctor');
    expect(mode.out).toContain(row('✓', 'root', 'root, CLAUDE_PERMISSION_MODE=acceptEdits (not a bypass mode)'));
    expect(mode.code).toBe(0);

    sb.write('discord-sessions/config.env', [...BASE_CONFIG, 'IS_SANDBOX=yes'].join('\n'));
    const optedIn = await sb.run('doctor');
    expect(optedIn.out).toContain(row('✓', 'root', `root, IS_SANDBOX=1 in ${config}`));
    expect(optedIn.code).toBe(0);
  });

  test('channel-off keys in config.env, profiles and settings.json are warned about with file and key; doctor still passes', async () => {
    const sb = doctorSandbox(1000, ['DISABLE_TELEMETRY=1']);
    const other = join(sb.dir, 'work-claude');
    sb.write('discord-sessions/profiles.env', `[work]\nCLAUDE_CONFIG_DIR=${other}\nCLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1\n`);
    sb.write('settings.json', JSON.stringify({ env: { DO_NOT_TRACK: '1', ANTHROPIC_BASE_URL: 'http://x' } }));
    sb.write('../work-claude/settings.json', JSON.stringify({ env: { DISABLE_GROWTHBOOK: 'true' } }));
    const result = await sb.run('doctor');
    expect(result.code).toBe(0);
    const line = result.out.split('\n').find((l) => l.startsWith('! channel-off keys'));
    expect(line).toBe(
      `${row('!', 'channel-off keys', '')}DISABLE_TELEMETRY (in ${join(sb.sessionsDir, 'config.env')}), ` +
        `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC (in ${join(sb.sessionsDir, 'profiles.env')} [work]), ` +
        `DO_NOT_TRACK (in the env of ${join(sb.root, 'settings.json')}), ` +
        `DISABLE_GROWTHBOOK (in the env of ${join(other, 'settings.json')})`,
    );
    expect(result.out).toContain('    → Remove them for channel sessions: Claude Code switches channels off with any of them, and every channel session that gets one is deaf.');
    expect(result.err).toContain('1 warning(s): see the lines marked ! above.');

    const json = JSON.parse((await sb.run('doctor', '--json')).out) as Array<{ name: string; ok: boolean; warning?: boolean }>;
    expect(json.find((c) => c.name === 'channel-off keys')).toMatchObject({ ok: true, warning: true });
  });

  test('a channel-off key in the environment doctor runs in is warned about too', async () => {
    const sb = doctorSandbox(1000, [], { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' });
    const result = await sb.run('doctor');
    expect(result.out).toContain(row('!', 'channel-off keys', "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC (in this shell's environment)"));
  });

  test('without any, the check passes', async () => {
    const sb = doctorSandbox(1000);
    const result = await sb.run('doctor');
    expect(result.out).toContain(row('✓', 'channel-off keys', 'none of DISABLE_TELEMETRY, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, DO_NOT_TRACK, DISABLE_GROWTHBOOK is set'));
    expect(result.err).toBe('');
  });
});
