import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { CrsError } from '../../core/util/errors.ts';
import { writeFileAtomic } from '../../core/store/fs-atomic.ts';
import { programArgv } from '../../core/util/self.ts';
import { type ServiceKind, renderService } from '../../daemons/service.ts';

/** `install-service` / `uninstall-service`: a LaunchAgent on macOS, a systemd --user unit elsewhere. */
export default (ctx: CommandContext, install: boolean) =>
  defineCommand({
    meta: {
      name: install ? 'install-service' : 'uninstall-service',
      description: install ? 'Start the watchdog at login (launchd on macOS, systemd --user on Linux)' : 'Remove the login service',
    },
    args: {
      'dry-run': { type: 'boolean', description: 'Print the file and the commands, change nothing' },
      kind: { type: 'string', description: 'launchd or systemd (default: by OS)' },
    },
    async run({ args }) {
      const kind = (args.kind ?? (process.platform === 'darwin' ? 'launchd' : 'systemd')) as ServiceKind;
      if (kind !== 'launchd' && kind !== 'systemd') throw new CrsError(`Unknown --kind "${args.kind}".`, { exitCode: 2, hint: 'Use launchd or systemd.' });
      const argv = programArgv('discord-watchdog', ['--foreground']);
      if (!argv) throw new CrsError('Cannot find the discord-watchdog program.', { hint: 'Build it with `bun run build` or run from a checkout.' });
      const spec = renderService({
        kind,
        argv,
        env: ctx.env,
        home: ctx.paths.home,
        log: ctx.paths.watchdogLog,
        uid: process.getuid?.() ?? 0,
        which: (command) => Bun.which(command, { PATH: ctx.env.PATH ?? '' }),
      });
      const commands = install ? spec.load : spec.unload;
      if (args['dry-run']) {
        if (install) ctx.io.out(`# ${spec.file}\n${spec.content}`);
        else ctx.io.out(`rm ${spec.file}`);
        for (const command of commands) ctx.io.out(`$ ${command.join(' ')}`);
        return;
      }
      if (install) {
        mkdirSync(dirname(spec.file), { recursive: true });
        mkdirSync(ctx.paths.sessionsDir, { recursive: true });
        writeFileAtomic(spec.file, spec.content);
        ctx.io.out(`Wrote ${spec.file}`);
      }
      for (const [index, command] of commands.entries()) {
        const code = await ctx.runInteractive(command);
        // launchctl bootout fails when nothing was loaded yet: only the later commands must succeed.
        const mayFail = kind === 'launchd' && command[1] === 'bootout' && (install || index > 0);
        if (code !== 0 && !mayFail) throw new CrsError(`\`${command.join(' ')}\` failed with exit code ${code}.`, { hint: `The file is at ${spec.file}.` });
      }
      if (!install) {
        rmSync(spec.file, { force: true });
        ctx.io.out(`Removed ${spec.file}`);
      } else if (kind === 'systemd') {
        ctx.io.out('Service enabled. To start it at boot without logging in: loginctl enable-linger $USER');
      } else {
        ctx.io.out('LaunchAgent loaded; it starts at every login.');
      }
    },
  });
