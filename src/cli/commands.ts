/**
 * Every command's module, registered on the program in the order `--help` lists them.
 * Each module exports one `register(program)` that adds its command and its options.
 */
import type { Command } from 'commander';
import * as verify from './verify.js';
import * as dump from './dump.js';
import * as info from './info.js';
import * as restore from './restore.js';
import * as extract from './extract.js';
import * as convert from './convert.js';
import * as save from './save.js';
import * as receive from './receive.js';
import * as migrate from './migrate.js';
import * as guard from './guard.js';
import * as policy from './policy.js';
import * as compat from './compat.js';
import * as demo from './demo.js';

type Register = (program: Command) => void;

const COMMANDS: Register[] = [
  verify.register,
  dump.register,
  info.register,
  restore.register,
  extract.register,
  convert.register,
  save.register,
  receive.register,
  migrate.register,
  guard.register,
  policy.register,
  compat.register,
  demo.register,
];

export function registerCommands(program: Command): void {
  for (const register of COMMANDS) register(program);
}
