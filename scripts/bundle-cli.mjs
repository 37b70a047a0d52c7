/**
 * Bundles the command line into dist/bundle/cli/xenmig.cjs and makes V8's code cache
 * for it (see src/cli/launch.ts for why and how it is loaded). Runs after tsc, from
 * `npm run build`.
 *
 * The bundle sits three directories below the project root, as dist/src/<layer>/ does,
 * so paths the code resolves against its own location (data/, bin/) stay right.
 */
import { build } from 'esbuild';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

await build({
  entryPoints: ['src/cli/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile: 'dist/bundle/cli/xenmig.cjs',
  // A CommonJS file has no import.meta; the code only asks it for its own location.
  define: { 'import.meta.url': 'xenmigModuleUrl' },
  banner: { js: "const xenmigModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});

// The cache holds what V8 compiled while running these commands on a small sample
// stream: the code every verify, info and dump (and the guard's verifier) runs.
const { loadCli, CODE_CACHE_PATH } = await import('../dist/src/cli/launch.cjs');
const { AtomicFileSink } = await import('../dist/src/io/sink.js');
const { saveSampleStream } = await import('../dist/src/save/sample.js');
const { main, script } = await loadCli({ codeCache: false });
if (!script) throw new Error('bundle-cli: the bundle just built was not loaded');
const dir = await mkdtemp(join(tmpdir(), 'xenmig-build-'));
try {
  const stream = join(dir, 'sample.xl');
  const sink = await AtomicFileSink.create(stream);
  await saveSampleStream(sink, { memoryMiB: 4 });
  await sink.commit();
  const write = process.stdout.write;
  process.stdout.write = () => true;
  try {
    for (const args of [['verify', '--quiet', stream], ['info', stream], ['dump', stream]]) {
      const code = await main(['node', 'xenmig', ...args]);
      if (code !== 0) throw new Error(`bundle-cli: xenmig ${args.join(' ')} exited ${code} while warming the code cache`);
    }
  } finally {
    process.stdout.write = write;
  }
  await writeFile(`${CODE_CACHE_PATH}.tmp`, script.createCachedData());
  await rename(`${CODE_CACHE_PATH}.tmp`, CODE_CACHE_PATH);
} finally {
  await rm(dir, { recursive: true, force: true });
}
