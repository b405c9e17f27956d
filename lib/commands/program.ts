import { isatty } from 'node:tty';
import { type CliIO, runCli } from './cli.ts';
import { type Prompt, createPrompt } from './_prompt.ts';
import type { CommandContext } from './_context.ts';
import { createAppContext } from '../app.ts';
import { createLogger } from '../core/util/log.ts';
import type { Env } from '../core/config/paths.ts';
import type { Platform } from '../core/config/platform.ts';

/** The process-level adapter shared by the session-manager programs: real env, stdio, terminal. */
export function createCommandContext(platform: Platform, env: Env, io?: CliIO): CommandContext {
  let prompt: Prompt | undefined;
  return {
    ...createAppContext(platform, env),
    io: io ?? createStdio(),
    // Asked only when needed: touching process.stdin/stdout creates Node streams (~3 MB in every bridge).
    get interactive() {
      return Boolean(process.stdin.isTTY && process.stdout.isTTY);
    },
    prompt: (question, options) => (prompt ??= createPrompt())(question, options),
    readStdin: async () => (isatty(0) ? null : Bun.stdin.text()),
    runInteractive: async (argv) => Bun.spawn(argv, { stdio: ['inherit', 'inherit', 'inherit'], env: env as Record<string, string> }).exited,
  };
}

/** stdout for data, a logger on stderr that is made on first use (a program may set its own first). */
function createStdio(): CliIO {
  let log: CliIO['log'] | undefined;
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    get log() {
      return (log ??= createLogger());
    },
    set log(value) {
      log = value;
    },
  };
}

export { createLogger, runCli };
