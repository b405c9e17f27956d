import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { type Config, PERMISSION_MODES, expandHome, readOptionalFile } from '../../core/config/config.ts';
import { formatEnvLine } from '../../core/config/env-file.ts';
import { CrsError, formatError, usageError } from '../../core/util/errors.ts';
import { writeFileAtomic } from '../../core/store/fs-atomic.ts';

/** Sets `KEY="value"` lines in an env file's text, in place where the key exists, keeping comments. */
export function setEnvKeys(text: string, values: Record<string, string>, format = formatEnvLine): string {
  const lines = text ? text.replace(/\n$/, '').split('\n') : [];
  for (const [key, value] of Object.entries(values)) {
    const line = format(key, value);
    const pattern = new RegExp(`^\\s*(export\\s+)?${key}=`);
    // Every line of the key: the last one is the one that counts when the file is read.
    let found = false;
    for (let i = 0; i < lines.length; i++) {
      if (pattern.test(lines[i]!)) {
        lines[i] = line;
        found = true;
      }
    }
    if (!found) lines.push(line);
  }
  return `${lines.join('\n')}\n`;
}

/** One value init sets: from its option, else asked at the terminal. */
interface Field {
  /** The config.env key (the token's goes to the token file). */
  key: string;
  flag: string;
  /** The option's value, when given. */
  option: string | undefined;
  question: string;
  /** Shown in brackets; Enter takes it. */
  initial?: string;
  /** Enter leaves the current value alone (the token). */
  keepable?: boolean;
  hidden?: boolean;
  /** Checks and normalises an answer; throws a usage error. */
  parse: (text: string) => string;
}

const MAX_TRIES = 3;

export default (ctx: CommandContext) => {
  const P = ctx.platform.configPrefix;
  const discord = ctx.platform.key === 'discord';
  return defineCommand({
    meta: { name: 'init', description: 'Write config.env and the bot token file; asks for what is missing when run in a terminal (the token without echo)' },
    args: {
      'user-id': { type: 'string', description: 'Your user id(s), comma-separated: the only ones allowed to drive sessions' },
      ...(discord ? { 'guild-id': { type: 'string', description: 'Your Discord server (guild) id' } } : {}),
      workdir: { type: 'string', description: 'Default working directory of new sessions' },
      'token-stdin': { type: 'boolean', description: `Read the bot token from stdin: printf %s "$TOKEN" | ${ctx.platform.cli} init --token-stdin` },
      token: { type: 'string', description: 'Bot token (visible in shell history and ps: prefer the prompt or --token-stdin)' },
      'permission-mode': {
        type: 'string',
        description: `How sessions ask for permissions: default (recommended: you approve each from the chat) or another of ${PERMISSION_MODES.join(', ')}; a new config gets default, an existing one keeps its own`,
      },
    },
    async run({ args }) {
      const { paths, io } = ctx;
      const existing = readOptionalFile(paths.configFile) ?? '';
      // The current values are only prompt defaults: a config.env that no longer validates must not stop init repairing it.
      const current = existing ? tryConfig(ctx) : undefined;
      const hasToken = tryToken(ctx);
      if (args['token-stdin'] && args.token !== undefined) throw usageError('Give the bot token one way: --token or --token-stdin.');
      const TOKEN = ctx.platform.tokenVar;
      const userIds: Field = {
        key: `${P}_ALLOWED_USER_ID`,
        flag: 'user-id',
        option: args['user-id'] as string | undefined,
        question: `Your ${ctx.platform.label} user id (several: comma-separated)`,
        initial: current?.allowedUserIds.join(',') || undefined,
        parse: (text) => {
          const ids = text.split(/[\s,]+/).filter(Boolean);
          if (!ids.length || ids.some((id) => !/^[0-9]{1,20}$/.test(id))) throw usageError(`Invalid user id "${text.slice(0, 40)}": expected digits.`);
          return ids.join(',');
        },
      };
      const guildId: Field = {
        key: 'DISCORD_GUILD_ID',
        flag: 'guild-id',
        option: args['guild-id'] as string | undefined,
        question: 'Your Discord server (guild) id',
        initial: current?.guildId,
        parse: (text) => {
          if (!ctx.platform.idPattern.test(text)) throw usageError(`Invalid guild id "${text.slice(0, 40)}": expected digits.`);
          return text;
        },
      };
      const workdir: Field = {
        key: `${P}_SESSION_WORKDIR`,
        flag: 'workdir',
        option: args.workdir as string | undefined,
        question: 'Default working directory of sessions',
        initial: current?.workdir ?? paths.home,
        parse: (text) => {
          // A relative path means the caller's directory; sessions need it absolute.
          const dir = resolve(expandHome(text, paths.home));
          if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw usageError(`Workdir ${dir} does not exist.`, 'Create it first.');
          return dir;
        },
      };
      const token: Field = {
        key: TOKEN,
        flag: 'token',
        option: args['token-stdin'] ? await readTokenFromStdin(ctx) : (args.token as string | undefined),
        question: `Bot token (not shown as you type${hasToken ? '; Enter keeps the current one' : ''})`,
        keepable: hasToken,
        hidden: true,
        parse: (text) => {
          if (!/^[A-Za-z0-9._:-]{20,}$/.test(text)) {
            throw usageError('The bot token does not look like one (letters, digits and . _ : - only).', 'Copy it again from the developer portal / BotFather.');
          }
          return text;
        },
      };
      // Approvals from the phone are the safe default for a new setup; an existing one keeps what it runs with.
      const permissionMode: Field = {
        key: 'CLAUDE_PERMISSION_MODE',
        flag: 'permission-mode',
        option: args['permission-mode'] as string | undefined,
        question: 'Permission mode: default = you approve each tool use from the chat (recommended); bypassPermissions = never ask',
        initial: 'default',
        parse: (text) => {
          if (!(PERMISSION_MODES as readonly string[]).includes(text)) throw usageError(`Invalid permission mode "${text.slice(0, 40)}": expected one of ${PERMISSION_MODES.join(', ')}.`);
          return text;
        },
      };

      // Options first, all of them, so a bad one stops init before any question.
      const fields = [userIds, ...(discord ? [guildId] : []), workdir, token, permissionMode];
      const values: Record<string, string> = {};
      for (const field of fields) if (field.option !== undefined) values[field.key] = field.parse(field.option);
      if (ctx.interactive) {
        for (const field of fields) {
          if (field.key in values || (field === permissionMode && existing)) continue;
          const answer = await askField(ctx, field);
          if (answer !== undefined) values[field.key] = answer;
        }
      }
      if (!existing) values.CLAUDE_PERMISSION_MODE ??= 'default';
      const { [TOKEN]: tokenValue, ...settings } = values;
      if (!Object.keys(values).length) {
        throw usageError('Nothing to write.', `Pass --user-id${discord ? ', --guild-id' : ''}, --workdir or --token-stdin (or run init in a terminal).`);
      }

      mkdirSync(paths.sessionsDir, { recursive: true });
      if (Object.keys(settings).length) {
        writeFileAtomic(paths.configFile, setEnvKeys(existing, settings));
        io.out(`Config saved to ${paths.configFile}`);
      }
      if (tokenValue !== undefined) {
        mkdirSync(paths.channelDir, { recursive: true, mode: 0o700 });
        const tokenText = readOptionalFile(paths.tokenFile) ?? '';
        // The channel plugins read this file with a plain KEY=value split: no quotes (the token was checked above).
        writeFileAtomic(paths.tokenFile, setEnvKeys(tokenText, { [ctx.platform.tokenVar]: tokenValue }, (k, v) => `${k}=${v}`), 0o600);
        chmodSync(paths.tokenFile, 0o600);
        io.out(`Token saved to ${paths.tokenFile} (mode 600)`);
      }
      try {
        ctx.manager.requireReady();
        io.out(`Next: ${nextStep(ctx)}`);
      } catch (error) {
        if (error instanceof CrsError) io.log.warn(`Still missing: ${error.message}`);
      }
    },
  });
};

