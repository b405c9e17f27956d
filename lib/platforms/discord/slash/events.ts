import { ChannelType, type Client, Events, type Message } from 'discord.js';
import { formatError } from '../../../core/util/errors.ts';
import { isRunning } from '../../../core/sessions/manager.ts';
import { classifyPane, isStartupDialog } from '../../../core/host/pane.ts';
import { SESSION_CHANNEL_TYPES } from '../api.ts';
import { spawnThread } from '../sessions.ts';
import type { SlashDeps } from './types.ts';

const THREAD_TYPES: number[] = [ChannelType.AnnouncementThread, ChannelType.PublicThread, ChannelType.PrivateThread];

/**
 * Gateway events as they happen (the watchdog's polling stays as a safety net): new channels and
 * threads get sessions, deleted channels and archived threads lose theirs, and an owner's message to
 * a session that is down wakes it and is delivered. Work per channel id is serialised.
 */
export function attachEvents(client: Client, deps: SlashDeps, guildId: () => string): void {
  const { manager, log } = deps;
  const queues = new Map<string, Promise<unknown>>();
  const serial = (id: string, what: string, work: () => Promise<unknown>) => {
    const next = (queues.get(id) ?? Promise.resolve()).then(work).catch((error) => log.error(`${what} ${id} failed: ${formatError(error)}`));
    queues.set(id, next);
    void next.finally(() => queues.get(id) === next && queues.delete(id));
    return next;
  };
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

  client.on(Events.MessageCreate, (message: Message) => {
    if (message.author.bot || !message.inGuild() || message.guildId !== guildId()) return;
    const channelId = message.channelId;
    if (!manager.config().allowedUserIds.includes(message.author.id)) return;
    void serial(`msg:${channelId}`, 'wake-on-message', async () => {
      const known = registered(channelId);
      if (known && !deps.wake.isBusy(channelId)) {
        const row = (await manager.list()).find((r) => r.id === channelId);
        if (row && isRunning(row.status)) {
          // The channel plugin receives it itself, unless Claude Code still waits at a start-up dialog
          // (no channel loaded yet): then it waits in the queue until the dialog is answered.
          const screen = await manager.deps.tmux.capturePane(row.tmux).catch(() => '');
          if (!isStartupDialog(classifyPane(screen).kind)) return;
        }
      }
      if (!known) {
        const channel = message.channel;
        if (THREAD_TYPES.includes(channel.type) && 'parentId' in channel && channel.parentId) {
          await spawnThread(channelId, channel.parentId, { name: 'name' in channel ? channel.name : undefined }, { manager, api: deps.api() });
        } else if (SESSION_CHANNEL_TYPES.includes(channel.type)) {
          await manager.spawn(channelId, { name: 'name' in channel ? channel.name : undefined, type: 'channel' });
        } else return;
        log.info(`NEW  ${channelId}: discovered by a message`);
      }
      const pending = deps.wake.accept({
        channelId,
        messageId: message.id,
        authorId: message.author.id,
        author: message.author.username,
        content: message.content,
        ts: message.createdAt.toISOString(),
      });
      // Delivery may wait for the prompt; later messages only need to be queued behind it.
      void pending;
    });
  });
}
