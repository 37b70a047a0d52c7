/**
 * `xenmig policy show <stream|policy file>`: a policy's features by name, grouped by
 * featureset word. `xenmig policy level <host policy>...`: the policy a guest may be
 * given to move freely between all those hosts, in xen-cpuid's format or as JSON.
 */
import type { Command } from 'commander';
import { UsageError } from '../format/errors.js';
import { jsonOption } from './options.js';
import {
  NO_POLICY_MESSAGE,
  type CpuPolicy,
  formatPolicySummary,
  formatXenCpuid,
  levelPoliciesDetailed,
  newestXenVersion,
  parseXenVersion,
  loadGuestPolicy,
  loadPolicyFile,
  policiesToJson,
  readPolicyFile,
  selectPolicy,
  summarizePolicy,
  isStreamFile,
} from '../policy/index.js';
import { parseGuestType } from './compat.js';


function jsonOut(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

async function show(path: string, opts: { policy?: string; json?: boolean }): Promise<void> {
  let shown: Array<{ name: string; policy: CpuPolicy }>;
  if (isStreamFile(path)) {
    const g = await loadGuestPolicy(path);
    if (g.policy === undefined) {
      if (opts.json) jsonOut({ format: 'xenmig-cpu-policy', version: 1, policies: [], note: NO_POLICY_MESSAGE, guestType: g.guestType });
      else process.stdout.write(`${NO_POLICY_MESSAGE}\n`);
      process.stderr.write(`xenmig: warning: ${path}: ${NO_POLICY_MESSAGE}\n`);
      return;
    }
    shown = [{ name: `Stream (${g.guestType.toUpperCase()} guest, libxc v${g.streamVersion})`, policy: g.policy }];
  } else {
    const all = readPolicyFile(path);
    shown = opts.policy !== undefined ? [selectPolicy(all, { policyName: opts.policy }, path)] : all;
  }
  if (opts.json) {
    jsonOut(policiesToJson(shown.map((p) => ({ ...p, decoded: summarizePolicy(p.policy) }))));
    return;
  }
  process.stdout.write(shown.map((p) => formatPolicySummary(p.name, summarizePolicy(p.policy))).join('\n'));
}

function level(paths: string[], opts: { policy?: string; guestType?: string; name: string; xen?: string; json?: boolean }): void {
  if (paths.length === 0) throw new UsageError('policy level: give at least one host policy file');
  const guestType = parseGuestType(opts.guestType) ?? 'hvm';
  const xen = opts.xen !== undefined ? parseXenVersion(opts.xen) : undefined;
  const hosts = paths.map((p) => loadPolicyFile(p, { policyName: opts.policy, guestType }).policy);
  const result = levelPoliciesDetailed(hosts, { xen });
  const levelled = result.policy;
  // The policy goes to stdout (often into a file); what Xen's rules took away, to stderr.
  for (const h of result.removed) process.stderr.write(`xenmig: removed ${h.feature} (${h.because}; Xen ${result.xen} would hide it)\n`);
  if (opts.json) jsonOut(policiesToJson([{ name: opts.name, policy: levelled }]));
  else process.stdout.write(formatXenCpuid(levelled, opts.name));
}

export function register(program: Command): void {
  const policy = program.command('policy').description('CPU policies: show one, or level several hosts');
  policy
    .command('show')
    .description("print a policy's vendor, leaves, features by name (grouped by word), XSAVE state and MSRs")
    .argument('<input>', 'a stream (xl, libxl or libxc; "-" for stdin) or a policy file (xen-cpuid -p output or xenmig JSON)')
    .option('--policy <name>', 'show only this policy of a file holding several (e.g. "HVM Max")')
    .addOption(jsonOption('print JSON (a xenmig policy file with a decoded view of each policy)'))
    .action(show);
  policy
    .command('level')
    .description('the policy a guest may be given so that it can move between all these hosts')
    .argument('<hosts...>', 'host policy files (xen-cpuid -p output or xenmig JSON)')
    .option('--policy <name>', 'which policy of each file (default: "HVM Max", or "PV Max" with --guest-type pv)')
    .option('--guest-type <type>', 'hvm or pv: picks the default policy of each host file', 'hvm')
    .option('--name <name>', 'name of the levelled policy in the output', 'Levelled')
    .option('--xen <version>', `the pool's Xen version: feature table, attributes, dependencies and limits (default ${newestXenVersion()})`)
    .addOption(jsonOption('print a xenmig policy JSON file instead of xen-cpuid text'))
    .action(level);
  for (const cmd of policy.commands) cmd.exitOverride();
  policy.exitOverride();
}
