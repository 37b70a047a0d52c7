/**
 * `xenmig compat <stream|policy file> --host <policy file>`: can this guest run on that
 * host, and if not, every reason by name. `xenmig compat --matrix <guests...> --hosts
 * <policies...>`: which guest can go to which host, with the first reason in each cell.
 * Exit 0 when compatible (or when a stream has no policy to judge), 1 when not.
 */
import type { Command } from 'commander';
import type { GuestType } from '../format/constants.js';
import { UsageError } from '../format/errors.js';
import {
  NO_POLICY_MESSAGE,
  type GuestPolicy,
  type Reason,
  checkCompatibility,
  loadGuestPolicy,
  loadPolicyFile,
  newestXenVersion,
  parseXenVersion,
  xenVersionForStream,
} from '../policy/index.js';
import { ExitCode } from './exit-codes.js';
import { jsonOption } from './options.js';


interface CompatOptions {
  host?: string;
  hosts?: string[];
  matrix?: string[];
  policy?: string;
  guestPolicy?: string;
  guestType?: string;
  xen?: string;
  json?: boolean;
}

/**
 * The Xen version to judge with: --xen, else the stream's (the Xen that wrote it, or
 * the nearest older one xenmig knows), else the newest known.
 */
function xenFor(guest: GuestPolicy, xen: string | undefined): { xen: string; note?: string } {
  if (xen !== undefined) return { xen: parseXenVersion(xen) };
  if (guest.xenMajor !== undefined && guest.xenMinor !== undefined) {
    const v = xenVersionForStream(guest.xenMajor, guest.xenMinor);
    return v.note !== undefined ? { xen: v.version, note: v.note } : { xen: v.version };
  }
  return { xen: newestXenVersion() };
}

export function parseGuestType(value: string | undefined): GuestType | undefined {
  if (value === undefined) return undefined;
  const v = value.toLowerCase();
  if (v === 'hvm' || v === 'pv') return v;
  throw new UsageError(`--guest-type: expected hvm or pv, found ${JSON.stringify(value)}`);
}

interface Verdict {
  guest: string;
  host: string;
  hostPolicy: string;
  guestType: GuestType;
  /** The Xen version whose tables, attributes and limits judged it. */
  xen: string;
  /** Undefined when the stream has no policy to judge. */
  compatible?: boolean;
  reasons: Reason[];
  /** Features Xen would hide from the guest (not blocking). */
  warnings: Reason[];
}

async function judge(guestPath: string, guest: GuestPolicy, hostPath: string, policyName: string | undefined, xenOpt: string | undefined): Promise<Verdict> {
  const host = loadPolicyFile(hostPath, { policyName, guestType: guest.guestType });
  const { xen, note } = xenFor(guest, xenOpt);
  if (note !== undefined) process.stderr.write(`xenmig: note: ${guestPath}: ${note}\n`);
  const base = { guest: guestPath, host: hostPath, hostPolicy: host.name, guestType: guest.guestType, xen };
  if (guest.policy === undefined) return { ...base, reasons: [], warnings: [] };
  const { compatible, reasons, warnings } = checkCompatibility(guest.policy, host.policy, { xen });
  return { ...base, compatible, reasons, warnings };
}

/** A matrix cell: the first blocking reason, short. */
function shortReason(r: Reason): string {
  switch (r.kind) {
    case 'vendor':
      return `vendor ${r.guest} vs ${r.host}`;
    case 'max-leaf':
      return `max leaf 0x${Number(r.leaf).toString(16)}`;
    case 'feature':
      return `feature ${r.feature ?? `word ${r.word} bit ${r.bit}`}`;
    case 'xsave-component':
      return `XSAVE component ${r.component}`;
    case 'xsave-size':
      return `XSAVE size ${r.guest} > ${r.host}`;
    case 'msr-bit':
      return `MSR ${r.feature ?? `0x${Number(r.msr).toString(16)} bit ${r.bit}`}`;
    case 'xen-cannot-load':
      return r.msr !== undefined
        ? `Xen cannot load MSR 0x${r.msr.toString(16)}`
        : r.leaf !== undefined
          ? `Xen cannot load leaf 0x${r.leaf.toString(16)}`
          : 'Xen cannot load it';
    case 'hidden-by-xen':
      return `${r.feature ?? 'a feature'} hidden by Xen`;
  }
}

