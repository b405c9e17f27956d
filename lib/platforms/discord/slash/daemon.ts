import { Client, Events, GatewayIntentBits, Partials } from 'discord.js';
import type { ConsolaInstance } from 'consola';
import type { Clock } from '../../../core/util/clock.ts';
import { CrsError, formatError } from '../../../core/util/errors.ts';
import type { SessionManager } from '../../../core/sessions/manager.ts';
import { createAuthorizer } from '../../../core/control/authorize.ts';
import { DiscordApi, discordApiUrl, sharedDiscordApi } from '../api.ts';
import { DiscordRouter } from '../router.ts';
import { SLASH_COMMANDS } from './definitions.ts';
import { attachEvents } from './events.ts';
import { stopAllWatches } from './handlers/watch.ts';
import { handleInteraction } from './router.ts';
import type { CommandRunner, SlashDeps } from './types.ts';

export interface SlashDaemonOptions {
  manager: SessionManager;
  clock: Clock;
  log: ConsolaInstance;
  runCommand: CommandRunner;
  signal: AbortSignal;
  watchIntervalMs?: number;
}

/** Registers (or with `clear`, removes) the guild's slash commands; returns how many are registered. */
export async function registerCommands(manager: SessionManager, clear = false): Promise<number> {
  const config = manager.requireReady();
  const api = sharedDiscordApi(manager.botToken(), discordApiUrl(manager.deps.env));
  try {
    return (await api.setGuildCommands(config.guildId!, clear ? [] : SLASH_COMMANDS)).length;
  } catch (error) {
    throw new CrsError(`Registering slash commands failed: ${(error as Error).message}`, {
      cause: error,
      hint: (error as CrsError).hint ?? 'Check the bot token and that the bot was invited with the applications.commands scope.',
    });
  }
}

/**
 * Connects to the gateway (one IDENTIFY per start, whatever the number of sessions: sessions do not
 * connect to Discord), registers the commands, routes every message through the core router
 * (`DiscordRouter`) and serves interactions and events until `signal` aborts. A rejected token or
 * missing intent is fatal (thrown); the connection itself is kept up by discord.js.
 */
export async function runSlashDaemon(options: SlashDaemonOptions): Promise<void> {
  const { manager, log } = options;
  const config = manager.requireReady();
  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent, GatewayIntentBits.DirectMessages],
    // DMs arrive in channels discord.js has not cached.
    partials: [Partials.Channel],
    rest: { api: discordApiUrl(manager.deps.env), makeRequest: fetch as never },
  });
  // Every REST call of the daemon goes through the gateway client's REST: one set of rate-limit buckets.
  client.rest.setToken(manager.botToken());
  const rest = new DiscordApi({ token: manager.botToken(), baseUrl: discordApiUrl(manager.deps.env), rest: client.rest });
  const api = () => rest;
  const guildId = () => manager.config().guildId ?? config.guildId!;
  const router = new DiscordRouter({ client, manager, clock: options.clock, log, signal: options.signal, api, guildId });
  const deps: SlashDeps = {
    manager,
    clock: options.clock,
    log,
    api,
    router,
    authorize: createAuthorizer(manager, log),
    runCommand: options.runCommand,
    watchIntervalMs: options.watchIntervalMs,
  };
  client.on(Events.InteractionCreate, (interaction) => void handleInteraction(interaction, deps).catch((e) => log.error(formatError(e))));
  attachEvents(client, deps, guildId);
  client.on(Events.Error, (error) => log.error(`gateway: ${formatError(error)}`));
  router.start();

  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  try {
    await client.login(manager.botToken());
  } catch (error) {
    router.close();
    client.destroy();
    throw new CrsError(`Discord login failed: ${formatError(error)}.`, {
      cause: error,
      hint: /disallowed intent/i.test(String(error))
        ? 'Enable the Message Content intent for the bot in the Discord Developer Portal.'
        : 'Check DISCORD_BOT_TOKEN in ~/.claude/channels/discord/.env.',
    });
  }
  await ready;
  try {
    await client.application!.commands.set(SLASH_COMMANDS, config.guildId!);
  } catch (error) {
    log.warn(`could not register slash commands (they may be stale): ${formatError(error)}`);
  }
  log.info(`Slash daemon connected as ${client.user?.tag} (guild ${config.guildId}, pid ${process.pid}); routing messages to the sessions`);

  await new Promise<void>((resolve) => {
    if (options.signal.aborted) return resolve();
    options.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  stopAllWatches();
  router.close();
  await client.destroy();
  log.info('Slash daemon stopped');
}
