// Real GStreamer, in process: element creation and linking fail with errors that name the culprit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PushgateError } from '../../src/core/errors';
import { addAndLink, makeElement } from '../../src/gst/elements';
import { Gst } from '../../src/gst/runtime';

void test('an element whose plugin is missing is a MEDIA_ENGINE error naming it, not a crash', () => {
  assert.throws(
    () => makeElement('no-such-element', 'parse-video-cam1'),
    (err: unknown) => err instanceof PushgateError && err.code === 'MEDIA_ENGINE' && /no-such-element.*parse-video-cam1/.test(err.message),
  );
});

void test('elements that cannot be linked are a MEDIA_ENGINE error naming both', () => {
  const bin = new Gst.Bin({ name: 'link-test' });
  const audio = makeElement('audiotestsrc', 'src-audio-test');
  const parser = makeElement('h264parse', 'parse-video-test');
  assert.throws(
    () => addAndLink(bin, [audio, parser]),
    (err: unknown) => err instanceof PushgateError && err.code === 'MEDIA_ENGINE' && /src-audio-test.*parse-video-test/.test(err.message),
  );
});

void test('properties given to makeElement are applied', () => {
  const parser = makeElement('h264parse', 'parse-video-props', { configInterval: -1 });
  assert.equal((parser as unknown as { configInterval: number }).configInterval, -1);
});
