/** SHARED_INFO: a PV guest's shared info page, kept as it is, described in the guest's width. */
import { PAGE_SIZE, REC_TYPE } from '../constants.js';
import { describeSharedInfoPage } from '../pv/describe.js';
import { defineRecord } from '../record-module.js';
import { blobRecord, type BlobRecord } from './common.js';

export const sharedInfo = defineRecord<BlobRecord<typeof REC_TYPE.SHARED_INFO>>({
  ...blobRecord(REC_TYPE.SHARED_INFO, 'SHARED_INFO', { dynamic: true, guest: 'pv' }, { kind: 'exact', length: PAGE_SIZE }),
  // Laid out in the guest's width: X86_PV_INFO's, which the stream gave before this record.
  describe: (r, ctx) => describeSharedInfoPage(r.data, ctx.pvGuestWidth, ctx.littleEndian),
});
