import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const SOURCE_ROOT = resolve(import.meta.dir, '..');

/** True inside a `bun build --compile` executable (its modules live in Bun's embedded file system). */
export function isCompiled(): boolean {
  return Bun.main.startsWith('/$bunfs/') || /^[A-Z]:[\\/]~BUN[\\/]/.test(Bun.main);
}

/**
 * The argv that runs one of our programs: the compiled executable beside this one, or
 * `bun bin/<program>.ts` from a source checkout. Null when that program is not there.
 */
export function programArgv(program: string, args: string[] = []): string[] | null {
  if (isCompiled()) {
    const binary = join(dirname(process.execPath), program);
    return existsSync(binary) ? [binary, ...args] : null;
  }
  const script = join(SOURCE_ROOT, 'bin', `${program}.ts`);
  return existsSync(script) ? [process.execPath, script, ...args] : null;
}
