import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MS, SECOND } from '../../src/core/clock';
import { TimestampRebaser } from '../../src/ingest/timestamp-rebaser';

const TICKS_PER_FRAME = 3000; // 90 kHz at 30 fps
const PERIOD = SECOND / 30;

void test('the first unit is due on arrival and later ones follow the container clock', () => {
  const rebaser = new TimestampRebaser();
  const first = rebaser.rebase(900_000, undefined, 7 * SECOND);
  assert.equal(first.pts, 7 * SECOND);
  const tenth = rebaser.rebase(900_000 + 9 * TICKS_PER_FRAME, undefined, 7 * SECOND + 2 * MS);
  assert.ok(Math.abs(tenth.pts - (7 * SECOND + 9 * PERIOD)) < 1000);
});

void test('audio and video share one offset, so they stay in sync', () => {
  const rebaser = new TimestampRebaser();
  const video = rebaser.rebase(90_000, undefined, SECOND);
  const audio = rebaser.rebase(90_000 + 4500, undefined, SECOND + 3 * MS);
  assert.ok(Math.abs(audio.pts - video.pts - 50 * MS) < 1000);
});

void test('B-frame reordering keeps PTS minus DTS', () => {
  const rebaser = new TimestampRebaser();
  const unit = rebaser.rebase(9000 + 6000, 9000, SECOND);
  assert.ok(Math.abs(unit.pts - unit.dts - (6000 * SECOND) / 90_000) < 1000);
});

void test('a 33-bit wrap continues smoothly', () => {
  const rebaser = new TimestampRebaser();
  const wrap = 2 ** 33;
  const before = rebaser.rebase(wrap - 1500, undefined, SECOND);
  const after = rebaser.rebase(1500, undefined, SECOND + PERIOD);
  assert.ok(Math.abs(after.pts - before.pts - PERIOD) < 1000, `step ${(after.pts - before.pts) / MS} ms`);
});

void test('a jump in the source clock re-anchors without going backwards', () => {
  const rebaser = new TimestampRebaser();
  const before = rebaser.rebase(90_000, undefined, SECOND);
  const jumped = rebaser.rebase(90_000 * 3600, undefined, SECOND + PERIOD);
  assert.ok(jumped.dts >= before.dts);
  assert.ok(jumped.dts - (SECOND + PERIOD) < 10 * MS, 'not scheduled an hour ahead');
  const backwards = rebaser.rebase(1000, undefined, SECOND + 2 * PERIOD);
  assert.ok(backwards.dts >= jumped.dts);
});

void test('a source that falls more than a second behind the clock catches up', () => {
  const rebaser = new TimestampRebaser();
  rebaser.rebase(0, undefined, SECOND);
  const late = rebaser.rebase(TICKS_PER_FRAME, undefined, 5 * SECOND);
  assert.equal(late.dts, 5 * SECOND);
});
