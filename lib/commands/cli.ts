import { type ArgsDef, type CommandDef, renderUsage, runCommand } from 'citty';
import type { ConsolaInstance } from 'consola';
import { CrsError, EXIT_USAGE, formatError } from '../core/util/errors.ts';
import { VERSION } from '../core/util/self.ts';

/** Where a command writes: data to `out` (stdout), messages through `log` (stderr). */
export interface CliIO {
  out: (text: string) => void;
  log: ConsolaInstance;
}

type AnyCommand = CommandDef<ArgsDef>;

const ANSI = /\u001b\[[0-9;]*m/g;

async function resolve<T>(value: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof value === 'function' ? (value as () => T | Promise<T>)() : value;
}

/** Follows the leading positional words down the subcommand tree. */
async function findCommand(root: AnyCommand, rawArgs: string[]): Promise<{ cmd: AnyCommand; parent?: AnyCommand; rest: string[] }> {
  let cmd = root;
  let parent: AnyCommand | undefined;
  let index = 0;
  for (;;) {
    const subs = await resolve(cmd.subCommands);
    const word = rawArgs[index];
    if (!subs || word === undefined || word.startsWith('-') || !(word in subs)) break;
    parent = cmd;
    cmd = (await resolve(subs[word]!)) as AnyCommand;
    index++;
  }
  return { cmd, parent, rest: rawArgs.slice(index) };
}

function aliasesOf(def: ArgsDef[string]): string[] {
  return 'alias' in def && def.alias ? [def.alias].flat() : [];
}

/**
 * citty ignores unknown flags and extra words; a typo must not silently change what runs. Returns the
 * arguments to hand to citty: a word that starts with `-` (a Telegram group's id, `-100123`) would be
 * taken by citty as a flag, so the words then go after a `--`, in their order.
 */
async function checkArgs(cmd: AnyCommand, rest: string[]): Promise<string[]> {
  // A group without a run of its own: citty names an unknown verb. One that runs (a daemon with verbs beside it)
  // is checked like any verb, so `discord-watchdog --bogus` or a mistyped verb runs nothing.
  if ((await resolve(cmd.subCommands)) && !cmd.run) return rest;
  const defs = (await resolve(cmd.args)) ?? {};
  const known = new Set<string>();
  let positionals = 0;
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === 'positional') {
      positionals++;
      continue;
    }
    const names = [name, ...aliasesOf(def)];
    for (const n of names) {
      known.add(n);
      known.add(n.replace(/[A-Z]/g, (c: string) => `-${c.toLowerCase()}`));
      if (def.type === 'boolean') known.add(`no-${n}`);
    }
  }
  const words: string[] = [];
  const options: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--') {
      words.push(...rest.slice(i + 1));
      break;
    }
    if (arg.startsWith('-') && arg !== '-' && !/^-[0-9]/.test(arg)) {
      options.push(arg);
      const name = arg.replace(/^--?/, '').split('=')[0]!;
      if (!known.has(name)) throw new CrsError(`Unknown option ${arg}.`, { exitCode: EXIT_USAGE, hint: 'See --help.' });
      const def = defs[name] ?? Object.values(defs).find((d) => aliasesOf(d).includes(name));
      if (def && def.type !== 'boolean' && !arg.includes('=')) {
        // citty would take a missing value as "" and run with a default instead.
        if (i + 1 >= rest.length) throw new CrsError(`Option ${arg} needs a value.`, { exitCode: EXIT_USAGE, hint: 'See --help.' });
        options.push(rest[++i]!);
      }
    } else {
      words.push(arg);
    }
  }
  if (words.length > positionals) {
    throw new CrsError(`Too many arguments: ${words.slice(positionals).join(' ')}.`, { exitCode: EXIT_USAGE, hint: 'See --help.' });
  }
  return words.some((w) => w.startsWith('-')) ? [...options, '--', ...words] : rest;
}

/** Runs a citty command tree (or prints the version) and returns the exit code: 0 done, 1 failure, 2 usage. Never exits the process. */
export async function runCli<T extends ArgsDef>(command: CommandDef<T>, rawArgs: string[], io: CliIO): Promise<number> {
  const root = command as unknown as AnyCommand;
  if (rawArgs[0] === '--version') {
    io.out(VERSION);
    return 0;
  }
  try {
    const { cmd, parent, rest } = await findCommand(root, rawArgs);
    if (rawArgs.includes('--help') || rawArgs.includes('-h') || (rawArgs.length === 0 && !root.run)) {
      io.out((await renderUsage(cmd, parent)).replace(ANSI, ''));
      return 0;
    }
    const args = await checkArgs(cmd, rest);
    await runCommand(root, { rawArgs: [...rawArgs.slice(0, rawArgs.length - rest.length), ...args] });
    return 0;
  } catch (error) {
    if (error instanceof Error && error.name === 'CLIError') {
      io.log.error(`${error.message.replace(ANSI, '')}. See --help.`);
      return EXIT_USAGE;
    }
    io.log.error(formatError(error));
    if (!(error instanceof CrsError)) io.log.debug(error);
    return error instanceof CrsError ? error.exitCode : 1;
  }
}
