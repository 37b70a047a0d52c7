/**
 * `npm run bench [-- filter]`: runs every bench module (bench/<name>.bench.ts exporting
 * `run()`), or those whose name contains the filter. Benchmarks print figures; they
 * never pass or fail on time. Add a module to BENCHES to have it run.
 */
import * as verify from './verify.bench.js';
import * as migrate from './migrate.bench.js';
import * as restore from './restore.bench.js';
import * as guard from './guard.bench.js';

export interface BenchModule {
  run(): Promise<void>;
}

const BENCHES: [string, BenchModule][] = [
  ['verify', verify],
  ['migrate', migrate],
  ['restore', restore],
  ['guard', guard],
];

async function main(): Promise<void> {
  const filter = process.argv[2];
  const chosen = BENCHES.filter(([name]) => filter === undefined || name.includes(filter));
  if (chosen.length === 0) {
    process.stderr.write(`no benchmark matches "${filter}"; known: ${BENCHES.map(([n]) => n).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  for (const [name, mod] of chosen) {
    process.stdout.write(`== ${name} ==\n`);
    await mod.run();
  }
}

await main();
