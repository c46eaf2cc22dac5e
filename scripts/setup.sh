#!/usr/bin/env bash
# Installs whatever pushgate needs that is missing, then builds it: Debian packages (GStreamer,
# gst-rtsp-server, ffmpeg, build tools), npm packages (node-gtk is compiled from source), the
# native GStreamer plugins (native/) and the TypeScript build. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# glib-networking: GIO's TLS backend, which RTSPS needs; openssl: the TLS tests make a test CA;
# chromium: the browser tests (test/e2e/helpers/browser.ts drives it with playwright-core).
# gstreamer1.0-nice (webrtcbin's ICE agent) and gir1.2-gst-plugins-bad-1.0 (GstWebRTC's
# introspection data): WebRTC playback (WHEP).
DEBIAN_PACKAGES=(
  gstreamer1.0-nice gir1.2-gst-plugins-bad-1.0
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp gstreamer1.0-x
  gir1.2-gst-rtsp-server-1.0 gir1.2-gst-plugins-base-1.0 libgirepository1.0-dev libcairo2-dev
  libgstrtspserver-1.0-dev pkg-config gcc g++ make python3 ffmpeg curl
  glib-networking openssl
  chromium
)

say() { printf '[setup] %s\n' "$*" >&2; }

need_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    say "Node.js 20+ with npm is required (not found). Install it first, e.g. from nodejs.org or your distribution."
    exit 1
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 20 ]; then
    say "Node.js 20+ is required (found $(node --version))."
    exit 1
  fi
}

install_debian_packages() {
  local missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_npm_packages() {
  local binding
  binding=$(ls node_modules/node-gtk/lib/binding/*/node_gtk.node 2>/dev/null | head -1 || true)
  if [ -z "$binding" ] || [ ! -d node_modules/.node-gtk-types ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm packages (node-gtk builds from source: about 2 minutes)"
    npm ci --no-audit --no-fund --foreground-scripts >/tmp/pushgate-npm-install.log 2>&1 || {
      tail -40 /tmp/pushgate-npm-install.log >&2
      exit 1
    }
  fi
  # npm may skip install scripts it has not approved: build the binding explicitly then.
  if ! ls node_modules/node-gtk/lib/binding/*/node_gtk.node >/dev/null 2>&1; then
    say "building node-gtk"
    (cd node_modules/node-gtk && npx node-pre-gyp rebuild >/tmp/pushgate-node-gtk.log 2>&1) || {
      tail -40 /tmp/pushgate-node-gtk.log >&2
      exit 1
    }
  fi
  [ -d node_modules/.node-gtk-types ] || npx node-gtk generate-types GstRtspServer-1.0 GstApp-1.0 >/dev/null
}

build() {
  say "building TypeScript"
  rm -rf dist
  npx tsc -p tsconfig.json
}

build_native() {
  # Fast start and the bus relay; pushgate runs without them (with a warning) if they cannot be built.
  bash scripts/build-native.sh || say "the native plugins could not be built: pushgate will run without fast start and bus logs of RTSP media"
}

need_node
install_debian_packages
build_native
install_npm_packages
build
