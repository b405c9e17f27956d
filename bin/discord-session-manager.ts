#!/usr/bin/env bun
import { createDiscordSessionManagerCommand } from '../lib/commands/discord-session-manager/index.ts';
import { DISCORD } from '../lib/core/config/platform.ts';
import { createCommandContext, runCli } from '../lib/commands/program.ts';

const ctx = createCommandContext(DISCORD, process.env);
process.exitCode = await runCli(createDiscordSessionManagerCommand(ctx), process.argv.slice(2), ctx.io);
