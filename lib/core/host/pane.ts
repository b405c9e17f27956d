import type { ConditionState } from '../store/condition.ts';
import type { Tmux } from './tmux.ts';

/** Lines of Claude Code's terminal UI that are chrome, not conversation. */
const CHROME = [
  /^[\s─━│┃╭╮╰╯┌┐└┘├┤┬┴┼═║╔╗╚╝]*$/, // box borders and rules
  /^\s*[│┃]?\s*[>❯]\s*[│┃]?\s*$/, // the empty input prompt
  /bypass permissions on|shift\+tab to cycle|\? for shortcuts|esc to interrupt|ctrl\+t to|hold space/i,
  /^\s*⏵⏵/,
];

/** Pane text without the TUI chrome, trailing blanks and runs of empty lines (snapshot/history files). */
export function stripChrome(text: string): string {
  const lines = text
    .split('\n')
    .map((line) => line.replace(/\s+$/, '').replace(/^[│┃]\s?/, '').replace(/\s?[│┃]$/, ''))
    .filter((line) => !CHROME.some((pattern) => pattern.test(line)));
  return lines.join('\n').replace(/\n{3,}/g, '\n\n').trim() + '\n';
}

/** The input prompt is showing: the session can take typed text. It matches a dialog's `❯ 1.` line too: see `classifyPane`. */
export const PROMPT_READY = /(^|[│┃\s])[>❯](\s|$)/m;

/** Claude is working on something (its status line offers an interrupt). */
export const BUSY = /esc to interrupt|ctrl\+c to interrupt/i;

/** How long after Enter the input box is checked, and how often Enter is pressed again. */
const SUBMIT_CHECK_MS = 400;
const SUBMIT_TRIES = 5;

/** What the screen of a session shows, most blocking first. */
export type PaneKind =
  | 'trust-dialog'
  | 'bypass-dialog'
  | 'dev-channels-dialog'
  | 'limit-dialog'
  | 'other-dialog'
  | 'logged-out'
  | 'limited'
  | 'channels-off'
  | 'plugin-missing'
  | 'clear';

export interface PaneReading {
  kind: PaneKind;
  /** A dialog has the keyboard: text typed now would answer it (trusting a folder, or exiting Claude Code). */
  dialog: boolean;
  /** What it means for the session, with what the owner does about it; none when the screen is clear. */
  condition?: { state: ConditionState; cause: string; fix: string; until?: number };
}

export interface ClassifyOptions {
  /** Whose commands the fix names (default discord). */
  platform?: 'discord' | 'telegram';
  /** For a reset time without a date, and to ignore a limit that has already reset (default: now). */
  now?: number;
}

/** The chat commands a fix names, per platform. */
export const CHAT_COMMANDS = {
  discord: { send: (key: string) => `\`/session send ${key}\``, restart: '`/session restart`', snapshot: '`/session snapshot`' },
  telegram: { send: (key: string) => `\`/send ${key}\``, restart: '`/restart`', snapshot: 'the screen (`attach` on the host)' },
} as const;

