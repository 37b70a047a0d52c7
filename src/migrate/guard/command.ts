/**
 * What the guard runs. `xl migrate -s CMD vm host` hands `sh -c` the line
 *
 *     exec CMD host xl [-t] [-T] [-v...] migrate-receive [-e] [-d] [-p]
 *
 * (tools/xl/xl_migrate.c: -t when xl's stderr is a terminal or xl got -t, -T for
 * timestamps, one -v per extra verbosity level; -e when migrate got -e or -F, -d for
 * --debug, -p for -p; `xl remus` builds `migrate-receive -r` or `--colo ...`; -C and -D
 * stay on the sending side). With CMD = "xenmig guard [opts] --", the words after `--`
 * are `host xl ...`: no transport program, because xl put the host where CMD's
 * program would go.
 *
 * The rule, applied to the words after `--`:
 *  1. One word holding whitespace is a shell command line: it runs under `sh -c`.
 *  2. Otherwise find the receiver: the first word named `xl` (any directory) whose
 *     next non-option word is `migrate-receive`, or named `xenmig` followed by
 *     `receive`. If exactly one word comes before `xl`, that word is the destination
 *     host and the guard runs `ssh <host> xl ...` (xl's own default transport). Two or
 *     more words before it are the transport command itself (`ssh -p 2222 host xl
 *     ...`), run as given; none means a local receiver, run as given. A `xenmig`
 *     receiver is never prefixed (`node xenmig receive` is a program and its script).
 *  3. Words without a recognisable receiver (`cat`, a test script) run as given.
 */
import { UsageError } from '../../format/errors.js';

/** The receiving side's flags as xl passes them (or xenmig receive's, by name only). */
export interface ReceiverCommand {
  program: 'xl' | 'xenmig';
  /** xl's global options: -t (progress with CR), -T (timestamps), -v per level, -f, -N. */
  tty: boolean;
  timestamps: boolean;
  verbosity: number;
  /** migrate-receive -e (or xl migrate -F): stay in the foreground, no console monitor. */
  foreground: boolean;
  /** -d: xl migrate --debug; the sender follows the memory with VERIFY and every page again. */
  debug: boolean;
  /** -p: leave the domain paused after migration. */
  paused: boolean;
  /** -r (Remus) or --colo: a checkpointed stream. */
  checkpointed: 'remus' | 'colo' | undefined;
  /** The words from the receiver program on. */
  words: string[];
}

export interface RealCommand {
  /** What is spawned: program and arguments (for rule 1: sh, -c, line). */
  argv: string[];
  /** Rule 2's prefix was added. */
  sshPrefixed: boolean;
  host: string | undefined;
  receiver: ReceiverCommand | undefined;
}

const XL_RECEIVE_WITH_ARG = new Set(['--coloft-script']);

function baseName(word: string): string {
  const i = word.lastIndexOf('/');
  return i < 0 ? word : word.slice(i + 1);
}

/** Index of the receiver program in `words`, or -1. */
function findReceiver(words: readonly string[]): number {
  for (let i = 0; i < words.length; i++) {
    const name = baseName(words[i]!);
    if (name !== 'xl' && name !== 'xenmig') continue;
    const sub = name === 'xl' ? 'migrate-receive' : 'receive';
    let j = i + 1;
    // xl's global options (-v -f -t -N -T) take no argument.
    while (j < words.length && words[j]!.startsWith('-')) j++;
    if (words[j] === sub) return i;
  }
  return -1;
}

