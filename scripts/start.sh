#!/usr/bin/env bash
# Starts pushgate with the demo stream (rtsp://localhost:8554/demo), installing and building
# whatever is missing first. Extra arguments go to pushgate (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/src/main.js --demo "$@"
