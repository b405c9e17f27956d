import type { ConsolaInstance } from 'consola';
import type { SessionManager } from '../sessions/manager.ts';
import { formatLabel } from '../host/launch.ts';

/** Who did something on a platform. */
export interface Actor {
  id: string;
  name?: string;
}

/** Decides whether an actor may do something; every refusal is logged with who, what and where. */
export type Authorize = (actor: Actor, action: string, where: string) => boolean;

/**
 * The one owner check of every path from a chat to a session: messages, commands, buttons, thread
 * creation. Only `<P>_ALLOWED_USER_ID` may act. The config is read on every call (a config that cannot
 * be read throws, so the caller neither acts nor confirms the event).
 */
export function createAuthorizer(manager: SessionManager, log: ConsolaInstance): Authorize {
  return (actor, action, where) => {
    if (manager.config().allowedUserIds.includes(actor.id)) return true;
    const name = actor.name ? ` (${formatLabel(actor.name).slice(0, 40)})` : '';
    log.warn(`REFUSED ${action} from user ${actor.id}${name} in ${where}`);
    return false;
  };
}
