import type { Clock } from '../../../src/core/clock';

/** A clock the test moves by hand. */
export class FakeClock implements Clock {
  #now = 0;
  now(): number {
    return this.#now;
  }
  advance(ns: number): void {
    this.#now += ns;
  }
}
