/**
 * The guard's judgement at the end of the static data: the guest's CPU policy from the
 * stream against the destination's, before any memory moves. The destination's policy
 * comes from a file read up front, or from a command (`ssh desthost xen-cpuid -p`)
 * started with the guard so its round trip overlaps the start of the migration.
 */
import { spawn } from 'node:child_process';
import { parsePolicyText, readPolicyFile } from '../../policy/load.js';
import type { NamedPolicy } from '../../policy/xen-cpuid.js';
import type { StaticDataEnd } from '../../stream/static-data.js';
import { judgeStaticData as receiverJudgement } from '../preflight.js';

export interface Verdict {
  go: boolean;
  /** Why not, one line each (empty when go). */
  reasons: string[];
  /** What the log should say either way. */
  notes: string[];
}

export interface HostPolicySource {
  /** For messages: the file or the command. */
  readonly what: string;
  /** All policies the source offers (awaits the command). Throws with a one-line message. */
  policies(): Promise<NamedPolicy[]>;
}

export function hostPolicyFromFile(path: string): HostPolicySource {
  // Read now: a missing or unreadable file is a usage error before anything starts.
  const policies = readPolicyFile(path);
  return { what: path, policies: async () => policies };
}

/** Starts `sh -c command` at once; its stdout must be `xen-cpuid -p` text (or policy JSON). */
export function hostPolicyFromCommand(command: string): HostPolicySource {
  const result = new Promise<NamedPolicy[]>((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new Error(`cannot run the host policy command "${command}": ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code !== 0) {
        const why = Buffer.concat(err).toString('utf8').trim().split('\n').at(-1) ?? '';
        const how = signal !== null ? `was killed by ${signal}` : `exited with status ${code}`;
        reject(new Error(`the host policy command "${command}" ${how}${why ? `: ${why}` : ''}`));
        return;
      }
      try {
        resolve(parsePolicyText(Buffer.concat(out).toString('utf8'), `output of "${command}"`));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
  // Judged only at the static-data boundary; until then a failure must not be unhandled.
  result.catch(() => undefined);
  return { what: `"${command}"`, policies: () => result };
}

/**
 * Go or stop at the end of the static data, with the receiver's own check
 * (src/migrate/preflight.ts). A stream without a CPUID policy (a v2 sender, or a v3 one
 * that sent none) gives nothing to compare: libxl on the destination derives a policy
 * from first principles, so it goes with a note. The stream version was judged at the
 * libxc header already (--min-version).
 */
export async function judgeStaticData(
  end: StaticDataEnd,
  host: HostPolicySource | undefined,
  policyName: string | undefined,
): Promise<Verdict> {
  const where = end.inferred ? `inferred at the first ${end.inferredAt}` : 'STATIC_DATA_END';
  const notes = [`static data ends (${where}, record #${end.recordIndex}, offset ${end.offset})`];
  if (host === undefined) return { go: true, reasons: [], notes };
  const d = end.data;
  if (d.cpuid === undefined) {
    notes.push(
      `the stream carries no CPUID policy (libxc v${d.streamVersion}): nothing to compare with ${host.what}; the destination derives the guest's policy itself`,
    );
    return { go: true, reasons: [], notes };
  }
  let reasons: string[];
  try {
    reasons = receiverJudgement(d, { hostPolicies: await host.policies(), ...(policyName !== undefined ? { hostPolicyName: policyName } : {}) });
  } catch (e) {
    return { go: false, reasons: [`cannot judge the guest's CPU policy: ${(e as Error).message}`], notes };
  }
  const what = `the ${d.guestType?.toUpperCase() ?? ''} guest's CPU policy against ${host.what}`;
  if (reasons.length === 0) {
    notes.push(`compatible: ${what}`);
    return { go: true, reasons: [], notes };
  }
  notes.push(`incompatible: ${what} (${reasons.length} blocking reason(s))`);
  return { go: false, reasons, notes };
}
