#!/usr/bin/env bun
import { createTelegramSessionManagerCommand } from '../lib/commands/telegram-session-manager/index.ts';
import { TELEGRAM } from '../lib/core/config/platform.ts';
import { createCommandContext, createLogger, runCli } from '../lib/commands/program.ts';

const stop = new AbortController();
const verb = process.argv[2] ?? '';
const daemon = ['serve', 'watchdog', 'bridge'].includes(verb);
if (daemon) for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop.abort());
const ctx = Object.assign(createCommandContext(TELEGRAM, process.env), { signal: stop.signal });
// The bridge has its own small logger (one runs per session); consola is made only if it fails to start.
if (daemon && verb !== 'bridge') ctx.io.log = createLogger({ timestamps: true });
process.exitCode = await runCli(createTelegramSessionManagerCommand(ctx), process.argv.slice(2), ctx.io);
process.exit();
