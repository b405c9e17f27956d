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

export interface AuthorizerOptions {
  /**
   * Log a refusal only the first time the same actor, action and place come up: for events seen more
   * than once (a message seen live and again by a catch-up, a thread at every discovery).
   */
  once?: boolean;
}

/** Refusals a `once` authorizer remembers (the oldest are forgotten first). */
const REFUSALS_KEPT = 10_000;

/**
 * The one owner check of every path from a chat to a session: messages, commands, buttons, thread
 * creation. Only `<P>_ALLOWED_USER_ID` may act. The config is read on every call (a config that cannot
 * be read throws, so the caller neither acts nor confirms the event).
 */
export function createAuthorizer(manager: SessionManager, log: ConsolaInstance, options: AuthorizerOptions = {}): Authorize {
  const logged = new Set<string>();
  return (actor, action, where) => {
    if (manager.config().allowedUserIds.includes(actor.id)) return true;
    if (options.once) {
      const key = `${actor.id}\n${action}\n${where}`;
      if (logged.has(key)) return false;
      logged.add(key);
      if (logged.size > REFUSALS_KEPT) logged.delete(logged.values().next().value!);
    }
    const name = actor.name ? ` (${formatLabel(actor.name).slice(0, 40)})` : '';
    log.warn(`REFUSED ${action} from user ${actor.id}${name} in ${where}`);
    return false;
  };
}

