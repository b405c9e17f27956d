import type { AutocompleteInteraction, ChatInputCommandInteraction, EmbedBuilder } from 'discord.js';
import type { ConsolaInstance } from 'consola';
import type { Clock } from '../../../core/util/clock.ts';
import type { SessionManager } from '../../../core/sessions/manager.ts';
import type { DiscordApi } from '../api.ts';
import type { Authorize } from '../../../core/control/authorize.ts';
import type { DiscordRouter } from '../router.ts';

/** Runs a program (argv, no shell) in a directory; used for `npx skills add`. */
export type CommandRunner = (argv: string[], cwd: string) => Promise<{ code: number; output: string }>;

export interface SlashDeps {
  manager: SessionManager;
  clock: Clock;
  log: ConsolaInstance;
  api: () => DiscordApi;
  /** The router of the gateway connection: `/ask` and `/run` queue through it. */
  router: DiscordRouter;
  /** The owner check of every interaction (each refusal logged). */
  authorize: Authorize;
  runCommand: CommandRunner;
  /** Pane polling interval of `/session watch` (ms). */
  watchIntervalMs?: number;
}

/** What a handler answers; the router turns it into a Discord reply within Discord's limits. */
export interface SlashReply {
  content?: string;
  embed?: EmbedBuilder;
  file?: { name: string; text: string };
}

export type CommandHandler = (interaction: ChatInputCommandInteraction, deps: SlashDeps) => Promise<SlashReply>;
export type AutocompleteHandler = (interaction: AutocompleteInteraction, deps: SlashDeps) => Promise<Array<{ name: string; value: string }>>;
