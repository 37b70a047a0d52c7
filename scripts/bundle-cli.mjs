/**
 * Bundles the command line into dist/bundle/cli: one file for what every command needs
 * and one chunk per lazily loaded command. tsc's per-file output (dist/src) stays the
 * library; the bundle only makes `xenmig <command>` start faster. Loading some forty
 * small modules through Node's ES module loader cost about 15-20 ms of every run here,
 * a large part of `xenmig verify` on a file.
 *
 * The output sits three directories below the project root, as dist/src/<layer>/ does,
 * so paths the code resolves against import.meta.url (data/, bin/) stay right.
 */
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/run.ts'],
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: 'dist/bundle/cli',
  outExtension: { '.js': '.mjs' },
  sourcemap: true,
  // commander is CommonJS and requires node's built-in modules; an ES module has no
  // `require` of its own to give it.
  banner: { js: "import { createRequire as xenmigCreateRequire } from 'node:module'; const require = xenmigCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