/** A rule line: where a dialog's box starts. */
const RULE = /^\s*─{10,}/;
/** A selected numbered option (`❯ 1. Yes, I trust this folder`); typed input follows `❯` with a no-break space instead. */
const SELECTED_OPTION = /^\s*❯ \d+\. /;
/** Any line that starts at the `❯` cursor: an input prompt, an echoed input, or a selected option. */
const CURSOR_LINE = /^\s*[>❯](\s|$)/;
const LOGGED_OUT = /Not logged in · (?:Please run|Run) \/login/;
/** Usage-limit lines as Claude Code prints them (under `⎿` or on their own); `You've used N%` is a warning, not a limit. */
const LIMIT_LINE = /^[\s⎿▎]*((?:You've hit your (?!fast limit)|You've reached your |You're out of usage credits).*?)\s*$/;
const CHANNELS_OFF = /^\s*▎\s*(?:Channels are not currently available|(?:--channels|--dangerously-load-development-channels) ignored \()/;
/**
 * What a LOGGED_OUT session needs, seen on its screen or by its StopFailure hook. A session a LaunchAgent
 * started may not reach the macOS login keychain, so logging in again does not help there: a token does.
 */
export const LOGGED_OUT_FIX =
  'run `claude /login` in a terminal as this user; if the watchdog runs as a LaunchAgent (install-service on macOS), its sessions may not reach the login keychain: make a long-lived token with `claude setup-token` and put it as CLAUDE_CODE_OAUTH_TOKEN in config.env or in the profile (profiles.env)';
const PLUGIN_MISSING = /^\s*▎\s*(plugin:\S+) · plugin not installed/;

/**
 * Reads a session's screen (capture-pane text): a dialog that has the keyboard (workspace trust,
 * bypass warning, development channels, the usage-limit options, any other numbered choice), else
 * not logged in, a usage limit, or channels off. Each with a one-line cause and the owner's fix.
 */
export function classifyPane(text: string, options: ClassifyOptions = {}): PaneReading {
  const cmd = CHAT_COMMANDS[options.platform ?? 'discord'];
  const now = options.now ?? Date.now();
  const lines = text.split('\n').map((line) => line.replace(/\s+$/, ''));
  const limit = findLimit(lines, now);

  const dialog = activeDialog(lines);
  if (dialog) {
    // The marker nearest the options names the dialog (an earlier one may still be on the screen).
    const last = (pattern: RegExp) => dialog.findLastIndex((l) => pattern.test(l));
    const markers = { trust: last(/Accessing workspace:|Yes, I trust this folder/), bypass: last(/Bypass Permissions mode/), dev: last(/Loading development channels/), limit: last(/Stop and wait for limit to reset/) };
    const nearest = Object.entries(markers).filter(([, index]) => index >= 0).sort((a, b) => b[1] - a[1])[0]?.[0];
    if (nearest === 'trust') {
      const index = last(/Accessing workspace:/);
      const folder = index >= 0 ? dialog.slice(index + 1).find((l) => l.trim())?.trim() : undefined;
      return waiting('trust-dialog', `Claude Code asks whether to trust the workdir${folder ? ` ${folder}` : ''} (workspace trust dialog)`, `${cmd.send('1')} trusts the folder and starts the session (${cmd.send('2')} exits)`);
    }
    if (nearest === 'bypass') {
      return waiting('bypass-dialog', 'Claude Code waits at the Bypass Permissions warning (first start with this config dir)', `${cmd.send('2')} accepts it and starts the session (${cmd.send('1')} exits)`);
    }
    if (nearest === 'dev') {
      return waiting('dev-channels-dialog', 'Claude Code waits at the development channels confirmation', `${cmd.send('1')} loads the channel (${cmd.send('2')} exits)`);
    }
    if (nearest === 'limit') {
      return {
        kind: 'limit-dialog',
        dialog: true,
        condition: { state: 'LIMITED', cause: limit?.line ?? 'Claude Code hit a usage limit', fix: `wait for the reset (messages wait); ${cmd.send('1')} closes the options dialog`, ...(limit?.until ? { until: limit.until } : {}) },
      };
    }
    const option = dialog.findLastIndex((l) => SELECTED_OPTION.test(l));
    const question = dialog.slice(0, Math.max(option, 0)).reverse().find((l) => l.trim() && !RULE.test(l))?.trim() ?? 'a choice';
    return waiting('other-dialog', `Claude Code waits for an answer: ${question.slice(0, 120)}`, `${cmd.snapshot} shows it; ${cmd.send('<n>')} picks option n`);
  }

  if (lines.some((l) => LOGGED_OUT.test(l))) {
    return {
      kind: 'logged-out',
      dialog: false,
      condition: {
        state: 'LOGGED_OUT',
        cause: 'Claude Code is not logged in (Not logged in · Run /login)',
        fix: `${LOGGED_OUT_FIX}; then ${cmd.restart}`,
      },
    };
  }
  if (limit) {
    const when = limit.reset ? ` at ${limit.reset}` : '';
    return {
      kind: 'limited',
      dialog: false,
      condition: { state: 'LIMITED', cause: limit.line, fix: `wait for the reset${when} (messages wait), or switch the session to a profile with another account and ${cmd.restart}`, ...(limit.until ? { until: limit.until } : {}) },
    };
  }
  const plugin = lines.map((l) => PLUGIN_MISSING.exec(l)).find(Boolean);
  if (plugin) {
    const name = plugin[1]!.replace(/^plugin:/, '');
    return {
      kind: 'plugin-missing',
      dialog: false,
      condition: { state: 'DEAF', cause: `the channel plugin ${plugin[1]} is not installed: the session hears no messages`, fix: `install it as this user (\`claude plugin install ${name}\`), then ${cmd.restart}` },
    };
  }
  if (lines.some((l) => CHANNELS_OFF.test(l))) {
    return {
      kind: 'channels-off',
      dialog: false,
      condition: {
        state: 'DEAF',
        cause: 'Claude Code says channels are not currently available: the session runs but hears no messages',
        fix: `remove DISABLE_TELEMETRY, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, DO_NOT_TRACK and DISABLE_GROWTHBOOK from the profile (profiles.env) and config.env, then ${cmd.restart}`,
      },
    };
  }
  return { kind: 'clear', dialog: false };
}

/**
 * Typed text still sits in Claude Code's input box (its Enter was not taken): the last `❯` line holds
 * text (not a dialog option) and the box's bottom rule follows. Once submitted, the box is empty again.
 */
export function hasPendingInput(text: string): boolean {
  const lines = text.split('\n').map((line) => line.replace(/\s+$/, ''));
  const cursor = lines.findLastIndex((line) => CURSOR_LINE.test(line));
  if (cursor < 0 || !/^\s*❯\s\S/.test(lines[cursor]!) || SELECTED_OPTION.test(lines[cursor]!)) return false;
  return lines.slice(cursor + 1).some((line) => RULE.test(line));
}

/**
 * Types one line into a session and presses Enter; presses Enter again while the text still sits in
 * the input box (Claude Code drops an Enter that comes right after its prompt first shows).
 */
export async function submitLine(tmux: Tmux, name: string, text: string): Promise<void> {
  await tmux.sendKeys(name, [text], true);
  await tmux.sendKeys(name, ['Enter']);
  for (let i = 0; i < SUBMIT_TRIES; i++) {
    await Bun.sleep(SUBMIT_CHECK_MS);
    if (!hasPendingInput(await tmux.capturePane(name).catch(() => ''))) return;
    await tmux.sendKeys(name, ['Enter']);
  }
}

/** A dialog of Claude Code's start: until it is answered no channel is loaded, so chat messages must wait elsewhere. */
export function isStartupDialog(kind: PaneKind): boolean {
  return kind === 'trust-dialog' || kind === 'bypass-dialog' || kind === 'dev-channels-dialog';
}

/** `❯ 1. …` is the last line at the cursor: the dialog box from its rule line down, else null. */
function activeDialog(lines: string[]): string[] | null {
  let cursor = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (CURSOR_LINE.test(lines[i]!)) {
      cursor = i;
      break;
    }
  }
  if (cursor < 0 || !SELECTED_OPTION.test(lines[cursor]!)) return null;
  let start = cursor;
  while (start > 0 && !RULE.test(lines[start]!)) start--;
  return lines.slice(start, lines.length);
}

const RESET_TEXT = / · resets (.+?)(?: · |$)/;

/** The reset time of a usage-limit message (`You've hit your session limit · resets 9:50am (UTC)`), if it gives one. */
export function limitReset(message: string, now: number): number | undefined {
  const reset = RESET_TEXT.exec(message)?.[1];
  return reset ? parseResetTime(reset, now) : undefined;
}

/** The last usage-limit line of the screen with its reset time, unless that time has passed. */
function findLimit(lines: string[], now: number): { line: string; reset?: string; until?: number } | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const match = LIMIT_LINE.exec(lines[i]!);
    if (!match) continue;
    const line = match[1]!;
    const reset = RESET_TEXT.exec(line)?.[1];
    const until = reset ? parseResetTime(reset, now) : undefined;
    if (until !== undefined && until <= now) return undefined;
    return { line, reset, until };
  }
  return undefined;
}

