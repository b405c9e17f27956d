import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../util/clock.ts';
import { pollUntil } from '../util/poll.ts';
import { type Condition, activeCondition, clearConditions, currentCondition } from '../store/condition.ts';
import { clearTurn, readTurn, turnRunning } from '../store/turn.ts';
import { BUSY, classifyPane } from '../host/pane.ts';
import { NO_CRASHES, QUICK_DEATH_MS, type CrashState, isCrashLooping, loadCrashState, recordDeath, recordStart, saveCrashState } from './crash-guard.ts';
import {
  type Config,
  expandHome,
  loadConfig,
  loadProfiles,
  loadStringMap,
  loadWorkdirMap,
  readOptionalFile,
  requireSetting,
  resolveProfile,
} from '../config/config.ts';
import { parseEnvText } from '../config/env-file.ts';
import { CrsError, formatError, usageError } from '../util/errors.ts';
import { writeFileAtomic } from '../store/fs-atomic.ts';
import { buildLaunch, envFileArgv, formatEnvFile, formatLabel } from '../host/launch.ts';
import { isProcessAlive, withLock } from '../store/lock.ts';
import { type Env, type Paths, assertId, stateDirOf, tmuxNameOf } from '../config/paths.ts';
import type { Platform } from '../config/platform.ts';
import { rootRefusal } from '../host/preflight.ts';
import { type Registry, type RegistryEntry, type SessionType, formatCreated, loadRegistry, sortedEntries, updateRegistry } from '../store/registry.ts';
import { freshSessionId, sessionIdFor } from '../host/session-id.ts';
import { loadIgnored, saveIgnored } from '../store/ignored.ts';
import { expectedTranscript, findTranscript, isResumable, resumeArgs, setTranscriptAside } from '../host/transcript.ts';
import { STATE_FILES, clearAlwaysAllowed, ensureStateDir, hasState, linkSecret, readState, removeState, touchState, writeAccess, writeState } from '../store/state.ts';
import type { Tmux, TmuxSessionInfo } from '../host/tmux.ts';

/** Lines of a dead pane kept in `last-exit`. */
const LAST_EXIT_LINES = 30;
/** Scrollback searched for them (the pane is taller than the output of a quick crash). */
const LAST_EXIT_SCROLLBACK = 500;
/** How long stopping a pane waits for its Claude Code process to exit, and how often it looks. */
const PREVIOUS_EXIT_WAIT_MS = 10_000;
const PREVIOUS_EXIT_POLL_MS = 50;
/** A new-conversation note shows in list/status for this long after it was written, then no more (the file stays). */
const NEW_CONVERSATION_SHOWN_MS = 24 * 60 * 60 * 1000;

/** A running session shows its condition (WAITING, DEAF, LIMITED, LOGGED_OUT) in place of UP. */
export type SessionStatus = 'UP' | 'BUSY' | Condition['state'] | 'DOWN' | 'SUSPENDED' | 'CRASHLOOP';

/** The statuses of a session whose Claude Code runs. */
export const RUNNING_STATUSES: readonly SessionStatus[] = ['UP', 'BUSY', 'WAITING', 'DEAF', 'LIMITED', 'LOGGED_OUT'];

/** Whether the session's Claude Code runs (whatever keeps it from working). */
export function isRunning(status: SessionStatus): boolean {
  return RUNNING_STATUSES.includes(status);
}

export interface ManagerDeps {
  platform: Platform;
  paths: Paths;
  env: Env;
  tmux: Tmux;
  clock: Clock;
  /** `CLAUDE_BIN`, default `claude`. */
  claudeBin: string;
  /** The channel flags of a session (default: the platform's official plugin). */
  channelArgs?: (id: string, session: { stateDir: string; profile: Record<string, string> }) => string[] | undefined;
  /** Writes a session's own settings (its hooks) and returns the file, passed with `--settings`. */
  sessionSettings?: (id: string, stateDir: string) => string | undefined;
  /** Runs after a session's tmux pane started (e.g. answers a startup dialog); awaited. */
  afterStart?: (tmuxName: string) => Promise<void>;
  /** The user id the root check sees; default this process's (`process.getuid()`). */
  uid?: number;
}

export interface SpawnOptions {
  name?: string;
  workdir?: string;
  systemPrompt?: string;
  fresh?: boolean;
  type?: SessionType;
  parent?: string | null;
  /** A profile name instead of channel-profiles.json's (a thread takes its parent's). */
  profile?: string;
}

/** What `restart` may change. */
export interface RestartOptions {
  fresh?: boolean;
  workdir?: string;
  profile?: string;
}

export interface SpawnResult {
  id: string;
  status: 'ALIVE' | 'SPAWNED';
  tmux: string;
  name: string;
  workdir: string;
  profile: string;
  sessionId: string;
  mode: '--session-id' | '--resume';
  fresh: boolean;
  /** Set when Claude Code was gone again right after the start (before its prompt): its last line. */
  exited?: string;
}

