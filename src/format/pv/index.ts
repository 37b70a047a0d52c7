/** PV vcpu state and the shared info page, as libxc's X86_PV_* and SHARED_INFO records carry them. */
export * from './vcpu-context.js';
export * from './extended.js';
export * from './xsave.js';
export * from './msrs.js';
export * from './shared-info.js';
export * from './describe.js';
