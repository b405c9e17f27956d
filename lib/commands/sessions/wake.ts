import { defineCommand } from 'citty';
import { idArg } from '../_args.ts';
import type { CommandContext } from '../_context.ts';
import { formatSpawn } from '../../core/sessions/format.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'wake', description: 'Start a suspended (or down) session again, same conversation' },
    args: { ...idArg },
    async run({ args }) {
      for (const line of formatSpawn(await ctx.manager.wake(args.id))) ctx.io.out(line.replace(/^SPAWNED/, 'WOKE'));
    },
  });
