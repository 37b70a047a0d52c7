/**
 * Xen's own `convert-legacy-stream` (Debian's xen-utils-4.17), run as the judge of
 * legacy conversions. Gated like the double: skipped with the reason when it is not
 * installed, an error under XENMIG_REQUIRE_XEN=1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const CONVERT_LEGACY = '/usr/lib/xen-4.17/bin/convert-legacy-stream';
const PYTHONPATH = '/usr/lib/xen-4.17/lib/python';

function python(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export function converterAvailable(): string | null {
  if (!existsSync(CONVERT_LEGACY)) return `${CONVERT_LEGACY} is missing`;
  if (!existsSync(join(PYTHONPATH, 'xen', 'migration', 'legacy.py'))) return `Xen's python modules are missing under ${PYTHONPATH}`;
  const r = spawnSync(python(), ['--version']);
  if (r.error || r.status !== 0) return 'python3 is missing';
  return null;
}

export function converterGate(): { skip: string | false } {
  const why = converterAvailable();
  if (why === null) return { skip: false };
  if (process.env.XENMIG_REQUIRE_XEN === '1') throw new Error(`XENMIG_REQUIRE_XEN=1 but Xen's convert-legacy-stream cannot run: ${why}`);
  return { skip: `skipped: ${why}; to run it: apt-get install xen-utils-4.17 (as .ci/run does)` };
}

/** Runs Xen's converter: `-i IN -o OUT -w WIDTH -g GUEST` plus `extra` (e.g. -f libxl, --skip-qemu). */
export function runConverter(input: string, output: string, width: 32 | 64, guest: 'pv' | 'hvm', extra: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(python(), [CONVERT_LEGACY, '-i', input, '-o', output, '-w', String(width), '-g', guest, ...extra], {
    env: { ...process.env, PYTHONPATH },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
