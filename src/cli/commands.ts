/**
 * Every command's module, registered on the program. Each module exports one
 * `register(program)` that adds its command and its options.
 */
import type { Command } from 'commander';
import { register as registerCompat } from './compat.js';
import { register as registerPolicy } from './policy.js';
import { register as registerSave } from './save.js';

type Register = (program: Command) => void;

const COMMANDS: Register[] = [registerPolicy, registerCompat, registerSave];

export function registerCommands(program: Command): void {
  for (const register of COMMANDS) register(program);
}
