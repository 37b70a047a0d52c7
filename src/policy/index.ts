/**
 * CPU policies: decode the X86_CPUID_POLICY / X86_MSR_POLICY records, read xen-cpuid and
 * xenmig policy files, judge whether a guest can run on a host, and level a pool.
 */
export { NO_SUBLEAF, type FeatureInfo, type Featureset, type WordSource, describeWordSource, featureByName, featureset } from './featureset.js';
export {
  CpuPolicy,
  MSR_ARCH_CAPABILITIES,
  MSR_INTEL_PLATFORM_INFO,
  XSTATE_NAMES,
  type Regs,
  type XsaveComponent,
  type XsaveInfo,
  decodePolicy,
} from './policy.js';
export { type NamedPolicy, formatXenCpuid, formatXenCpuidPolicies, looksLikeXenCpuid, parseXenCpuid } from './xen-cpuid.js';
export { POLICY_JSON_FORMAT, type PolicyJsonFile, parsePolicyJson, policiesToJson, policyToJsonEntry } from './json.js';
export { type CompatibilityOptions, type CompatibilityResult, type Reason, type ReasonKind, STRICTER_THAN_XEN, checkCompatibility, msrName } from './compat.js';
export { type LevelOptions, type LevelResult, levelPolicies, levelPoliciesDetailed } from './level.js';
export { type HiddenFeature, describeHidden, sanitiseFeatureset } from './deps.js';
export { type LoadProblem, type LoadProblemKind, XenPolicyTables, loadProblems, serialisePolicy, xenTables } from './serialise.js';
export { type XenFacts, type XenLimits, type XenMsr, knownXenVersions, newestXenVersion, parseXenVersion, xenFacts, xenVersionForStream } from './xen-versions.js';
export { type SelectOptions, inferGuestType, loadPolicyFile, parsePolicyText, readPolicyFile, selectPolicy } from './load.js';
export { type PolicySummary, formatPolicySummary, summarizePolicy } from './describe.js';
export { SAMPLE_HOSTS, type SampleHost, sampleGuestPolicy, sampleHostPolicies, sampleHostPolicy, samplePolicies, samplePolicyPath } from './samples.js';
export { NO_POLICY_MESSAGE, type GuestPolicy, type StreamPolicy, isStreamFile, loadGuestPolicy, readStreamPolicy } from './stream.js';
