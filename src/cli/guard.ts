/**
 * `xenmig guard [options] -- <command...>`: run as xl's migration transport
 * (`xl migrate -s "xenmig guard --host-policy dest.txt --" vm desthost`), relay the
 * migration through the real command and stop it before memory moves when the stream
 * breaks a rule or the destination cannot run the guest.
 */
import { closeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { UsageError } from '../format/errors.js';
import { AtomicFileSink } from '../io/sink.js';
import { planRealCommand } from '../migrate/guard/command.js';
import { Guard } from '../migrate/guard/guard.js';
import { descriptorKind } from '../migrate/guard/input.js';
import { openGuardLog } from '../migrate/guard/log.js';
import { hostPolicyFromCommand, hostPolicyFromFile, judgeStaticData, type HostPolicySource } from '../migrate/guard/preflight.js';
import { createVerifier } from '../verify/index.js';
import { ExitCode } from './exit-codes.js';
import { minVersionOption } from './options.js';

interface GuardFlags {
  hostPolicy?: string;
  hostPolicyCommand?: string;
  policy?: string;
  minVersion?: 2 | 3;
  warnOnly?: boolean;
  tee?: string;
  force?: boolean;
  log?: string;
  exitGrace: string;
  killGrace: string;
}

function seconds(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`guard: ${flag} must be a number of seconds > 0, got "${v}"`);
  return Math.round(n * 1000);
}

export function register(program: Command): void {
  program
    .command('guard')
    .summary("check a real xl migrate in flight and stop it before memory moves")
    .description(
      [
        "Runs <command...>, relays the migration through it byte for byte, and verifies the sender's stream as it passes. Used as xl's transport:",
        '',
        '  xl migrate -s "xenmig guard --host-policy dest.txt --" vm desthost',
        '',
        'xl then runs `xenmig guard ... -- desthost xl migrate-receive`: exactly one word before the word `xl` is the destination host, and the guard runs `ssh <host> xl ...` like xl would. More words before it are the transport itself (`-- ssh -p 2222 desthost xl migrate-receive`); one word with spaces runs under `sh -c`; anything else runs as given.',
        '',
        "At the end of the static data (STATIC_DATA_END, or where a v2 stream implies it) the guard holds the stream and checks the guest's CPU policy against the destination's; the first broken stream rule stops the migration at that record. Stopping closes both directions: the receiving xl destroys its half-made domain, the sending xl resumes the guest.",
        '',
        "Exit status: the command's; 1 when the guard stopped the migration; 2 when the command could not run.",
      ].join('\n'),
    )
    .argument('<command...>', 'the real transport command, after "--"')
    .option('--host-policy <file>', "the destination's CPU policies (xen-cpuid -p output or xenmig policy JSON)")
    .option('--host-policy-command <cmd>', 'a shell command printing them, e.g. "ssh desthost xen-cpuid -p" (started at once)')
    .option('--policy <name>', 'which policy of the file to compare with (default "HVM Max" or "PV Max" by guest type)')
    .addOption(minVersionOption('refuse libxc streams older than this version (3 refuses v2 senders)'))
    .option('--warn-only', 'report stream rule errors and let the stream through (policy and version checks still stop)')
    .option('--tee <file>', "keep a byte-exact copy of the sender's stream (for xenmig dump)")
    .option('--force', 'replace an existing --tee file')
    .option('--log <file>', 'append the log here instead of stderr')
    .option('--exit-grace <seconds>', "after the sender's stream ended, how long the command may take to exit before its process group gets SIGTERM", '30')
    .option('--kill-grace <seconds>', 'after a SIGTERM (the guard\'s or a forwarded one), how long before SIGKILL', '5')
    .action(async (words: string[], flags: GuardFlags) => {
      const code = await runGuard(words, flags);
      throw new ExitCode(code);
    });
}

async function runGuard(words: string[], flags: GuardFlags): Promise<number> {
  if (flags.hostPolicy !== undefined && flags.hostPolicyCommand !== undefined) {
    throw new UsageError('guard: give --host-policy or --host-policy-command, not both');
  }
  const minVersion = flags.minVersion;
  if (flags.policy !== undefined && flags.hostPolicy === undefined && flags.hostPolicyCommand === undefined) {
    throw new UsageError('guard: --policy names a policy of --host-policy or --host-policy-command');
  }
  const exitGraceMs = seconds(flags.exitGrace, '--exit-grace');
  const killGraceMs = seconds(flags.killGrace, '--kill-grace');
  const command = planRealCommand(words);
  let host: HostPolicySource | undefined;
  if (flags.hostPolicy !== undefined) host = hostPolicyFromFile(flags.hostPolicy);
  else if (flags.hostPolicyCommand !== undefined) host = hostPolicyFromCommand(flags.hostPolicyCommand);

  const out = openGuardLog(flags.log);
  const tee = flags.tee !== undefined ? await AtomicFileSink.create(flags.tee, { force: flags.force ?? false }) : undefined;
  const policyName = flags.policy;
  const guard = new Guard({
    command,
    input: senderInput(),
    output: process.stdout,
    closeSenderSide: () => {
      // Node's stdio handles may keep the descriptors; the sending xl must see them closed.
      for (const fd of [0, 1]) {
        try {
          closeSync(fd);
        } catch {
          // Already closed with its stream.
        }
      }
    },
    verifier: createVerifier({ checkpointed: command.receiver?.checkpointed ?? false }),
    judgeStaticData: (end) => judgeStaticData(end, host, policyName),
    ...(minVersion !== undefined ? { minVersion } : {}),
    warnOnly: flags.warnOnly ?? false,
    ...(tee ? { tee } : {}),
    log: out.log,
    report: out.report,
    exitGraceMs,
    killGraceMs,
  });
  // The command runs in its own process group (a terminal's Ctrl-C no longer reaches it): pass these on, and wait for it.
  const forward = (signal: NodeJS.Signals): void => guard.forwardSignal(signal);
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of signals) process.prependListener(sig, forward);
  let result;
  try {
    result = await guard.run();
  } finally {
    for (const sig of signals) process.off(sig, forward);
  }
  out.close();
  return result.exitCode;
}

/**
 * xl's pipe (or a socket, or a saved file given with `<`) is read by the guard itself,
 * into its own reused buffers; anything else on stdin (a terminal) through
 * process.stdin. Never both: two readers of one descriptor would steal each other's bytes.
 */
function senderInput(): Readable | number {
  return descriptorKind(0) === undefined ? process.stdin : 0;
}
