/** VERIFY: the sender sends its memory again; the receiver compares instead of writing. */
import { REC_TYPE } from '../constants.js';
import { emptyRecord } from '../record-module.js';

export const verify = emptyRecord(REC_TYPE.VERIFY, 'VERIFY');
