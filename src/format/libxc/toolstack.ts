/** TOOLSTACK: deprecated (Xen 4.5 qemu-traditional physmap); a conforming stream has none. */
import { REC_TYPE } from '../constants.js';
import { blobRecord } from './common.js';

export const toolstack = blobRecord(REC_TYPE.TOOLSTACK, 'TOOLSTACK', {}, { kind: 'any' }, (ctx) => {
  ctx.report('toolstack-record', 'TOOLSTACK record: deprecated, a conforming stream has none');
});
