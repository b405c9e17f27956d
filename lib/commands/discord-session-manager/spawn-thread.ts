import { defineCommand } from 'citty';
import { nameArg, workdirArg } from '../_args.ts';
import { type CommandContext, discordApi } from '../_context.ts';
import { formatSpawn } from '../../core/sessions/format.ts';
import { spawnThread } from '../../platforms/discord/sessions.ts';
import { usageError } from '../../core/util/errors.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'spawn-thread', description: "Start a thread's session with its parent channel's last messages as context" },
    args: {
      thread_id: { type: 'positional', description: "Thread id (or its session's name)", required: true },
      parent_id: { type: 'positional', description: "Parent channel id (or its session's name)", required: true },
      limit: { type: 'string', description: 'Parent messages to include (default 20)' },
      ...nameArg,
      ...workdirArg,
    },
    async run({ args }) {
      const limit = args.limit === undefined ? undefined : Number(args.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 0 || limit > 100)) {
        throw usageError(`Invalid --limit "${args.limit}": expected a whole number from 0 to 100.`);
      }
      const result = await spawnThread(ctx.manager.resolveRef(args.thread_id, 'thread id'), ctx.manager.resolveRef(args.parent_id, 'parent channel id'), { limit, name: args.name, workdir: args.workdir }, {
        manager: ctx.manager,
        api: discordApi(ctx),
      });
      for (const line of formatSpawn(result)) ctx.io.out(line);
    },
  });
