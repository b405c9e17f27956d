import { defineCommand } from 'citty';
import { idArg } from '../_args.ts';
import type { CommandContext } from '../_context.ts';
import { CrsError } from '../../core/util/errors.ts';
import { attachArgv } from '../../core/host/tmux.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'attach', description: 'Attach this terminal to a session (detach with Ctrl-b d)' },
    args: { ...idArg },
    async run({ args }) {
      const id = ctx.manager.resolveRef(args.id);
      const name = ctx.manager.tmuxName(id);
      if (!(await ctx.tmux.hasSession(name))) {
        throw new CrsError(`Session ${name} is not running.`, { hint: `Start it with \`${ctx.platform.cli} wake ${id}\`.` });
      }
      const code = await ctx.runInteractive(attachArgv(ctx.tmuxOptions, name, Boolean(ctx.env.TMUX) && !ctx.tmuxOptions.socket));
      if (code !== 0) throw new CrsError(`tmux attach to ${name} exited with ${code}.`);
    },
  });
