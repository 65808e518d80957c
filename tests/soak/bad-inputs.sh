#!/usr/bin/env bash
# Feeds the maskrcnn element and the mrcnn-infer CLI the bad inputs listed in
# docs/reliability.md and reports what each did: the exit status and the
# first error or warning line. A case fails when the process crashes (killed
# by a signal, or a sanitizer report), hangs (300 s), or its outcome does not
# match what the table says.
#
#   tests/soak/bad-inputs.sh          with the plugin of $MRCNN_BUILD_DIR (default build)
#   tests/soak/bad-inputs.sh --asan   with the ASan+UBSan build (tests/sanitize.sh asan first)
#
# Model-file damage is covered in depth by the engine test
# (tests/engine/bad_models.py, `meson test engine-bad-inputs`); here a few of
# those files go through the element to show how a pipeline reports them.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${MRCNN_BUILD_DIR:-$ROOT/build}
PRELOAD=
if [ "${1:-}" = --asan ]; then
  BUILD=${ASAN_BUILD_DIR:-$ROOT/build-asan}
  PRELOAD=$(gcc -print-file-name=libasan.so)
  export GST_REGISTRY_FORK=no
  # allocator_may_return_null: g_try_malloc() of an absurd size must return
  # NULL as in a normal build, not end the process.
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:intercept_tls_get_addr=0:allocator_may_return_null=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
fi
BUILD=$(cd "$BUILD" && pwd)
export GST_PLUGIN_PATH=$BUILD/gst
export GST_REGISTRY=$BUILD/bad-inputs-registry.bin
W=$BUILD/bad-inputs
mkdir -p "$W"
T=$ROOT/tests/fuzz/corpus/model/valid-r18-f16.safetensors
INFER=$BUILD/engine/tools/mrcnn-infer