export interface SessionRow {
  id: string;
  status: SessionStatus;
  type: SessionType;
  name: string;
  tmux: string;
  parent: string | null;
  created: string;
  workdir: string | null;
  profile: string;
  sessionId: string | null;
  pinned: boolean;
  /** Seconds since the pane's last activity, when it runs. */
  idleSeconds: number | null;
  lastExit: string | null;
  /** Quick deaths in a row and the time before which no respawn happens (ms since the epoch). */
  crash: { quickDeaths: number; backoffUntil: number };
  /** What keeps a running session from working (its status says which), with cause and fix. */
  condition: Condition | null;
  /** When and why the session last had to start a new conversation, for a day after it happened. */
  newConversation: NewConversation | null;
  /**
   * When the current status began (ms since the epoch): a running session's condition, else its pane's
   * start; a stopped one's suspension or death. Null when unknown.
   */
  since: number | null;
  /** When the session last took a message from its chat (ISO time), or null. */
  lastIn: string | null;
  /** When the session last answered in its chat (ISO time), or null. */
  lastOut: string | null;
}

/** A session had to drop its conversation and start a new one (`.new-conversation`). */
export interface NewConversation {
  /** ISO time. */
  at: string;
  reason: string;
}

/** What one `respawnDead` pass did. */
export interface RespawnReport {
  respawned: SpawnResult[];
  /** Crash-looping sessions left down until `until` (ms since the epoch), with the last line they printed. */
  backoff: Array<{ id: string; tmux: string; until: number; cause: string }>;
  failed: Array<{ id: string; tmux: string; error: string }>;
}

/** What a start needs, resolved before anything is changed. */
interface StartPlan {
  id: string;
  type: SessionType;
  parent: string | null;
  name: string;
  workdir: string;
  profileName: string;
  profile: Record<string, string>;
  sessionId: string;
  fresh: boolean;
  systemPrompt?: string;
}

/** The session operations, parameterised by platform; every program calls these in-process. */
export class SessionManager {
  constructor(readonly deps: ManagerDeps) {}

  get platform(): Platform {
    return this.deps.platform;
  }

  get paths(): Paths {
    return this.deps.paths;
  }

  private cachedConfig: { stamp: string; config: Config } | undefined;
  /** The version of config.env that did not load while an earlier one stays in use. */
  private badConfigStamp: string | undefined;

  /**
   * Told once when config.env is edited into something that does not load while an earlier version
   * is in use (that one is kept), and once more (with no error) when it loads again. A daemon logs it.
   */
  onConfigProblem?: (error: unknown) => void;

  /**
   * config.env as it is now: re-read whenever the file changes, so a long-running daemon follows edits.
   * An edit that does not load keeps the settings already in use (a first load that fails throws).
   */
  config(): Config {
    const stat = statSync(this.paths.configFile, { throwIfNoEntry: false });
    const stamp = stat ? `${stat.mtimeMs}:${stat.size}:${stat.ino}` : 'none';
    if (this.cachedConfig && (this.cachedConfig.stamp === stamp || this.badConfigStamp === stamp)) return this.cachedConfig.config;
    try {
      this.cachedConfig = { stamp, config: loadConfig(this.platform, this.paths, this.deps.env) };
    } catch (error) {
      if (!this.cachedConfig) throw error;
      this.badConfigStamp = stamp;
      this.onConfigProblem?.(error);
      return this.cachedConfig.config;
    }
    if (this.badConfigStamp !== undefined) {
      this.badConfigStamp = undefined;
      this.onConfigProblem?.(undefined);
    }
    return this.cachedConfig.config;
  }

  registry(): Registry {
    return loadRegistry(this.paths, this.platform);
  }

  /** The channels the owner killed, id → name: discovery starts no session for them. */
  ignored(): Record<string, string> {
    return loadIgnored(this.paths, this.platform);
  }

