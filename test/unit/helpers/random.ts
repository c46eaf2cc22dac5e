// Deterministic randomness for tests, so a failing chunking or input can be replayed.

/** mulberry32: a tiny seeded PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(length: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** `data` cut into chunks of 1..maxChunk bytes. */
export function randomChunks(data: Uint8Array, seed: number, maxChunk: number): Uint8Array[] {
  const random = seededRandom(seed);
  const chunks: Uint8Array[] = [];
  for (let off = 0; off < data.length; ) {
    const size = 1 + Math.floor(random() * maxChunk);
    chunks.push(data.subarray(off, off + size));
    off += size;
  }
  return chunks;
}