# Damaged models, made from the tiny valid one.
python3 - "$T" "$W" <<'PY'
import struct, sys, os
src, out = sys.argv[1:3]
raw = open(src, "rb").read()
open(os.path.join(out, "truncated.safetensors"), "wb").write(raw[: len(raw) // 2])
deep = b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}"
open(os.path.join(out, "deep.safetensors"), "wb").write(struct.pack("<Q", len(deep)) + deep)
n = struct.unpack("<Q", raw[:8])[0]
data = bytearray(raw)
data[8 + n:8 + n + 2] = b"\x00\x7e"   # first weight of the first tensor: F16 NaN
open(os.path.join(out, "nan.safetensors"), "wb").write(bytes(data))
png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
open(os.path.join(out, "png.safetensors"), "wb").write(png)
# Images for the CLI
open(os.path.join(out, "empty.png"), "wb").write(b"")
open(os.path.join(out, "text.jpg"), "wb").write(b"not an image\n")
ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
import zlib
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(os.path.join(out, "huge.png"), "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr))
PY
LD_PRELOAD=$PRELOAD gst-launch-1.0 -q videotestsrc num-buffers=1 ! video/x-raw,width=64,height=48 \
  ! videoconvert ! pngenc ! filesink location="$W/frame.png"
head -c 300 "$W/frame.png" > "$W/truncated.png"

# shellcheck disable=SC2046
cc -O1 -g -Wall -o "$W/foreign-meta" tests/soak/foreign-meta.c \
  $(pkg-config --cflags --libs gstreamer-1.0 gstreamer-video-1.0 gstreamer-app-1.0)

SRC="videotestsrc num-buffers=3 pattern=ball"
SINK="fakesink"
failed=0
printf '| case | expected | exit | first error or warning |\n|---|---|---|---|\n'

# run NAME EXPECT(ok|error|usage) COMMAND...
run() {
  local name=$1 expect=$2
  shift 2
  local log=$W/$name.log rc
  LD_PRELOAD=$PRELOAD timeout 300 "$@" > "$log" 2>&1
  rc=$?
  local first
  first=$({ grep -m1 -E 'ERROR|WARNING|CRITICAL|rror|Sanitizer|^mrcnn-infer: ' "$log" \
      || grep -m1 ': ' "$log"; } | sed -e 's/|/\\|/g' -e 's/^ *//' -e "s|$ROOT/||g" | cut -c1-240)
  local verdict=$expect
  # 124: timeout; 126/127: could not run; 128 + n: killed by signal n.
  if { [ $rc -ge 124 ] && [ $rc -le 192 ]; } \
      || grep -q -E 'ERROR: [A-Za-z]*Sanitizer|runtime error|Segmentation' "$log"; then
    verdict="CRASH/HANG"
  elif [ "$expect" = ok ] && [ $rc -ne 0 ]; then verdict="UNEXPECTED ($expect)"
  elif [ "$expect" = error ] && [ $rc -eq 0 ]; then verdict="UNEXPECTED ($expect)"
  elif [ "$expect" = usage ] && [ $rc -ne 2 ] && [ $rc -ne 1 ]; then verdict="UNEXPECTED ($expect)"
  elif [ "$expect" = warn ] && { [ $rc -ne 0 ] || [ -z "$first" ]; }; then verdict="UNEXPECTED ($expect)"
  fi
  case $verdict in UNEXPECTED*|CRASH*) failed=1 ;; esac
  printf '| %s | %s | %s | %s |\n' "$name" "$verdict" "$rc" "${first:-(none)}"
}

gl=(gst-launch-1.0 -q)

# ---- model files through the element
run model-missing error "${gl[@]}" $SRC ! maskrcnn model=/nonexistent.safetensors ! $SINK
run model-directory error "${gl[@]}" $SRC ! maskrcnn model=/tmp ! $SINK
run model-dev-null error "${gl[@]}" $SRC ! maskrcnn model=/dev/null ! $SINK
run model-truncated error "${gl[@]}" $SRC ! maskrcnn model="$W/truncated.safetensors" ! $SINK
run model-png error "${gl[@]}" $SRC ! maskrcnn model="$W/png.safetensors" ! $SINK
run model-deep-json error "${gl[@]}" $SRC ! maskrcnn model="$W/deep.safetensors" ! $SINK
run model-nan error "${gl[@]}" $SRC ! maskrcnn model="$W/nan.safetensors" ! $SINK
run model-empty-uses-default ok "${gl[@]}" $SRC ! maskrcnn 'model=""' ! $SINK
run model-dir-env-missing error env MRCNN_MODEL_DIR=/nonexistent \
  gst-launch-1.0 -q $SRC ! maskrcnn model=/nonexistent/shapes.safetensors ! $SINK

# ---- caps and frame sizes
run caps-gray8 error "${gl[@]}" $SRC ! video/x-raw,format=GRAY8 ! maskrcnn model="$T" ! $SINK
run caps-bayer error "${gl[@]}" $SRC ! video/x-bayer,width=64,height=48 ! maskrcnn model="$T" ! $SINK
run frame-1x1 ok "${gl[@]}" $SRC ! video/x-raw,format=RGB,width=1,height=1 ! maskrcnn model="$T" ! maskrcnnoverlay ! $SINK
run frame-2x2 ok "${gl[@]}" $SRC ! video/x-raw,format=RGB,width=2,height=2 ! maskrcnn model="$T" ! maskrcnnoverlay ! $SINK
run frame-1x480 ok "${gl[@]}" $SRC ! video/x-raw,format=RGBA,width=1,height=480 ! maskrcnn model="$T" ! maskrcnnoverlay ! $SINK
run frame-odd-i420 ok "${gl[@]}" $SRC ! video/x-raw,format=I420,width=641,height=361 ! maskrcnn model="$T" ! maskrcnnoverlay ! $SINK
run frame-odd-nv12 ok "${gl[@]}" $SRC ! video/x-raw,format=NV12,width=3,height=3 ! maskrcnn model="$T" ! maskrcnnoverlay ! $SINK
run frame-4000x3000 ok "${gl[@]}" videotestsrc num-buffers=1 ! video/x-raw,format=BGRx,width=4000,height=3000 ! maskrcnn model="$T" ! maskrcnnoverlay ! $SINK
run frame-16400x8 error "${gl[@]}" videotestsrc num-buffers=1 ! video/x-raw,format=RGB,width=16400,height=8 ! maskrcnn model="$T" ! $SINK
# async=false: gst-launch-1.0 1.22 sometimes hangs when an element fails on
# the first buffer while the sink waits for preroll, whatever the element
# (identity error-after=1 does the same); not waiting avoids that race.
run buffer-too-short error "${gl[@]}" fakesrc num-buffers=2 sizetype=fixed sizemax=100 filltype=random \
  ! video/x-raw,format=RGB,width=64,height=48,framerate=30/1 ! maskrcnn model="$T" ! fakesink async=false
run overlay-foreign-meta ok "$W/foreign-meta"
run overlay-without-meta ok "${gl[@]}" $SRC ! video/x-raw,format=RGBA,width=64,height=48 ! maskrcnnoverlay ! $SINK

# ---- property values
run prop-score-2 warn "${gl[@]}" $SRC ! maskrcnn model="$T" score-threshold=2 ! $SINK
run prop-nms-negative warn "${gl[@]}" $SRC ! maskrcnn model="$T" nms-threshold=-0.5 ! $SINK
run prop-mask-threshold-nan warn "${gl[@]}" $SRC ! maskrcnn model="$T" mask-threshold=nan ! $SINK
run prop-max-detections-0 warn "${gl[@]}" $SRC ! maskrcnn model="$T" max-detections=0 ! $SINK
run prop-max-detections-huge warn "${gl[@]}" $SRC ! maskrcnn model="$T" max-detections=100000 ! $SINK
run prop-interval-0 warn "${gl[@]}" $SRC ! maskrcnn model="$T" interval=0 ! $SINK
run prop-backend-unknown error "${gl[@]}" $SRC ! maskrcnn model="$T" backend=gpu ! $SINK
run prop-device-id-negative warn "${gl[@]}" $SRC ! maskrcnn model="$T" device-id=-7 ! $SINK
run prop-overlay-alpha-2 warn "${gl[@]}" $SRC ! maskrcnn model="$T" ! maskrcnnoverlay alpha=2 ! $SINK
run prop-overlay-line-width-0 warn "${gl[@]}" $SRC ! maskrcnn model="$T" ! maskrcnnoverlay line-width=0 ! $SINK

# ---- GPU requests (this machine: see docs/reliability.md for what it has)
run gpu-backend-cuda error "${gl[@]}" $SRC ! maskrcnn model="$T" backend=cuda ! $SINK
run gpu-device-id-99 error "${gl[@]}" $SRC ! maskrcnn model="$T" backend=cuda device-id=99 ! $SINK
run gpu-auto-falls-back ok "${gl[@]}" $SRC ! maskrcnn model="$T" backend=auto ! $SINK

# ---- the CLI
run cli-image-missing error "$INFER" -m "$T" /nonexistent.png
run cli-image-empty error "$INFER" -m "$T" "$W/empty.png"
run cli-image-text error "$INFER" -m "$T" "$W/text.jpg"
run cli-image-truncated error "$INFER" -m "$T" "$W/truncated.png"
run cli-image-20000px error "$INFER" -m "$T" "$W/huge.png"
run cli-image-directory error "$INFER" -m "$T" /tmp
run cli-model-deep-json error "$INFER" -m "$W/deep.safetensors" "$W/frame.png"
run cli-score-2 usage "$INFER" -m "$T" -s 2 "$W/frame.png"
run cli-threads-negative usage "$INFER" -m "$T" -t -1 "$W/frame.png"
run cli-backend-unknown usage "$INFER" -m "$T" -b gpu "$W/frame.png"
run cli-overlay-unwritable error "$INFER" -m "$T" -o /nonexistent/dir/out.png "$W/frame.png"

exit $failed
