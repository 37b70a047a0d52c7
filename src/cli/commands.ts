/**
 * Every command's module, registered on the program. Each module exports one
 * `register(program)` that adds its command and its options.
 */
import type { Command } from 'commander';
import * as verify from './verify.js';
import * as dump from './dump.js';
import * as info from './info.js';
import * as demo from './demo.js';
import * as guard from './guard.js';
import { register as registerCompat } from './compat.js';
import { register as registerPolicy } from './policy.js';

type Register = (program: Command) => void;

const COMMANDS: Register[] = [verify.register, dump.register, info.register, demo.register, registerPolicy, registerCompat, guard.register];

export function registerCommands(program: Command): void {
  for (const register of COMMANDS) register(program);
}
