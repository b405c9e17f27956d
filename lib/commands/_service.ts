import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { defineCommand } from 'citty';
import type { CommandContext } from './_context.ts';
import { loadProfiles } from '../core/config/config.ts';
import { CrsError, usageError } from '../core/util/errors.ts';
import { writeFileAtomic } from '../core/store/fs-atomic.ts';
import { programArgv } from '../core/util/self.ts';
import { type ServiceKind, lingerFix, renderService, serviceTarget, systemServiceHost, userBusFix } from '../daemons/service.ts';

/** The command that runs a platform's watchdog in tmux, named in fixes. */
export function watchdogDaemonCommand(ctx: CommandContext): string {
  return ctx.platform.key === 'discord' ? 'discord-watchdog --daemon' : 'telegram-session-manager watchdog --daemon';
}

/** The command that installs a platform's watchdog service, named in doctor. */
export function installServiceCommand(ctx: CommandContext): string {
  return ctx.platform.key === 'discord' ? 'discord-watchdog install-service' : 'telegram-session-manager install-service';
}

/**
 * `install-service` / `uninstall-service` for the platform's watchdog: a LaunchAgent on macOS, a
 * systemd --user unit elsewhere. It runs launchctl/systemctl through `ctx.runInteractive` (tests record it).
 */
export default (ctx: CommandContext, install: boolean) =>
  defineCommand({
    meta: {
      name: install ? 'install-service' : 'uninstall-service',
      description: install ? 'Start the watchdog at login or boot (launchd on macOS, systemd --user on Linux)' : 'Remove the login service',
    },
    args: {
      'dry-run': { type: 'boolean', description: 'Print the file and the commands, change nothing' },
      kind: { type: 'string', description: 'launchd or systemd (default: by OS)' },
    },
    async run({ args }) {
      const host = ctx.serviceHost ?? systemServiceHost(ctx.env);
      const kind = (args.kind ?? host.kind) as ServiceKind;
      if (kind !== 'launchd' && kind !== 'systemd') throw usageError(`Unknown --kind "${args.kind}".`, 'Use launchd or systemd.');
      const target = serviceTarget(ctx.platform);
      const argv = programArgv(target.program, target.args);
      if (!argv) throw new CrsError(`Cannot find the ${target.program} program.`, { hint: 'Build it with `bun run build` or run from a checkout.' });
      const spec = renderService({
        kind,
        target,
        argv,
        env: ctx.env,
        home: ctx.paths.home,
        log: ctx.paths.watchdogLog,
        uid: host.uid,
        which: (command, path) => Bun.which(command, { PATH: path }),
      });
      const noBus = kind === 'systemd' && !host.userBus;
      const commands = install ? spec.load : spec.unload;
      const log = ctx.io.log;
      if (args['dry-run']) {
        if (install) ctx.io.out(`# ${spec.file}\n${spec.content}`);
        else ctx.io.out(`rm ${spec.file}`);
        for (const command of commands) ctx.io.out(`$ ${command.join(' ')}`);
        if (noBus) log.warn(`This shell has no systemd user bus, so these commands would fail. ${userBusFix(host.user, watchdogDaemonCommand(ctx))}`);
        if (install) warnAboutSessions(ctx, spec.missing, kind);
        return;
      }
      // systemctl --user would fail after the file is written: say why before changing anything.
      if (noBus) {
        throw new CrsError(`No systemd user bus in this shell (XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS are unset), so \`systemctl --user\` cannot ${install ? 'install' : 'remove'} the service.`, {
          hint: userBusFix(host.user, watchdogDaemonCommand(ctx)),
        });
      }
      if (install) {
        mkdirSync(dirname(spec.file), { recursive: true });
        mkdirSync(ctx.paths.sessionsDir, { recursive: true });
        // 0600: the environment it carries may hold a proxy password.
        writeFileAtomic(spec.file, spec.content, 0o600);
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
        return;
      }
      if (kind === 'systemd') {
        ctx.io.out(host.linger ? 'Service enabled; it starts at boot.' : 'Service enabled; it starts when you log in.');
        if (!host.linger) log.warn(`Lingering is off for ${host.user}: the service stops when you log out. ${lingerFix(host.user)}`);
      } else {
        ctx.io.out('LaunchAgent loaded; it starts at every login.');
      }
      warnAboutSessions(ctx, spec.missing, kind);
    },
  });

/** What would keep the service's sessions from starting, or from logging in. */
function warnAboutSessions(ctx: CommandContext, missing: string[], kind: ServiceKind): void {
  const log = ctx.io.log;
  for (const command of missing) {
    log.warn(`\`${command}\` is not on the PATH the service gets, so its sessions cannot start: install it, or set ${command === 'tmux' ? 'PATH' : 'CLAUDE_BIN to its absolute path'} in this shell and run install-service again.`);
  }
  if (kind === 'launchd' && !hasOauthToken(ctx)) {
    log.warn(
      `A session started by a LaunchAgent may not reach the login keychain and come up LOGGED_OUT: make a long-lived token with \`claude setup-token\` and put it as CLAUDE_CODE_OAUTH_TOKEN in ${ctx.paths.configFile} (mode 600) or in a profile.`,
    );
  }
}

/** Whether sessions get a login that needs no keychain: CLAUDE_CODE_OAUTH_TOKEN in config.env or the default profile. */
function hasOauthToken(ctx: CommandContext): boolean {
  try {
    return Boolean(ctx.manager.config().raw.CLAUDE_CODE_OAUTH_TOKEN || loadProfiles(ctx.paths, ctx.env).default?.CLAUDE_CODE_OAUTH_TOKEN);
  } catch {
    return false;
  }
}
