import type { CliIO } from './cli.ts';
import type { Prompt } from './_prompt.ts';
import type { AppContext } from '../app.ts';
import { type DiscordApi, discordApiUrl, sharedDiscordApi } from '../platforms/discord/api.ts';
import type { ServiceHost } from '../daemons/service.ts';

/** What every command of a session-manager program is given. */
export interface CommandContext extends AppContext {
  io: CliIO;
  /** Whether a person is at the terminal (init prompts only then). */
  interactive: boolean;
  /** Asks a question at the terminal; used only when `interactive`. */
  prompt: Prompt;
  /** All of stdin, or null when stdin is a terminal (`init --token-stdin`). */
  readStdin: () => Promise<string | null>;
  /** Runs a program with the terminal attached (tmux attach); returns its exit code. */
  runInteractive: (argv: string[]) => Promise<number>;
  /** Aborts a daemon's loop (SIGTERM/SIGINT); absent for one-shot commands. */
  signal?: AbortSignal;
  /** The machine's service manager and the user's systemd state; default: read from this host. */
  serviceHost?: ServiceHost;
}

/** The process's Discord REST client, with the configured token and `DISCORD_API_URL`. */
export function discordApi(ctx: CommandContext): DiscordApi {
  return sharedDiscordApi(ctx.manager.botToken(), discordApiUrl(ctx.env));
}
