/**
 * Every command's module, registered on the program. Each module exports one
 * `register(program)` that adds its command and its options.
 */
import type { Command } from 'commander';

import { register as guard } from './guard.js';

type Register = (program: Command) => void;

const COMMANDS: Register[] = [guard];

export function registerCommands(program: Command): void {
  for (const register of COMMANDS) register(program);
}
