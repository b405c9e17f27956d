import { defineCommand } from 'citty';
import { jsonArg } from '../_args.ts';
import type { CommandContext } from '../_context.ts';
import { installServiceCommand, watchdogDaemonCommand } from '../_service.ts';
import { type Check, runDoctor } from '../../core/sessions/doctor.ts';
import { CrsError } from '../../core/util/errors.ts';
import { checkService, serviceTarget, systemServiceHost } from '../../daemons/service.ts';

/** `doctor`: `remote` adds the platform's API checks (guild reachable, bot identity). */
export default (ctx: CommandContext, remote: (ctx: CommandContext) => Array<[string, () => Promise<string>]> = () => []) =>
  defineCommand({
    meta: { name: 'doctor', description: 'Check tmux, claude, root, token, config, files, the login service and the API; print each fix' },
    args: { ...jsonArg },
    async run({ args }) {
      const service = () =>
        checkService(ctx.serviceHost ?? systemServiceHost(ctx.env), serviceTarget(ctx.platform), { install: installServiceCommand(ctx), daemon: watchdogDaemonCommand(ctx) }, ctx.paths.home);
      const checks: Check[] = await runDoctor(ctx.manager, { local: [['login service', service]], remote: remote(ctx) });
      if (args.json) ctx.io.out(JSON.stringify(checks, null, 2));
      else for (const c of checks) ctx.io.out(`${c.ok ? (c.warning ? '!' : '✓') : '✗'} ${c.name.padEnd(18)} ${c.detail}${c.fix ? `\n    → ${c.fix}` : ''}`);
      const failed = checks.filter((c) => !c.ok).length;
      if (failed) throw new CrsError(`${failed} check(s) failed.`, { hint: 'Apply the fixes above and run doctor again.' });
      const warnings = checks.filter((c) => c.warning).length;
      if (warnings) ctx.io.log.warn(`${warnings} warning(s): see the lines marked ! above.`);
    },
  });
