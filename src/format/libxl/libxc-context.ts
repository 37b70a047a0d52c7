/**
 * LIBXC_CONTEXT: empty; the libxc stream follows it inline. That a stream holds exactly
 * one is a rule over the sequence (src/verify/libxl-rules.ts), not over this body.
 */
import { LIBXL_REC_TYPE } from '../constants.js';
import { emptyRecord } from '../record-module.js';

export const libxcContext = emptyRecord(LIBXL_REC_TYPE.LIBXC_CONTEXT, 'LIBXC_CONTEXT');
