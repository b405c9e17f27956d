import { loadStringMap, loadWorkdirMap } from '../../core/config/config.ts';
import { CrsError, formatError } from '../../core/util/errors.ts';
import { writeFileAtomic } from '../../core/store/fs-atomic.ts';
import { formatLabel } from '../../core/host/launch.ts';
import { withLock } from '../../core/store/lock.ts';
import { type SessionManager, type SessionRow, type SpawnResult, countStatuses } from '../../core/sessions/manager.ts';
import { assertId } from '../../core/config/paths.ts';
import type { Authorize } from '../../core/control/authorize.ts';
import { readState } from '../../core/store/state.ts';
import { type DiscordApi, type DiscordChannel, type DiscordMessage, SESSION_CHANNEL_TYPES } from './api.ts';

/** One line of a discovery or cleanup report. */
export interface ReportLine {
  kind: 'NEW' | 'EXISTS' | 'IGNORED' | 'STALE' | 'OK' | 'ERROR';
  id: string;
  name: string;
  detail?: string;
}

export interface DiscoveryReport {
  lines: ReportLine[];
  found: number;
  spawned: number;
  failed: number;
}

/**
 * `[2026-03-20T14:05:33] alice: text`, oldest first, as the thread's context: only the owners'
 * messages. Anyone else in the channel could write instructions there, and the context becomes part
 * of the session's system prompt; how many were left out is said at the end.
 */
export function formatThreadContext(messages: DiscordMessage[], owners: readonly string[]): string {
  const kept = messages.filter((m) => owners.includes(m.author.id));
  const left = messages.length - kept.length;
  const lines = [...kept].reverse().map((m) => `[${m.timestamp.slice(0, 19)}] ${m.author.global_name || m.author.username}: ${m.content}`);
  if (left) lines.push(`(${left} message${left === 1 ? '' : 's'} from others left out)`);
  return lines.join('\n');
}

/** The text handed to a thread's session with `--append-system-prompt(-file)`. */
export function formatThreadPrompt(parentId: string, threadId: string, context: string): string {
  return [
    `You are continuing a conversation from Discord channel ${parentId}.`,
    'Prior context from the parent channel:',
    '---',
    context || '(the parent channel has no messages)',
    '---',
    `You are now responding in thread ${threadId}. Continue naturally.`,
  ].join('\n');
}

export interface SpawnThreadOptions {
  limit?: number;
  name?: string;
  workdir?: string;
}

/**
 * Starts a thread's session with its parent's last messages as context (persisted, so respawns keep
 * it); workdir and profile come from the parent's session unless given.
 */
export async function spawnThread(
  threadId: string,
  parentId: string,
  options: SpawnThreadOptions,
  deps: { manager: SessionManager; api: DiscordApi },
): Promise<SpawnResult> {
  const { manager, api } = deps;
  assertId(manager.platform, threadId, 'thread id');
  assertId(manager.platform, parentId, 'parent channel id');
  manager.requireReady();
  const live = (await manager.liveSessions()).get(manager.tmuxName(threadId));
  if (live && !live.dead) return manager.spawn(threadId, { type: 'thread', parent: parentId });

  const limit = options.limit ?? manager.config().threadContextLimit;
  const messages = limit > 0 ? await api.fetchMessages(parentId, limit) : [];
  const parentDir = manager.stateDir(parentId);
  const parentWorkdir = readState(parentDir, 'workdir');
  const mapped = options.name ? loadStringMap(manager.paths.workdirMap)[options.name] : undefined;
  return manager.spawn(threadId, {
    type: 'thread',
    parent: parentId,
    name: options.name,
    workdir: options.workdir ?? (mapped ? undefined : parentWorkdir),
    profile: readState(parentDir, 'profile') || undefined,
    systemPrompt: formatThreadPrompt(parentId, threadId, formatThreadContext(messages, manager.config().allowedUserIds)),
  });
}

/** Spawns a session for every text/announcement channel of the guild that has none (by position). */
export async function discoverChannels(deps: { manager: SessionManager; api: DiscordApi }): Promise<DiscoveryReport> {
  const { manager, api } = deps;
  const config = manager.requireReady();
  checkSpawnInputs(manager);
  const channels = (await api.listChannels(config.guildId!))
    .filter((c) => SESSION_CHANNEL_TYPES.includes(c.type))
    .sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
  return discoverEach(channels, manager, (channel) => manager.spawn(channel.id, { name: channel.name, type: 'channel' }));
}

/**
 * Spawns a session for every active, unarchived thread an owner created that has none, with its
 * parent's context. A thread someone else created gets none (each refusal goes through `authorize`);
 * an owner's first message in it starts its session through the router.
 */
export async function discoverThreads(deps: { manager: SessionManager; api: DiscordApi; authorize: Authorize }): Promise<DiscoveryReport> {
  const { manager, api, authorize } = deps;
  const config = manager.requireReady();
  checkSpawnInputs(manager);
  const registry = manager.registry();
  const threads = (await api.listActiveThreads(config.guildId!))
    .filter((t) => !t.thread_metadata?.archived && t.parent_id)
    .filter((t) => t.id in registry || authorize({ id: t.owner_id ?? '' }, 'thread creation', `thread ${t.id} (${formatLabel(t.name ?? '').slice(0, 40)}) of channel ${t.parent_id}`))
    .sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));
  return discoverEach(threads, manager, (thread) => spawnThread(thread.id, thread.parent_id!, { name: thread.name }, deps));
}

/** Reads what every spawn reads (claude, the maps, profiles.env), so a broken file is one error up front. */
function checkSpawnInputs(manager: SessionManager): void {
  manager.resolveClaude();
  loadWorkdirMap(manager.paths, manager.deps.env);
  loadStringMap(manager.paths.channelProfiles);
  manager.profileNames();
}

