import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStreamName } from '../../src/core/stream-name';
import { PushgateError } from '../../src/core/errors';

void test('plain and nested stream names are accepted as they are', () => {
  for (const name of ['cam1', 'site1/cam2', 'a.b_c-d', 'A/B/C/1', 'x'.repeat(128)]) {
    assert.equal(parseStreamName(name), name);
  }
});

void test('names that are empty, too long, have empty segments, dot segments or other characters are refused with 400', () => {
  for (const name of ['', 'x'.repeat(129), 'a//b', '/a', 'a/', 'a b', 'a?b', 'é', '..', 'a/../b', 'a/./b', 'a%2Fb']) {
    assert.throws(
      () => parseStreamName(name),
      (err: unknown) => err instanceof PushgateError && err.code === 'INVALID_STREAM_NAME' && err.status === 400,
      name,
    );
  }
});