function waiting(kind: PaneKind, cause: string, fix: string): PaneReading {
  return { kind, dialog: true, condition: { state: 'WAITING', cause, fix } };
}

const HALF_YEAR_MS = 183 * 86_400_000;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * A reset time as Claude Code prints it (`9:50am (UTC)`, `3pm (Europe/Berlin)`, `Dec 3, 3pm (UTC)`,
 * `Dec 3, 2027, 3:30pm`) → ms since the epoch; a zone-less one is local time. Claude Code shows a
 * time without a date when the reset is less than a day away, so such a time is its next occurrence
 * after `now`: whoever reads the same line again later must keep the first answer. Undefined when
 * the text is not such a time.
 */
export function parseResetTime(text: string, now: number): number | undefined {
  const match = /^(?:([A-Za-z]{3}) (\d{1,2}),? (?:(\d{4}),? )?)?(\d{1,2})(?::(\d{2}))?\s*([ap]m)(?: \(([^)]+)\))?$/i.exec(text.trim());
  if (!match) return undefined;
  const [, month, day, year, hourText, minuteText, half, zone] = match;
  if (Number(hourText) < 1 || Number(hourText) > 12 || Number(minuteText ?? 0) > 59) return undefined;
  const hour = (Number(hourText) % 12) + (half!.toLowerCase() === 'pm' ? 12 : 0);
  const minute = Number(minuteText ?? 0);
  const timeZone = zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  try {
    const today = zonedParts(now, timeZone);
    if (month) {
      const monthIndex = MONTHS.indexOf(month.toLowerCase());
      if (monthIndex < 0) return undefined;
      let at = zonedTime(year ? Number(year) : today.year, monthIndex, Number(day), hour, minute, timeZone);
      // A date without a year half a year back is next year's (shown in December for January).
      if (!year && at < now - HALF_YEAR_MS) at = zonedTime(today.year + 1, monthIndex, Number(day), hour, minute, timeZone);
      return at;
    }
    const at = zonedTime(today.year, today.month, today.day, hour, minute, timeZone);
    return at > now - 60_000 ? at : zonedTime(today.year, today.month, today.day + 1, hour, minute, timeZone);
  } catch {
    return undefined;
  }
}

/** The wall-clock date of `at` in a time zone (month 0-based). */
function zonedParts(at: number, timeZone: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  const parts = Object.fromEntries(format.formatToParts(at).map((p) => [p.type, Number(p.value)]));
  return { year: parts.year!, month: parts.month! - 1, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

/** Ms since the epoch of a wall-clock time in a time zone (Date.UTC normalises day overflow). */
function zonedTime(year: number, month: number, day: number, hour: number, minute: number, timeZone: string): number {
  const wall = Date.UTC(year, month, day, hour, minute);
  const offsetAt = (at: number) => {
    const p = zonedParts(at, timeZone);
    return Date.UTC(p.year, p.month, p.day, p.hour, p.minute, p.second) - Math.floor(at / 1000) * 1000;
  };
  const first = wall - offsetAt(wall);
  const second = wall - offsetAt(first);
  return second;
}