function cell(v: Verdict): string {
  if (v.compatible === undefined) return 'no policy';
  if (v.compatible) return 'yes';
  const more = v.reasons.length > 1 ? ` (+${v.reasons.length - 1})` : '';
  return `no: ${shortReason(v.reasons[0]!)}${more}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((s, c) => s.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + '\n';
}

async function single(guestPath: string, opts: CompatOptions): Promise<number> {
  if (opts.host === undefined) throw new UsageError('compat: --host <policy file> is required (or use --matrix with --hosts)');
  const guest = await loadGuestPolicy(guestPath, { policyName: opts.guestPolicy, guestType: parseGuestType(opts.guestType) });
  const v = await judge(guestPath, guest, opts.host, opts.policy, opts.xen);
  if (opts.json) {
    process.stdout.write(JSON.stringify({ ...v, ...(v.compatible === undefined ? { note: NO_POLICY_MESSAGE } : {}) }, null, 2) + '\n');
  } else if (v.compatible === undefined) {
    process.stdout.write(`${NO_POLICY_MESSAGE}\n`);
  } else if (v.compatible) {
    process.stdout.write(`compatible: the ${v.guestType.toUpperCase()} guest can run on ${v.host} (${v.hostPolicy})\n`);
  } else {
    const lines = [`not compatible: the ${v.guestType.toUpperCase()} guest cannot run on ${v.host} (${v.hostPolicy}); ${v.reasons.length} reason(s):`];
    for (const r of v.reasons) lines.push(`  - ${r.text}`);
    process.stdout.write(lines.join('\n') + '\n');
  }
  if (!opts.json) for (const w of v.warnings) process.stderr.write(`xenmig: warning: ${w.text}\n`);
  if (v.compatible === undefined) {
    process.stderr.write(`xenmig: warning: ${guestPath}: ${NO_POLICY_MESSAGE}; compatibility not checked\n`);
    return 0;
  }
  return v.compatible ? 0 : 1;
}

async function matrix(guests: string[], opts: CompatOptions): Promise<number> {
  const hosts = opts.hosts ?? [];
  if (hosts.length === 0) throw new UsageError('compat --matrix: give the hosts with --hosts <policy files...>');
  const guestType = parseGuestType(opts.guestType);
  const verdicts: Verdict[][] = [];
  for (const g of guests) {
    const guest = await loadGuestPolicy(g, { policyName: opts.guestPolicy, guestType });
    const row: Verdict[] = [];
    for (const h of hosts) row.push(await judge(g, guest, h, opts.policy, opts.xen));
    verdicts.push(row);
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify({ hosts, guests: guests.map((g, i) => ({ guest: g, cells: verdicts[i] })) }, null, 2) + '\n');
  } else {
    const rows = [['guest \\ host', ...hosts], ...guests.map((g, i) => [g, ...verdicts[i]!.map(cell)])];
    process.stdout.write(table(rows));
  }
  return verdicts.flat().every((v) => v.compatible !== false) ? 0 : 1;
}

export function register(program: Command): void {
  program
    .command('compat')
    .description('can a guest run on a host? every reason by name when it cannot (exit 0 yes, 1 no, 2 usage or I/O)')
    .argument('[guest]', 'a stream (xl, libxl or libxc; "-" for stdin) or a guest policy file')
    .option('--host <file>', "the host's policy file (xen-cpuid -p output or xenmig JSON)")
    .option('--policy <name>', 'which policy of the host file (default: "HVM Max" for an HVM guest, "PV Max" for PV)')
    .option('--guest-policy <name>', 'which policy of the guest file, when it holds several')
    .option('--guest-type <type>', 'hvm or pv, for a guest policy file (default: inferred from its features)')
    .option('--matrix <guests...>', 'judge every guest (streams or policy files) against every host of --hosts')
    .option('--hosts <files...>', 'host policy files for --matrix')
    .option('--xen <version>', `the destination's Xen version: its feature table, attributes and load limits (default: a stream's own version, else the newest known, ${newestXenVersion()})`)
    .addOption(jsonOption('print JSON'))
    .action(async (guest: string | undefined, opts: CompatOptions) => {
      let code: number;
      if (opts.matrix !== undefined) {
        if (guest !== undefined) throw new UsageError('compat: give guests either as the argument or with --matrix, not both');
        code = await matrix(opts.matrix, opts);
      } else {
        if (guest === undefined) throw new UsageError('compat: give a stream or guest policy file');
        code = await single(guest, opts);
      }
      if (code !== 0) throw new ExitCode(code);
    });
}
