#!/usr/bin/env bash
# The whole test suite: install/build, strict type check, lint, then unit, GStreamer and
# end-to-end tests with real clients, in one node:test run (its summary counts every test).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[test] type check (strict)"
npx tsc -p tsconfig.json --noEmit
echo "[test] lint (ESLint, then the architecture's boundaries: .dependency-cruiser.cjs)"
npm run --silent lint
echo "[test] tests"
# Only *.test.js: Node 20 would also run every helper module found under a test/ folder.
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
node --test --test-reporter=spec "${files[@]}"
