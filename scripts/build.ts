#!/usr/bin/env bun
/**
 * Compiles the programs into ONE standalone multi-call executable, `claude-remote-sessions`, with each
 * program's name as a symbolic link to it (four ~110 MB copies of the runtime would cost 4× the disk
 * for the same code; bench/RESULTS.md has the sizes).
 *   bun scripts/build.ts          -> dist/claude-remote-sessions + dist/<program> links            (this machine)
 *   bun scripts/build.ts --all    -> dist/<target>/claude-remote-sessions + links   (linux/darwin x x64/arm64)
 *   --no-bytecode                 skip the embedded bytecode (smaller binary, slower start-up)
 * Each binary that runs here is smoke-tested (`--help` from a temp dir, empty CLAUDE_CONFIG_DIR).
 * Exit 1 with one line on stderr when a build or a smoke test fails; 2 on a bad argument.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dir, '..');
const BIN_DIR = join(ROOT, 'bin');
const DIST_DIR = join(ROOT, 'dist');
const ALL_TARGETS: Bun.Build.CompileTarget[] = ['bun-linux-x64', 'bun-linux-arm64', 'bun-darwin-x64', 'bun-darwin-arm64'];
const SMOKE_TIMEOUT_MS = 15_000;
/** The cross-compile target that is this machine (its binaries can be smoke-tested too). */
const HOST_TARGET = `bun-${process.platform}-${process.arch}`;

class BuildError extends Error {}

/** Program names: every `bin/<name>.ts`. */
function listPrograms(): string[] {
  return readdirSync(BIN_DIR)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => basename(file, '.ts'))
    .sort();
}

function formatSize(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

/** One `bun build --compile --minify`; `target` undefined = this machine. */
async function compileProgram(program: string, outfile: string, target: Bun.Build.CompileTarget | undefined, bytecode: boolean): Promise<void> {
  const what = `${program}${target ? ` (${target})` : ''}`;
  let result: Bun.BuildOutput;
  try {
    result = await Bun.build({
      entrypoints: [join(BIN_DIR, `${program}.ts`)],
      minify: true,
      // Embedded bytecode cuts start-up CPU by about 40% (bench/RESULTS.md); ESM keeps bin/'s
      // top-level await working with it.
      bytecode,
      format: 'esm',
      // Each lazily loaded command in its own chunk: in one file, every process (a bridge runs per
      // session) would parse all of discord.js, grammY and the MCP SDK at start (~8 MB more RSS).
      splitting: true,
      compile: {
        // A top-level `outfile` is ignored with `compile` (the binary lands in the cwd); it goes here.
        outfile,
        ...(target ? { target } : {}),
        // The tools run in any directory: a stray .env or bunfig.toml there must not change them.
        autoloadDotenv: false,
        autoloadBunfig: false,
      },
      throw: false,
    });
  } catch (error) {
    throw new BuildError(`build of ${what} failed: ${firstLine(String((error as Error).message ?? error))}`);
  }
  if (!result.success) {
    const message = result.logs.find((log) => log.level === 'error') ?? result.logs[0];
    throw new BuildError(`build of ${what} failed: ${firstLine(message ? String(message.message ?? message) : 'unknown error')}`);
  }
  if (!existsSync(outfile)) throw new BuildError(`build of ${what} reported success but wrote no ${relative(ROOT, outfile)}`);
}

/** Runs `<binary> --help` where no node_modules or config exists; a compiled program must stand alone. */
async function smokeTest(binary: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'crs-build-smoke-'));
  try {
    const proc = Bun.spawn([binary, '--help'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, CLAUDE_CONFIG_DIR: join(dir, 'claude') },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      timeout: SMOKE_TIMEOUT_MS,
    });
    const [, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) throw new BuildError(`smoke test \`${relative(ROOT, binary)} --help\` exited ${code}: ${firstLine(stderr) || 'no output'}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MULTI_CALL = 'claude-remote-sessions';

async function build(all: boolean, bytecode: boolean): Promise<void> {
  const programs = listPrograms().filter((program) => program !== MULTI_CALL);
  if (programs.length === 0) throw new BuildError(`no programs found in ${relative(ROOT, BIN_DIR)}/`);
  const dirs = all ? ALL_TARGETS.map((target) => ({ target, dir: join(DIST_DIR, target) })) : [{ target: undefined, dir: DIST_DIR }];
  // Sequential on purpose: each compile is CPU- and memory-heavy (~110 MB output).
  for (const { target, dir } of dirs) {
    mkdirSync(dir, { recursive: true });
    const outfile = join(dir, MULTI_CALL);
    const started = performance.now();
    // Embedded bytecode only where the binary is smoke-tested: other platforms' builds cannot be run here.
    await compileProgram(MULTI_CALL, outfile, target, bytecode && (!target || target === HOST_TARGET));
    for (const program of programs) {
      const link = join(dir, program);
      rmSync(link, { force: true });
      symlinkSync(MULTI_CALL, link);
    }
    if (!target || target === HOST_TARGET) for (const program of programs) await smokeTest(join(dir, program));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`${relative(process.cwd(), outfile) || outfile}  ${formatSize(statSync(outfile).size)}  (${seconds} s), linked as ${programs.join(', ')}`);
  }
}

const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== '--all' && arg !== '--no-bytecode');
if (unknown.length > 0) {
  console.error(`build: unknown argument ${JSON.stringify(unknown[0])}; usage: bun scripts/build.ts [--all] [--no-bytecode]`);
  process.exit(2);
}
try {
  await build(args.includes('--all'), !args.includes('--no-bytecode'));
} catch (error) {
  console.error(`build: ${error instanceof BuildError ? error.message : firstLine(String((error as Error)?.stack ?? error))}`);
  process.exit(1);
}
