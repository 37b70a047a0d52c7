/** CHECKPOINT: the end of one Remus/COLO checkpoint's batch. */
import { REC_TYPE } from '../constants.js';
import { emptyRecord } from '../record-module.js';

export const checkpoint = emptyRecord(REC_TYPE.CHECKPOINT, 'CHECKPOINT', {}, (ctx) => {
  if (!ctx.facts.checkpointed) {
    ctx.report('checkpoint-not-allowed', 'CHECKPOINT record in a stream that is not checkpointed (use --checkpointed for Remus/COLO streams)');
  }
});
