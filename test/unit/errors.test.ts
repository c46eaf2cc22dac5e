import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCodes } from '../../src/core/errors';

void test('every error code is documented in the README', () => {
  const readme = readFileSync(join(__dirname, '../../../README.md'), 'utf8');
  for (const code of Object.keys(ErrorCodes)) assert.ok(readme.includes(`\`${code}\``), `README lacks ${code}`);
});
