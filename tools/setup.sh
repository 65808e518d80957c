#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks (run as root), makes the
# Python venv for pycocotools, and configures and builds the project in
# $MRCNN_BUILD_DIR (default: build/). Safe to run again: it only installs and
# configures what is not there yet. Used by tests/run.sh and pipelines/demo.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MRCNN_BUILD_DIR:-$ROOT/build}

PKGS=(meson ninja-build pkg-config gcc python3-torchvision python3-numpy
  python3-pil python3-venv python3-dev python3-gi gir1.2-gstreamer-1.0
  libopenblas-dev libdnnl-dev libjson-glib-dev libpng-dev libjpeg-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libgstreamer-plugins-bad1.0-dev gstreamer1.0-tools gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good libcairo2-dev libpango1.0-dev check
  gobject-introspection libgirepository1.0-dev gir1.2-gst-plugins-base-1.0
  libmosquitto-dev mosquitto)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# pycocotools is not packaged by Debian: a venv that also sees Debian's torch.
VENV=$ROOT/.venv
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
if ! "$VENV/bin/python" -c "import pycocotools" 2>/dev/null; then
  "$VENV/bin/pip" install -q pycocotools
fi

# Extra meson options come from the arguments or $MRCNN_SETUP_ARGS
# (e.g. -Dcuda=enabled, which CI uses so that a CUDA compile error fails it).
read -r -a extra <<< "${MRCNN_SETUP_ARGS:-}"
if [ -f "$BUILD/build.ninja" ]; then
  meson setup --reconfigure "$BUILD" -Dpython="$VENV/bin/python" "${extra[@]}" "$@" >/dev/null
else
  meson setup "$BUILD" -Dpython="$VENV/bin/python" "${extra[@]}" "$@"
fi
meson compile -C "$BUILD"
