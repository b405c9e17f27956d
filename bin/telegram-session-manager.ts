#!/usr/bin/env bun
import { createTelegramSessionManagerCommand } from '../lib/commands/telegram-session-manager/index.ts';
import { TELEGRAM } from '../lib/core/config/platform.ts';
import { createCommandContext, createLogger, runCli } from '../lib/commands/program.ts';

const stop = new AbortController();
const daemon = ['serve', 'watchdog', 'bridge'].includes(process.argv[2] ?? '');
if (daemon) for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop.abort());
const ctx = { ...createCommandContext(TELEGRAM, process.env), signal: stop.signal };
if (daemon) ctx.io.log = createLogger({ timestamps: true });
process.exitCode = await runCli(createTelegramSessionManagerCommand(ctx), process.argv.slice(2), ctx.io);
process.exit();
