/**
 * The options several commands share, defined and parsed in one place so that each means
 * the same and is refused the same way everywhere: --min-version, --format, --json,
 * --quiet. A bad value is a UsageError: one line, exit 2, before the command does
 * anything.
 */
import { Option } from 'commander';
import { UsageError } from '../format/errors.js';
import type { SaveLayer } from '../save/save.js';

/** The libxc stream versions there are: a minimum outside them is a mistake, not a policy. */
export function parseMinVersion(v: string): 2 | 3 {
  if (v !== '2' && v !== '3') throw new UsageError(`--min-version must be 2 or 3, got "${v}"`);
  return Number(v) as 2 | 3;
}

/** `--min-version <n>`, parsed to 2 or 3. `fallback`: the value when it is not given. */
export function minVersionOption(description: string, fallback?: 2 | 3): Option {
  const o = new Option('--min-version <n>', description).argParser(parseMinVersion);
  return fallback === undefined ? o : o.default(fallback, `"${fallback}"`);
}

/** `--format <layer>` of a command that reads a stream: its outermost layer, or auto. */
export function inputFormatOption(): Option {
  return new Option('--format <layer>', 'outermost layer of the input').choices(['auto', 'xl', 'libxl', 'libxc']).default('auto');
}

export function parseLayer(v: string): SaveLayer {
  if (v === 'libxc' || v === 'libxl' || v === 'xl') return v;
  throw new UsageError(`--format must be libxc, libxl or xl, got "${v}"`);
}

/** `--format <layer>` of a command that writes a stream: the layers it wraps it in. */
export function outputFormatOption(description: string): Option {
  return new Option('--format <layer>', description).argParser(parseLayer).default('libxc');
}

/** `--json`: what it prints as JSON, and where. */
export function jsonOption(description: string): Option {
  return new Option('--json', description);
}

/** `--quiet`: which progress it silences. */
export function quietOption(description: string): Option {
  return new Option('--quiet', description);
}