/** Reads xl's global and migrate-receive options (getopt style: bundled short flags). */
export function parseReceiver(words: readonly string[]): ReceiverCommand {
  const program = baseName(words[0]!) === 'xl' ? 'xl' : 'xenmig';
  const r: ReceiverCommand = {
    program,
    tty: false,
    timestamps: false,
    verbosity: 0,
    foreground: false,
    debug: false,
    paused: false,
    checkpointed: undefined,
    words: [...words],
  };
  const sub = program === 'xl' ? 'migrate-receive' : 'receive';
  let i = 1;
  for (; i < words.length && words[i] !== sub; i++) {
    const w = words[i]!;
    if (!w.startsWith('-') || w.startsWith('--')) continue;
    for (const c of w.slice(1)) {
      if (c === 't') r.tty = true;
      else if (c === 'T') r.timestamps = true;
      else if (c === 'v') r.verbosity++;
    }
  }
  if (program !== 'xl') return r;
  for (i++; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--colo') r.checkpointed = 'colo';
    else if (XL_RECEIVE_WITH_ARG.has(w)) i++;
    else if (w.startsWith('-') && !w.startsWith('--')) {
      for (const c of w.slice(1)) {
        if (c === 'e' || c === 'F') r.foreground = true;
        else if (c === 'd') r.debug = true;
        else if (c === 'p') r.paused = true;
        else if (c === 'r') r.checkpointed = 'remus';
      }
    }
  }
  return r;
}

/** Applies the rule in this file's header to the words after `--`. */
export function planRealCommand(given: readonly string[]): RealCommand {
  if (given.length === 0) throw new UsageError('guard: no command after "--" (xl migrate -s "xenmig guard --" puts the host and xl there)');
  if (given.length === 1 && /\s/.test(given[0]!)) {
    const inner = splitShellWords(given[0]!);
    const at = findReceiver(inner);
    return {
      argv: ['sh', '-c', given[0]!],
      sshPrefixed: false,
      host: at >= 1 ? inner[at - 1] : undefined,
      receiver: at >= 0 ? parseReceiver(inner.slice(at)) : undefined,
    };
  }
  const at = findReceiver(given);
  if (at < 0) return { argv: [...given], sshPrefixed: false, host: undefined, receiver: undefined };
  const receiver = parseReceiver(given.slice(at));
  const host = at >= 1 ? given[at - 1] : undefined;
  // Only xl puts a host where the program goes; `node xenmig receive` is a program and its script.
  const sshPrefixed = at === 1 && receiver.program === 'xl';
  return { argv: sshPrefixed ? ['ssh', ...given] : [...given], sshPrefixed, host, receiver };
}

/**
 * Splits a command line into words the way `sh` does for plain words and quoting
 * (single quotes, double quotes with \\ \" \$ \` escapes, backslash outside quotes).
 * No expansion: the lines xl builds need none, and tests use this to read them.
 */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close < 0) throw new UsageError(`unterminated single quote in: ${line}`);
      word += line.slice(i + 1, close);
      i = close;
    } else if (c === '"') {
      for (i++; ; i++) {
        if (i >= line.length) throw new UsageError(`unterminated double quote in: ${line}`);
        const d = line[i]!;
        if (d === '"') break;
        if (d === '\\' && i + 1 < line.length && '\\"$`'.includes(line[i + 1]!)) word += line[++i];
        else word += d;
      }
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
    } else {
      word += c;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** One line that says what will run and why, for the log. */
export function describeRealCommand(cmd: RealCommand): string {
  const parts = [`running: ${cmd.argv.map(quoteWord).join(' ')}`];
  if (cmd.sshPrefixed) parts.push(`(ssh added: "${cmd.host}" is the destination host xl put first)`);
  const r = cmd.receiver;
  if (r) {
    const flags = [
      r.tty && 'tty',
      r.timestamps && 'timestamps',
      r.verbosity > 0 && `verbosity +${r.verbosity}`,
      r.foreground && 'foreground (-e)',
      r.debug && 'debug (-d)',
      r.paused && 'paused after migration (-p)',
      r.checkpointed && `checkpointed (${r.checkpointed})`,
    ].filter(Boolean);
    parts.push(`receiver: ${r.program}${flags.length ? ` [${flags.join(', ')}]` : ''}`);
  }
  return parts.join(' ');
}

function quoteWord(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}
