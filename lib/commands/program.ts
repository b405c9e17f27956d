import { type CliIO, runCli } from './cli.ts';
import type { CommandContext } from './_context.ts';
import { createAppContext } from '../app.ts';
import { createLogger } from '../core/util/log.ts';
import type { Env } from '../core/config/paths.ts';
import type { Platform } from '../core/config/platform.ts';

/** The process-level adapter shared by the session-manager programs: real env, stdio, terminal. */
export function createCommandContext(platform: Platform, env: Env, io?: CliIO): CommandContext {
  return {
    ...createAppContext(platform, env),
    io: io ?? { out: (text) => process.stdout.write(`${text}\n`), log: createLogger() },
    interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
    runInteractive: async (argv) => Bun.spawn(argv, { stdio: ['inherit', 'inherit', 'inherit'], env: env as Record<string, string> }).exited,
  };
}

export { createLogger, runCli };
