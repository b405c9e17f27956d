import { AttachmentBuilder, type ButtonInteraction, MessageFlags } from 'discord.js';
import { formatError } from '../../../../core/util/errors.ts';
import { formatPermissionDetails, parsePermissionCustomId } from '../../permissions.ts';
import type { SlashDeps } from '../types.ts';

/** Discord's limit for a message's content. */
const CONTENT_LIMIT = 2000;
export const ALREADY_ANSWERED = 'This request was already answered.';
const NOT_OURS = "This button is not one of this chat's approval requests.";

/**
 * The owner's click on an approval message (the owner check is done: a stranger never gets here).
 * Allow, Deny and Always go to the core, which sends the verdict and edits the message (the click is
 * only acknowledged, so the two edits never race); Details answers ephemerally with the whole
 * request. A request no longer waiting gets an ephemeral "already answered". The custom_id is the
 * client's word: parsed strictly and its session must be the chat the button was clicked in.
 */
export async function handlePermissionButton(interaction: ButtonInteraction, deps: SlashDeps): Promise<void> {
  const { log } = deps;
  const core = deps.router.router;
  const ephemeral = (content: string, files?: AttachmentBuilder[]) => interaction.reply({ content, files, flags: MessageFlags.Ephemeral });
  const button = parsePermissionCustomId(interaction.customId);
  try {
    if (!button || button.session !== interaction.channelId) {
      log.warn(`button ${JSON.stringify(interaction.customId.slice(0, 100))} in ${interaction.channelId} by ${interaction.user.id}: not an approval request of that chat, ignored`);
      await ephemeral(NOT_OURS);
      return;
    }
    if (button.action === 'details') {
      const request = core.pendingPermission(button.session, button.requestId);
      if (!request) return void (await ephemeral(ALREADY_ANSWERED));
      const text = formatPermissionDetails(request);
      if (text.length <= CONTENT_LIMIT) return void (await ephemeral(text));
      const file = new AttachmentBuilder(Buffer.from(text), { name: `request-${request.request_id}.txt` });
      await ephemeral(`${text.slice(0, 300).replace(/```[\s\S]*$/, '')}… (full request attached)`, [file]);
      return;
    }
    const actor = { id: interaction.user.id, name: interaction.user.username };
    if (core.decidePermission(button.session, button.requestId, button.action, actor) === 'unknown') {
      await ephemeral(ALREADY_ANSWERED);
      return;
    }
    await interaction.deferUpdate();
  } catch (error) {
    log.warn(`button ${interaction.customId.slice(0, 100)} in ${interaction.channelId} failed: ${formatError(error)}`);
    if (!interaction.deferred && !interaction.replied) await ephemeral(`⚠️ ${formatError(error)}`.slice(0, CONTENT_LIMIT)).catch(() => {});
  }
}
