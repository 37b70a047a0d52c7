/** What the two checkpoint records share: only a checkpointed stream may carry them. */
import type { BodyCheckContext } from '../record-module.js';

export function checkCheckpointed(ctx: BodyCheckContext<unknown>): void {
  if (!ctx.facts.checkpointed) {
    ctx.report('checkpoint-not-allowed', `${ctx.typeName} in a stream that is not checkpointed (use --checkpointed for Remus/COLO streams)`);
  }
}
