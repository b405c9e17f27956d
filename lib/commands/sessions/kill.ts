import { defineCommand } from 'citty';
import { idArg } from '../_args.ts';
import type { CommandContext } from '../_context.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'kill', description: 'Kill a session and remove it from the registry' },
    args: { ...idArg },
    async run({ args }) {
      const name = ctx.manager.tmuxName(args.id);
      const { killed, registered } = await ctx.manager.kill(args.id);
      if (!killed && !registered) ctx.io.log.warn(`No session ${name} was running or registered.`);
      else ctx.io.out(`KILLED  ${name}`);
    },
  });
