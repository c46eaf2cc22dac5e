// Every shared ingest vector (test/vectors) through the TypeScript implementation: the native
// one answers the same vectors in test/gst/native-ingest-vectors.test.ts.
import { describe, it } from 'node:test';
import {
  assertOutcome,
  cuttingName,
  expectationFor,
  loadVectors,
  tsBody,
  tsClock,
  tsFraming,
  tsPace,
  type FramingVector,
  type BodyVector,
  type ClockVector,
  type PaceVector,
} from '../vectors/shared-vectors';

describe('chunked body vectors (BodyDecoder)', () => {
  for (const vector of loadVectors<BodyVector>('body').vectors) {
    it(vector.name, () => {
      for (const cutting of vector.reads ?? ['whole']) assertOutcome(tsBody(vector, cutting), expectationFor(vector, 'ts'), `${vector.name}, reads ${cuttingName(cutting)}`);
    });
  }
});

describe('frame clock vectors (FrameClock)', () => {
  for (const vector of loadVectors<ClockVector>('clock').vectors) {
    it(vector.name, () => assertOutcome(tsClock(vector), expectationFor(vector, 'ts'), vector.name));
  }
});

describe('Annex-B framing vectors (AnnexBFramer)', () => {
  const file = loadVectors<FramingVector>('framing');
  for (const vector of file.vectors) {
    it(vector.name, () => {
      const sets = file.parameterSets?.[vector.codec] ?? [];
      for (const cutting of vector.chunks ?? ['whole']) assertOutcome(tsFraming(vector, sets, cutting), expectationFor(vector, 'ts'), `${vector.name}, chunks ${cuttingName(cutting)}`);
    });
  }
});

describe('pacing vectors (Pacer, on mocked timers)', () => {
  for (const vector of loadVectors<PaceVector>('pace').vectors) {
    it(vector.name, async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      assertOutcome(await tsPace(vector, (ms) => t.mock.timers.tick(ms)), expectationFor(vector, 'ts'), vector.name);
    });
  }
});
