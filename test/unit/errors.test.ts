import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCodes } from '../../src/core/errors';

void test('every error code is documented in docs/api.md', () => {
  const api = readFileSync(join(__dirname, '../../../docs/api.md'), 'utf8');
  for (const code of Object.keys(ErrorCodes)) assert.ok(api.includes(`\`${code}\``), `docs/api.md lacks ${code}`);
});
