/** CHECKPOINT_END: closes libxl's part of one Remus/COLO checkpoint. */
import { LIBXL_REC_TYPE } from '../constants.js';
import { emptyRecord } from '../record-module.js';
import { checkCheckpointed } from './checkpointed.js';

export const checkpointEnd = emptyRecord(LIBXL_REC_TYPE.CHECKPOINT_END, 'CHECKPOINT_END', {}, checkCheckpointed);
