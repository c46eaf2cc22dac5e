#!/usr/bin/env bash
# Builds pushgate's native GStreamer plugins with gcc and pkg-config: each native/<folder>/gst<plugin>.c
# becomes native/build/libgst<plugin>.so, which the gateway loads at start (GStreamer finds a plugin
# by its file name). Rebuilds only what is older than its source or this script. pushgate runs
# without them (no fast start, no bus logs of RTSP media) if this fails, and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS="gstreamer-1.0 gstreamer-app-1.0 gstreamer-rtsp-1.0 gstreamer-rtsp-server-1.0"
if ! pkg-config --exists $PKGS; then
  echo "[build-native] missing development packages for: $PKGS (libgstrtspserver-1.0-dev, pkg-config)" >&2
  exit 1
fi
mkdir -p native/build
for src in native/*/gst*.c; do
  out="native/build/lib$(basename "$src" .c).so"
  if [ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$0" ]; then continue; fi
  echo "[build-native] building $out" >&2
  # shellcheck disable=SC2046 # pkg-config prints several flags
  gcc -shared -fPIC -O2 -g -Wall -Wextra -Wno-unused-parameter -Werror \
    -o "$out.tmp" "$src" $(pkg-config --cflags --libs $PKGS)
  mv "$out.tmp" "$out"
done
