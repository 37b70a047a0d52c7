import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { samplePolicyPath } from '../../src/policy/samples.js';
import { migrate, scene, xlRune } from './harness.js';
import { assertHeldAt, testStream, TEST_STREAM_CONFIG } from './streams.js';
import { makeXlHeader } from '../../src/format/headers.js';
import { BufferSink } from '../../src/io/sink.js';
import { StreamWriter } from '../../src/stream/writer.js';
import { assemble, checkpointedParts } from '../support/checkpointed.js';

const COMPATIBLE = samplePolicyPath('intel-icelake-sp.txt');
const INCOMPATIBLE = samplePolicyPath('amd-zen2-rome.txt');

const pageItems = (items: string[]): string[] => items.filter((i) => i === 'libxc:PAGE_DATA');

test('a compatible migration passes byte for byte; the tee equals the sender stream; the log tells the story', async (t) => {
  const s = scene(t);
  const stream = await testStream({ rounds: [300, 40, 5] });
  const tee = join(s.dir, 'copy.xl');
  const log = join(s.dir, 'guard.log');
  const m = await migrate(s, stream, xlRune(`xenmig guard --host-policy ${COMPATIBLE} --tee ${tee} --log ${log} --`, 'desthost', { tty: true }));
  assert.equal(m.sender.outcome, 'migrated', m.stderr);
  assert.equal(m.guardExit, 0);
  assert.equal(m.receiver!.outcome, 'running');
  assert.deepEqual(m.received, stream);
  assert.deepEqual(new Uint8Array(readFileSync(tee)), stream);
  assert.equal(readFileSync(join(s.dir, 'ssh-args'), 'utf8').trim(), 'desthost xl -t migrate-receive');
  const text = readFileSync(log, 'utf8');
  for (const want of [
    'receiver: receiver banner',
    'sender: xl header',
    'sender: libxc stream v3, HVM guest',
    'static data: compatible',
    'round 1: 300 page(s)',
    'round 2: 40 page(s)',
    'round 3: 5 page(s)',
    'receiver: receiver ready',
    'sender: permission to go',
    'receiver: report',
    'receiver: status byte 0',
    'exit 0',
  ]) {
    assert.ok(text.includes(want), `log lacks "${want}":\n${text}`);
  }
});

test('an incompatible host stops it before the first PAGE_DATA reaches the receiver', async (t) => {
  const s = scene(t);
  const stream = await testStream();
  const tee = join(s.dir, 'copy.xl');
  const m = await migrate(s, stream, xlRune(`xenmig guard --host-policy ${INCOMPATIBLE} --tee ${tee} --`, 'desthost', { e: true }));
  assert.equal(m.guardExit, 1);
  assert.equal(m.sender.outcome, 'resumed', 'the sending side keeps its guest');
  assert.equal(m.receiver!.outcome, 'failed');
  assert.deepEqual(pageItems(m.receiver!.items), []);
  assert.equal(m.receiver!.items.at(-1), 'libxc:X86_MSR_POLICY', 'STATIC_DATA_END itself was held');
  await assertHeldAt(m.received, stream, 'libxc:STATIC_DATA_END');
  assert.match(m.stderr, /stopped the migration: the destination cannot run this guest \(.*STATIC_DATA_END\)/);
  assert.match(m.stderr, /xenmig guard: {3}- CPU policy \(host "HVM Max"\): vendor differs: the guest's is Intel, the host's is AMD\n/);
  assert.match(m.stderr, /xenmig guard: {3}- CPU policy \(host "HVM Max"\): feature AVX512F \(word 5 bit 16, CPUID 0x00000007:0\.ebx\): the guest sees it, the host cannot offer it\n/);
  assert.match(m.stderr, new RegExp(`note: ${tee.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} kept although the guard stopped`));
  // The copy holds what the sender managed to send, from its start.
  const kept = new Uint8Array(readFileSync(tee));
  assert.deepEqual(kept, stream.subarray(0, kept.length));
});

