#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks (run as root), makes the
# Python venvs (pycocotools; the tracking evaluation's TrackEval and
# ByteTrack), and configures and builds the project in
# $MRCNN_BUILD_DIR (default: build/). Safe to run again: it only installs and
# configures what is not there yet. Used by tests/run.sh and pipelines/demo.sh.
#
# MRCNN_SETUP_FOR=demo (pipelines/demo.sh): only what building the project
# and running the demo pipeline need - Debian packages, no torch, no venv,
# nothing from PyPI. Anything else: everything the test suite needs too.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MRCNN_BUILD_DIR:-$ROOT/build}
FOR=${MRCNN_SETUP_FOR:-tests}

# Building, and the demo pipeline (decodebin, vp8enc, webmmux, pngenc).
DEMO_PKGS=(meson ninja-build pkg-config gcc python3
  libopenblas-dev libdnnl-dev libjson-glib-dev libpng-dev libjpeg-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good libcairo2-dev
  libpango1.0-dev gobject-introspection libgirepository1.0-dev
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 libmosquitto-dev
  libssl-dev)
# The test suite on top: torchvision for parity and test models, Python
# bindings, the CUDA memory library, a broker for maskrcnnpublish (with
# mosquitto_passwd) and the openssl tool that makes its test certificates,
# an RTSP server for the multi-stream test (and its typelib, for Python
# tools).
TEST_PKGS=(python3-torchvision python3-numpy python3-pil python3-venv
  python3-dev python3-gi libgstreamer-plugins-bad1.0-dev check mosquitto
  openssl libgstrtspserver-1.0-dev gir1.2-gst-rtsp-server-1.0)
PKGS=("${DEMO_PKGS[@]}")
if [ "$FOR" != demo ]; then
  PKGS+=("${TEST_PKGS[@]}")
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Wait (up to 10 minutes) for another apt or dpkg, such as unattended
  # upgrades on a fresh machine, instead of failing on its lock.
  apt_lock=(-o DPkg::Lock::Timeout=600)
  apt-get "${apt_lock[@]}" update -q
  apt-get "${apt_lock[@]}" install -y -q --no-install-recommends "${missing[@]}"
fi

if [ "$FOR" = demo ]; then
  # Debian's python3 for the build's Python hooks; a build that exists keeps
  # the Python it was configured with (tests/run.sh sets the venv's).
  # Without the test suite, whose test models need torch at build time.
  if [ -f "$BUILD/build.ninja" ]; then
    meson setup --reconfigure "$BUILD" "$@" >/dev/null
  else
    meson setup "$BUILD" -Dpython=/usr/bin/python3 -Dtests=false "$@"
  fi
  meson compile -C "$BUILD"
  exit 0
fi

# pycocotools is not packaged by Debian: a venv that also sees Debian's torch.
VENV=$ROOT/.venv
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
if ! "$VENV/bin/python" -c "import pycocotools" 2>/dev/null; then
  "$VENV/bin/pip" install -q pycocotools
fi

# The tracking evaluation (maskrcnn_tools.evaluate_tracking): TrackEval for
# HOTA, MOTA and IDF1, and the `trackers` package for its ByteTrack. Both
# need numpy 2, which Debian's torch (numpy 1.24) cannot load beside it, so
# they get a venv of their own, without the system's packages. Pinned: the
# numbers in docs/tracking.md were measured with these.
TRACK_VENV=$ROOT/.venv-tracking
if [ ! -x "$TRACK_VENV/bin/python" ]; then
  /usr/bin/python3 -m venv "$TRACK_VENV"
fi
if ! "$TRACK_VENV/bin/python" -c "import trackeval, trackers" 2>/dev/null; then
  "$TRACK_VENV/bin/pip" install -q trackeval==1.3.0 trackers==2.6.1
fi

# Extra meson options come from the arguments or $MRCNN_SETUP_ARGS
# (e.g. -Dcuda=enabled, which CI uses so that a CUDA compile error fails it).
read -r -a extra <<< "${MRCNN_SETUP_ARGS:-}"
# -Dtests=true: a build the demo made first has the test suite off.
if [ -f "$BUILD/build.ninja" ]; then
  meson setup --reconfigure "$BUILD" -Dpython="$VENV/bin/python" -Dtests=true "${extra[@]}" "$@" >/dev/null
else
  meson setup "$BUILD" -Dpython="$VENV/bin/python" -Dtests=true "${extra[@]}" "$@"
fi
meson compile -C "$BUILD"
