import { join } from 'node:path';
import type { Clock } from '../../core/util/clock.ts';
import { recordCondition } from '../../core/store/condition.ts';
import { writeFileAtomic } from '../../core/store/fs-atomic.ts';
import { classifyPane } from '../../core/host/pane.ts';
import type { Env, Paths } from '../../core/config/paths.ts';
import { programArgv } from '../../core/util/self.ts';
import type { Tmux } from '../../core/host/tmux.ts';
import { BRIDGE_SERVER_NAME } from './protocol.ts';

/** Environment handed to the bridge through the MCP config (Claude Code starts it with its own env). */
const BRIDGE_ENV = ['PATH', 'HOME', 'CLAUDE_CONFIG_DIR', 'TELEGRAM_API_URL', 'LANG'] as const;
/** How long a new session may take to show the development-channel dialog. */
const DIALOG_WAIT_MS = 20_000;
const DIALOG_POLL_MS = 100;

/**
 * The channel flags of a Telegram session. Router mode (default): our bridge as a development channel,
 * named in `<state>/mcp.json`. Plugin mode: a chat whose profile has its own TELEGRAM_BOT_TOKEN runs
 * the official plugin (its token is its own poller, so nothing fights).
 */
export function telegramChannelArgs(env: Env, paths: Paths) {
  return (chatId: string, session: { stateDir: string; profile: Record<string, string> }): string[] | undefined => {
    if (session.profile.TELEGRAM_BOT_TOKEN) return undefined;
    const argv = programArgv('telegram-session-manager', ['bridge', '--chat', chatId]);
    if (!argv) return undefined;
    const bridgeEnv: Record<string, string> = {};
    for (const key of BRIDGE_ENV) if (env[key]) bridgeEnv[key] = env[key]!;
    bridgeEnv.CLAUDE_CONFIG_DIR ??= paths.root;
    const config = { mcpServers: { [BRIDGE_SERVER_NAME]: { command: argv[0], args: argv.slice(1), env: bridgeEnv } } };
    const file = join(session.stateDir, 'mcp.json');
    writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`, 0o600);
    return ['--mcp-config', file, '--dangerously-load-development-channels', `server:${BRIDGE_SERVER_NAME}`];
  };
}

/**
 * Claude Code asks for confirmation before loading a development channel ("WARNING: Loading
 * development channels"; the first option continues). Answers it with Enter once it shows; returns
 * when the prompt appears instead, the pane dies, or after 20 s. A dialog that is the owner's to
 * answer (workspace trust, bypass warning) is never answered: it is recorded as the session's
 * WAITING condition (in the state dir `conditionDir` names) and the wait ends.
 */
export function answerDevChannelDialog(tmux: Tmux, clock: Clock, conditionDir?: (tmuxName: string) => string | undefined) {
  return async (tmuxName: string): Promise<void> => {
    const deadline = clock.now() + DIALOG_WAIT_MS;
    while (clock.now() < deadline) {
      const info = (await tmux.listSessions()).get(tmuxName);
      if (!info || info.dead) return;
      const screen = await tmux.capturePane(tmuxName).catch(() => '');
      const reading = classifyPane(screen, { platform: 'telegram', now: clock.now() });
      if (reading.kind === 'dev-channels-dialog') {
        await tmux.sendKeys(tmuxName, ['Enter']);
        return;
      }
      if (reading.dialog) {
        const dir = conditionDir?.(tmuxName);
        if (dir && reading.condition) recordCondition(dir, 'pane', { ...reading.condition, since: clock.now() });
        return;
      }
      if (/(^|\s)[>❯]\s*$/m.test(screen)) return;
      await Bun.sleep(DIALOG_POLL_MS);
    }
  };
}
