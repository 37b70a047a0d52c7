/** X86_PV_INFO: the PV guest's width and page-table levels (static data). */
import { REC_TYPE } from '../constants.js';
import { struct } from '../layout.js';
import { defineRecord } from '../record-module.js';
import { hex } from './common.js';

export const PV_INFO_LAYOUT = struct('x86_pv_info', { guestWidth: 'u8', ptLevels: 'u8', reserved1: 'u16', reserved2: 'u32' });

export interface PvInfoRecord {
  type: typeof REC_TYPE.X86_PV_INFO;
  guestWidth: number;
  ptLevels: number;
  reserved1: number;
  reserved2: number;
}

export const x86PvInfo = defineRecord<PvInfoRecord>({
  type: REC_TYPE.X86_PV_INFO,
  name: 'X86_PV_INFO',
  flags: { static: true, guest: 'pv' },
  length: { kind: 'exact', length: PV_INFO_LAYOUT.size },
  decode: (body, le) => ({ type: REC_TYPE.X86_PV_INFO, ...PV_INFO_LAYOUT.read(body, le) }),
  encode: ({ type: _type, ...fields }, le) => PV_INFO_LAYOUT.encode(fields, le),
  describe: (r) => ({ fields: { guestWidth: r.guestWidth, ptLevels: r.ptLevels }, text: `guest width ${r.guestWidth}, ${r.ptLevels} page table levels` }),
  check(ctx) {
    const { guestWidth: width, ptLevels: levels, reserved1: res1, reserved2: res2 } = PV_INFO_LAYOUT.read(ctx.body, ctx.littleEndian);
    const widthOk = width === 4 || width === 8;
    const levelsOk = levels === 3 || levels === 4;
    if (!widthOk) ctx.report('pv-info-width', `guest_width ${width}, expected 4 or 8`);
    if (!levelsOk) ctx.report('pv-info-levels', `pt_levels ${levels}, expected 3 or 4`);
    if (widthOk && levelsOk && (width === 4) !== (levels === 3)) {
      ctx.report('pv-info-combination', `guest_width ${width} with pt_levels ${levels}; a 32-bit guest has 3 levels, a 64-bit guest 4`);
    }
    if (ctx.facts.pvGuestWidth !== undefined) ctx.report('pv-info-repeated', 'a second X86_PV_INFO; expected exactly one');
    if (res1 !== 0 || res2 !== 0) ctx.report('reserved-nonzero', `X86_PV_INFO reserved fields ${hex(res1, 4)}:${hex(res2, 8)}, expected zero`);
  },
});
