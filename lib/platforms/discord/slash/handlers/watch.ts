import type { ChatInputCommandInteraction } from 'discord.js';
import type { SessionRow } from '../../../../core/sessions/manager.ts';
import { BUSY, PROMPT_READY, stripChrome } from '../../../../core/host/pane.ts';
import type { SlashDeps, SlashReply } from '../types.ts';

const WATCH_INTERVAL_MS = 3000;
/** Quiet polls in a row (prompt showing, screen unchanged) after which a watch ends. */
const IDLE_POLLS = 10;
/** Interaction tokens last 15 minutes; a watch ends before. */
const MAX_WATCH_MS = 14 * 60_000;
const MESSAGE_LIMIT = 1900;

const watches = new Map<string, AbortController>();

function fence(text: string): string {
  const body = text.length > MESSAGE_LIMIT ? `…${text.slice(-(MESSAGE_LIMIT - 1))}` : text;
  return `\`\`\`\n${body.replace(/```/g, "'''")}\n\`\`\``;
}

/** The last lines of the screen that fit one message. */
export function formatLive(screen: string): string {
  const lines = stripChrome(screen).trimEnd().split('\n');
  const out: string[] = [];
  let size = 0;
  for (const line of lines.reverse()) {
    if (size + line.length + 1 > MESSAGE_LIMIT) break;
    out.unshift(line);
    size += line.length + 1;
  }
  return out.join('\n') || '(empty screen)';
}

/**
 * `/session watch`: one message, edited silently every few seconds with the screen (live) or the new
 * lines (log), until the session has been idle for a while. A new watch in the channel replaces the old.
 */
export async function startWatch(interaction: ChatInputCommandInteraction, row: SessionRow, mode: 'live' | 'log', deps: SlashDeps): Promise<SlashReply> {
  watches.get(row.id)?.abort();
  const stop = new AbortController();
  watches.set(row.id, stop);
  const tmux = deps.manager.deps.tmux;
  const every = deps.watchIntervalMs ?? WATCH_INTERVAL_MS;
  const first = await tmux.capturePane(row.tmux);
  const seen = new Set(stripChrome(first).split('\n'));
  const log: string[] = [];
  const started = deps.clock.now();

  const loop = async () => {
    let previous = first;
    let quiet = 0;
    while (!stop.signal.aborted && deps.clock.now() - started < MAX_WATCH_MS) {
      await deps.clock.sleep(every, stop.signal);
      if (stop.signal.aborted) break;
      const screen = await tmux.capturePane(row.tmux).catch(() => null);
      if (screen === null) break;
      const idle = screen === previous && PROMPT_READY.test(screen) && !BUSY.test(screen);
      quiet = idle ? quiet + 1 : 0;
      if (screen !== previous) {
        let body: string;
        if (mode === 'live') body = formatLive(screen);
        else {
          const time = new Date(deps.clock.now()).toISOString().slice(11, 19);
          for (const line of stripChrome(screen).split('\n')) {
            if (line.trim() && !seen.has(line)) {
              seen.add(line);
              log.push(`[${time}] ${line}`);
            }
          }
          body = log.join('\n') || '(no new lines yet)';
        }
        await interaction.editReply({ content: `👀 \`${row.tmux}\` (${mode})\n${fence(body)}` }).catch(() => stop.abort());
        previous = screen;
      }
      if (quiet >= IDLE_POLLS) break;
    }
    if (watches.get(row.id) === stop) watches.delete(row.id);
    await interaction.editReply({ content: `⏹ watch of \`${row.tmux}\` ended\n${fence(mode === 'live' ? formatLive(previous) : log.join('\n') || '(no new lines)')}` }).catch(() => {});
  };
  // Starts after the router has sent the first reply.
  setTimeout(() => void loop().catch((error) => deps.log.error(`watch ${row.tmux}: ${error}`)), 0);
  return { content: `👀 \`${row.tmux}\` (${mode})\n${fence(mode === 'live' ? formatLive(first) : '(watching for new lines)')}` };
}

/** Ends every watch (daemon shutdown). */
export function stopAllWatches(): void {
  for (const controller of watches.values()) controller.abort();
  watches.clear();
}