  /**
   * The id a user means by `ref`: an id, a tmux name (`dc-<id>`), or the name of a session or an
   * ignored channel, with or without `#` (exact, else ignoring case). Unknown or ambiguous: a usage error.
   */
  resolveRef(ref: string, what = 'id'): string {
    const { platform } = this;
    if (platform.idPattern.test(ref)) return ref;
    const tmuxId = ref.startsWith(`${platform.prefix}-`) ? ref.slice(platform.prefix.length + 1) : '';
    if (platform.idPattern.test(tmuxId)) return tmuxId;
    const name = ref.replace(/^#/, '');
    const known = new Map(Object.entries(this.ignored()));
    for (const [id, entry] of sortedEntries(this.registry())) known.set(id, entry.name);
    const exact = [...known].filter(([, n]) => n && n === name);
    const matches = exact.length ? exact : [...known].filter(([, n]) => n && n.toLowerCase() === name.toLowerCase());
    if (matches.length === 1) return matches[0]![0];
    const shown = JSON.stringify(ref.slice(0, 40));
    if (matches.length > 1) {
      throw usageError(`${shown} is the name of ${matches.length} sessions: ${matches.map(([id, n]) => `${n} (${id})`).join(', ')}.`, 'Give the id instead.');
    }
    throw usageError(
      `Invalid ${platform.label} ${what} ${shown}: expected ${platform.idDescription}, ${platform.prefix}-<id> or the name of a session.`,
      `Run \`${platform.cli} list\` for names and ids. ${platform.idHint}`,
    );
  }

  stateDir(id: string): string {
    return stateDirOf(this.platform, this.paths, id);
  }

  tmuxName(id: string): string {
    return tmuxNameOf(this.platform, id);
  }

  /** The bot token from `channels/<platform>/.env`, or a clear error. */
  botToken(): string {
    const text = readOptionalFile(this.paths.tokenFile);
    const token = text === undefined ? undefined : parseEnvText(text, this.paths.tokenFile)[this.platform.tokenVar]?.trim();
    if (!token) {
      throw new CrsError(`No ${this.platform.label} bot token (${this.platform.tokenVar}) in ${this.paths.tokenFile}.`, {
        hint: `Run \`${this.platform.cli} init\` (or /${this.platform.key}:configure in Claude Code).`,
      });
    }
    return token;
  }

  /** Throws unless the token file and the owner list exist (and, for Discord, the guild id). */
  requireReady(config = this.config()): Config {
    this.botToken();
    requireSetting(config, config.allowedUserIds, `${this.platform.configPrefix}_ALLOWED_USER_ID`);
    if (this.platform.key === 'discord') requireSetting(config, config.guildId, 'DISCORD_GUILD_ID');
    return config;
  }

  /** The claude executable as an absolute path, or a clear error. */
  resolveClaude(): string {
    const bin = this.deps.claudeBin;
    const found = bin.includes('/') ? (existsSync(bin) ? bin : null) : Bun.which(bin, { PATH: this.deps.env.PATH ?? '' });
    if (!found) {
      throw new CrsError(`Claude Code (\`${bin}\`) was not found${bin.includes('/') ? '' : ' on PATH'}.`, {
        hint: 'Install it (npm install -g @anthropic-ai/claude-code) or set CLAUDE_BIN to its path.',
      });
    }
    return found;
  }

  /** Workdir for a new session: --workdir > workdir-map.json[name] > config > $HOME; must exist. */
  resolveWorkdir(name: string, override: string | undefined, config: Config): string {
    const mapped = loadWorkdirMap(this.paths, this.deps.env)[name];
    const dir = expandHome(override ?? mapped ?? config.workdir, this.paths.home);
    if (!dir.startsWith('/')) {
      throw new CrsError(`Workdir "${dir}" is not an absolute path.`, { hint: 'Give a full path such as /home/me/project.' });
    }
    if (!isDirectory(dir)) {
      const from = override ? '--workdir' : mapped ? this.paths.workdirMap : `${this.platform.configPrefix}_SESSION_WORKDIR`;
      throw new CrsError(`Workdir ${dir} (from ${from}) does not exist.`, { hint: 'Create the directory or fix the setting.' });
    }
    return dir;
  }

  /** The profile of a session name: channel-profiles.json[name], else "default". */
  resolveProfileName(name: string): string {
    return loadStringMap(this.paths.channelProfiles)[name] ?? 'default';
  }

  profileSettings(profileName: string): Record<string, string> {
    return resolveProfile(loadProfiles(this.paths, this.deps.env), profileName, this.paths.profilesFile);
  }

  /** Names of the profiles defined in profiles.env. */
  profileNames(): string[] {
    const names = Object.keys(loadProfiles(this.paths, this.deps.env));
    return names.includes('default') ? names : ['default', ...names];
  }

  /** Every tmux session of the server, from one `list-sessions` call. */
  async liveSessions(): Promise<Map<string, TmuxSessionInfo>> {
    return this.deps.tmux.listSessions();
  }

  /**
   * Starts a session for a channel/thread/chat, or reports it ALIVE. Explicit options win; otherwise
   * workdir and profile are resolved from the maps, and the conversation id is kept (resumed).
   */
  async spawn(id: string, options: SpawnOptions = {}): Promise<SpawnResult> {
    assertId(this.platform, id);
    if (options.parent) assertId(this.platform, options.parent, 'parent id');
    const config = this.requireReady();
    const live = (await this.liveSessions()).get(this.tmuxName(id));
    const entry = this.registry()[id];
    if (live && !live.dead && entry && options.fresh) return this.restart(id, { fresh: true, workdir: options.workdir });
    if (live && !live.dead && !options.fresh) {
      await withLock(this.paths.lockFile, () => this.dropIgnored(id));
      return this.aliveResult(id, entry);
    }
    const type = options.type ?? entry?.type ?? (this.platform.key === 'telegram' ? 'chat' : 'channel');
    // A killed channel keeps its name in ignored.json.
    const name = formatLabel(options.name ?? entry?.name ?? this.ignored()[id] ?? '') || defaultName(this.platform, type, id);
    const profileName = options.profile ?? this.resolveProfileName(name);
    const dir = this.stateDir(id);
    const plan: StartPlan = {
      id,
      type,
      parent: options.parent ?? entry?.parent ?? null,
      name,
      workdir: this.resolveWorkdir(name, options.workdir, config),
      profileName,
      profile: this.profileSettings(profileName),
      sessionId: options.fresh ? freshSessionId() : (readState(dir, 'sessionId') || sessionIdFor(id)),
      fresh: Boolean(options.fresh),
      systemPrompt: options.systemPrompt,
    };
    this.assertMayStart(config, plan.profile);
    return this.start(plan, config, live, true);
  }

  /** Starts a registered session again with what it had: workdir, profile, conversation, prompt. */
  async respawn(id: string, live?: TmuxSessionInfo, explicit = false, overrides: RestartOptions = {}): Promise<SpawnResult> {
    const config = this.requireReady();
    const entry = this.registry()[id];
    if (!entry) {
      throw new CrsError(`No session for ${this.platform.label} id "${id}".`, { hint: `Run \`${this.platform.cli} list\`.` });
    }
    const dir = this.stateDir(id);
    const workdir = overrides.workdir ?? readState(dir, 'workdir');
    if (overrides.workdir) this.resolveWorkdir(entry.name, overrides.workdir, config);
    const profileName = overrides.profile ?? (readState(dir, 'profile') || this.resolveProfileName(entry.name));
    const plan: StartPlan = {
      id,
      type: entry.type,
      parent: entry.parent,
      name: entry.name,
      workdir: workdir && isDirectory(workdir) ? workdir : this.resolveWorkdir(entry.name, undefined, config),
      profileName,
      profile: this.profileSettings(profileName),
      sessionId: overrides.fresh ? freshSessionId() : readState(dir, 'sessionId') || sessionIdFor(id),
      fresh: Boolean(overrides.fresh),
    };
    this.assertMayStart(config, plan.profile);
    return this.start(plan, config, live, explicit);
  }

  /**
   * Throws, before anything is written or started, when Claude Code would exit at once: as root it
   * refuses a bypass mode unless IS_SANDBOX=1 (from config.env or the session's profile).
   */
  assertMayStart(config: Config, profile: Record<string, string>): void {
    const refusal = rootRefusal(this.uid, config, profile);
    if (refusal) throw refusal;
  }

  /** The user id sessions run as (0 = root). */
  get uid(): number | undefined {
    return this.deps.uid ?? process.getuid?.();
  }

  /** The profile a registered session starts with: `override`, else the one it had, else its name's. */
  private startProfile(id: string, name: string, override?: string): Record<string, string> {
    return this.profileSettings(override ?? (readState(this.stateDir(id), 'profile') || this.resolveProfileName(name)));
  }

  private aliveResult(id: string, entry: RegistryEntry | undefined): SpawnResult {
    const dir = this.stateDir(id);
    const sessionId = readState(dir, 'sessionId') ?? sessionIdFor(id);
    return {
      id,
      status: 'ALIVE',
      tmux: this.tmuxName(id),
      name: entry?.name ?? '',
      workdir: readState(dir, 'workdir') ?? '',
      profile: readState(dir, 'profile') ?? 'default',
      sessionId,
      mode: '--resume',
      fresh: false,
    };
  }

  /**
   * `explicit`: a spawn, wake or restart clears a crash-loop streak, the suspended mark and the ignored
   * mark, once the session started (a start that fails leaves them); a watchdog respawn does none of it.
   * Starts of one session are serialised (the router may wake a chat while its owner restarts it):
   * a start that finds the session started meanwhile by another reports it ALIVE and changes nothing.
   */
  private async start(plan: StartPlan, config: Config, live: TmuxSessionInfo | undefined, explicit = false): Promise<SpawnResult> {
    const claude = this.resolveClaude();
    const dir = this.stateDir(plan.id);
    const tmuxName = this.tmuxName(plan.id);

    ensureStateDir(dir, this.paths.tokenFile);
    linkSecret(dir);
    const resume = await withLock(join(dir, STATE_FILES.startLock), async () => {
      if (!live || live.dead) {
        const running = (await this.liveSessions()).get(tmuxName);
        if (running && !running.dead) return undefined;
      }
      const channelArgs = this.deps.channelArgs?.(plan.id, { stateDir: dir, profile: plan.profile });
      // access.json is read only by the official plugin: plugin mode gets it, a session on our bridge none.
      if (channelArgs) rmSync(join(dir, 'access.json'), { force: true });
      else writeAccess(dir, { allowFrom: config.allowedUserIds, groups: plan.parent ? [plan.id, plan.parent] : [plan.id] });
      writeState(dir, 'sessionId', plan.sessionId);
      // A new conversation starts without the old one's "always allow" answers.
      if (plan.fresh) clearAlwaysAllowed(dir);
      writeState(dir, 'workdir', plan.workdir);
      writeState(dir, 'profile', plan.profileName);
      clearConditions(dir);
      clearTurn(dir);
      if (plan.systemPrompt !== undefined) {
        if (plan.systemPrompt) writeState(dir, 'systemPrompt', plan.systemPrompt);
        else removeState(dir, 'systemPrompt');
      }
      if (live) await this.recordExit(plan.id, live);

      const resume = this.resumeFor(plan);
      const launch = buildLaunch({
        platform: this.platform,
        config,
        env: this.deps.env,
        claudeBin: claude,
        stateDir: dir,
        label: plan.name,
        resume,
        profile: plan.profile,
        promptFile: hasState(dir, 'systemPrompt') ? join(dir, '.system-prompt') : undefined,
        channelArgs,
        settingsFile: this.deps.sessionSettings?.(plan.id, dir),
      });
      removeState(dir, 'stopping');
      try {
        // The environment (a profile's token among it) goes through a 0600 file, never onto an argv.
        const envFile = join(dir, STATE_FILES.launchEnv);
        writeFileAtomic(envFile, formatEnvFile(launch.env), 0o600);
        await this.deps.tmux.newSession({ name: tmuxName, cwd: plan.workdir, argv: envFileArgv(envFile, launch.argv), env: {}, remainOnExit: true });
      } catch (error) {
        if (/duplicate session/i.test(String(error))) return undefined;
        throw new CrsError(`Could not start tmux session ${tmuxName}: ${(error as Error).message}.`, {
          cause: error,
          hint: 'Check that tmux works (`tmux new-session -d true`).',
        });
      }
      if (explicit) removeState(dir, 'suspended');
      saveCrashState(dir, recordStart(explicit ? NO_CRASHES : loadCrashState(dir), this.deps.clock.now()));
      return resume;
    });
    if (!resume) return this.aliveResult(plan.id, this.registry()[plan.id]);
    await this.deps.afterStart?.(tmuxName);
    // afterStart waits for the prompt or a dialog, and stops waiting when the pane dies.
    const after = (await this.liveSessions()).get(tmuxName);
    const exited = after && !after.dead ? undefined : ((await this.paneLastLines(tmuxName)).pop()?.trim() ?? 'its tmux session is gone');
    await updateRegistry(this.paths, this.platform, (registry) => {
      const previous = registry[plan.id];
      registry[plan.id] = {
        ...previous,
        type: plan.type,
        name: plan.name,
        tmux: tmuxName,
        parent: plan.parent,
        created: previous?.created || formatCreated(new Date(this.deps.clock.now())),
      };
      if (explicit) this.dropIgnored(plan.id);
    });
    return {
      id: plan.id,
      status: 'SPAWNED',
      tmux: tmuxName,
      name: plan.name,
      workdir: plan.workdir,
      profile: plan.profileName,
      sessionId: plan.sessionId,
      mode: resume[0],
      fresh: plan.fresh,
      ...(exited ? { exited } : {}),
    };
  }

  /**
   * The claude config dirs a session's transcripts may be in: its own (the profile's CLAUDE_CONFIG_DIR,
   * else ours) first, then ours and every profile's, so a profile switch still finds the conversation.
   */
  claudeConfigDirs(profile: Record<string, string>): { own: string; all: string[] } {
    const dirOf = (settings: Record<string, string> | undefined) =>
      settings?.CLAUDE_CONFIG_DIR ? expandHome(settings.CLAUDE_CONFIG_DIR, this.paths.home) : undefined;
    const own = dirOf(profile) ?? this.paths.root;
    let others: string[] = [];
    try {
      others = Object.values(loadProfiles(this.paths, this.deps.env)).flatMap((p) => dirOf(p) ?? []);
    } catch {}
    return { own, all: [...new Set([own, this.paths.root, ...others])] };
  }

  /**
   * `--resume <transcript path>` when the conversation has a transcript anywhere (any workdir, any
   * profile's config dir), else `--session-id`. A transcript Claude Code cannot resume is moved aside
   * so the same id starts afresh instead of crash-looping. Records where the transcript is or will be.
   */
  private resumeFor(plan: StartPlan): ReturnType<typeof resumeArgs> {
    const dir = this.stateDir(plan.id);
    const dirs = this.claudeConfigDirs(plan.profile);
    let transcript = plan.fresh ? undefined : findTranscript(dirs.all, plan.sessionId);
    if (transcript && !isResumable(transcript)) {
      const aside = setTranscriptAside(transcript, this.deps.clock.now());
      this.noteNewConversation(plan.id, `its transcript held no conversation to resume (kept as ${aside})`, plan.sessionId);
      transcript = undefined;
    }
    writeState(dir, 'transcript', transcript ?? expectedTranscript(dirs.own, plan.workdir, plan.sessionId));
    return resumeArgs(transcript, plan.sessionId);
  }

  /** Waits (at most ~10 s) until a stopped pane's process is gone. */
  private async waitForExit(pid: number): Promise<void> {
    await pollUntil(() => !(pid > 0 && isProcessAlive(pid)), { timeoutMs: PREVIOUS_EXIT_WAIT_MS, intervalMs: PREVIOUS_EXIT_POLL_MS, clock: this.deps.clock });
  }

  /**
   * Records that a session had to start a new conversation (`sessionId`), and why: shown by list and
   * status, told in the chat.
   */
  noteNewConversation(id: string, reason: string, sessionId: string): void {
    const note = { at: new Date(this.deps.clock.now()).toISOString(), reason, sessionId, told: false };
    writeState(this.stateDir(id), 'newConversation', `${JSON.stringify(note)}\n`);
  }

  /** Saves a dead pane's last lines to `last-exit` (a header line, then the output) and removes the session. */
  async recordExit(id: string, live: TmuxSessionInfo): Promise<void> {
    const name = this.tmuxName(id);
    if (live.dead) {
      const lines = await this.paneLastLines(name);
      const status = live.deadStatus === null ? '' : ` exit status ${live.deadStatus}`;
      writeFileAtomic(join(this.stateDir(id), 'last-exit'), `${new Date(this.deps.clock.now()).toISOString()}${status}\n${lines.join('\n')}\n`);
    }
    await this.stopPane(id, live);
  }

  /** The last lines a (dead) pane printed, without tmux's "Pane is dead" line; [] when it cannot be read. */
  private async paneLastLines(name: string): Promise<string[]> {
    const text = await this.deps.tmux.capturePane(name, LAST_EXIT_SCROLLBACK).catch(() => '');
    return text
      .split('\n')
      .filter((line) => line.trim() && !/^Pane is dead/.test(line))
      .slice(-LAST_EXIT_LINES);
  }

  /**
   * Kills a session's tmux pane, marking it `.stopping` first: a Claude Code process goes on taking
   * channel messages (and sending them to the model) for a moment after its pane is killed, and what
   * it takes then is lost with it, so the router and the bridge push nothing to a stopping session.
   * The next start clears the mark.
   */
  private async stopPane(id: string, info?: TmuxSessionInfo): Promise<boolean> {
    const dir = this.stateDir(id);
    const name = this.tmuxName(id);
    if (existsSync(dir)) touchState(dir, 'stopping');
    const pane = info ?? (await this.liveSessions()).get(name);
    const killed = await this.deps.tmux.killSession(name);
    // Claude Code writes the last turn to its transcript as it exits (right after a first reply, the
    // whole conversation): a start that judged or resumed the transcript before then would miss it.
    if (killed && pane && !pane.dead) await this.waitForExit(pane.panePid);
    return killed;
  }

  /**
   * Kills the tmux session and removes the registry entry (the state dir stays, so a later spawn resumes);
   * `ignore` also lists the channel in ignored.json, so discovery leaves it without a session. Both files
   * are read (and so checked) under the lock before the session is touched: a kill that could not be
   * recorded kills nothing.
   */
  async kill(id: string, options: { ignore?: boolean } = {}): Promise<{ killed: boolean; registered: boolean }> {
    assertId(this.platform, id);
    return updateRegistry(this.paths, this.platform, async (registry) => {
      const ignored = options.ignore ? this.ignored() : undefined;
      const killed = await this.stopPane(id);
      const registered = id in registry;
      if (ignored) {
        ignored[id] = registry[id]?.name ?? ignored[id] ?? '';
        saveIgnored(this.paths, ignored);
      }
      delete registry[id];
      return { killed, registered };
    });
  }

  /** Takes a channel off ignored.json; the caller holds the sessions-dir lock. */
  private dropIgnored(id: string): void {
    const ignored = this.ignored();
    if (!(id in ignored)) return;
    delete ignored[id];
    saveIgnored(this.paths, ignored);
  }

  /** Kills every session of this platform (`<prefix>-<id>`; the daemons are left) and empties the registry. */
  async killAll(): Promise<string[]> {
    const pattern = new RegExp(`^${this.platform.prefix}-`);
    const killed: string[] = [];
    await updateRegistry(this.paths, this.platform, async (registry) => {
      for (const [name, info] of await this.liveSessions()) {
        const id = name.slice(this.platform.prefix.length + 1);
        if (pattern.test(name) && this.platform.idPattern.test(id)) {
          if (await this.stopPane(id, info)) killed.push(name);
        }
      }
      for (const id of Object.keys(registry)) delete registry[id];
    });
    return killed;
  }

  /** The status of every registered session, from one tmux listing. */
  async list(): Promise<SessionRow[]> {
    // The tmux listing runs while the registry and state files are read.
    const live = this.liveSessions();
    const registry = this.registry();
    const rows = sortedEntries(registry).map(([id, entry]) => {
      const dir = this.stateDir(id);
      return {
        id,
        entry,
        dir,
        suspended: hasState(dir, 'suspended'),
        crash: loadCrashState(dir),
        workdir: readState(dir, 'workdir') ?? null,
        profile: readState(dir, 'profile') || 'default',
        sessionId: readState(dir, 'sessionId') ?? null,
        pinned: hasState(dir, 'pinned'),
      };
    });
    const sessions = await live;
    const now = this.deps.clock.now() / 1000;
    return rows.map(({ id, entry, dir, suspended, crash, workdir, profile, sessionId, pinned }) => {
      const info = sessions.get(entry.tmux);
      const up = Boolean(info && !info.dead);
      const condition = up ? (activeCondition(dir, now * 1000) ?? null) : null;
      // Busy or idle from the session's turn hooks; a condition (a question, a limit, deafness) says more.
      const turn = up ? readTurn(dir) : undefined;
      const busy = up && !condition && turnRunning(turn, info!.activity * 1000, now * 1000);
      const status: SessionStatus = up ? (condition?.state ?? (busy ? 'BUSY' : 'UP')) : suspended ? 'SUSPENDED' : isCrashLooping(crash) ? 'CRASHLOOP' : 'DOWN';
      return {
        id,
        status,
        type: entry.type,
        name: entry.name,
        tmux: entry.tmux,
        parent: entry.parent,
        created: entry.created,
        workdir,
        profile,
        sessionId,
        pinned,
        idleSeconds: up && info ? Math.max(0, Math.round(now - info.activity)) : null,
        lastExit: readState(dir, 'lastExit') ?? null,
        crash: { quickDeaths: crash.quickDeaths, backoffUntil: crash.backoffUntil },
        condition,
        newConversation: loadNewConversation(dir, now * 1000),
        since: statusSince(dir, info, condition, turn?.since, suspended),
        lastIn: readTime(dir, 'lastIn'),
        lastOut: readTime(dir, 'lastOut'),
      };
    });
  }

  /**
   * Starts every registered session whose pane is gone or dead, except suspended ones. Each death is
   * recorded first (last lines to `last-exit`); a session that keeps dying within seconds of its start
   * waits out a growing backoff instead of being restarted at once. One failure does not stop the rest.
   */
  async respawnDead(): Promise<RespawnReport> {
    const live = await this.liveSessions();
    const report: RespawnReport = { respawned: [], backoff: [], failed: [] };
    for (const [id, entry] of sortedEntries(this.registry())) {
      const info = live.get(entry.tmux);
      if (info && !info.dead) continue;
      const dir = this.stateDir(id);
      if (hasState(dir, 'suspended')) continue;
      try {
        const crash = await this.noteDeath(id, info);
        if (crash.backoffUntil > this.deps.clock.now()) {
          const cause = (readState(dir, 'lastExit') ?? '').split('\n').filter((l) => l.trim()).slice(1).pop() ?? '';
          report.backoff.push({ id, tmux: entry.tmux, until: crash.backoffUntil, cause });
          continue;
        }
        report.respawned.push(await this.respawn(id));
      } catch (error) {
        report.failed.push({ id, tmux: entry.tmux, error: formatError(error) });
      }
    }
    return report;
  }

  /** Records a session's death once: its last output, the crash streak, and removes the dead pane. */
  private async noteDeath(id: string, info: TmuxSessionInfo | undefined): Promise<CrashState> {
    const dir = this.stateDir(id);
    if (info) await this.recordExit(id, info);
    const state = loadCrashState(dir);
    if (state.startedAt === null) return state;
    const failure = info ? conversationFailure(readState(dir, 'lastExit') ?? '') : undefined;
    // Claude Code could not continue the conversation: start a new one now rather than loop on it.
    // When the new one fails too, it is a crash like any other (and backs off).
    if (failure && !this.failedAgain(dir, state.startedAt)) {
      const sessionId = freshSessionId();
      writeState(dir, 'sessionId', sessionId);
      this.noteNewConversation(id, failure, sessionId);
      saveCrashState(dir, NO_CRASHES);
      return NO_CRASHES;
    }
    const diedAt = info?.deadTime ? info.deadTime * 1000 : this.deps.clock.now();
    const next = recordDeath(state, Math.max(diedAt, state.startedAt));
    saveCrashState(dir, next);
    return next;
  }

  /** Whether the start that died (at `startedAt`) was the first of the new conversation the last note began. */
  private failedAgain(dir: string, startedAt: number): boolean {
    try {
      const note = JSON.parse(readState(dir, 'newConversation') ?? '{}') as { at?: string; sessionId?: string };
      const at = Date.parse(note.at ?? '');
      return note.sessionId === readState(dir, 'sessionId') && startedAt >= at && startedAt - at < QUICK_DEATH_MS;
    } catch {
      return false;
    }
  }

  /**
   * Stops sessions idle for longer than `<P>_IDLE_TIMEOUT` minutes (0 disables) and marks them
   * suspended; pinned sessions and panes where Claude is working are skipped.
   */
  async suspendIdle(): Promise<{ suspended: string[]; skippedBusy: string[]; skippedWaiting: string[]; skippedLimited: string[] }> {
    const config = this.config();
    const suspended: string[] = [];
    const skippedBusy: string[] = [];
    const skippedWaiting: string[] = [];
    const skippedLimited: string[] = [];
    if (config.idleTimeoutMin <= 0) return { suspended, skippedBusy, skippedWaiting, skippedLimited };
    const live = await this.liveSessions();
    const now = this.deps.clock.now() / 1000;
    for (const [id, entry] of sortedEntries(this.registry())) {
      const info = live.get(entry.tmux);
      if (!info || info.dead) continue;
      const dir = this.stateDir(id);
      // Idle since the pane last changed and the last turn began or ended. A running turn changes its pane
      // every second, so a turn still marked busy here ended without its Stop hook (an interrupt): idle.
      const turn = readTurn(dir);
      const idleSince = Math.max(info.activity, (turn?.since ?? 0) / 1000);
      if (hasState(dir, 'pinned') || now - idleSince < config.idleTimeoutMin * 60) continue;
      const screen = await this.deps.tmux.capturePane(entry.tmux).catch(() => '');
      if (BUSY.test(screen)) {
        skippedBusy.push(id);
        continue;
      }
      // Waiting for the owner (a permission question, a dialog) or for a usage limit to reset is not idle:
      // stopping it would lose the question, or the turn that continues after the reset.
      const condition = currentCondition(dir)?.state;
      if (condition === 'LIMITED') {
        skippedLimited.push(id);
        continue;
      }
      if (condition === 'WAITING' || classifyPane(screen).dialog) {
        skippedWaiting.push(id);
        continue;
      }
      touchState(dir, 'suspended', `${new Date(this.deps.clock.now()).toISOString()}\n`);
      await this.stopPane(id, info);
      suspended.push(id);
    }
    return { suspended, skippedBusy, skippedWaiting, skippedLimited };
  }

  /**
   * Stops and starts a registered session: the same conversation unless `fresh`, in a new workdir or
   * with another profile when given (validated before anything is stopped).
   */
  async restart(id: string, options: RestartOptions = {}): Promise<SpawnResult> {
    assertId(this.platform, id);
    const config = this.requireReady();
    const entry = this.registry()[id];
    if (!entry) {
      throw new CrsError(`No session for ${this.platform.label} id "${id}".`, { hint: `Run \`${this.platform.cli} list\`.` });
    }
    if (options.workdir) this.resolveWorkdir(entry.name, options.workdir, config);
    if (options.profile) this.profileSettings(options.profile);
    this.assertMayStart(config, this.startProfile(id, entry.name, options.profile));
    const live = (await this.liveSessions()).get(this.tmuxName(id));
    return this.respawn(id, live, true, options);
  }

  /**
   * Moves a session to another profile of profiles.env: remembered for its name in
   * channel-profiles.json (so a later spawn takes it too), then restarted in the same conversation.
   */
  async switchProfile(id: string, profile: string): Promise<SpawnResult> {
    assertId(this.platform, id);
    const entry = this.registry()[id];
    if (!entry) {
      throw new CrsError(`No session for ${this.platform.label} id "${id}".`, { hint: `Run \`${this.platform.cli} list\`.` });
    }
    const available = this.profileNames();
    if (!available.includes(profile)) {
      throw new CrsError(`Profile "${profile}" is not defined.`, { hint: `Available: ${available.join(', ')} (${this.paths.profilesFile}).` });
    }
    await withLock(this.paths.lockFile, () => {
      const map = loadStringMap(this.paths.channelProfiles);
      map[entry.name] = profile;
      writeFileAtomic(this.paths.channelProfiles, `${JSON.stringify(map, null, 2)}\n`);
    });
    return this.restart(id, { profile });
  }

  /** Stops a session but keeps it registered and marked suspended, so nothing restarts it until woken. */
  async stop(id: string): Promise<boolean> {
    assertId(this.platform, id);
    if (!this.registry()[id]) {
      throw new CrsError(`No session for ${this.platform.label} id "${id}".`, { hint: `Run \`${this.platform.cli} list\`.` });
    }
    touchState(this.stateDir(id), 'suspended', `${new Date(this.deps.clock.now()).toISOString()} stopped\n`);
    return this.stopPane(id);
  }

  /**
   * Starts the session again (same conversation) and clears its suspended mark; a session that cannot
   * start stays suspended. A channel killed with `kill` is spawned again and taken off ignored.json.
   */
  async wake(id: string): Promise<SpawnResult> {
    assertId(this.platform, id);
    const entry = this.registry()[id];
    if (!entry && id in this.ignored()) return this.spawn(id);
    if (!entry) {
      throw new CrsError(`No session for ${this.platform.label} id "${id}".`, { hint: `Run \`${this.platform.cli} list\`.` });
    }
    const info = (await this.liveSessions()).get(this.tmuxName(id));
    if (info && !info.dead) {
      removeState(this.stateDir(id), 'suspended');
      return this.aliveResult(id, entry);
    }
    return this.respawn(id, info, true);
  }

  /** Wakes every suspended session. */
  async wakeAll(): Promise<SpawnResult[]> {
    const results: SpawnResult[] = [];
    for (const [id] of sortedEntries(this.registry())) {
      if (hasState(this.stateDir(id), 'suspended')) results.push(await this.wake(id));
    }
    return results;
  }

  /** Pinned sessions are never suspended for idleness. */
  async setPinned(id: string, pinned: boolean): Promise<void> {
    assertId(this.platform, id);
    if (!this.registry()[id]) {
      throw new CrsError(`No session for ${this.platform.label} id "${id}".`, { hint: `Run \`${this.platform.cli} list\`.` });
    }
    const dir = this.stateDir(id);
    if (pinned) touchState(dir, 'pinned');
    else removeState(dir, 'pinned');
  }
}

/** Counts of sessions per status (UP, the conditions, DOWN, SUSPENDED, CRASHLOOP). */
export function countStatuses(rows: SessionRow[]): Record<SessionRow['status'], number> {
  const counts = { UP: 0, BUSY: 0, WAITING: 0, DEAF: 0, LIMITED: 0, LOGGED_OUT: 0, DOWN: 0, SUSPENDED: 0, CRASHLOOP: 0 };
  for (const row of rows) counts[row.status]++;
  return counts;
}

/** Why Claude Code refused to continue a conversation, from a dead pane's last lines. */
export function conversationFailure(lastExit: string): string | undefined {
  const line = lastExit.split('\n').find((l) => /No conversation found with session ID|Session ID \S+ is already in use/i.test(l));
  return line ? `Claude Code could not continue the conversation (${line.trim()})` : undefined;
}

/** The `.new-conversation` note of a state dir while it is less than a day old; null otherwise or when unreadable. */
export function loadNewConversation(dir: string, now: number): NewConversation | null {
  const text = readState(dir, 'newConversation');
  if (!text) return null;
  try {
    const note = JSON.parse(text) as Partial<NewConversation>;
    const at = Date.parse(note.at ?? '');
    if (typeof note.reason !== 'string' || Number.isNaN(at) || now - at > NEW_CONVERSATION_SHOWN_MS) return null;
    return { at: note.at!, reason: note.reason };
  } catch {
    return null;
  }
}

/** When a session's status began, from small files only (list runs every few seconds). */
function statusSince(dir: string, info: TmuxSessionInfo | undefined, condition: Condition | null, turnSince: number | undefined, suspended: boolean): number | null {
  // Running: since its condition began, else since its last turn began or ended, else since its start.
  if (info && !info.dead) return condition?.since ?? Math.max(turnSince ?? 0, info.created * 1000);
  if (suspended) {
    const at = Date.parse(readState(dir, 'suspended')?.split(/\s/, 1)[0] ?? '');
    if (!Number.isNaN(at)) return at;
    const mark = statSync(join(dir, STATE_FILES.suspended), { throwIfNoEntry: false });
    return mark ? Math.floor(mark.mtimeMs) : null;
  }
  if (info?.deadTime) return info.deadTime * 1000;
  const died = Date.parse(readState(dir, 'lastExit')?.split(/\s/, 1)[0] ?? '');
  return Number.isNaN(died) ? null : died;
}

/** An ISO time state file (`lastIn`, `lastOut`) as ISO, or null when absent or unreadable. */
function readTime(dir: string, file: 'lastIn' | 'lastOut'): string | null {
  const at = Date.parse(readState(dir, file) ?? '');
  return Number.isNaN(at) ? null : new Date(at).toISOString();
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** `ch-123456` / `th-123456` / `chat-123456`: the original skill's names for unnamed sessions. */
export function defaultName(platform: Platform, type: SessionType, id: string): string {
  const prefix = type === 'thread' ? 'th' : platform.defaultNamePrefix;
  return `${prefix}-${id.slice(-6)}`;
}
