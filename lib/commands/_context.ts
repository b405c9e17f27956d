import type { CliIO } from './cli.ts';
import type { AppContext } from '../app.ts';
import { type DiscordApi, discordApiUrl, sharedDiscordApi } from '../platforms/discord/api.ts';

/** What every command of a session-manager program is given. */
export interface CommandContext extends AppContext {
  io: CliIO;
  /** Whether a person is at the terminal (init prompts only then). */
  interactive: boolean;
  /** Runs a program with the terminal attached (tmux attach); returns its exit code. */
  runInteractive: (argv: string[]) => Promise<number>;
  /** Aborts a daemon's loop (SIGTERM/SIGINT); absent for one-shot commands. */
  signal?: AbortSignal;
}

/** The process's Discord REST client, with the configured token and `DISCORD_API_URL`. */
export function discordApi(ctx: CommandContext): DiscordApi {
  return sharedDiscordApi(ctx.manager.botToken(), discordApiUrl(ctx.env));
}
