/** END: the last record of a libxc stream. */
import { REC_TYPE } from '../constants.js';
import { emptyRecord } from '../record-module.js';

export const end = emptyRecord(REC_TYPE.END, 'END');
