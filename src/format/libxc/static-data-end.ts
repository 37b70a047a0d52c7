/** STATIC_DATA_END (v3): everything before it is invariant of guest execution. */
import { LIBXC_VERSION_3, REC_TYPE } from '../constants.js';
import { emptyRecord } from '../record-module.js';

export const staticDataEnd = emptyRecord(REC_TYPE.STATIC_DATA_END, 'STATIC_DATA_END', { v3Only: true }, (ctx) => {
  if (ctx.facts.version < LIBXC_VERSION_3) {
    ctx.report('v2-static-data-end', 'STATIC_DATA_END in a v2 stream; only v3 streams carry it');
  } else if (ctx.facts.staticDataEndSeen) {
    ctx.report('static-data-end-repeated', 'a second STATIC_DATA_END; expected exactly one');
  } else if (ctx.facts.guestType === 'pv' && ctx.facts.pvGuestWidth === undefined) {
    // libxc's x86_pv_static_data_complete needs the guest's width here, not only at END.
    ctx.report('pv-info-missing', 'STATIC_DATA_END of a PV stream without X86_PV_INFO; the static data cannot be completed');
  }
});
