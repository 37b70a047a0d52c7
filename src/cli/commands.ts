/**
 * Every command's module, registered on the program. Each module exports one
 * `register(program)` that adds its command and its options.
 */
import type { Command } from 'commander';
import { register as registerCompat } from './compat.js';
import { register as registerPolicy } from './policy.js';
import { register as registerSave } from './save.js';
import { register as registerReceive } from './receive.js';
import { register as registerMigrate } from './migrate.js';
import * as verify from './verify.js';
import * as dump from './dump.js';
import * as info from './info.js';
import * as demo from './demo.js';
import * as guard from './guard.js';

type Register = (program: Command) => void;

const COMMANDS: Register[] = [
  verify.register,
  dump.register,
  info.register,
  demo.register,
  registerPolicy,
  registerCompat,
  registerSave,
  registerReceive,
  registerMigrate,
  guard.register,
];

export function registerCommands(program: Command): void {
  for (const register of COMMANDS) register(program);
}
