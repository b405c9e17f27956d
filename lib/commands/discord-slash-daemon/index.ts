import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { registerCommands, runSlashDaemon } from '../../platforms/discord/slash/daemon.ts';
import { runDaemon } from '../../daemons/daemon.ts';
import { createLogger } from '../../core/util/log.ts';

/** Runs a program without a shell and returns its combined output. */
async function runCommand(argv: string[], cwd: string): Promise<{ code: number; output: string }> {
  const proc = Bun.spawn(argv, { cwd, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, output: `${out}${err}` };
}

/** discord-slash-daemon: the gateway client answering /session, /skills, /run, /discover, /ask. */
export function createDiscordSlashDaemonCommand(ctx: CommandContext) {
  return defineCommand({
    meta: { name: 'discord-slash-daemon', description: 'Answers slash commands and gateway events for the Discord sessions' },
    subCommands: {
      register: () =>
        defineCommand({
          meta: { name: 'register', description: 'Register the slash commands in the guild (or remove them with --clear)' },
          args: { clear: { type: 'boolean', description: 'Remove the commands instead' } },
          async run({ args }) {
            const count = await registerCommands(ctx.manager, args.clear);
            ctx.io.out(args.clear ? 'Slash commands removed from the guild.' : `Registered ${count} slash commands in the guild.`);
          },
        }),
    },
    args: { 'log-file': { type: 'string', description: 'Also append log lines (with their date) to this file' } },
    async run({ args, rawArgs }) {
      if (rawArgs[0] === 'register') return;
      const log = args['log-file'] ? createLogger({ timestamps: true, file: args['log-file'] }) : ctx.io.log;
      const daemon = { name: 'router', what: 'The slash daemon', pidFile: ctx.paths.routerPidFile, sessionsDir: ctx.paths.sessionsDir, log, clock: ctx.clock, manager: ctx.manager } as const;
      await runDaemon(daemon, () =>
        runSlashDaemon({
          manager: ctx.manager,
          clock: ctx.clock,
          log,
          runCommand,
          signal: ctx.signal ?? new AbortController().signal,
        }),
      );
    },
  });
}
