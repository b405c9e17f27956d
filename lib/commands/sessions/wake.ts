import { defineCommand } from 'citty';
import { idArg } from '../_args.ts';
import type { CommandContext } from '../_context.ts';
import { reportStart } from '../_format.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'wake', description: 'Start a suspended (or down, or killed) session again, same conversation' },
    args: { ...idArg },
    async run({ args }) {
      reportStart(ctx, await ctx.manager.wake(ctx.manager.resolveRef(args.id)), 'WOKE');
    },
  });