async function discoverEach(
  channels: DiscordChannel[],
  manager: SessionManager,
  spawn: (channel: DiscordChannel) => Promise<SpawnResult>,
): Promise<DiscoveryReport> {
  const registry = manager.registry();
  const ignored = manager.ignored();
  const report: DiscoveryReport = { lines: [], found: channels.length, spawned: 0, failed: 0 };
  for (const channel of channels) {
    // A name from Discord is data: one printable line in the report, like the session's label.
    const name = formatLabel(channel.name ?? '') || channel.id;
    if (channel.id in registry) {
      report.lines.push({ kind: 'EXISTS', id: channel.id, name, detail: channel.parent_id && channel.type > 9 ? `parent=${channel.parent_id}` : undefined });
      continue;
    }
    if (channel.id in ignored) {
      report.lines.push({ kind: 'IGNORED', id: channel.id, name, detail: 'killed by the owner: no session until spawn or wake' });
      continue;
    }
    try {
      const result = await spawn(channel);
      if (result.exited) throw new CrsError(`Claude Code exited at once: ${result.exited}`);
      report.spawned++;
      report.lines.push({ kind: 'NEW', id: channel.id, name, detail: `workdir=${result.workdir}` });
    } catch (error) {
      report.failed++;
      report.lines.push({ kind: 'ERROR', id: channel.id, name, detail: formatError(error) });
    }
  }
  return report;
}

/** Creates a text channel, records `--workdir` in workdir-map.json, and spawns its session. */
export async function createChannel(
  name: string,
  options: { workdir?: string },
  deps: { manager: SessionManager; api: DiscordApi },
): Promise<{ channel: DiscordChannel; spawn: SpawnResult }> {
  const { manager, api } = deps;
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > 100) {
    throw new CrsError(`Invalid channel name ${JSON.stringify(name.slice(0, 40))}: it must have 1 to 100 characters.`, {
      exitCode: 2,
    });
  }
  const config = manager.requireReady();
  checkSpawnInputs(manager); // fail before creating anything
  if (options.workdir) manager.resolveWorkdir(trimmed, options.workdir, config);
  const channel = await api.createChannel(config.guildId!, trimmed);
  const channelName = channel.name ?? trimmed;
  if (options.workdir) {
    await withLock(manager.paths.lockFile, () => {
      const map = loadStringMap(manager.paths.workdirMap);
      map[channelName] = options.workdir!;
      writeFileAtomic(manager.paths.workdirMap, `${JSON.stringify(map, null, 2)}\n`);
    });
  }
  const spawn = await manager.spawn(channel.id, { name: channelName, type: 'channel', workdir: options.workdir });
  return { channel, spawn };
}

/**
 * Kills and deregisters sessions whose channel Discord says is unknown (404 with code 10003) or whose
 * thread is archived. A 403 is reported for its session, which is kept. Any other failure (auth,
 * network, a 404 without that code as from a wrong API URL) is reported once, stops the sweep, and
 * then nothing is removed at all.
 */
export async function cleanupStale(deps: { manager: SessionManager; api: DiscordApi }): Promise<DiscoveryReport> {
  const { manager, api } = deps;
  const registry = manager.registry();
  const report: DiscoveryReport = { lines: [], found: Object.keys(registry).length, spawned: 0, failed: 0 };
  const stale: ReportLine[] = [];
  for (const [id, entry] of Object.entries(registry)) {
    let channel: DiscordChannel | null;
    try {
      channel = await api.getChannel(id);
    } catch (error) {
      report.failed++;
      report.lines.push({ kind: 'ERROR', id, name: entry.name, detail: formatError(error) });
      if (error instanceof CrsError && / HTTP 403:/.test(error.message)) continue;
      return report;
    }
    const reason = channel === null ? 'channel deleted (Unknown Channel)' : channel.thread_metadata?.archived ? 'thread archived' : undefined;
    if (reason) stale.push({ kind: 'STALE', id, name: entry.name, detail: reason });
    else report.lines.push({ kind: 'OK', id, name: entry.name });
  }
  for (const line of stale) {
    await manager.kill(line.id);
    report.spawned++;
    report.lines.push(line);
  }
  return report;
}

/** The status channel's topic: counts and the time of the update. */
export function formatStatusTopic(rows: SessionRow[], now: Date): string {
  const c = countStatuses(rows);
  const time = now.toISOString().slice(11, 16);
  const parts = [`🟢 ${c.UP + c.BUSY} up`, `🔴 ${c.DOWN} down`, `💤 ${c.SUSPENDED} suspended`];
  if (c.CRASHLOOP) parts.push(`⚠️ ${c.CRASHLOOP} crash-looping`);
  const held = c.WAITING + c.DEAF + c.LIMITED + c.LOGGED_OUT;
  if (held) parts.push(`⏸ ${held} need the owner`);
  return `${parts.join(' · ')} · updated ${time} UTC`;
}

/** Writes the session counts into the topic of `DISCORD_STATUS_CHANNEL_ID`. */
export async function setStatus(deps: { manager: SessionManager; api: DiscordApi; now: Date }): Promise<string> {
  const { manager, api } = deps;
  const config = manager.config();
  if (!config.statusChannelId) {
    throw new CrsError(`DISCORD_STATUS_CHANNEL_ID is not set in ${config.file}.`, {
      hint: 'Add the id of the channel whose topic should show the session counts.',
    });
  }
  const topic = formatStatusTopic(await manager.list(), deps.now);
  await api.setTopic(config.statusChannelId, topic);
  return topic;
}

