import { defineCommand } from 'citty';
import { idArg } from '../_args.ts';
import type { CommandContext } from '../_context.ts';

/** `pin` and `unpin`: a pinned session is never suspended for idleness. */
export default (ctx: CommandContext, pinned: boolean) =>
  defineCommand({
    meta: { name: pinned ? 'pin' : 'unpin', description: pinned ? 'Never suspend this session when idle' : 'Let idle suspension apply again' },
    args: { ...idArg },
    async run({ args }) {
      const id = ctx.manager.resolveRef(args.id);
      await ctx.manager.setPinned(id, pinned);
      ctx.io.out(`${pinned ? 'PINNED' : 'UNPINNED'}  ${ctx.manager.tmuxName(id)}`);
    },
  });
