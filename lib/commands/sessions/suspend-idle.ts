import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'suspend-idle', description: 'Stop sessions idle longer than the idle timeout (pinned, busy, waiting and limited ones are kept)' },
    async run() {
      const { suspended, skippedBusy, skippedWaiting, skippedLimited } = await ctx.manager.suspendIdle();
      for (const id of suspended) ctx.io.out(`SUSPENDED  ${ctx.manager.tmuxName(id)}`);
      for (const id of skippedBusy) ctx.io.out(`BUSY       ${ctx.manager.tmuxName(id)}  (working, not suspended)`);
      for (const id of skippedWaiting) ctx.io.out(`WAITING    ${ctx.manager.tmuxName(id)}  (waiting for you, not suspended)`);
      for (const id of skippedLimited) ctx.io.out(`LIMITED    ${ctx.manager.tmuxName(id)}  (waiting for the usage limit, not suspended)`);
      ctx.io.out(`Suspended ${suspended.length} idle session(s).`);
    },
  });
