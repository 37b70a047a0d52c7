/**
 * The Xen hypervisor double (test/xen/): fake libxencall/libxenforeignmemory
 * under which Debian's real libxenguest saves and restores HVM domains, plus
 * the `xen-double` driver.  Built once per process into a scratch directory
 * that is removed when the process exits.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/xen in the source tree (this module runs from dist/test/support). */
export const XEN_DOUBLE_SRC = fileURLToPath(new URL('../../../test/xen/', import.meta.url));

const HEADERS = ['xenctrl.h', 'xenguest.h', 'xentoollog.h', 'xen/domctl.h', 'xen/hvm/save.h'];
const LIBS = ['libxenguest.so', 'libxenctrl.so', 'libxentoollog.so'];
const VERIFY_STREAM = '/usr/lib/xen-4.17/bin/verify-stream-v2';
const VERIFY_PYTHONPATH = '/usr/lib/xen-4.17/lib/python';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** null when the double can be built and run here, else why not. */
export function xenDoubleAvailable(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs Linux on x86-64 (this is ${process.platform}/${process.arch})`;
  if (!existsSync(join(XEN_DOUBLE_SRC, 'build.sh'))) return `no C sources at ${XEN_DOUBLE_SRC}`;
  const gcc = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  if (gcc.error || gcc.status !== 0) return 'gcc is missing';
  for (const h of HEADERS) {
    if (!existsSync(join('/usr/include', h))) return `Xen header /usr/include/${h} is missing`;
  }
  for (const lib of LIBS) {
    // gcc prints the bare name back when it cannot find the file.
    const r = spawnSync('gcc', [`-print-file-name=${lib}`], { encoding: 'utf8' });
    const path = r.stdout.trim();
    if (r.status !== 0 || path === lib || !existsSync(path)) return `Xen library ${lib} is missing`;
  }
  return null;
}

/**
 * Whether the real-Xen tests run here: `skip` is false, or the reason they are skipped
 * (for node:test's `skip` option, so the run reports them as skipped, with the reason and
 * how to get them). With XENMIG_REQUIRE_XEN=1 (as CI sets it, having installed the
 * packages) a missing piece is an error instead: the tests must not skip quietly there.
 */
export function xenDoubleGate(): { skip: string | false } {
  const why = xenDoubleAvailable() ?? verifyStreamV2Available();
  if (why === null) return { skip: false };
  if (process.env.XENMIG_REQUIRE_XEN === '1') throw new Error(`XENMIG_REQUIRE_XEN=1 but the real-Xen tests cannot run: ${why}`);
  return { skip: `skipped: ${why}; to run them: apt-get install libxen-dev libxenmisc4.17 xen-utils-4.17 gcc (as .ci/run does)` };
}

/** null when Xen's own verify-stream-v2 can run here, else why not. */
export function verifyStreamV2Available(): string | null {
  if (!existsSync(VERIFY_STREAM)) return `${VERIFY_STREAM} is missing`;
  if (!existsSync(join(VERIFY_PYTHONPATH, 'xen', 'migration'))) return `Xen's python modules are missing under ${VERIFY_PYTHONPATH}`;
  if (!existsSync(python())) return 'python3 is missing';
  return null;
}

function python(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** Run Xen's verify-stream-v2 on a bare libxc stream. */
export function verifyStreamV2(file: string, verbose = false): Promise<RunResult> {
  const args = [VERIFY_STREAM, '-i', file, '-f', 'libxc'];
  if (verbose) args.push('-v');
  return run(python(), args, { env: { ...process.env, PYTHONPATH: VERIFY_PYTHONPATH } });
}

function sourcesHash(): string {
  const h = createHash('sha256');
  for (const name of readdirSync(XEN_DOUBLE_SRC).filter((n) => !n.endsWith('.ts')).sort()) {
    h.update(name).update('\0').update(readFileSync(join(XEN_DOUBLE_SRC, name))).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

let built: Promise<string> | undefined;

/**
 * Build the double (once per process) and return the directory holding
 * lib/libxencall.so.1, lib/libxenforeignmemory.so.1 and xen-double.  The build
 * goes to a staging directory renamed into place when complete, so nothing
 * ever sees half a build; the whole scratch directory goes when the process exits.
 */
export function buildXenDouble(): Promise<string> {
  built ??= (async () => {
    const why = xenDoubleAvailable();
    if (why) throw new Error(`xen double unavailable: ${why}`);
    const hash = sourcesHash();
    const root = mkdtempSync(join(tmpdir(), `xenmig-xen-double-${hash}-`));
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
    const staging = join(root, `build.${process.pid}.tmp`);
    const out = join(root, hash);
    const r = await run('sh', [join(XEN_DOUBLE_SRC, 'build.sh'), staging]);
    if (r.code !== 0) throw new Error(`building the xen double failed (${r.code}): ${r.stderr.trim()}`);
    renameSync(staging, out);
    return out;
  })();
  return built;
}

export interface RunXenDoubleOptions {
  /** Fed to standard input. */
  input?: Buffer | string;
  /** Extra environment (e.g. XEN_DOUBLE_VERBOSE, XEN_DOUBLE_TRACE). */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Run `xen-double ARGS` on the domain kept in `dir` (XEN_DOUBLE_DIR). */
export async function runXenDouble(dir: string, args: string[], opts: RunXenDoubleOptions = {}): Promise<RunResult> {
  const out = await buildXenDouble();
  const lib = join(out, 'lib');
  const ld = process.env.LD_LIBRARY_PATH ? `${lib}:${process.env.LD_LIBRARY_PATH}` : lib;
  return run(join(out, 'xen-double'), args, {
    env: { ...process.env, ...opts.env, LD_LIBRARY_PATH: ld, XEN_DOUBLE_DIR: dir },
    input: opts.input,
    timeoutMs: opts.timeoutMs,
  });
}

function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: Buffer | string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}
