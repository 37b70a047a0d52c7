/**
 * The rules of a checkpointed libxl stream (Remus / COLO): how libxl's records interleave
 * with the libxc stream. What upstream does, and so what these rules hold a stream to:
 *
 * - libxc (xg_sr_save.c, save()) ends each checkpoint with CHECKPOINT and calls the
 *   toolstack back; libxl (libxl_stream_write.c, libxl__stream_write_start_checkpoint)
 *   then writes, in the same byte stream, EMULATOR_XENSTORE_DATA (HVM, when there are
 *   keys), EMULATOR_CONTEXT (HVM) and CHECKPOINT_END, and hands the stream back to libxc.
 * - The receiver's libxl (libxl_stream_read.c, PHASE_BUFFERING) buffers every record up
 *   to CHECKPOINT_END and then processes them: CHECKPOINT_END outside a checkpoint,
 *   CHECKPOINT_STATE inside one, and emulator records for a PV guest are errors there.
 * - COLO only: after CHECKPOINT_END the primary waits for the next checkpoint and sends
 *   CHECKPOINT_STATE with control_id 0 (CHECKPOINT_NEW, libxl_colo_save.c,
 *   colo_start_new_checkpoint); the secondary reads exactly one libxl record there
 *   (libxl_colo_restore.c, libxl__stream_read_checkpoint_state). Ids 1-3 (suspended,
 *   ready, resumed) travel from the secondary back to the primary on the back channel.
 * - At the libxc END of a checkpointed stream the receiver completes (libxl_stream_read.c,
 *   libxl__xc_domain_restore_done): libxl records after it are never read.
 */
import { CHECKPOINT_STATE_ID, LIBXL_REC_TYPE, REC_TYPE, type GuestType } from '../format/constants.js';
import { CHECKPOINT_STATE_LAYOUT } from '../format/libxl/checkpoint-state.js';
import type { CheckpointedKind } from '../stream/reader.js';
import type { RecordItem } from '../stream/items.js';
import type { Reporter } from './report.js';

const STATE_NAMES = ['CHECKPOINT_NEW', 'CHECKPOINT_SVM_SUSPENDED', 'CHECKPOINT_SVM_READY', 'CHECKPOINT_SVM_RESUMED'];

/** `closed`: right after a Remus CHECKPOINT_END, before the next libxc record. */
type Phase = 'before-libxc' | 'libxc' | 'checkpoint' | 'state' | 'closed' | 'after-libxc';

export interface CheckpointCounts {
  kind: CheckpointedKind;
  /** libxc CHECKPOINT records. */
  checkpoints: number;
  /** Checkpoints closed by CHECKPOINT_END (and, COLO, followed by CHECKPOINT_STATE): what a receiver applies. */
  complete: number;
}

/**
 * Emulator records in a PV stream: libxl's reader fails on them, checkpointed or not;
 * checked here only for checkpointed streams, where they would arrive with every checkpoint.
 */
function checkEmulatorGuest(item: RecordItem, guest: GuestType | undefined, r: Reporter): void {
  if (guest !== 'pv') return;
  if (item.type === LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA || item.type === LIBXL_REC_TYPE.EMULATOR_CONTEXT) {
    r.report('emulator-record-pv', `${item.typeName} in a PV stream; a PV guest has no emulator and libxl refuses the record`);
  }
}

/** Tracks one checkpointed libxl stream; fed its libxc and libxl records in order. */
export class CheckpointRules {
  private phase: Phase = 'before-libxc';
  private inCheckpoint: number[] = [];
  readonly counts: CheckpointCounts;

  constructor(
    readonly kind: CheckpointedKind,
    private readonly guest: () => GuestType | undefined,
  ) {
    this.counts = { kind, checkpoints: 0, complete: 0 };
  }

  libxcRecord(item: RecordItem, r: Reporter): void {
    if (this.phase === 'closed' && this.kind === 'remus' && item.type === LIBXL_REC_TYPE.CHECKPOINT_STATE && item.length === 4) {
      r.report('colo-stream-hint', 'a 4-octet record of type 5 right after CHECKPOINT_END is what COLO\'s CHECKPOINT_STATE looks like; if this is a COLO stream, verify it with --colo');
    }
    if (item.type === REC_TYPE.CHECKPOINT) {
      this.phase = 'checkpoint';
      this.inCheckpoint = [];
      this.counts.checkpoints++;
    } else if (item.type === REC_TYPE.END) {
      this.phase = 'after-libxc';
    } else {
      this.phase = 'libxc';
    }
  }

