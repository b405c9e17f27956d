import { defineCommand } from 'citty';
import { idArg } from '../_args.ts';
import type { CommandContext } from '../_context.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: {
      name: 'kill',
      description: ctx.platform.key === 'discord' ? 'Kill a session and remove it from the registry; discovery leaves the channel without one until spawn or wake' : 'Kill a session and remove it from the registry',
    },
    args: { ...idArg },
    async run({ args }) {
      const id = ctx.manager.resolveRef(args.id);
      const name = ctx.manager.tmuxName(id);
      // Discovery would start a Discord channel's session again within a minute: the kill is remembered.
      const ignore = ctx.platform.key === 'discord';
      const { killed, registered } = await ctx.manager.kill(id, { ignore });
      if (!killed && !registered) ctx.io.log.warn(`No session ${name} was running or registered.`);
      else ctx.io.out(`KILLED  ${name}`);
      if (ignore) ctx.io.out(`IGNORED  ${id}: discovery starts no session for it until \`${ctx.platform.cli} spawn ${id}\` (or wake, or a message of yours there).`);
    },
  });
