import { AttachmentBuilder, type AutocompleteInteraction, type ChatInputCommandInteraction, type Interaction, MessageFlags } from 'discord.js';
import { loadWorkdirMap } from '../../../core/config/config.ts';
import { CrsError, formatError } from '../../../core/util/errors.ts';
import { PRIVATE_CHAT_COMMANDS } from '../../../core/control/commands.ts';
import { handleDiscover } from './handlers/discover.ts';
import { handlePermissionButton } from './handlers/permission.ts';
import { handleAsk, handleRun } from './handlers/run.ts';
import { handleSession } from './handlers/session.ts';
import { handleSkills } from './handlers/skills.ts';
import { sendChoices } from '../../../core/host/send-keys.ts';
import { isPermissionCustomId } from '../permissions.ts';
import { scanSkills } from './skills.ts';
import type { AutocompleteHandler, CommandHandler, SlashDeps, SlashReply } from './types.ts';

/** Discord's limit for a message's content. */
export const CONTENT_LIMIT = 2000;

const HANDLERS: Record<string, CommandHandler> = {
  session: handleSession,
  skills: handleSkills,
  run: handleRun,
  discover: handleDiscover,
  ask: handleAsk,
};

const REFUSAL = 'Only the owner of these sessions can use this command.';
const BUTTON_REFUSAL = 'Only the owner can answer this.';

/** `/session` subcommands besides the chat commands whose answer shows the session's screen. */
const PRIVATE_SESSION_SUBCOMMANDS = ['snapshot', 'history', 'watch'];

/** Whether a command's answer shows private data, and so is seen by its owner only (an ephemeral reply). */
export function isPrivateCommand(command: string, sub: string | null): boolean {
  if (command === 'session') return (PRIVATE_CHAT_COMMANDS as readonly string[]).includes(sub ?? '') || PRIVATE_SESSION_SUBCOMMANDS.includes(sub ?? '');
  return command === 'skills' && sub === 'list';
}

function describe(interaction: ChatInputCommandInteraction | AutocompleteInteraction): string {
  const sub = interaction.options.getSubcommand(false);
  return `/${interaction.commandName}${sub ? ` ${sub}` : ''}`;
}

/** What an interaction is, for the log: `/session send`, `autocomplete of /run`, `button perm:allow:abcde`. */
function describeInteraction(interaction: Interaction): string {
  if (interaction.isChatInputCommand()) return describe(interaction);
  if (interaction.isAutocomplete()) return `autocomplete of ${describe(interaction)}`;
  if (interaction.isMessageComponent()) return `${interaction.isButton() ? 'button' : 'component'} ${interaction.customId.slice(0, 60)}`;
  if (interaction.isModalSubmit()) return `form ${interaction.customId.slice(0, 60)}`;
  return `interaction of type ${interaction.type}`;
}

/** The owner check of an interaction: a refusal is logged once (each interaction comes once); a config that cannot be read refuses. */
function isOwner(interaction: Interaction, deps: SlashDeps): boolean {
  try {
    return deps.authorize({ id: interaction.user.id, name: interaction.user.username }, describeInteraction(interaction), `channel ${interaction.channelId ?? 'none'}`);
  } catch (error) {
    deps.log.error(`cannot check the user of ${describeInteraction(interaction)}: ${formatError(error)}`);
    return false;
  }
}

