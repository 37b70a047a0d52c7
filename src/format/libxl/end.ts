/** END: the last record of a libxl stream. */
import { LIBXL_REC_TYPE } from '../constants.js';
import { emptyRecord } from '../record-module.js';

export const end = emptyRecord(LIBXL_REC_TYPE.END, 'END');