test('a corrupt record stops the migration at that record', async (t) => {
  const s = scene(t);
  const stream = await testStream({ badTscInfo: true });
  const m = await migrate(s, stream, xlRune('xenmig guard --', 'desthost'));
  assert.equal(m.guardExit, 1);
  assert.equal(m.sender.outcome, 'resumed');
  assert.equal(m.receiver!.outcome, 'failed');
  assert.deepEqual(m.receiver!.items.slice(-2), ['libxc:STATIC_DATA_END', 'libxc:PAGE_DATA']);
  await assertHeldAt(m.received, stream, 'libxc:X86_TSC_INFO');
  assert.match(m.stderr, /stopped the migration: X86_TSC_INFO breaks the stream rules \(offset \d+ .*record #4, X86_TSC_INFO\)/);
  assert.match(m.stderr, /X86_TSC_INFO body length 16, expected exactly 24/);
});

test('--warn-only reports the corrupt record and lets the migration finish', async (t) => {
  const s = scene(t);
  const stream = await testStream({ badTscInfo: true });
  const m = await migrate(s, stream, xlRune('xenmig guard --warn-only --', 'desthost'));
  assert.equal(m.guardExit, 0);
  assert.equal(m.sender.outcome, 'migrated');
  assert.deepEqual(m.received, stream);
  assert.match(m.stderr, /warning \(--warn-only, let through\): X86_TSC_INFO breaks the stream rules/);
});

test('a v2 sender is refused with --min-version 3 before its libxc stream reaches the receiver', async (t) => {
  const s = scene(t);
  const stream = await testStream({ version: 2 });
  const m = await migrate(s, stream, xlRune('xenmig guard --min-version 3 --', 'desthost'));
  assert.equal(m.guardExit, 1);
  assert.equal(m.sender.outcome, 'resumed');
  assert.deepEqual(m.receiver!.items, ['xl-header', 'libxl-header', 'libxl:LIBXC_CONTEXT']);
  await assertHeldAt(m.received, stream, 'libxc-header');
  assert.match(m.stderr, /the sender writes a libxc v2 stream .*stream version 2 is older than --min-version 3/s);
});

test('a v2 sender passes without --min-version; its static data ends where its first PAGE_DATA starts', async (t) => {
  const s = scene(t);
  const stream = await testStream({ version: 2 });
  const log = join(s.dir, 'guard.log');
  const m = await migrate(s, stream, xlRune(`xenmig guard --host-policy ${COMPATIBLE} --log ${log} --`, 'desthost'));
  assert.equal(m.guardExit, 0);
  assert.deepEqual(m.received, stream);
  assert.match(readFileSync(log, 'utf8'), /static data ends \(inferred at the first PAGE_DATA.*\n.*carries no CPUID policy \(libxc v2\)/);
});

test('a command that cannot run exits 2 and the sender keeps its guest', async (t) => {
  const s = scene(t);
  const m = await migrate(s, await testStream(), 'exec xenmig guard -- /nonexistent/receiver');
  assert.equal(m.guardExit, 2);
  assert.equal(m.sender.outcome, 'no-banner');
  assert.match(m.stderr, /cannot run \/nonexistent\/receiver/);
  assert.equal(existsSync(s.receiverStats), false);
});

test('--host-policy-command: its xen-cpuid text is the destination policy; a failing command stops at STATIC_DATA_END', async (t) => {
  const s = scene(t);
  const stream = await testStream();
  const ok = await migrate(s, stream, xlRune(`xenmig guard --host-policy-command 'cat ${COMPATIBLE}' --`, 'desthost'));
  assert.equal(ok.guardExit, 0, ok.stderr);
  assert.equal(ok.sender.outcome, 'migrated');
  const s2 = scene(t);
  const bad = await migrate(s2, stream, xlRune(`xenmig guard --host-policy-command 'echo no route >&2; exit 255' --`, 'desthost'));
  assert.equal(bad.guardExit, 1);
  assert.equal(bad.sender.outcome, 'resumed');
  assert.match(bad.stderr, /- cannot judge the guest's CPU policy: the host policy command "echo no route >&2; exit 255" exited with status 255: no route/);
  await assertHeldAt(bad.received, stream, 'libxc:STATIC_DATA_END');
});

test('usage mistakes exit 2 before anything runs', async (t) => {
  const s = scene(t);
  const m = await migrate(s, await testStream(), xlRune(`xenmig guard --host-policy ${COMPATIBLE} --host-policy-command true --`, 'desthost'));
  assert.equal(m.guardExit, 2);
  assert.equal(m.sender.outcome, 'no-banner');
  assert.match(m.stderr, /xenmig: guard: give --host-policy or --host-policy-command, not both/);
  assert.equal(existsSync(join(s.dir, 'ssh-args')), false);
});

test('xl remus (-r): the libxl records after each CHECKPOINT are read as libxl, and the stream passes whole', async (t) => {
  const s = scene(t);
  const sink = new BufferSink();
  await new StreamWriter(sink).xlHeader(makeXlHeader(TEST_STREAM_CONFIG));
  const libxl = assemble(checkpointedParts({ checkpoints: 2, xenstore: true })).bytes;
  const stream = new Uint8Array(sink.bytes().length + libxl.length);
  stream.set(sink.bytes());
  stream.set(libxl, sink.bytes().length);
  const log = join(s.dir, 'guard.log');
  const m = await migrate(s, stream, `${xlRune(`xenmig guard --host-policy ${COMPATIBLE} --log ${log} --`, 'backup')} -r`);
  assert.equal(m.guardExit, 0, m.stderr + readFileSync(log, 'utf8'));
  assert.equal(m.receiver!.outcome, 'running');
  assert.deepEqual(m.received, stream);
  assert.equal(m.receiver!.items.filter((i) => i === 'libxl:CHECKPOINT_END').length, 3);
});