/** What to run after init: the check, then the one command that starts everything (README's recipe). */
export function nextStep(ctx: Pick<CommandContext, 'platform'>): string {
  return ctx.platform.key === 'discord'
    ? 'discord-session-manager doctor, then discord-watchdog --daemon (it discovers the channels and runs the slash daemon; install-service starts it at login)'
    : 'telegram-session-manager doctor, then telegram-session-manager watchdog --daemon (it runs the router, serve, and keeps the sessions up)';
}

/** Asks until the answer parses (a few tries); Enter takes the initial value. Nothing is written before all answers are in. */
async function askField(ctx: CommandContext, field: Field): Promise<string | undefined> {
  const again = `Run init again, or pass --${field.flag}.`;
  for (let tries = 1; ; tries++) {
    const answer = await ctx.prompt(`${field.question}${field.initial ? ` [${field.initial}]` : ''}: `, { hidden: field.hidden });
    if (answer === null) throw usageError(`No answer to "${field.question}" (input ended); nothing was written.`, again);
    const text = answer.trim();
    if (!text) {
      if (field.initial !== undefined) return field.parse(field.initial);
      if (field.keepable) return undefined;
      throw usageError(`"${field.question}" needs an answer; nothing was written.`, again);
    }
    try {
      return field.parse(text);
    } catch (error) {
      if (!(error instanceof CrsError) || tries >= MAX_TRIES) throw error;
      ctx.io.log.warn(`${formatError(error)} Try again.`);
    }
  }
}

/** The token piped to init (`--token-stdin`), without surrounding whitespace. */
async function readTokenFromStdin(ctx: CommandContext): Promise<string> {
  const text = await ctx.readStdin();
  if (text === null) {
    throw usageError(
      '--token-stdin reads the token from a pipe, but stdin is a terminal.',
      `Pipe it in (printf %s "$TOKEN" | ${ctx.platform.cli} init --token-stdin), or leave the option out to be asked without echo.`,
    );
  }
  const token = text.trim();
  if (!token) throw usageError('No bot token on stdin.', `Pipe it in: printf %s "$TOKEN" | ${ctx.platform.cli} init --token-stdin`);
  return token;
}

/** Whether the token file already holds a token. */
function tryToken(ctx: CommandContext): boolean {
  try {
    ctx.manager.botToken();
    return true;
  } catch {
    return false;
  }
}

/** config.env's current values, or undefined when it does not parse or validate. */
function tryConfig(ctx: CommandContext): Config | undefined {
  try {
    return ctx.manager.config();
  } catch {
    return undefined;
  }
}
