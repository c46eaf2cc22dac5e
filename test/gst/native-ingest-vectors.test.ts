// Every shared ingest vector (test/vectors) through the native ingest's socket-free parts
// (native/ingest: chunked.c, framer.c, frame-clock.c, pacer.c), driven by
// native/build/ingest-vectors; test/unit/shared-vectors.test.ts runs the same vectors through
// the TypeScript modules. A missing driver fails every test: build it with scripts/build-native.sh.
import { describe, it } from 'node:test';
import {
  assertOutcome,
  bodyScript,
  clockScript,
  cuttingName,
  expectationFor,
  framingScript,
  loadVectors,
  paceScript,
  runDriver,
  type BodyVector,
  type ClockVector,
  type FramingVector,
  type PaceVector,
} from '../vectors/shared-vectors';

describe('chunked body vectors (native chunked.c)', () => {
  for (const vector of loadVectors<BodyVector>('body').vectors) {
    it(vector.name, () => {
      const cuttings = vector.reads ?? ['whole'];
      const outcomes = runDriver(cuttings.map((cutting) => bodyScript(vector, cutting)));
      cuttings.forEach((cutting, i) => assertOutcome(outcomes[i]!, expectationFor(vector, 'native'), `${vector.name}, reads ${cuttingName(cutting)}`));
    });
  }
});

describe('frame clock vectors (native frame-clock.c)', () => {
  for (const vector of loadVectors<ClockVector>('clock').vectors) {
    it(vector.name, () => assertOutcome(runDriver([clockScript(vector)])[0]!, expectationFor(vector, 'native'), vector.name));
  }
});

describe('Annex-B framing vectors (native framer.c)', () => {
  const file = loadVectors<FramingVector>('framing');
  for (const vector of file.vectors) {
    it(vector.name, () => {
      const sets = file.parameterSets?.[vector.codec] ?? [];
      const cuttings = vector.chunks ?? ['whole'];
      const outcomes = runDriver(cuttings.map((cutting) => framingScript(vector, sets, cutting)));
      cuttings.forEach((cutting, i) => assertOutcome(outcomes[i]!, expectationFor(vector, 'native'), `${vector.name}, chunks ${cuttingName(cutting)}`));
    });
  }
});

describe('pacing vectors (native pacer.c and frame-clock.c)', () => {
  for (const vector of loadVectors<PaceVector>('pace').vectors) {
    it(vector.name, () => assertOutcome(runDriver([paceScript(vector)])[0]!, expectationFor(vector, 'native'), vector.name));
  }
});