/** A reply within Discord's limits: text over 2000 characters becomes a .txt attachment. */
export function toMessage(reply: SlashReply): { content?: string; embeds?: unknown[]; files?: AttachmentBuilder[] } {
  const files: AttachmentBuilder[] = [];
  let content = reply.content;
  if (content && content.length > CONTENT_LIMIT) {
    files.push(new AttachmentBuilder(Buffer.from(content), { name: 'reply.txt' }));
    content = `${content.slice(0, 300).replace(/```[\s\S]*$/, '')}… (full text attached)`;
  }
  if (reply.file) files.push(new AttachmentBuilder(Buffer.from(reply.file.text), { name: reply.file.name.replace(/[^\w.-]+/g, '_') }));
  return { content, embeds: reply.embed ? [reply.embed.toJSON()] : undefined, files: files.length ? files : undefined };
}

async function autocomplete(interaction: AutocompleteInteraction, deps: SlashDeps): Promise<Array<{ name: string; value: string }>> {
  const focused = interaction.options.getFocused(true);
  const typed = String(focused.value ?? '').toLowerCase();
  const match = (text: string) => !typed || text.toLowerCase().includes(typed);
  const { manager } = deps;
  const key = `${interaction.commandName}:${focused.name}`;
  const handlers: Record<string, AutocompleteHandler> = {
    'session:path': async () =>
      Object.entries(loadWorkdirMap(manager.paths, manager.deps.env))
        .filter(([name, path]) => match(name) || match(path))
        .map(([name, path]) => ({ name: `${name} → ${path}`.slice(0, 100), value: path.slice(0, 100) })),
    'session:input': async () => sendChoices(typed),
    'session:name': async () => manager.profileNames().filter(match).map((p) => ({ name: p, value: p })),
    'run:skill': async () => {
      const workdir = (await manager.list()).find((r) => r.id === interaction.channelId)?.workdir ?? null;
      return scanSkills(workdir, manager.paths.root, manager.paths.home)
        .filter((s) => match(s.name))
        .map((s) => ({ name: `${s.name}${s.description ? ` — ${s.description}` : ''}`.slice(0, 100), value: s.name.slice(0, 100) }));
    },
  };
  return (await handlers[key]?.(interaction, deps))?.slice(0, 25) ?? [];
}

/**
 * The one entry point for interactions: every one goes through the owner check first. Strangers'
 * commands, buttons and forms get an ephemeral refusal, their autocompletes nothing, and each is
 * logged; owners' commands are deferred, run, and answered, errors ephemerally; their clicks on
 * approval messages go to handlePermissionButton.
 */
export async function handleInteraction(interaction: Interaction, deps: SlashDeps): Promise<void> {
  const owner = isOwner(interaction, deps);
  if (interaction.isAutocomplete()) {
    const choices = owner ? await autocomplete(interaction, deps).catch(() => []) : [];
    await interaction.respond(choices).catch(() => {});
    return;
  }
  if (!owner) {
    const content = interaction.isMessageComponent() ? BUTTON_REFUSAL : REFUSAL;
    if (interaction.isRepliable()) await interaction.reply({ content, flags: MessageFlags.Ephemeral }).catch(() => {});
    return;
  }
  if (interaction.isButton() && isPermissionCustomId(interaction.customId)) return handlePermissionButton(interaction, deps);
  if (!interaction.isChatInputCommand()) return;
  const what = describe(interaction);
  const handler = HANDLERS[interaction.commandName];
  try {
    // Private answers (a status, a screen, a skill list) are for the owner's eyes only, even in a shared channel.
    const ephemeral = isPrivateCommand(interaction.commandName, interaction.options.getSubcommand(false));
    await interaction.deferReply(ephemeral ? { flags: MessageFlags.Ephemeral } : {});
    if (!handler) throw new CrsError(`Unknown command /${interaction.commandName}.`, { hint: 'Run `discord-slash-daemon register`.' });
    const reply = await handler(interaction, deps);
    await interaction.editReply(toMessage(reply) as never);
    deps.log.info(`${what} in ${interaction.channelId} by ${interaction.user.username}`);
  } catch (error) {
    deps.log.warn(`${what} in ${interaction.channelId} failed: ${formatError(error)}`);
    const content = `⚠️ ${formatError(error)}`.slice(0, CONTENT_LIMIT);
    try {
      if (interaction.deferred || interaction.replied) {
        await interaction.deleteReply().catch(() => {});
        await interaction.followUp({ content, flags: MessageFlags.Ephemeral });
      } else {
        await interaction.reply({ content, flags: MessageFlags.Ephemeral });
      }
    } catch (replyError) {
      deps.log.error(`could not answer ${what}: ${formatError(replyError)}`);
    }
  }
}
