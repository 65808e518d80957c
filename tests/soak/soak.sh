#!/usr/bin/env bash
# Soak test of the GStreamer plugin (see soak.c): 10,000 frames through
# maskrcnn ! maskrcnnoverlay with resident memory checked after warm-up
# (limit: +1 MB), then 100 PLAYING <-> READY cycles while frames flow.
#
#   tests/soak/soak.sh [soak options]     e.g. --frames 1000 --cycles 10
#
# Model: $MRCNN_SOAK_MODEL, else the shipped models/shapes.safetensors, else
# the build's small random-init test model (tests/small-r18.safetensors),
# else the fuzz corpus's tiny model. Frames are 640x360 (the shipped clip's
# size) for the shipped model and 320x240 otherwise; --width/--height
# override. Uses the plugin of $MRCNN_BUILD_DIR (default build), building it
# when needed. Takes tens of minutes on two cores: not part of tests/run.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${MRCNN_BUILD_DIR:-$ROOT/build}
OUT=$BUILD/soak
mkdir -p "$OUT"

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD"
fi
meson compile -C "$BUILD" gst/gstmaskrcnn >/dev/null

size=()
if [ -n "${MRCNN_SOAK_MODEL:-}" ]; then
  model=$MRCNN_SOAK_MODEL
elif [ -f models/shapes.safetensors ]; then
  model=$ROOT/models/shapes.safetensors
  size=(--width 640 --height 360)
elif [ -f "$BUILD/tests/small-r18.safetensors" ] \
    || meson compile -C "$BUILD" tests/small-model >/dev/null 2>&1; then
  model=$BUILD/tests/small-r18.safetensors
else
  model=$ROOT/tests/fuzz/corpus/model/valid-r18-f16.safetensors
fi

# shellcheck disable=SC2046
cc -O2 -g -Wall -o "$OUT/soak" tests/soak/soak.c \
  $(pkg-config --cflags --libs gstreamer-1.0 gstreamer-video-1.0)

export GST_PLUGIN_PATH=$BUILD/gst
export GST_REGISTRY=$OUT/registry.bin
exec "$OUT/soak" --model "$model" "${size[@]}" "$@"
