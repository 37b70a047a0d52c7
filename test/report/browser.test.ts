/**
 * The report page in a real headless Chromium (Debian's chromium, driven by
 * playwright-core): it loads from disk with no console error and no request, every
 * section is there, the numbers it shows are the library's, and it prints. A screenshot
 * is left in test-output/report.png for a person to look at.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { BufferSink } from '../../src/io/sink.js';
import { readStream } from '../../src/stream/reader.js';
import { sampleBytes } from '../support/sample.js';
import { verifyStream } from '../../src/verify/index.js';
import { SimulatedDomain } from '../../src/domain/simulated/simulated-domain.js';
import { saveDomain } from '../../src/save/save.js';
import { samplePolicyPath } from '../../src/policy/samples.js';
import { buildReportModel } from '../../src/report/model.js';
import { parseMigrationLog } from '../../src/report/precopy.js';
import { writeReportPage } from '../../src/report/write.js';
import { browserGate, openPage } from '../support/browser.js';
import { tmpDirFor } from '../support/tmp.js';

const reader = (bytes: Uint8Array): ByteReader => new ByteReader(new BufferRawSource(bytes));
const OUTPUT = resolve(fileURLToPath(new URL('../../../test-output', import.meta.url)));
const SECTIONS = ['layers', 'memory', 'cpu', 'vcpus', 'precopy'];

async function recordCount(bytes: Uint8Array): Promise<number> {
  let n = 0;
  for await (const item of readStream(reader(bytes), { pageContents: 'skip' })) if (item.kind === 'record') n++;
  return n;
}

const gate = browserGate();

test('report page in headless Chromium: no console errors, every section, the library\'s numbers, a screenshot and a PDF', { skip: gate.skip }, async (t) => {
  const dir = tmpDirFor(t, 'xenmig-report-');
  const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 16, seed: 11, vcpus: 2, workload: { rate: 40_000, pattern: 'hotset', tickMs: 1 } });
  d.start();
  const sink = new BufferSink();
  let save;
  try {
    save = await saveDomain(d, sink, { live: true, layer: 'xl' });
  } finally {
    d.destroy();
  }
  const bytes = sink.bytes();
  const migration = parseMigrationLog(JSON.stringify({ outcome: 'migrated', save, downtimeMs: 20, totalMs: 500 }));
  const model = await buildReportModel(reader(bytes), { name: 'live.xl', host: samplePolicyPath('amd-zen3-milan.txt'), migration });
  const path = join(dir, 'report.html');
  const written = await writeReportPage(model, path);
  const v = await verifyStream(reader(bytes));
  const records = await recordCount(bytes);

  const page = await openPage(path);
  try {
    assert.deepEqual(page.errors, [], 'no console errors');
    assert.deepEqual(page.requests, [], 'the page fetches nothing');
    for (const id of SECTIONS) assert.equal(await page.count(`section#${id}`), 1, `section #${id}`);
    assert.equal(Number(await page.attr('#layers', 'data-records')), records);
    assert.equal(Number(await page.attr('#report', 'data-records')), records);
    assert.equal(Number(await page.attr('#memory', 'data-populated')), v.summary.populatedPfns);
    assert.equal(Number(await page.attr('#precopy', 'data-rounds')), save.rounds);
    assert.equal(await page.attr('#precopy', 'data-source'), 'migrate');
    assert.equal(Number(await page.attr('#vcpus', 'data-vcpus')), 2);
    // What a person reads says the same.
    assert.equal((await page.text('#fact-records b')).replace(/,/g, ''), String(records));
    assert.equal((await page.text('#fact-populated b')).replace(/,/g, ''), String(v.summary.populatedPfns));
    assert.equal(await page.text('#fact-rounds b'), String(save.rounds));
    assert.equal(await page.count('#timeline .mark'), model.timeline.marks.length);
    assert.equal(await page.count('#strip > div'), model.timeline.marks.length);
    assert.equal(await page.count('#rounds tr'), save.rounds + 1);
    assert.ok((await page.count('#cpu-reasons li')) > 0, 'the AMD host blocks the Intel guest, with reasons');
    assert.equal(await page.count('#precopy-charts .uplot'), 2, 'two uPlot charts drawn');
    assert.equal(await page.count('#vcpu-regs tr'), 3);
    const png = join(dir, 'report.png');
    await page.screenshot(png);
    assert.ok(statSync(png).size > 10_000);
    mkdirSync(OUTPUT, { recursive: true });
    const forPeople = join(OUTPUT, 'report.png');
    await page.screenshot(forPeople);
    const pdf = join(dir, 'report.pdf');
    await page.pdf(pdf);
    assert.ok(statSync(pdf).size > 10_000, 'it prints');
    t.diagnostic(`page ${written.bytes} octets; screenshot for a person: ${forPeople}`);
  } finally {
    await page.close();
  }
});

test('report page of a broken stream in headless Chromium: no console errors, the finding pinned', { skip: gate.skip }, async (t) => {
  const dir = tmpDirFor(t, 'xenmig-report-');
  const cut = (await sampleBytes({ memoryMiB: 4 })).subarray(0, 1_000_000);
  const model = await buildReportModel(reader(cut), { name: 'cut.xl' });
  const path = join(dir, 'broken.html');
  await writeReportPage(model, path);
  const page = await openPage(path);
  try {
    assert.deepEqual(page.errors, []);
    for (const id of SECTIONS) assert.equal(await page.count(`section#${id}`), 1, `section #${id}`);
    assert.equal(await page.attr('#report', 'data-conforming'), 'false');
    assert.ok((await page.count('#timeline .pin.error')) >= 1);
    assert.ok((await page.count('#strip > div.flag-error')) >= 1, 'the mark holding the finding is outlined');
    assert.match(await page.text('header'), /broken stream/);
  } finally {
    await page.close();
  }
});
