import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatFromContentType } from '../../src/ingest/content-type';
import { PushgateError } from '../../src/core/errors';

void test('each supported Content-Type selects its format, ignoring case and parameters', () => {
  assert.equal(formatFromContentType('video/h264'), 'h264');
  assert.equal(formatFromContentType('Video/H265'), 'h265');
  assert.equal(formatFromContentType('video/hevc'), 'h265');
  assert.equal(formatFromContentType('video/mp2t; charset=binary'), 'mpegts');
});

void test('a missing or generic Content-Type leaves the format to the first bytes', () => {
  assert.equal(formatFromContentType(undefined), undefined);
  assert.equal(formatFromContentType(''), undefined);
  assert.equal(formatFromContentType('application/octet-stream'), undefined);
});

void test('an unsupported Content-Type is a 415 that names the supported types', () => {
  for (const header of ['video/mp4', 'text/plain', 'video/x-flv']) {
    assert.throws(
      () => formatFromContentType(header),
      (err: unknown) =>
        err instanceof PushgateError &&
        err.status === 415 &&
        err.message.includes('video/h264') &&
        err.message.includes('video/h265') &&
        err.message.includes('video/mp2t'),
    );
  }
});
