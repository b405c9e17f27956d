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

/** The input prompt is showing: the session can take typed text. */
export const PROMPT_READY = /(^|[│┃\s])[>❯](\s|$)/m;

/** Claude is working on something (its status line offers an interrupt). */
export const BUSY = /esc to interrupt|ctrl\+c to interrupt/i;
