import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import packageJson from '../../../package.json' with { type: 'json' };

/** The package version every program prints for `--version` (bundled into the compiled executable). */
export const VERSION: string = packageJson.version;

const SOURCE_ROOT = resolve(import.meta.dir, '../../..');

/** True inside a `bun build --compile` executable (its modules live in Bun's embedded file system). */
export function isCompiled(): boolean {
  return Bun.main.startsWith('/$bunfs/') || /^[A-Z]:[\\/]~BUN[\\/]/.test(Bun.main);
}

/**
 * The argv that runs one of our programs: this compiled executable with the program's name first,
 * or `bun bin/<program>.ts` from a source checkout. Null when that program is not there.
 */
export function programArgv(program: string, args: string[] = []): string[] | null {
  // The compiled executable is multi-call: it runs the program named by its first argument.
  if (isCompiled()) return [process.execPath, program, ...args];
  const script = join(SOURCE_ROOT, 'bin', `${program}.ts`);
  return existsSync(script) ? [process.execPath, script, ...args] : null;
}
