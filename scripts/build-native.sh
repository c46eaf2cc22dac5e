#!/usr/bin/env bash
# Builds pushgate's native GStreamer plugin (fast start, native/faststart/) into
# native/build/libgstpushgatefaststart.so with gcc and pkg-config. Does nothing when the
# library is newer than its source. pushgate runs without it (no fast start) if this fails.
set -euo pipefail
cd "$(dirname "$0")/.."

SRC=native/faststart/gstpushgatefaststart.c
OUT=native/build/libgstpushgatefaststart.so
PKGS="gstreamer-1.0 gstreamer-rtp-1.0 gstreamer-rtsp-1.0 gstreamer-rtsp-server-1.0"

if [ -f "$OUT" ] && [ "$OUT" -nt "$SRC" ] && [ "$OUT" -nt "$0" ]; then
  exit 0
fi
if ! pkg-config --exists $PKGS; then
  echo "[build-native] missing development packages for: $PKGS (libgstrtspserver-1.0-dev, pkg-config)" >&2
  exit 1
fi
mkdir -p native/build
echo "[build-native] building $OUT" >&2
# shellcheck disable=SC2046
gcc -shared -fPIC -O2 -g -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration \
  -o "$OUT.tmp" "$SRC" $(pkg-config --cflags --libs $PKGS)
mv "$OUT.tmp" "$OUT"
