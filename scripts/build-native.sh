#!/usr/bin/env bash
# Builds pushgate's native GStreamer plugins: each native/<name>/ folder of C sources becomes
# native/build/libgst<name>.so, found by the gateway at start. Rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p native/build
for dir in native/*/; do
  name=$(basename "$dir")
  [ "$name" = build ] && continue
  out="native/build/libgst${name}.so"
  sources=("$dir"*.c)
  if [ -f "$out" ] && [ -z "$(find "$dir" -newer "$out" -name '*.[ch]' -print -quit)" ]; then continue; fi
  echo "[native] building $out" >&2
  # shellcheck disable=SC2046 # pkg-config prints several flags
  gcc -shared -fPIC -O2 -Wall -Werror -o "$out" "${sources[@]}" \
    $(pkg-config --cflags --libs gstreamer-1.0 gstreamer-rtsp-server-1.0 gstreamer-app-1.0 gstreamer-rtp-1.0)
done
