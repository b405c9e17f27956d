#!/usr/bin/env bun
import { basename } from 'node:path';
import { VERSION } from '../lib/core/util/self.ts';

/**
 * One executable for every program: it runs the program it is called as (`discord-watchdog` → a link
 * to this file), or the one named by its first argument (`claude-remote-sessions discord-watchdog --status`).
 * Literal import paths, so `bun build --compile` bundles them all into one binary.
 */
const PROGRAMS: Record<string, () => Promise<unknown>> = {
  'discord-session-manager': () => import('./discord-session-manager.ts'),
  'discord-watchdog': () => import('./discord-watchdog.ts'),
  'discord-slash-daemon': () => import('./discord-slash-daemon.ts'),
  'telegram-session-manager': () => import('./telegram-session-manager.ts'),
};

const invoked = basename(process.argv0).replace(/\.(exe|ts)$/, '');
let program = PROGRAMS[invoked] ? invoked : undefined;
if (!program && process.argv[2] && PROGRAMS[process.argv[2]]) {
  program = process.argv[2];
  process.argv.splice(2, 1);
}
if (program) await PROGRAMS[program]!();
else if (process.argv[2] === '--version') process.stdout.write(`${VERSION}\n`);
else {
  const names = Object.keys(PROGRAMS).join(', ');
  process.stderr.write(`error: name a program: ${names}. Example: claude-remote-sessions discord-session-manager list\n`);
  process.exitCode = process.argv[2] === '--help' || process.argv[2] === '-h' ? 0 : 2;
}
