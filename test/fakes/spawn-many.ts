#!/usr/bin/env bun
// Test helper process: spawns the sessions of the ids given as arguments, all at once, through the
// session manager in-process (as the watchdog and slash daemon do), and prints one line per id.
import { createAppContext } from '../../lib/app.ts';
import { DISCORD } from '../../lib/core/config/platform.ts';

const { manager } = createAppContext(DISCORD, process.env);
const results = await Promise.all(process.argv.slice(2).map((id) => manager.spawn(id, { name: `load-${id.slice(-4)}` })));
for (const result of results) console.log(`${result.status} ${result.id}`);
