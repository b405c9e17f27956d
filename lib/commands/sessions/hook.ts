import { defineCommand } from 'citty';
import type { CommandContext } from '../_context.ts';
import { type PermissionHookInput, askRouter, newRequestId, permissionAsk, relayIsOn } from '../../bridge/hook-client.ts';
import { assertId } from '../../core/config/paths.ts';
import { linkSecret } from '../../core/store/state.ts';
import { type TurnHookInput, recordTurnHook } from '../../core/store/turn.ts';
import { CrsError, EXIT_USAGE, usageError } from '../../core/util/errors.ts';
import { routerSocketPath } from '../../router/protocol.ts';

const EVENTS = ['permission-request', 'notification', 'turn'] as const;

/**
 * `hook <event> --id <id>`: a session's Claude Code hook (claude-settings.json names it), reading the
 * hook's JSON on stdin. `permission-request`: when Claude Code does not relay permission requests to
 * channels, ask the owner in the chat through the router and answer with the verdict; `notification`:
 * tell the owner the session waits for them; `turn`: record a turn starting, ending or failing. Prints nothing when it has nothing to decide, so Claude
 * Code goes on as without the hook.
 */
export default (ctx: CommandContext) =>
  defineCommand({
    meta: { name: 'hook', description: "A session's Claude Code hook (started by its claude): permission-request, notification or turn" },
    args: {
      event: { type: 'positional', description: EVENTS.join(' | '), required: true },
      id: { type: 'string', description: `${ctx.platform.label} id of the session`, required: true },
    },
    async run({ args }) {
      try {
        await runHook(ctx, args);
      } catch (error) {
        // Exit 2 from a hook means "block" to Claude Code (the prompt, the end of the turn) and hands our
        // error to the model: a hook of ours that fails says so and exits 1, which Claude Code only shows.
        if (error instanceof CrsError && error.exitCode === EXIT_USAGE) throw new CrsError(error.message, { hint: error.hint });
        throw error;
      }
    },
  });

async function runHook(ctx: CommandContext, args: { event: string; id: string }): Promise<void> {
  const event = args.event as (typeof EVENTS)[number];
  if (!EVENTS.includes(event)) throw usageError(`Unknown hook event "${String(args.event).slice(0, 40)}".`, `Use one of: ${EVENTS.join(', ')}.`);
  const id = assertId(ctx.platform, args.id);
  let input: PermissionHookInput & TurnHookInput & { message?: string };
  try {
    input = JSON.parse((await Bun.stdin.text()) || '{}');
  } catch {
    input = {};
  }
  const stateDir = ctx.manager.stateDir(id);
  if (event === 'turn') {
    recordTurnHook(stateDir, input, ctx.clock.now());
    return;
  }
  const link = { socketPath: routerSocketPath(ctx.paths.sessionsDir), session: id, secret: linkSecret(stateDir) };
  if (event === 'notification') {
    const message = typeof input.message === 'string' && input.message ? input.message : 'Claude Code waits for your input';
    await askRouter({ ...link, frame: { type: 'attention', message: message.slice(0, 1000) } });
    return;
  }
  if (relayIsOn(input, ctx.paths.root)) return;
  const requestId = newRequestId();
  const behavior = await askRouter({ ...link, frame: permissionAsk(input, requestId), awaitVerdictOf: requestId });
  if (!behavior) return;
  const decision = behavior === 'allow' ? { behavior } : { behavior, message: 'The owner denied this from the chat.' };
  ctx.io.out(JSON.stringify({ hookSpecificOutput: { hookEventName: 'PermissionRequest', decision } }));
}
