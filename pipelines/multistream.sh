#!/usr/bin/env bash
# Many streams, one engine: N inputs (files or RTSP URLs) each through a
# maskrcnn element - all of them sharing one engine through the same
# `model-instance-id`, which runs up to --batch-size frames of different
# streams at once (on the CPU as up to `threads` passes side by side) - and
# its own maskrcnnoverlay, tiled by
# compositor into one picture, written to a file or shown in a window.
#
#   pipelines/multistream.sh [--streams N] [--input FILE|URL]... [--model PATH]
#                            [--batch-size B] [--batch-timeout MS]
#                            [--instance-id ID] [--separate]
#                            [--tile WxH] [--output FILE.webm | --display | --fakesink]
#
#   --streams N       number of streams (default: the number of --input, else 4)
#   --input X         a file or an rtsp:// URL; repeat for more inputs. With
#                     fewer inputs than streams they are used in turn
#                     (default: the shipped clip data/shapes-640x360.webm)
#   --batch-size B    frames the shared engine runs at once (default: the
#                     number of streams); on the CPU shared out between up
#                     to `threads` passes side by side
#   --batch-timeout MS  how long the engine waits for a batch to fill
#                     (default 20: the streams' next frames, which come a few
#                     ms apart after a pass, go into one batch; 0 starts a
#                     pass with the frames that are there)
#   --instance-id ID  the engine's model-instance-id (default: multistream)
#   --separate        one engine per stream instead (for comparison)
#   --tile WxH        size of each stream's tile (default 480x270)
#   --output F        write VP8/WebM to F (default: multistream.webm)
#   --display         show the mosaic in a window (autovideosink)
#   --fakesink        render nowhere and print the frame rate (no display needed)
#
# Example with RTSP: serve the clip with gst-rtsp-server's test-launch on
# 127.0.0.1 and read it twice:
#   pipelines/multistream.sh --streams 2 --input rtsp://127.0.0.1:8554/test
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$here/.." && pwd)

streams= inputs=() model= batch= timeout=20 id=multistream separate=0
tile=480x270 output=multistream.webm sink=file
while [ $# -gt 0 ]; do
  case "$1" in
    --streams) streams=$2; shift 2 ;;
    --input) inputs+=("$2"); shift 2 ;;
    --model) model=$2; shift 2 ;;
    --batch-size) batch=$2; shift 2 ;;
    --batch-timeout) timeout=$2; shift 2 ;;
    --instance-id) id=$2; shift 2 ;;
    --separate) separate=1; shift ;;
    --tile) tile=$2; shift 2 ;;
    --output) output=$2; sink=file; shift 2 ;;
    --display) sink=display; shift ;;
    --fakesink) sink=fake; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "multistream.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
[ ${#inputs[@]} -gt 0 ] || inputs=("$ROOT/data/shapes-640x360.webm")
streams=${streams:-$([ ${#inputs[@]} -gt 1 ] && echo ${#inputs[@]} || echo 4)}
batch=${batch:-$streams}
if ! [[ "$streams" =~ ^[1-9][0-9]*$ && "$batch" =~ ^[1-9][0-9]*$ && "$tile" =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]]; then
  echo "multistream.sh: --streams and --batch-size take positive integers, --tile WxH" >&2
  exit 2
fi
tw=${tile%x*} th=${tile#*x}

source "$here/env.sh"

# An element without the sharing properties still runs the mosaic, with one
# engine per stream.
shared=()
if [ "$separate" -eq 0 ]; then
  # Not `| grep -q`: grep stopping early fails gst-inspect under pipefail.
  if [[ $(gst-inspect-1.0 maskrcnn) == *model-instance-id* ]]; then
    shared=(model-instance-id="$id" batch-size="$batch")
    [ -n "$timeout" ] && shared+=(batch-timeout="$timeout")
  else
    echo "This maskrcnn has no model-instance-id property: one engine per stream." >&2
  fi
fi

# A path becomes a file:// URI.
uri_of() {
  case "$1" in
    *://*) printf '%s' "$1" ;;
    *) [ -e "$1" ] || { echo "multistream.sh: no such input: $1" >&2; exit 2; }
       printf 'file://%s' "$(realpath "$1")" ;;
  esac
}

cols=1
while [ $((cols * cols)) -lt "$streams" ]; do cols=$((cols + 1)); done

# compositor's pads are placed on a grid; each branch scales to its tile after
# the overlay, so that the masks are drawn at the input's resolution.
comp=(compositor name=mix background=black)
branches=()
for i in $(seq 0 $((streams - 1))); do
  uri=$(uri_of "${inputs[$((i % ${#inputs[@]}))]}")
  comp+=("sink_$i::xpos=$(( (i % cols) * tw ))" "sink_$i::ypos=$(( (i / cols) * th ))")
  # The queue in front of maskrcnn decouples decoding from the network, so
  # that one stream's decoder is never waiting for another's batch.
  # RTSP: rtspsrc with an unbounded queue right after it, so that a slow
  # consumer never holds rtpjitterbuffer's task, which in GStreamer 1.22 can
  # then lose the stream's EOS (docs/reliability.md, the RTSP stall).
  case "$uri" in
    rtsp://*|rtsps://*|rtspt://*)
      source=(rtspsrc location="$uri" ! queue max-size-buffers=0
        max-size-time=0 max-size-bytes=0 ! decodebin) ;;
    *) source=(uridecodebin uri="$uri") ;;
  esac
  branches+=("${source[@]}" ! videoconvert
    ! queue max-size-buffers=4 max-size-time=0 max-size-bytes=0
    ! maskrcnn ${model:+model="$model"} "${shared[@]}"
    ! maskrcnnoverlay ! videoconvert ! videoscale
    ! "video/x-raw,width=$tw,height=$th,pixel-aspect-ratio=1/1"
    ! queue ! mix.sink_$i)
done

case $sink in
  file) out=(videoconvert ! vp8enc deadline=1 cpu-used=8 ! webmmux ! filesink location="$output") ;;
  display) out=(videoconvert ! autovideosink sync=false) ;;
  fake) out=(fpsdisplaysink text-overlay=false video-sink=fakesink sync=false) ;;
esac
verbose=()
[ "$sink" = fake ] && verbose=(-v)

echo "$streams stream(s), ${shared[*]:-one engine each}, ${cols} column(s) of ${tile} tiles" >&2
set -x
gst-launch-1.0 -e "${verbose[@]}" "${comp[@]}" ! "${out[@]}" "${branches[@]}"
