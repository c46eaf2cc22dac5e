#!/usr/bin/env bash
# Builds pushgate's native GStreamer plugin with gcc and pkg-config: every native/**/*.c (but
# native/tests/) becomes one library, native/build/libgstpushgate.so, whose plugin "pushgate"
# (native/plugin.c) registers every element; the gateway scans native/build at start. Each
# native/tests/*.c becomes an executable native/build/<name>, linked with the elements' sources
# (all but plugin.c). Rebuilds only what is older than a source, a header, package.json (the
# version) or this script. pushgate runs without the plugin (no fast start, no bus logs of RTSP
# media) if this fails, and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS="gstreamer-1.0 gstreamer-app-1.0 gstreamer-rtsp-1.0 gstreamer-rtsp-server-1.0"
if ! pkg-config --exists $PKGS; then
  echo "[build-native] missing development packages for: $PKGS (libgstrtspserver-1.0-dev, pkg-config)" >&2
  exit 1
fi
VERSION=$(node -p "require('./package.json').version")
mkdir -p native/build

# Plugins of earlier layouts (one library per element): GStreamer would load them beside
# libgstpushgate.so, two plugins registering the same element names.
for old in native/build/libgst*.so; do
  if [ -e "$old" ] && [ "$old" != native/build/libgstpushgate.so ]; then rm -f "$old"; fi
done

mapfile -t SOURCES < <(find native -name '*.c' -not -path 'native/tests/*' -not -path 'native/build/*' | sort)
mapfile -t INPUTS < <(find native -name '*.[ch]' -not -path 'native/build/*' | sort)
INPUTS+=(package.json "$0")
ELEMENT_SOURCES=()
for src in "${SOURCES[@]}"; do
  if [ "$src" != native/plugin.c ]; then ELEMENT_SOURCES+=("$src"); fi
done
FLAGS=(-O2 -g -Wall -Wextra -Wno-unused-parameter -Werror -Inative "-DPUSHGATE_VERSION=\"$VERSION\"")

# Whether $1 exists and is newer than every input.
up_to_date() {
  [ -f "$1" ] || return 1
  for input in "${INPUTS[@]}"; do [ "$1" -nt "$input" ] || return 1; done
}

out=native/build/libgstpushgate.so
if ! up_to_date "$out"; then
  echo "[build-native] building $out" >&2
  # shellcheck disable=SC2046 # pkg-config prints several flags
  gcc -shared -fPIC "${FLAGS[@]}" -o "$out.tmp" "${SOURCES[@]}" $(pkg-config --cflags --libs $PKGS)
  mv "$out.tmp" "$out"
fi

for test in native/tests/*.c; do
  if [ ! -e "$test" ] || up_to_date "native/build/$(basename "$test" .c)"; then continue; fi
  out="native/build/$(basename "$test" .c)"
  echo "[build-native] building $out" >&2
  # shellcheck disable=SC2046 # pkg-config prints several flags
  gcc "${FLAGS[@]}" -o "$out.tmp" "$test" "${ELEMENT_SOURCES[@]}" $(pkg-config --cflags --libs $PKGS)
  mv "$out.tmp" "$out"
done
