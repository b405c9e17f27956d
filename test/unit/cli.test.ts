import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, Sandbox } from '../helpers.ts';

const VERBS = [
  'init',
  'spawn',
  'spawn-thread',
  'discover',
  'discover-threads',
  'discover-all',
  'create-channel',
  'cleanup-stale',
  'suspend-idle',
  'wake',
  'wake-all',
  'pin',
  'unpin',
  'list',
  'status',
  'attach',
  'kill',
  'kill-all',
  'respawn-dead',
  'motd',
  'logs',
  'set-status',
  'doctor',
];

let sb: Sandbox;
beforeAll(() => {
  sb = new Sandbox();
});
afterAll(async () => {
  await sb.cleanup();
});

describe('help', () => {
  test('no arguments prints every verb and exits 0', async () => {
    const result = await sb.run();
    expect(result.code).toBe(0);
    expect(result.out).toContain('USAGE discord-session-manager');
    for (const verb of VERBS) expect(result.out).toMatch(new RegExp(`^ +${verb} +\\S`, 'm'));
  });

  test.each(VERBS)('%s --help exits 0 with its usage and runs nothing', async (verb) => {
    const result = await sb.run(verb, '--help');
    expect(result.code).toBe(0);
    expect(result.err).toBe('');
    expect(result.out).toContain(`USAGE discord-session-manager ${verb}`);
    expect(result.out).not.toMatch(/\u001b\[/);
  });

  test('-h works too, even after other arguments', async () => {
    const result = await sb.run('spawn', '123456', '-h');
    expect(result.code).toBe(0);
    expect(result.out).toContain('USAGE discord-session-manager spawn');
    expect(await sb.tmux.hasSession('dc-123456')).toBe(false);
  });
});

describe('bad input is a usage error (exit 2) that runs nothing', () => {
  test.each<[string, string[], RegExp]>([
    ['an unknown verb', ['frobnicate'], /Unknown command frobnicate/],
    ['an unknown option', ['spawn', '123456', '--nmae', 'x'], /Unknown option --nmae\./],
    ['an unknown short option', ['list', '-x'], /Unknown option -x\./],
    ['an unknown option with =', ['list', '--format=json'], /Unknown option --format=json\./],
    ['an option of another verb', ['kill', '123456', '--fresh'], /Unknown option --fresh\./],
    ['too many arguments', ['kill', '123456', '654321'], /Too many arguments: 654321\./],
    ['arguments to a verb that takes none', ['list', 'all'], /Too many arguments: all\./],
    ['words after --', ['kill-all', '--', 'x'], /Too many arguments/],
    ['a missing positional (spawn)', ['spawn'], /Missing required positional argument: ID/],
    ['a missing positional (kill)', ['kill'], /Missing required positional argument: ID/],
    ['a missing positional (wake)', ['wake'], /Missing required positional argument: ID/],
    ['a missing positional (pin)', ['pin'], /Missing required positional argument: ID/],
    ['a missing positional (attach)', ['attach'], /Missing required positional argument: ID/],
    ['a missing option value', ['spawn', '123456', '--name'], /Option --name needs a value\./],
    ['a non-numeric id', ['spawn', 'general'], /Invalid Discord id "general": expected a numeric Discord id/],
    ['a path as id', ['kill', '../../etc'], /Invalid Discord id "..\/..\/etc"/],
    ['a negative id', ['spawn', '--', '-123456'], /Invalid Discord id "-123456"/],
    ['an id with a tmux target', ['attach', '=dc-123456'], /Invalid Discord id/],
  ])('%s', async (_, args, message) => {
    const result = await sb.run(...args);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(result.out).toBe('');
    expect(sb.claudeRuns()).toHaveLength(0);
    expect(existsSync(join(sb.sessionsDir, 'sessions.json'))).toBe(false);
  });

  test.each<[string, string[], RegExp]>([
    ['an unknown option', ['--bogus'], /Unknown option --bogus\./],
    ['a mistyped verb', ['instal-service'], /Too many arguments: instal-service\./],
  ])('a daemon with verbs beside it: %s runs nothing', async (_, args, message) => {
    for (const program of ['discord-watchdog', 'discord-slash-daemon']) {
      const result = await sb.runBin(program, args);
      expect(result.code).toBe(2);
      expect(result.err).toMatch(message);
    }
    expect(await sb.tmux.listSessions()).toEqual(new Map());
    expect(existsSync(join(sb.sessionsDir, 'watchdog.pid'))).toBe(false);
  });

  test('an option given with = is accepted', async () => {
    const result = await sb.run('list', '--json=true');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toEqual([]);
  });
});

describe('as a separate process', () => {
  test('exit codes, stdout for data, stderr for messages', async () => {
    const [usage, failure, list] = await Promise.all([
      sb.runBin('discord-session-manager', ['kill', '123456', '--bogus']),
      sb.runBin('discord-session-manager', ['wake', '123456']),
      sb.runBin('discord-session-manager', ['list', '--json']),
    ]);
    expect(usage.code).toBe(2);
    expect(usage.out).toBe('');
    expect(usage.err).toContain('Unknown option --bogus. See --help.');
    expect(failure.code).toBe(1);
    expect(failure.out).toBe('');
    expect(failure.err).toContain('No session for Discord id "123456". Run `discord-session-manager list`.');
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out)).toEqual([]);
  });
});

describe('--version', () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  test.each(['claude-remote-sessions', 'discord-session-manager', 'discord-watchdog', 'discord-slash-daemon', 'telegram-session-manager'])(
    'bun bin/%s.ts --version prints the package version',
    async (program) => {
      expect(await sb.runBin(program, ['--version'])).toEqual({ code: 0, out: `${version}\n`, err: '' });
    },
  );
});
