/** SHARED_INFO: a PV guest's shared info page, as it is. */
import { PAGE_SIZE, REC_TYPE } from '../constants.js';
import { blobRecord } from './common.js';

export const sharedInfo = blobRecord(REC_TYPE.SHARED_INFO, 'SHARED_INFO', { dynamic: true, guest: 'pv' }, { kind: 'exact', length: PAGE_SIZE });
