import { createAuthorizer } from '../../../../core/control/authorize.ts';
import { discoverChannels, discoverThreads } from '../../sessions.ts';
import type { CommandHandler } from '../types.ts';

/** `/discover`: the same discovery as the CLI, summarised. */
export const handleDiscover: CommandHandler = async (_interaction, deps) => {
  const api = deps.api();
  const channels = await discoverChannels({ manager: deps.manager, api });
  const threads = await discoverThreads({ manager: deps.manager, api, authorize: createAuthorizer(deps.manager, deps.log) });
  const lines = [...channels.lines, ...threads.lines].filter((l) => l.kind !== 'EXISTS').map((l) => `${l.kind}  ${l.name} (${l.id})${l.detail ? `  ${l.detail}` : ''}`);
  const summary = `${channels.found} channel(s), ${threads.found} thread(s): ${channels.spawned + threads.spawned} new session(s)${channels.failed + threads.failed ? `, ${channels.failed + threads.failed} failed` : ''}.`;
  return { content: lines.length ? `${summary}\n\`\`\`\n${lines.join('\n')}\n\`\`\`` : summary };
};
