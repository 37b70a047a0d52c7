/**
 * How the xenmig command loads its own code. `npm run build` bundles the command line
 * into one CommonJS file (dist/bundle/cli/xenmig.cjs) and keeps V8's code cache for it
 * (xenmig.cjs.code-cache, made by scripts/bundle-cli.mjs after a few warm-up commands).
 * Loading forty-odd ES modules and compiling the functions a run calls was about half
 * of `xenmig verify` on a file (some 60 ms of 110 here); the bundle and the cache take
 * most of that away.
 *
 * This file and run.cts are CommonJS: node loads a CommonJS entry synchronously, while
 * its ES module loader reads files through the thread pool and left the process idle
 * for some 15 ms before any of our code ran.
 *
 * Whatever goes wrong falls back to the plain tsc output (dist/src/cli/main.js): no
 * bundle, a bundle older than main.js (only tsc was rerun), or a cache this node
 * rejects (another V8 version or flags: V8 checks and then compiles as usual).
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

export const BUNDLE_PATH = join(__dirname, '../../bundle/cli/xenmig.cjs');
export const CODE_CACHE_PATH = `${BUNDLE_PATH}.code-cache`;
const UNBUNDLED_MAIN = join(__dirname, 'main.js');

type Main = (argv: string[]) => Promise<number>;
type PrintsOnly = (args: readonly string[]) => boolean;

export interface LoadedCli {
  main: Main;
  /** Whether the command these words name only reads and prints (see commands.ts). */
  printsOnly: PrintsOnly;
  /** The compiled bundle, when it was used: its createCachedData() makes the cache. */
  script?: Script;
}

function bundleIsCurrent(): boolean {
  try {
    return statSync(BUNDLE_PATH).mtimeMs >= statSync(UNBUNDLED_MAIN).mtimeMs;
  } catch {
    return false;
  }
}

/** The command line as tsc built it, module by module. */
async function unbundled(): Promise<LoadedCli> {
  const { main, printsOnly } = await import('./main.js');
  return { main, printsOnly };
}

export async function loadCli(opts: { codeCache?: boolean } = {}): Promise<LoadedCli> {
  if (!bundleIsCurrent()) return unbundled();
  const source = readFileSync(BUNDLE_PATH, 'utf8');
  let cachedData: Buffer | undefined;
  if (opts.codeCache ?? true) {
    try {
      cachedData = readFileSync(CODE_CACHE_PATH);
    } catch {
      // No cache built: V8 compiles as it would anyway.
    }
  }
  // The same wrapper node gives a CommonJS file, compiled here so that V8 can take the cache.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: BUNDLE_PATH,
    ...(cachedData ? { cachedData } : {}),
  });
  const module = { exports: {} as { main?: Main; printsOnly?: PrintsOnly } };
  (script.runInThisContext() as (...args: unknown[]) => void)(
    module.exports,
    createRequire(BUNDLE_PATH),
    module,
    BUNDLE_PATH,
    dirname(BUNDLE_PATH),
  );
  const { main, printsOnly } = module.exports;
  if (typeof main !== 'function' || typeof printsOnly !== 'function') return unbundled();
  return { main, printsOnly, script };
}
