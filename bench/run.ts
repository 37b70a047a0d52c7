/**
 * `npm run bench [-- filter]`: runs every bench module (bench/<name>.bench.ts exporting
 * `run()`), or those whose name contains the filter. Benchmarks print figures; they
 * never pass or fail on time. Add a module to BENCHES to have it run.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as verify from './verify.bench.js';
import * as migrate from './migrate.bench.js';
import * as restore from './restore.bench.js';
import * as guard from './guard.bench.js';
import * as save from './save.bench.js';
import * as receive from './receive.bench.js';
import * as report from './report.bench.js';

export interface BenchModule {
  run(): Promise<void>;
}

const BENCHES: [string, BenchModule][] = [
  ['verify', verify],
  ['migrate', migrate],
  ['restore', restore],
  ['guard', guard],
  ['save', save],
  ['receive', receive],
  ['report', report],
];

async function main(): Promise<void> {
  const filter = process.argv[2];
  const chosen = BENCHES.filter(([name]) => filter === undefined || name.includes(filter));
  if (chosen.length === 0) {
    process.stderr.write(`no benchmark matches "${filter}"; known: ${BENCHES.map(([n]) => n).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  if (chosen.length === 1) {
    process.stdout.write(`== ${chosen[0]![0]} ==\n`);
    await chosen[0]![1].run();
    return;
  }
  // Several benches: each in a process of its own, so that none measures another's
  // leftovers (the migration bench's 1 GiB domains, its heap, its page cache).
  for (const [name] of chosen) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), name], { stdio: 'inherit' });
    if (r.status !== 0) {
      process.exitCode = r.status ?? 1;
      return;
    }
  }
}

await main();
