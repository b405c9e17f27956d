import { type Client, Events } from 'discord.js';
import { formatError } from '../../../core/util/errors.ts';
import { createKeyedSerial } from '../../../core/util/keyed-serial.ts';
import { formatLabel } from '../../../core/host/launch.ts';
import { SESSION_CHANNEL_TYPES } from '../api.ts';
import { spawnThread } from '../sessions.ts';
import type { SlashDeps } from './types.ts';

/**
 * Gateway events as they happen (the watchdog's polling stays as a safety net): new channels and
 * threads an owner created get sessions (another's thread gets none, and the refusal is logged),
 * deleted channels and archived threads lose theirs. Messages are the router's (lib/platforms/discord/router.ts).
 * Work per channel id is serialised.
 */
export function attachEvents(client: Client, deps: SlashDeps, guildId: () => string): void {
  const { manager, log } = deps;
  const queue = createKeyedSerial();
  const serial = (id: string, what: string, work: () => Promise<unknown>) =>
    queue(id, work).catch((error) => log.error(`${what} ${id} failed: ${formatError(error)}`));
  const ours = (channel: { guildId?: string | null }) => channel.guildId === guildId();
  const registered = (id: string) => id in manager.registry();

  client.on(Events.ChannelCreate, (channel) => {
    if (!ours(channel) || !SESSION_CHANNEL_TYPES.includes(channel.type)) return;
    void serial(channel.id, 'spawn', async () => {
      const result = await manager.spawn(channel.id, { name: channel.name, type: 'channel' });
      log.info(`NEW  #${channel.name} (${channel.id}) → ${result.tmux}  workdir=${result.workdir}`);
    });
  });

  client.on(Events.ThreadCreate, (thread, newlyCreated) => {
    if (!ours(thread) || !newlyCreated || !thread.parentId) return;
    const where = `thread ${thread.id} (${formatLabel(thread.name).slice(0, 40)}) of channel ${thread.parentId}`;
    let allowed = false;
    try {
      allowed = deps.authorize({ id: thread.ownerId ?? '' }, 'thread creation', where);
    } catch (error) {
      log.error(`thread ${thread.id}: cannot check who created it: ${formatError(error)}`);
    }
    if (!allowed) return;
    void serial(thread.id, 'spawn-thread', async () => {
      const result = await spawnThread(thread.id, thread.parentId!, { name: thread.name }, { manager, api: deps.api() });
      log.info(`NEW  thread ${thread.name} (${thread.id}) → ${result.tmux}  parent=${thread.parentId}`);
    });
  });

  const remove = (id: string, reason: string) => {
    if (!registered(id)) return;
    void serial(id, 'cleanup', async () => {
      await manager.kill(id);
      log.info(`STALE  ${id}: ${reason}, session removed`);
    });
  };
  client.on(Events.ChannelDelete, (channel) => remove(channel.id, 'channel deleted'));
  client.on(Events.ThreadDelete, (thread) => remove(thread.id, 'thread deleted'));
  client.on(Events.ThreadUpdate, (_old, thread) => {
    if (thread.archived) remove(thread.id, 'thread archived');
  });
}
