import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SparsePfnBytes } from '../../src/domain/image/pfn-map.js';

test('runs cross chunk boundaries and split on value changes and gaps', () => {
  const m = new SparsePfnBytes();
  for (let p = 65534; p < 65538; p++) m.set(p, 1);
  m.set(65538, 2);
  m.set(2 ** 40, 3);
  m.set(0, 5);
  assert.deepEqual([...m.runs()], [[0, 1, 5], [65534, 4, 1], [65538, 1, 2], [2 ** 40, 1, 3]]);
  assert.equal(m.maxPfn, 2 ** 40);
  assert.equal(m.get(65535), 1);
  assert.equal(m.get(7), 0);
});

test('runs describe exactly the values set (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 200000 }), fc.integer({ min: 1, max: 3 })), { maxLength: 300 }), (sets) => {
      const m = new SparsePfnBytes();
      const want = new Map<number, number>();
      for (const [p, v] of sets) {
        m.set(p, v);
        want.set(p, v);
      }
      const got = new Map<number, number>();
      let prevEnd = -1;
      for (const [start, count, v] of m.runs()) {
        assert.ok(start >= prevEnd);
        for (let i = 0; i < count; i++) got.set(start + i, v);
        prevEnd = start + count;
      }
      assert.deepEqual(new Map([...got].sort((a, b) => a[0] - b[0])), new Map([...want].sort((a, b) => a[0] - b[0])));
    }),
    { numRuns: 50 },
  );
});
