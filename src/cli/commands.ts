/**
 * Every command's module, in the order `--help` lists them. Each module exports one
 * `register(program)` that adds its command and its options. Modules are loaded on
 * demand: a run of one command loads only that command's code, which keeps start-up
 * short (it is most of the time of `xenmig verify` on a file).
 */
import type { Command } from 'commander';

type Register = (program: Command) => void;

const COMMANDS: [name: string, load: () => Promise<{ register: Register }>][] = [
  ['verify', () => import('./verify.js')],
  ['dump', () => import('./dump.js')],
  ['info', () => import('./info.js')],
  ['restore', () => import('./restore.js')],
  ['extract', () => import('./extract.js')],
  ['convert', () => import('./convert.js')],
  ['diff', () => import('./diff.js')],
  ['save', () => import('./save.js')],
  ['receive', () => import('./receive.js')],
  ['migrate', () => import('./migrate.js')],
  ['guard', () => import('./guard.js')],
  ['policy', () => import('./policy.js')],
  ['compat', () => import('./compat.js')],
  ['report', () => import('./report.js')],
  ['demo', () => import('./demo.js')],
];

export const COMMAND_NAMES: readonly string[] = COMMANDS.map(([name]) => name);

/** The word that names the command: the first that is not an option. */
function commandWord(args: readonly string[]): string | undefined {
  return args.find((a) => !a.startsWith('-'));
}

/**
 * Commands that only read their input and print. When one is done nothing is left but
 * its output, so the process may exit once that is flushed (run.cts): left to itself,
 * node first waits for V8's background compile jobs, 10-25 ms of every `xenmig verify`.
 */
const PRINT_ONLY: ReadonlySet<string> = new Set(['verify', 'dump', 'info', 'diff', 'policy', 'compat']);

/** `args`: the words after the program name. */
export function printsOnly(args: readonly string[]): boolean {
  const word = commandWord(args);
  return word !== undefined && PRINT_ONLY.has(word);
}

/**
 * Registers the command named by the first word that is not an option when there is
 * one; otherwise (help, a mistyped command) all of them, so help and suggestions are whole.
 */
export async function registerCommands(program: Command, args: readonly string[] = []): Promise<void> {
  const word = commandWord(args);
  const chosen = COMMANDS.filter(([name]) => name === word);
  for (const [, load] of chosen.length > 0 ? chosen : COMMANDS) (await load()).register(program);
}
