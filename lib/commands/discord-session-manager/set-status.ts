import { defineCommand } from 'citty';
import { type CommandContext, discordApi } from '../_context.ts';
import { setStatus } from '../../platforms/discord/sessions.ts';

export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'set-status', description: 'Write the session counts into the topic of DISCORD_STATUS_CHANNEL_ID' },
    async run() {
      const topic = await setStatus({ manager: ctx.manager, api: discordApi(ctx), now: new Date(ctx.clock.now()) });
      ctx.io.out(`STATUS  ${topic}`);
    },
  });
