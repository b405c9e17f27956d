import { join } from 'node:path';
import type { Clock } from '../core/util/clock.ts';
import { pollUntil } from '../core/util/poll.ts';
import { recordCondition } from '../core/store/condition.ts';
import { writeFileAtomic } from '../core/store/fs-atomic.ts';
import { BUSY, classifyPane } from '../core/host/pane.ts';
import type { Env, Paths } from '../core/config/paths.ts';
import { programArgv } from '../core/util/self.ts';
import type { Tmux } from '../core/host/tmux.ts';
import type { Platform } from '../core/config/platform.ts';

/** Environment handed to the bridge through the MCP config (Claude Code starts it with its own env). */
const BRIDGE_ENV = ['PATH', 'HOME', 'CLAUDE_CONFIG_DIR', 'DISCORD_API_URL', 'TELEGRAM_API_URL', 'LANG'] as const;
/** How long a new session may take to show the development-channel dialog. */
const DIALOG_WAIT_MS = 20_000;
const DIALOG_POLL_MS = 100;

/** The MCP server name a platform's sessions load as their channel (`server:<name>`). */
export function bridgeServerName(platform: Platform): string {
  return `crs-${platform.key}`;
}

/** The argv of a session's bridge: `<program> bridge --id <id>`. */
export function bridgeArgv(platform: Platform, id: string): string[] | null {
  return programArgv(platform.cli, ['bridge', '--id', id]);
}

/**
 * The channel flags of a session. Router mode (the default): our bridge as a development channel,
 * named in `<state>/mcp.json`. Plugin mode: a session whose profile has its own bot token
 * (`DISCORD_BOT_TOKEN` / `TELEGRAM_BOT_TOKEN`) runs the official plugin with that bot.
 */
export function bridgeChannelArgs(platform: Platform, env: Env, paths: Paths) {
  return (id: string, session: { stateDir: string; profile: Record<string, string> }): string[] | undefined => {
    if (session.profile[platform.tokenVar]) return undefined;
    const argv = bridgeArgv(platform, id);
    if (!argv) return undefined;
    const bridgeEnv: Record<string, string> = {};
    for (const key of BRIDGE_ENV) if (env[key]) bridgeEnv[key] = env[key]!;
    bridgeEnv.CLAUDE_CONFIG_DIR ??= paths.root;
    const server = bridgeServerName(platform);
    const config = { mcpServers: { [server]: { command: argv[0], args: argv.slice(1), env: bridgeEnv } } };
    const file = join(session.stateDir, 'mcp.json');
    writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`, 0o600);
    return ['--mcp-config', file, '--dangerously-load-development-channels', `server:${server}`];
  };
}

/**
 * Claude Code asks for confirmation before loading a development channel ("WARNING: Loading
 * development channels"; the first option continues). Answers it with Enter once it shows; returns
 * when the prompt appears instead, the pane dies, or after 20 s. A dialog that is the owner's to
 * answer (workspace trust, bypass warning) is never answered: it is recorded as the session's
 * WAITING condition (in the state dir `conditionDir` names) and the wait ends.
 */
export function answerDevChannelDialog(platform: Platform, tmux: Tmux, clock: Clock, conditionDir?: (tmuxName: string) => string | undefined) {
  /** One look at the pane; true when the wait is over. */
  const settled = async (tmuxName: string): Promise<boolean> => {
    const info = (await tmux.listSessions()).get(tmuxName);
    if (!info || info.dead) return true;
    const screen = await tmux.capturePane(tmuxName).catch(() => '');
    const reading = classifyPane(screen, { platform: platform.key, now: clock.now() });
    if (reading.kind === 'dev-channels-dialog') {
      await tmux.sendKeys(tmuxName, ['Enter']);
      return true;
    }
    if (reading.dialog) {
      const dir = conditionDir?.(tmuxName);
      if (dir && reading.condition) recordCondition(dir, 'pane', { ...reading.condition, since: clock.now() });
      return true;
    }
    // The prompt, or Claude Code already at work: there is no dialog to wait for.
    return /(^|\s)[>❯]\s*$/m.test(screen) || BUSY.test(screen) || Boolean(reading.condition);
  };
  return async (tmuxName: string): Promise<void> => {
    await pollUntil(() => settled(tmuxName), { timeoutMs: DIALOG_WAIT_MS, intervalMs: DIALOG_POLL_MS, clock });
  };
}
