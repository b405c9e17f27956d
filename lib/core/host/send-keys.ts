/** Named keys `/session send` understands, as tmux key names. Anything else is typed as text + Enter. */
export const SEND_KEYS: Record<string, { keys: string[]; label: string }> = {
  yes: { keys: ['y', 'Enter'], label: 'yes (y + Enter)' },
  no: { keys: ['n', 'Enter'], label: 'no (n + Enter)' },
  enter: { keys: ['Enter'], label: 'Enter' },
  esc: { keys: ['Escape'], label: 'Esc (interrupt)' },
  tab: { keys: ['Tab'], label: 'Tab' },
  'shift+tab': { keys: ['BTab'], label: 'Shift+Tab (cycle mode)' },
  up: { keys: ['Up'], label: 'Up' },
  down: { keys: ['Down'], label: 'Down' },
  space: { keys: ['Space'], label: 'Space' },
  'ctrl+c': { keys: ['C-c'], label: 'Ctrl+C' },
  '1': { keys: ['1'], label: 'menu option 1' },
  '2': { keys: ['2'], label: 'menu option 2' },
  '3': { keys: ['3'], label: 'menu option 3' },
  '4': { keys: ['4'], label: 'menu option 4' },
  '5': { keys: ['5'], label: 'menu option 5' },
};

export type SendPlan = { kind: 'keys'; keys: string[] } | { kind: 'text'; text: string };

/** A key name → its tmux keys; other input → literal text (one line) followed by Enter. */
export function planSend(input: string): SendPlan {
  const named = SEND_KEYS[input.trim().toLowerCase()];
  if (named) return { kind: 'keys', keys: named.keys };
  return { kind: 'text', text: oneLine(input) };
}

/** Text typed into Claude Code: newlines would submit early, control characters would act as keys. */
export function oneLine(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '').trim();
}

/** Autocomplete choices for `/session send`, filtered by what was typed. */
export function sendChoices(typed: string): Array<{ name: string; value: string }> {
  const query = typed.toLowerCase();
  return Object.entries(SEND_KEYS)
    .filter(([key, { label }]) => !query || key.startsWith(query) || label.toLowerCase().includes(query))
    .slice(0, 25)
    .map(([key, { label }]) => ({ name: `${key} — ${label}`.slice(0, 100), value: key }));
}
