import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AddressQuota } from '../../src/core/address-quota';
import { PushgateError } from '../../src/core/errors';

void test('an address gets up to its limit of slots, then PUBLISHER_LIMIT; a released slot can be taken again', () => {
  const quota = new AddressQuota(2);
  const first = quota.acquire('10.0.0.1');
  quota.acquire('10.0.0.1');
  assert.throws(() => quota.acquire('10.0.0.1'), (err: unknown) => err instanceof PushgateError && err.code === 'PUBLISHER_LIMIT' && err.status === 429);
  // Other addresses are not affected.
  quota.acquire('10.0.0.2');
  first();
  first(); // idempotent: releasing twice frees one slot only
  assert.equal(quota.held('10.0.0.1'), 1);
  quota.acquire('10.0.0.1');
  assert.throws(() => quota.acquire('10.0.0.1'));
});
