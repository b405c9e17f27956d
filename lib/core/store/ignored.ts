import { CrsError } from '../util/errors.ts';
import { loadStringMap } from '../config/config.ts';
import { writeFileAtomic } from './fs-atomic.ts';
import type { Paths } from '../config/paths.ts';
import type { Platform } from '../config/platform.ts';

/**
 * `ignored.json` in the sessions dir: the channels the owner killed, id → name. Discovery starts no
 * session for them; a spawn or wake of one takes it off the list.
 */
export function loadIgnored(paths: Paths, platform: Platform): Record<string, string> {
  const ignored = loadStringMap(paths.ignoredFile);
  for (const id of Object.keys(ignored)) {
    if (!platform.idPattern.test(id)) {
      throw new CrsError(`${paths.ignoredFile}: ${JSON.stringify(id.slice(0, 40))} is not ${platform.idDescription}.`, {
        hint: 'Fix or remove that entry: the file maps the ids of channels that get no session to their names.',
      });
    }
  }
  return ignored;
}

/** Writes `ignored.json`; the caller holds the sessions-dir lock. */
export function saveIgnored(paths: Paths, ignored: Record<string, string>): void {
  writeFileAtomic(paths.ignoredFile, `${JSON.stringify(ignored, null, 2)}\n`);
}
