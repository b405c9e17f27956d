import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PaneKind, BUSY, PROMPT_READY, classifyPane, hasPendingInput, isStartupDialog, parseResetTime, stripChrome } from '../../lib/core/host/pane.ts';
import { ROOT } from '../helpers.ts';

/** Screens captured from Claude Code 2.1.197 in a 200×50 tmux pane (capture-pane -p -J, trailing blanks trimmed). */
function screen(name: string): string {
  return readFileSync(join(ROOT, 'test/fixtures/panes', `${name}.txt`), 'utf8');
}

/** When the fixtures were captured: the usage-limit screens say `resets 9:50am (UTC)`. */
const CAPTURED = Date.UTC(2026, 10, 30, 7, 20);

describe('classifyPane on real Claude Code screens', () => {
  test.each([
    ['trust', 'trust-dialog', true, 'WAITING', /trust the workdir \/tmp\/exp\/w1 \(workspace trust dialog\)/, /`\/session send 1` trusts the folder/],
    ['bypass', 'bypass-dialog', true, 'WAITING', /Bypass Permissions warning/, /`\/session send 2` accepts it/],
    ['dev-channels', 'dev-channels-dialog', true, 'WAITING', /development channels confirmation/, /`\/session send 1` loads the channel/],
    ['limit-session-options', 'limit-dialog', true, 'LIMITED', /^You've hit your session limit · resets 9:50am \(UTC\)$/, /`\/session send 1` closes the options dialog/],
    ['limit-session-after', 'limited', false, 'LIMITED', /^You've hit your session limit · resets 9:50am \(UTC\)$/, /wait for the reset at 9:50am \(UTC\)/],
    ['not-logged-in', 'logged-out', false, 'LOGGED_OUT', /not logged in/, /`claude \/login` in a terminal as this user.*`claude setup-token`.*CLAUDE_CODE_OAUTH_TOKEN/],
    ['not-logged-in-after-message', 'logged-out', false, 'LOGGED_OUT', /not logged in/, /claude setup-token/],
    ['deaf-dev-channels', 'channels-off', false, 'DEAF', /channels are not currently available/, /DISABLE_TELEMETRY, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, DO_NOT_TRACK and DISABLE_GROWTHBOOK/],
    ['deaf-channels-flag', 'channels-off', false, 'DEAF', /channels are not currently available/, /`\/session restart`/],
    ['deaf-plugin-missing', 'plugin-missing', false, 'DEAF', /plugin:discord@claude-plugins-official is not installed/, /claude plugin install discord@claude-plugins-official/],
  ] as Array<[string, PaneKind, boolean, string, RegExp, RegExp]>)('%s → %s', (name, kind, dialog, state, cause, fix) => {
    const reading = classifyPane(screen(name), { now: CAPTURED });
    expect(reading.kind).toBe(kind);
    expect(reading.dialog).toBe(dialog);
    expect(reading.condition?.state).toBe(state as never);
    expect(reading.condition?.cause).toMatch(cause);
    expect(reading.condition?.fix).toMatch(fix);
    expect(`${reading.condition?.cause}${reading.condition?.fix}`).not.toContain('\n');
  });

  test.each(['ready', 'usage-warning'])('%s is clear: no dialog, no condition', (name) => {
    expect(classifyPane(screen(name), { now: CAPTURED })).toEqual({ kind: 'clear', dialog: false });
  });

  test('every dialog screen also matches the old prompt-ready test: the reason the dialog check must come first', () => {
    for (const name of ['trust', 'bypass', 'dev-channels', 'limit-session-options']) {
      expect(PROMPT_READY.test(screen(name))).toBe(true);
      expect(classifyPane(screen(name)).dialog).toBe(true);
    }
  });

  test('a usage limit carries its reset time; a dated one that has passed is no longer a condition', () => {
    const reset = Date.UTC(2026, 10, 30, 9, 50);
    expect(classifyPane(screen('limit-session-after'), { now: CAPTURED }).condition?.until).toBe(reset);
    expect(classifyPane(screen('limit-session-options'), { now: CAPTURED }).condition?.until).toBe(reset);
    const weekly = "❯ hi\n  ⎿  You've hit your weekly limit · resets Dec 3, 3pm (UTC)\n\n❯ ";
    expect(classifyPane(weekly, { now: Date.UTC(2026, 11, 3, 14, 0) }).condition?.until).toBe(Date.UTC(2026, 11, 3, 15, 0));
    expect(classifyPane(weekly, { now: Date.UTC(2026, 11, 3, 15, 1) })).toEqual({ kind: 'clear', dialog: false });
  });

  test('fixes name the Telegram commands for a Telegram session', () => {
    expect(classifyPane(screen('trust'), { platform: 'telegram' }).condition?.fix).toMatch(/^`\/send 1` trusts the folder.*`\/send 2` exits/);
    expect(classifyPane(screen('deaf-dev-channels'), { platform: 'telegram' }).condition?.fix).toMatch(/then `\/restart`$/);
  });

  test.each([
    ['the stand-in prompt', 'Claude Code (stand-in) session x (new)\n> '],
    ['an empty screen', ''],
    ['an echoed numbered input followed by the prompt', '❯ 1. first do this\n\n● ok\n\n────────────\n❯ \n────────────'],
    ['a reply that quotes the notice text', '● The notice "Channels are not currently available" means channels are off.\n\n❯ '],
    ['a reply that mentions a limit', '● You have hit your limit? No: "You\'ve hit your session limit" only shows on a 429.\n\n❯ '],
    ['a fast-mode limit (the session goes on without fast mode)', "  ⎿  You've hit your fast limit · resets in 5m\n\n❯ "],
  ])('%s is clear', (_name, text) => {
    expect(classifyPane(text).kind).toBe('clear');
  });

  test.each([
    ['a permission question', '────────────\n Bash command\n\n   rm -rf build\n\n Do you want to proceed?\n ❯ 1. Yes\n   2. No\n\n Esc to cancel', /Do you want to proceed\?/],
    ['the stand-in development channel dialog', 'WARNING: Loading development channels\n\n❯ 1. I am using this for local development\n  2. Exit', /development channels/],
  ])('%s is a dialog', (_name, text, cause) => {
    const reading = classifyPane(text);
    expect(reading.dialog).toBe(true);
    expect(reading.condition?.cause).toMatch(cause);
  });

  test.each([
    ["You've reached your Fable 5 limit.", 'LIMITED'],
    ["You're out of usage credits · resets Dec 3, 3pm (UTC)", 'LIMITED'],
    ["You've hit your weekly limit · resets Dec 3, 3pm (UTC)", 'LIMITED'],
  ])('the CLI message %j is %s', (line, state) => {
    const reading = classifyPane(`❯ hello\n  ⎿  ${line}\n\n❯ `, { now: CAPTURED });
    expect(reading.condition?.state).toBe(state as never);
    expect(reading.condition?.cause).toBe(line);
  });

  test('only the start-up dialogs keep a channel from loading', () => {
    expect(['trust-dialog', 'bypass-dialog', 'dev-channels-dialog', 'limit-dialog', 'other-dialog'].map((k) => isStartupDialog(k as PaneKind))).toEqual([true, true, true, false, false]);
  });
});

describe('hasPendingInput: typed text whose Enter was not taken', () => {
  test.each([
    ['input-pending', true],
    ['input-pending-wrapped', true],
    ['submitted', false],
    ['ready', false],
    ['trust', false],
    ['limit-session-options', false],
  ])('%s → %p', (name, pending) => {
    expect(hasPendingInput(screen(name))).toBe(pending);
    expect(classifyPane(screen(name), { now: CAPTURED }).dialog).toBe(name === 'trust' || name === 'limit-session-options');
  });

  test('typed input that looks like an option is input, not a dialog (Claude Code puts a no-break space after its ❯)', () => {
    const typed = screen('input-pending').replace(/❯\u00a0.*$/m, '❯\u00a01. do this first');
    expect(hasPendingInput(typed)).toBe(true);
    expect(classifyPane(typed).dialog).toBe(false);
  });

  test('pending input the box has wrapped onto an empty cursor line is still pending', () => {
    expect(hasPendingInput(screen('input-pending').replace(/(❯\u00a0.*)\n/, '$1\n   \n'))).toBe(true);
  });

  test('the stand-in echo (no input box) is never pending', () => {
    expect(hasPendingInput('Claude Code (stand-in) session x (new)\n> hello there\n')).toBe(false);
  });
});

describe('parseResetTime', () => {
  test.each([
    ['9:50am (UTC)', Date.UTC(2026, 10, 30, 9, 50)],
    ['3pm (Europe/Berlin)', Date.UTC(2026, 10, 30, 14, 0)],
    ['12am (UTC)', Date.UTC(2026, 11, 1, 0, 0)],
    ['12:30pm (UTC)', Date.UTC(2026, 10, 30, 12, 30)],
    ['6am (UTC)', Date.UTC(2026, 11, 1, 6, 0)],
    ['Dec 3, 3pm (UTC)', Date.UTC(2026, 11, 3, 15, 0)],
    ['Jan 2, 1am (UTC)', Date.UTC(2027, 0, 2, 1, 0)],
    ['Dec 3, 2027, 3:30pm (America/New_York)', Date.UTC(2027, 11, 3, 20, 30)],
    ['Jul 1, 9am (Europe/Berlin)', Date.UTC(2026, 6, 1, 7, 0)],
    ['May 1, 9am (Europe/Berlin)', Date.UTC(2027, 4, 1, 7, 0)],
  ])('%s', (text, expected) => {
    expect(parseResetTime(text, CAPTURED)).toBe(expected);
  });

  test.each(['soon', 'in 5m', '25pm (UTC)', '3pm (Nowhere/Zone)', 'Foo 3, 3pm (UTC)'])('%j is not a time', (text) => {
    expect(parseResetTime(text, CAPTURED)).toBeUndefined();
  });
});

describe('stripChrome and BUSY (moved here from the slash commands)', () => {
  test('the ready screen keeps the banner text but loses the rules, prompt and footer', () => {
    const text = stripChrome(screen('ready'));
    expect(text).toContain('Welcome back!');
    expect(text).not.toMatch(/^─+$/m);
    expect(text).not.toContain('bypass permissions on');
    expect(BUSY.test(screen('ready'))).toBe(false);
  });
});
