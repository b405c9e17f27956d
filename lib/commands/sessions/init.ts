import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { type Config, PERMISSION_MODES, expandHome, readOptionalFile } from '../../core/config/config.ts';
import { formatEnvLine } from '../../core/config/env-file.ts';
import { CrsError, usageError } from '../../core/util/errors.ts';
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

export default (ctx: CommandContext) => {
  const P = ctx.platform.configPrefix;
  const discord = ctx.platform.key === 'discord';
  return defineCommand({
    meta: { name: 'init', description: 'Write config.env (and the bot token file); asks for what is missing when run in a terminal' },
    args: {
      'user-id': { type: 'string', description: 'Your user id(s), comma-separated: the only ones allowed to drive sessions' },
      ...(discord ? { 'guild-id': { type: 'string', description: 'Your Discord server (guild) id' } } : {}),
      workdir: { type: 'string', description: 'Default working directory of new sessions' },
      token: { type: 'string', description: `Bot token, written to channels/${ctx.platform.key}/.env with mode 600` },
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
      const ask = async (message: string, initial?: string): Promise<string | undefined> => {
        if (!ctx.interactive) return undefined;
        const answer = await io.log.prompt(message, { type: 'text', initial, cancel: 'reject' });
        return typeof answer === 'string' && answer.trim() ? answer.trim() : initial;
      };
      const userIds = (args['user-id'] as string | undefined) ?? (await ask(`Your ${ctx.platform.label} user id`, current?.allowedUserIds.join(',')));
      const guildId = discord ? ((args['guild-id'] as string | undefined) ?? (await ask('Your Discord server (guild) id', current?.guildId))) : undefined;
      const workdir = (args.workdir as string | undefined) ?? (await ask('Default workdir', current?.workdir ?? paths.home));
      const token = (args.token as string | undefined) ?? (readOptionalFile(paths.tokenFile) ? undefined : await ask('Bot token (leave empty to keep)'));
      // Approvals from the phone are the safe default for a new setup; an existing one keeps what it runs with.
      const permissionMode =
        (args['permission-mode'] as string | undefined) ??
        (existing ? undefined : await ask('Permission mode: default = you approve each tool use from the chat (recommended); bypassPermissions = never ask', 'default')) ??
        (existing ? undefined : 'default');

      const values: Record<string, string> = {};
      if (userIds !== undefined) {
        const ids = userIds.split(/[\s,]+/).filter(Boolean);
        if (!ids.length || ids.some((id) => !/^[0-9]{1,20}$/.test(id))) throw usageError(`Invalid user id "${userIds}": expected digits.`);
        values[`${P}_ALLOWED_USER_ID`] = ids.join(',');
      }
      if (guildId !== undefined) {
        if (!ctx.platform.idPattern.test(guildId)) throw usageError(`Invalid guild id "${guildId}": expected digits.`);
        values.DISCORD_GUILD_ID = guildId;
      }
      if (workdir !== undefined) {
        // A relative path means the caller's directory; sessions need it absolute.
        const dir = resolve(expandHome(workdir, paths.home));
        if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw usageError(`Workdir ${dir} does not exist.`, 'Create it first.');
        values[`${P}_SESSION_WORKDIR`] = dir;
      }
      if (permissionMode !== undefined) {
        if (!(PERMISSION_MODES as readonly string[]).includes(permissionMode)) throw usageError(`Invalid permission mode "${permissionMode.slice(0, 40)}": expected one of ${PERMISSION_MODES.join(', ')}.`);
        values.CLAUDE_PERMISSION_MODE = permissionMode;
      }
      if (token !== undefined && !/^[A-Za-z0-9._:-]{20,}$/.test(token)) {
        throw usageError('The bot token does not look like one (letters, digits and . _ : - only).', 'Copy it again from the developer portal / BotFather.');
      }
      if (!Object.keys(values).length && token === undefined) {
        throw usageError('Nothing to write.', `Pass --user-id${discord ? ', --guild-id' : ''}, --workdir or --token (or run init in a terminal).`);
      }

      mkdirSync(paths.sessionsDir, { recursive: true });
      if (Object.keys(values).length) {
        writeFileAtomic(paths.configFile, setEnvKeys(existing, values));
        io.out(`Config saved to ${paths.configFile}`);
      }
      if (token !== undefined) {
        mkdirSync(paths.channelDir, { recursive: true, mode: 0o700 });
        const tokenText = readOptionalFile(paths.tokenFile) ?? '';
        // The channel plugins read this file with a plain KEY=value split: no quotes (the token was checked above).
        writeFileAtomic(paths.tokenFile, setEnvKeys(tokenText, { [ctx.platform.tokenVar]: token }, (k, v) => `${k}=${v}`), 0o600);
        chmodSync(paths.tokenFile, 0o600);
        io.out(`Token saved to ${paths.tokenFile} (mode 600)`);
      }
      try {
        ctx.manager.requireReady();
        io.out(`Next: ${ctx.platform.cli} ${discord ? 'discover-all' : 'serve --daemon'}`);
      } catch (error) {
        if (error instanceof CrsError) io.log.warn(`Still missing: ${error.message}`);
      }
    },
  });
};

/** config.env's current values, or undefined when it does not parse or validate. */
function tryConfig(ctx: CommandContext): Config | undefined {
  try {
    return ctx.manager.config();
  } catch {
    return undefined;
  }
}
