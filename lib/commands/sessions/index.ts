import type { CommandContext } from '../_context.ts';
import type { LookupName } from './spawn.ts';

/** The session verbs both managers share, each loaded only when it runs; `lookupName` asks the platform for a channel's name. */
export function sessionVerbs(ctx: CommandContext, lookupName?: LookupName) {
  return {
    init: () => import('./init.ts').then((m) => m.default(ctx)),
    spawn: () => import('./spawn.ts').then((m) => m.default(ctx, lookupName)),
    'suspend-idle': () => import('./suspend-idle.ts').then((m) => m.default(ctx)),
    wake: () => import('./wake.ts').then((m) => m.default(ctx)),
    'wake-all': () => import('./wake-all.ts').then((m) => m.default(ctx)),
    pin: () => import('./pin.ts').then((m) => m.default(ctx, true)),
    unpin: () => import('./pin.ts').then((m) => m.default(ctx, false)),
    list: () => import('./list.ts').then((m) => m.default(ctx)),
    status: () => import('./status.ts').then((m) => m.default(ctx)),
    attach: () => import('./attach.ts').then((m) => m.default(ctx)),
    kill: () => import('./kill.ts').then((m) => m.default(ctx)),
    'kill-all': () => import('./kill-all.ts').then((m) => m.default(ctx)),
    'respawn-dead': () => import('./respawn-dead.ts').then((m) => m.default(ctx)),
    motd: () => import('./motd.ts').then((m) => m.default(ctx)),
    logs: () => import('./logs.ts').then((m) => m.default(ctx)),
    hook: () => import('./hook.ts').then((m) => m.default(ctx)),
  };
}