  libxlRecord(item: RecordItem, r: Reporter): void {
    checkEmulatorGuest(item, this.guest(), r);
    if (item.type === LIBXL_REC_TYPE.CHECKPOINT_STATE) this.stateBody(item, r);
    switch (this.phase) {
      case 'checkpoint':
        return this.inside(item, r);
      case 'state':
        this.phase = 'libxc';
        if (item.type === LIBXL_REC_TYPE.CHECKPOINT_STATE) {
          this.counts.complete++;
          return;
        }
        r.report('checkpoint-state-missing', `${item.typeName} after CHECKPOINT_END; a COLO primary sends CHECKPOINT_STATE (CHECKPOINT_NEW) before the next checkpoint`);
        return;
      default:
        return this.outside(item, r);
    }
  }

  /** Between a libxc CHECKPOINT and its CHECKPOINT_END. */
  private inside(item: RecordItem, r: Reporter): void {
    const n = this.counts.checkpoints;
    switch (item.type) {
      case LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA:
      case LIBXL_REC_TYPE.EMULATOR_CONTEXT: {
        const last = this.inCheckpoint.at(-1);
        if (this.inCheckpoint.includes(item.type)) {
          r.report('checkpoint-emulator-order', `a second ${item.typeName} in checkpoint ${n}; libxl sends one per emulator per checkpoint`);
        } else if (last === LIBXL_REC_TYPE.EMULATOR_CONTEXT) {
          r.report('checkpoint-emulator-order', `${item.typeName} after EMULATOR_CONTEXT in checkpoint ${n}; libxl sends the xenstore data first`);
        }
        this.inCheckpoint.push(item.type);
        return;
      }
      case LIBXL_REC_TYPE.CHECKPOINT_END:
        if (this.guest() === 'hvm' && !this.inCheckpoint.includes(LIBXL_REC_TYPE.EMULATOR_CONTEXT)) {
          r.report('checkpoint-emulator-context-missing', `checkpoint ${n} of an HVM stream closed without EMULATOR_CONTEXT; the secondary keeps the previous device model state`);
        }
        if (this.kind === 'colo') {
          this.phase = 'state';
        } else {
          this.phase = 'closed';
          this.counts.complete++;
        }
        return;
      case LIBXL_REC_TYPE.CHECKPOINT_STATE:
        r.report('checkpoint-state-misplaced', `CHECKPOINT_STATE between CHECKPOINT and CHECKPOINT_END (checkpoint ${n}); libxl rejects it there`);
        return;
      case LIBXL_REC_TYPE.END:
      case LIBXL_REC_TYPE.LIBXC_CONTEXT:
        r.report('checkpoint-libxl-record', `${item.typeName} between CHECKPOINT and CHECKPOINT_END (checkpoint ${n}); only EMULATOR_XENSTORE_DATA and EMULATOR_CONTEXT may come before CHECKPOINT_END`);
        return;
    }
  }

  /** Anywhere else: the plain libxl records before LIBXC_CONTEXT and after the libxc END. */
  private outside(item: RecordItem, r: Reporter): void {
    switch (item.type) {
      case LIBXL_REC_TYPE.CHECKPOINT_END:
        r.report('checkpoint-end-misplaced', 'CHECKPOINT_END that does not follow a libxc CHECKPOINT; libxl rejects it ("Unexpected CHECKPOINT_END")');
        return;
      case LIBXL_REC_TYPE.CHECKPOINT_STATE:
        r.report(
          'checkpoint-state-misplaced',
          this.kind === 'colo'
            ? 'CHECKPOINT_STATE that does not follow a CHECKPOINT_END; COLO sends it only between checkpoints'
            : 'CHECKPOINT_STATE in a Remus stream; only COLO sends it (verify with --colo)',
        );
        return;
      case LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA:
      case LIBXL_REC_TYPE.EMULATOR_CONTEXT:
        if (this.phase === 'after-libxc') {
          r.report('checkpointed-after-libxc-end', `${item.typeName} after the libxc END of a checkpointed stream; the receiver completes at that END and never reads it`);
        }
        return;
    }
  }

  private stateBody(item: RecordItem, r: Reporter): void {
    const L = CHECKPOINT_STATE_LAYOUT;
    if (item.length < L.size) return;
    const id = L.get(item.body, 'controlId', item.littleEndian);
    if (id >= CHECKPOINT_STATE_ID.SVM_SUSPENDED && id <= CHECKPOINT_STATE_ID.SVM_RESUMED) {
      r.report('checkpoint-state-direction', `control_id ${id} (${STATE_NAMES[id]}) travels from the COLO secondary to the primary on the back channel; the forward stream carries only 0 (CHECKPOINT_NEW)`);
    }
    if (item.length > L.size) r.report('checkpoint-state-length', `CHECKPOINT_STATE body length ${item.length}; libxl writes exactly 4 (control_id) and reads no more`);
  }
}
