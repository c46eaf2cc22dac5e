// How many of something one source address may hold at once (pushes per publisher address).
// Plain counting: a slot is taken before the work starts and given back exactly once after.
import { PushgateError } from './errors';

export class AddressQuota {
  #max: number;
  readonly #held = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Takes a slot for `address`, or throws PUBLISHER_LIMIT. The returned release is idempotent. */
  acquire(address: string): () => void {
    const held = this.#held.get(address) ?? 0;
    if (held >= this.#max) {
      throw new PushgateError(
        'PUBLISHER_LIMIT',
        `${address} already runs ${held} pushes, the limit per source address (--max-publishers-per-address ${this.#max}): end one first`,
      );
    }
    this.#held.set(address, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#held.get(address) ?? 1) - 1;
      if (left > 0) this.#held.set(address, left);
      else this.#held.delete(address);
    };
  }

  /** For the next acquire; slots held beyond a lowered limit stay held. */
  setMax(max: number): void {
    this.#max = max;
  }

  /** Slots `address` holds now. */
  held(address: string): number {
    return this.#held.get(address) ?? 0;
  }
}
