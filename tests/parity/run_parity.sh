#!/bin/sh
# One parity test: export a random-init model, run torchvision and the engine
# on the same images, run torchvision's heads on the engine's FPN outputs and
# proposals (what compare_dumps measures the objectness difference and finds
# torchvision's candidates with), compare.
#
# usage: run_parity.sh NAME MRCNN_DUMP WORKDIR [OPTIONS] -- EXPORTER ARGS...
#
# OPTIONS: --photos (the photographs of photos/ instead of the synthetic
# images), --rpn-scale S / --cls-scale S / --cls-background B (saturate.py:
# scores that tie exactly), --batch STEM,STEM... (the named images as one
# batch on both sides: torchvision's model([img0, img1, ...]) and one
# mrcnn_engine_run_batch, padded to their common size).
#
# DNNL_MAX_CPU_ISA, when set, caps the instructions oneDNN uses in the engine
# and in torch alike; it is printed with the results.
#
# The exported model is cached in WORKDIR under a key made of the exporter's
# arguments and the sources of the exporter (maskrcnn_tools' export_torchvision
# and torch_model), so a rerun skips the export and any change to the exporter
# makes a fresh one. Exit code 77 (skipped) when the Python side (torch,
# torchvision, PIL) is not available.
set -eu

name=$1
dump=$2
workdir=$3
shift 3
photos= rpn_scale=1 cls_scale=1 cls_bg=0 batch=
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  case $1 in
    --photos) photos=--photos ;;
    --rpn-scale) rpn_scale=$2; shift ;;
    --cls-scale) cls_scale=$2; shift ;;
    --cls-background) cls_bg=$2; shift ;;
    --batch) batch=$2; shift ;;
    *) echo "run_parity.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "${1:-}" = "--" ] && shift

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
python=${PYTHON:-/usr/bin/python3}
pkg=$src/tools/maskrcnn_tools
# the Python tools' package (tools/maskrcnn_tools), for every python3 below
export PYTHONPATH=$src/tools${PYTHONPATH:+:$PYTHONPATH}
export PYTHONDONTWRITEBYTECODE=1

if ! "$python" -c 'import torch, torchvision, numpy, PIL' 2>/dev/null; then
  echo "parity $name: SKIP: $python cannot import torch, torchvision, numpy and PIL"
  exit 77
fi

mkdir -p "$workdir"
key=$( { printf '%s\n' "$@" "$rpn_scale" "$cls_scale" "$cls_bg";
  cat "$pkg/export_torchvision.py" "$pkg/torch_model.py" "$here/saturate.py"; } \
  | sha256sum | cut -c1-16)
model=$workdir/$name-$key.safetensors

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if [ -f "$model" ]; then
  echo "parity $name: cached model $model"
else
  t=$(now)
  "$python" -m maskrcnn_tools.export_torchvision "$@" --out "$model.part" --quiet
  if [ "$rpn_scale" != 1 ] || [ "$cls_scale" != 1 ] || [ "$cls_bg" != 0 ]; then
    "$python" "$here/saturate.py" "$model.part" --rpn-scale "$rpn_scale" \
      --cls-scale "$cls_scale" --cls-background "$cls_bg"
  fi
  # the exporter writes a temporary file and renames it; keep the cache
  # entry complete by renaming once more only after it validated
  mv "$model.part" "$model"
  echo "parity $name: exported in $(elapsed "$t")s"
fi

images=$workdir/images${photos:+-photos}
# one output folder per oneDNN cap, so that the capped run keeps its own
out=$workdir/$name${DNNL_MAX_CPU_ISA:+-isa-$DNNL_MAX_CPU_ISA}
rm -rf "$out"
mkdir -p "$out/ref" "$out/ours"
"$python" "$here/make_images.py" "$images" $photos
if [ -n "$batch" ]; then
  set --
  for stem in $(echo "$batch" | tr ',' ' '); do
    set -- "$@" "$images/$stem.png"
  done
  batch_flag=--batch
else
  set -- "$images"/*.png
  batch_flag=
fi

t=$(now)
"$python" "$here/tv_reference.py" --model "$model" --out "$out/ref" $batch_flag "$@"
echo "parity $name: torchvision in $(elapsed "$t")s"

t=$(now)
"$dump" $batch_flag "$model" "$out/ours" "$@"
echo "parity $name: engine in $(elapsed "$t")s"

"$python" "$here/tv_reference.py" --model "$model" --out "$out/tv-on-ours" --on-ours "$out/ours" "$out/ref"

echo "parity $name: oneDNN ISA cap DNNL_MAX_CPU_ISA=${DNNL_MAX_CPU_ISA:-(none)}"
exec "$python" -m maskrcnn_tools.compare_dumps --tv-on-ours "$out/tv-on-ours" "$out/ref" "$out/ours"
