import { defineCommand } from 'citty';
import { idArg } from '../_args.ts';
import type { CommandContext } from '../_context.ts';

/** `pin` and `unpin`: a pinned session is never suspended for idleness. */
export default (ctx: CommandContext, pinned: boolean) =>
  defineCommand({
    meta: { name: pinned ? 'pin' : 'unpin', description: pinned ? 'Never suspend this session when idle' : 'Let idle suspension apply again' },
    args: { ...idArg },
    async run({ args }) {
      await ctx.manager.setPinned(args.id, pinned);
      ctx.io.out(`${pinned ? 'PINNED' : 'UNPINNED'}  ${ctx.manager.tmuxName(args.id)}`);
    },
  });
