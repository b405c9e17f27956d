#!/usr/bin/env bun
import { createDiscordSlashDaemonCommand } from '../lib/commands/discord-slash-daemon/index.ts';
import { DISCORD } from '../lib/core/config/platform.ts';
import { createCommandContext, createLogger, runCli } from '../lib/commands/program.ts';

const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop.abort());
const ctx = Object.assign(createCommandContext(DISCORD, process.env), { signal: stop.signal });
ctx.io.log = createLogger({ timestamps: true });
process.exitCode = await runCli(createDiscordSlashDaemonCommand(ctx), process.argv.slice(2), ctx.io);
process.exit();
