// The latest SPS/PPS(/VPS) of a stream, concatenated once per change so units can share it.
export class ParameterSets {
  #bytes: Uint8Array | undefined;

  get bytes(): Uint8Array | undefined {
    return this.#bytes;
  }

  update(nals: readonly Uint8Array[]): void {
    if (nals.length === 0) return;
    this.#bytes = Buffer.concat(nals);
  }
}
