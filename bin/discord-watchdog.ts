#!/usr/bin/env bun
import { createDiscordWatchdogCommand } from '../lib/commands/discord-watchdog/index.ts';
import { DISCORD } from '../lib/core/config/platform.ts';
import { createCommandContext, createLogger, runCli } from '../lib/commands/program.ts';

const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop.abort());
const ctx = Object.assign(createCommandContext(DISCORD, process.env, undefined), { signal: stop.signal });
ctx.io.log = createLogger({ timestamps: true });
process.exitCode = await runCli(createDiscordWatchdogCommand(ctx), process.argv.slice(2), ctx.io);
process.exit();
