/** The flags that force what xenmig otherwise detects in a legacy (Xen <= 4.5) image. */
import { Option, type Command } from 'commander';
import type { LegacyOptions } from '../stream/legacy/reader.js';

export interface LegacyFlags {
  legacyWidth?: '32' | '64';
  legacyGuest?: 'pv' | 'hvm';
  legacyWrap?: 'libxc' | 'libxl';
}

export function addLegacyOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--legacy-width <bits>', "legacy image: the saving toolstack's bitness (default: detected)").choices(['32', '64']))
    .addOption(new Option('--legacy-guest <type>', 'legacy image: the guest type (default: detected)').choices(['pv', 'hvm']))
    .addOption(
      new Option('--legacy-wrap <layer>', 'legacy image: read it as converted to a bare libxc stream or a libxl one (default: libxl behind an xl header, libxc otherwise)').choices([
        'libxc',
        'libxl',
      ]),
    );
}

export function legacyOptions(f: LegacyFlags): LegacyOptions {
  const o: LegacyOptions = {};
  if (f.legacyWidth) o.width = Number(f.legacyWidth) as 32 | 64;
  if (f.legacyGuest) o.guest = f.legacyGuest;
  if (f.legacyWrap) o.wrap = f.legacyWrap;
  return o;
}
