/** X86_PV_P2M_FRAMES: the pfn range and the frames holding the PV guest's P2M. */
import { ByteCursor, ByteWriter } from '../bytes.js';
import { PAGE_SIZE, REC_TYPE } from '../constants.js';
import { StreamFormatError } from '../errors.js';
import { struct } from '../layout.js';
import { defineRecord } from '../record-module.js';
import { hex } from './common.js';

export const P2M_FRAMES_HEADER_LAYOUT = struct('x86_pv_p2m_frames', { startPfn: 'u32', endPfn: 'u32' });

export interface P2mFramesRecord {
  type: typeof REC_TYPE.X86_PV_P2M_FRAMES;
  startPfn: number;
  endPfn: number;
  p2mPfns: bigint[];
}

/** P2M frames libxc wants for pfns start..end: one page of guest-width entries each. */
export function p2mFramesNeeded(startPfn: number, endPfn: number, guestWidth: number): { perFrame: number; frames: number } {
  const perFrame = PAGE_SIZE / guestWidth;
  return { perFrame, frames: Math.floor(endPfn / perFrame) + 1 - Math.floor(startPfn / perFrame) };
}

export const x86PvP2mFrames = defineRecord<P2mFramesRecord>({
  type: REC_TYPE.X86_PV_P2M_FRAMES,
  name: 'X86_PV_P2M_FRAMES',
  flags: { dynamic: true, guest: 'pv' },
  length: { kind: 'multiple', of: 8, min: 16, header: P2M_FRAMES_HEADER_LAYOUT.size },
  decode(body, le) {
    const { startPfn, endPfn } = P2M_FRAMES_HEADER_LAYOUT.read(body, le);
    const c = new ByteCursor(body.subarray(P2M_FRAMES_HEADER_LAYOUT.size), le);
    const p2mPfns: bigint[] = [];
    while (c.remaining >= 8) p2mPfns.push(c.u64());
    if (c.remaining !== 0) throw new StreamFormatError('X86_PV_P2M_FRAMES: body is not 8 + a multiple of 8 octets');
    return { type: REC_TYPE.X86_PV_P2M_FRAMES, startPfn, endPfn, p2mPfns };
  },
  encode(r, le) {
    const w = new ByteWriter(le, 8 + 8 * r.p2mPfns.length).u32(r.startPfn).u32(r.endPfn);
    for (const p of r.p2mPfns) w.u64(p);
    return w.finish();
  },
  describe: (r) => ({
    fields: { startPfn: r.startPfn, endPfn: r.endPfn, frames: r.p2mPfns },
    text: `pfns ${hex(r.startPfn)}-${hex(r.endPfn)} in ${r.p2mPfns.length} frame(s)`,
  }),
  check(ctx) {
    const { startPfn: start, endPfn: end } = P2M_FRAMES_HEADER_LAYOUT.read(ctx.body, ctx.littleEndian);
    if (start > end) {
      ctx.report('p2m-frames-range', `p2m_start_pfn ${start} is above p2m_end_pfn ${end}`);
      return;
    }
    const { perFrame, frames: needed } = p2mFramesNeeded(start, end, ctx.facts.pvGuestWidth ?? 8);
    const have = (ctx.length - P2M_FRAMES_HEADER_LAYOUT.size) / 8;
    if (have !== needed) {
      ctx.report('p2m-frames-count', `pfns ${start}-${end} span ${needed} p2m frame(s) of ${perFrame} entries, the record holds ${have}`);
    }
  },
});
