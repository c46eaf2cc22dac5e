import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MS } from '../../src/core/clock';
import type { TimedUnit } from '../../src/core/media';
import { Pacer } from '../../src/ingest/pacer';
import { FakeClock } from './helpers/fake-clock';

function unit(dts: number, bytes = 100): TimedUnit {
  return { kind: 'video', data: new Uint8Array(bytes), keyframe: false, pts: dts, dts, duration: 33 * MS };
}

void test('units that are due pass straight through', () => {
  const clock = new FakeClock();
  const released: number[] = [];
  const pacer = new Pacer({ clock, release: (u) => released.push(u.dts) });
  pacer.enqueue(unit(0));
  pacer.enqueue(unit(2 * MS));
  assert.deepEqual(released, [0, 2 * MS]);
  pacer.close();
});

void test('units ahead of time wait for their time', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const clock = new FakeClock();
  const released: number[] = [];
  const pacer = new Pacer({ clock, release: (u) => released.push(u.dts) });
  pacer.enqueue(unit(100 * MS));
  assert.deepEqual(released, []);
  clock.advance(100 * MS);
  t.mock.timers.tick(100);
  assert.deepEqual(released, [100 * MS]);
  pacer.close();
});

void test('a publisher more than the queue limit ahead is told to wait, and resumes when it drains', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const clock = new FakeClock();
  const pacer = new Pacer({ clock, release: () => {}, maxQueuedNs: 1000 * MS });
  for (let i = 0; i <= 60; i++) pacer.enqueue(unit(i * 33 * MS));
  let resumed = false;
  const room = pacer.waitForRoom().then(() => {
    resumed = true;
  });
  await Promise.resolve();
  assert.equal(resumed, false, 'two seconds queued: no room');
  clock.advance(1500 * MS);
  t.mock.timers.tick(1500);
  await room;
  assert.equal(resumed, true);
  pacer.close();
});

void test('the queue is bounded in bytes too', async () => {
  const clock = new FakeClock();
  const pacer = new Pacer({ clock, release: () => {}, maxQueuedBytes: 1000 });
  pacer.enqueue(unit(10 * MS, 600));
  pacer.enqueue(unit(20 * MS, 600));
  let resumed = false;
  void pacer.waitForRoom().then(() => (resumed = true));
  await Promise.resolve();
  assert.equal(resumed, false);
  pacer.close();
  await Promise.resolve();
  assert.equal(resumed, true, 'close wakes waiters');
});

void test('drained() resolves once the last held unit has gone out in its time', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const clock = new FakeClock();
  const released: number[] = [];
  const pacer = new Pacer({ clock, release: (u) => released.push(u.dts) });
  pacer.enqueue(unit(0));
  pacer.enqueue(unit(500 * MS));
  let drained = false;
  const done = pacer.drained().then(() => (drained = true));
  await Promise.resolve();
  assert.equal(drained, false);
  clock.advance(500 * MS);
  t.mock.timers.tick(500);
  await done;
  assert.deepEqual(released, [0, 500 * MS]);
  pacer.close();
});
