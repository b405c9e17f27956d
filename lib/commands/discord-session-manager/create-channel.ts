import { defineCommand } from 'citty';
import { workdirArg } from '../_args.ts';
import { type CommandContext, discordApi } from '../_context.ts';
import { formatSpawn } from '../../core/sessions/format.ts';
import { createChannel } from '../../platforms/discord/sessions.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'create-channel', description: 'Create a Discord text channel and spawn its session' },
    args: {
      name: { type: 'positional', description: 'Channel name', required: true },
      ...workdirArg,
    },
    async run({ args }) {
      const { channel, spawn } = await createChannel(args.name, { workdir: args.workdir }, { manager: ctx.manager, api: discordApi(ctx) });
      ctx.io.out(`CREATED  #${channel.name} (${channel.id})`);
      for (const line of formatSpawn(spawn)) ctx.io.out(line);
    },
  });
