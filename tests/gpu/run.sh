#!/bin/bash
# The whole GPU check of gst-maskrcnn, in one run of about 8 to 9 minutes
# on an H100 (estimated: the steps after oom have never run; see
# tests/gpu/README.md; MRCNN_GPU_SKIP shortens it): per-op parity CUDA vs CPU, end to end on
# the small model, a narrow v2 and a random-init R50-FPN (CUDA vs CPU), compute-
# sanitizer memcheck on a short run, the elements on frames in CUDA memory
# (cudaupload ! maskrcnn ! maskrcnnoverlay ! cudadownload: metadata and
# drawn pixels against the CPU overlay), the engine, the CLI and the element
# on a GPU that is out of memory (test_cuda_oom), the tensor-core path
# (tf32, fp16, fp32 on it) against the CPU, and the benchmark against
# torchvision eager on the same weights, image and card. Needs the bundle that
# tests/gpu/prepare.sh makes (.gpu-bundle/, carried), an NVIDIA driver,
# python3 with torch + torchvision (their pip wheels bring cuDNN and
# cuBLAS); no network, no compiler, no GStreamer.
#
# Logs go to $OUT (default ./gpu-out); the table is printed last. Exit
# status 0 only when every check passed.
set -u -o pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$src/gpu-out}
WORK=${WORK:-/tmp/mrcnn-gpu}
PYTHON=${PYTHON:-python3}
LOGS=$WORK/logs   # per-step logs: packed into $OUT/logs.tar.gz at the end
mkdir -p "$OUT"
exec > >(tee "$OUT/run.log") 2>&1
export PYTHONUNBUFFERED=1
# the Python tools' package (tools/maskrcnn_tools) for the exporter and the
# comparison scripts; no __pycache__ in the tree
export PYTHONPATH=$src/tools${PYTHONPATH:+:$PYTHONPATH}
export PYTHONDONTWRITEBYTECODE=1

declare -a RESULTS=()
# MRCNN_GPU_SKIP: steps to leave out (parity e2e r50 elements memcheck oom tc bench),
# for a rerun of some checks; each shows as SKIP, and the exit status is 1
want() { case " ${MRCNN_GPU_SKIP:-} " in *" $1 "*) record "$1" SKIP "left out (MRCNN_GPU_SKIP)"; return 1 ;; esac; return 0; }
record() { RESULTS+=("$1|$2|$3"); echo "--- $1: $2 $3"; }
step() { echo; echo "=== $* ($(date +%T))"; }
t_start=$(date +%s)

# ---------------------------------------------------------------- machine
step "machine"
if ! nvidia-smi -L; then
  echo "run.sh: no NVIDIA GPU here (nvidia-smi failed)"
  exit 1
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
command -v nvcc >/dev/null && nvcc --version | tail -1
"$PYTHON" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' \
  || echo "run.sh: python3 has no torch/torchvision: the end-to-end export and the torchvision benchmark will fail"

# ---------------------------------------------------------------- bundle
step "bundle"
bundle=$src/.gpu-bundle/bundle.tar.xz
if [ ! -f "$bundle" ]; then
  echo "run.sh: $bundle is missing: run tests/gpu/prepare.sh on the build machine and carry .gpu-bundle"
  exit 1
fi
rm -rf "$WORK"
mkdir -p "$WORK" "$LOGS"
tar -C "$WORK" -xJf "$bundle"
echo "bundle built from $(cat "$src/.gpu-bundle/commit" 2>/dev/null || echo '?'), tree at $(git -C "$src" rev-parse HEAD 2>/dev/null || echo '?')"
BIN=$WORK/bin
# CUDA's libraries: PyTorch's wheels (cuDNN is usually only there), then the
# toolkit
wheel_dirs=$("$PYTHON" - <<'PY' 2>/dev/null
import glob, os, site
dirs = []
for sp in site.getsitepackages() + [site.getusersitepackages()]:
    for d in sorted(glob.glob(os.path.join(sp, "nvidia", "**", "lib"), recursive=True)):
        if any(glob.glob(os.path.join(d, p)) for p in ("libcudnn.so*", "libcublas.so*", "libcudart.so*")):
            dirs.append(d)
print(":".join(dict.fromkeys(dirs)))
PY
)
libs=$WORK/lib${wheel_dirs:+:$wheel_dirs}
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && libs=$libs:$d
done
export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
missing=$(for b in "$BIN"/*; do ldd "$b"; done | grep "not found" | sort -u)
if [ -n "$missing" ]; then
  echo "run.sh: libraries not found:"
  echo "$missing"
  exit 1
fi
ldd "$BIN/test_cuda_parity" | grep -E "cudnn|cublas|cudart"
SMALL=$WORK/models/small-r18.safetensors
IMAGES=("$WORK"/images/*.png)

# ---------------------------------------------------------------- per-op parity
if want parity; then
step "per-op parity, CUDA vs CPU, fresh random inputs"
timeout 150 "$BIN/test_cuda_parity" 2>&1 | tee "$LOGS/parity.log"
rc=${PIPESTATUS[0]}
case $rc in
  0) record "per-op parity" PASS "$(grep -c '^  ok' "$LOGS/parity.log") groups ok" ;;
  77) record "per-op parity" SKIP "no CUDA device seen by the backend" ;;
  *) record "per-op parity" FAIL "exit $rc; $(grep -c '^  FAIL' "$LOGS/parity.log") groups failed" ;;
esac
fi

# ---------------------------------------------------------------- end to end
e2e() {   # name model
  local name=$1 model=$2 d=$WORK/e2e/$1
  mkdir -p "$d"
  local t0=$(date +%s.%N)
  if ! timeout 150 "$BIN/mrcnn-dump" --backend cpu "$model" "$d/cpu" "${IMAGES[@]}"; then
    record "e2e $name" FAIL "CPU dump failed"; return
  fi
  local t1=$(date +%s.%N)
  if ! timeout 150 "$BIN/mrcnn-dump" --backend cuda "$model" "$d/cuda" "${IMAGES[@]}"; then
    record "e2e $name" FAIL "CUDA dump failed"; return
  fi
  local t2=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="${#IMAGES[@]}" \
    'BEGIN { printf "dumps: cpu %.1f s, cuda %.1f s for %d images\n", b - a, c - b, n }'
  if "$PYTHON" "$src/tests/gpu/compare_backends.py" "$model" "$d/cpu" "$d/cuda"; then
    record "e2e $name" PASS "${#IMAGES[@]} images within compare_dumps' tolerances"
  else
    record "e2e $name" FAIL "see e2e.log"
  fi
}
# A batch through one forward pass on both backends (frames of one
# orientation, different sizes: padded to their common size).
e2e_batch() {   # name model
  local name=$1 model=$2 d=$WORK/e2e-batch/$1
  local imgs=("$WORK/images/landscape_640x480.png" "$WORK/images/wide_1000x300.png"
    "$WORK/images/small_200x150.png")
  mkdir -p "$d"
  if ! timeout 150 "$BIN/mrcnn-dump" --backend cpu --batch "$model" "$d/cpu" "${imgs[@]}" \
      || ! timeout 150 "$BIN/mrcnn-dump" --backend cuda --batch "$model" "$d/cuda" "${imgs[@]}"; then
    record "e2e batch $name" FAIL "a dump failed"; return
  fi
  if "$PYTHON" "$src/tests/gpu/compare_backends.py" "$model" "$d/cpu" "$d/cuda"; then
    record "e2e batch $name" PASS "${#imgs[@]} frames in one pass within compare_dumps' tolerances"
  else
    record "e2e batch $name" FAIL "see e2e.log"
  fi
}
R50=
if want e2e; then
step "end to end, small model (ResNet-18 FPN, narrow, random init)"
e2e small "$SMALL" 2>&1 | tee -a "$LOGS/e2e.log"
e2e_batch small "$SMALL" 2>&1 | tee -a "$LOGS/e2e.log"
if [ -f "$src/models/shapes.safetensors" ]; then
  step "end to end, the shipped shapes model"
  e2e shapes "$src/models/shapes.safetensors" 2>&1 | tee -a "$LOGS/e2e.log"
fi
# torchvision's maskrcnn_resnet50_fpn_v2 layout at narrow widths: its batch
# norms (folded), two RPN convs and 4conv1fc box head on the CUDA backend
step "end to end, v2 (maskrcnn_resnet50_fpn_v2, narrow, random init)"
V2=$WORK/v2-narrow.safetensors
if timeout 150 "$PYTHON" -m maskrcnn_tools.export_torchvision --random-init --seed 5 \
    --arch maskrcnn_resnet50_fpn_v2 --body-widths 16,32,64,128,256 --fpn-channels 48 \
    --representation-size 128 --mask-channels 32 --num-classes 6 --min-size 320 --max-size 512 \
    --out "$V2" --quiet; then
  e2e v2 "$V2" 2>&1 | tee -a "$LOGS/e2e.log"
else
  record "e2e v2" FAIL "export failed"
fi

fi
if want r50; then
step "export a random-init R50-FPN (torchvision's maskrcnn_resnet50_fpn, 800/1333)"
R50=$WORK/r50.safetensors
if timeout 150 "$PYTHON" -m maskrcnn_tools.export_torchvision --random-init --seed 1 \
    --arch maskrcnn_resnet50_fpn --out "$R50" --quiet; then
  step "end to end, R50-FPN"
  e2e r50 "$R50" 2>&1 | tee -a "$LOGS/e2e.log"
else
  record "e2e r50" FAIL "export failed (torchvision $("$PYTHON" -c 'import torchvision; print(torchvision.__version__)' 2>/dev/null))"
  R50=
fi
fi
# (the record() calls inside e2e ran in a pipeline's subshell: read them back)
[ -f "$LOGS/e2e.log" ] && while IFS= read -r line; do RESULTS+=("$line"); done < <(sed -n 's/^--- \(e2e [a-z0-9]*\): \([A-Z]*\) \(.*\)$/\1|\2|\3/p' "$LOGS/e2e.log")

# ---------------------------------------------------------------- elements
# Whether the bundle has the element check (test_element_pipeline and the
# GStreamer runtime); if so, points GStreamer at the bundled runtime only: no
# system plugins, a registry of our own.
gst_env() {
  [ -x "$BIN/test_element_pipeline" ] && [ -d "$WORK/gst/plugins" ] || return 1
  export GST_PLUGIN_SYSTEM_PATH=$WORK/gst/plugins
  export GST_PLUGIN_PATH=
  export GST_PLUGIN_SCANNER=$WORK/gst/libexec/gst-plugin-scanner
  export GST_REGISTRY=$WORK/gst/registry.bin
}
# element_error NAME MODE: a pipeline that must stop with maskrcnn's error
# (test_element_pipeline MODE: --bad-device, --expect-oom)
element_error() {
  local log=$LOGS/el-${2#--}.log rc msg
  timeout 90 "$BIN/test_element_pipeline" "$SMALL" RGBA 2 "$2" > "$log" 2>&1
  rc=$?
  tee -a "$LOGS/elements.log" < "$log"
  msg=$(grep -m1 -E "^(PASS|FAIL): .*error:" "$log" | sed 's/^[A-Z]*: //' | cut -c1-240)
  [ "$rc" = 0 ] && record "$1" PASS "$msg" || record "$1" FAIL "exit $rc: $msg"
}
if want elements; then
step "elements: cudaupload ! maskrcnn ! maskrcnnoverlay ! cudadownload"
if gst_env; then
  # name format mode: mode "" is cudaupload ! video/x-raw(memory:CUDAMemory)
  # ! maskrcnn; --no-capsfilter lets negotiation alone pick the memory;
  # --restart checks the elements' base class sharing one context before
  # and after a run to NULL, then the second run's frames;
  # --cuda-engine keeps system memory with backend=cuda
  for spec in "RGBA:" "NV12:" "RGBA:--no-capsfilter" "RGBA:--restart" "RGBA:--cuda-engine"; do
    fmt=${spec%%:*} mode=${spec#*:}
    name="elements $fmt${mode:+ ${mode#--}}"
    echo "### $name"
    dbg=
    [ "$mode" = --no-capsfilter ] && dbg="GST_DEBUG=basetransform:6,GST_CAPS:5,cudaupload:6,maskrcnn*:6 GST_DEBUG_FILE=$LOGS/gst-no-capsfilter.log GST_DEBUG_NO_COLOR=1"
    env $dbg timeout 90 "$BIN/test_element_pipeline" "$SMALL" "$fmt" 4 $mode > "$LOGS/el.log" 2>&1
    rc=$?
    cat "$LOGS/el.log" | tee -a "$LOGS/elements.log"
    detail=$(grep -E "^(caps at|metadata|drawn pixels: GPU vs CPU|context at)" "$LOGS/el.log" | sed 's/, multiview.*//' | tr '\n' ';')
    case $rc in
      0) record "$name" PASS "$detail" ;;
      77) record "$name" SKIP "$(tail -1 "$LOGS/el.log")" ;;
      *) record "$name" FAIL "exit $rc; $detail see elements.log" ;;
    esac
  done
  # device-id beyond the installed GPUs: maskrcnn must stop the pipeline
  element_error "elements device-id=99" --bad-device
else
  record elements SKIP "bundle made with GST=0 or without CUDA-memory elements"
fi
fi

# ---------------------------------------------------------------- memcheck
if want memcheck; then
step "compute-sanitizer memcheck, small model, 2 frames"
san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$san" ]; then
  timeout 120 "$san" --tool memcheck --error-exitcode 3 --print-limit 20 \
    "$BIN/mrcnn-bench" --backend cuda --model "$SMALL" --image "$WORK/images/landscape_640x480.png" \
    --frames 1 --warmup 1 2>&1 | tee "$LOGS/memcheck.log"
  rc=${PIPESTATUS[0]}
  summary=$(grep -m1 "ERROR SUMMARY" "$LOGS/memcheck.log")
  [ "$rc" = 0 ] && record memcheck PASS "$summary" || record memcheck FAIL "exit $rc; $summary"
  # the elements' CUDA path: maskrcnn on CUDA memory, the overlay's kernels
  if gst_env; then
    timeout 300 "$san" --tool memcheck --error-exitcode 3 --print-limit 20 \
      "$BIN/test_element_pipeline" "$SMALL" NV12 2 2>&1 | tee "$LOGS/memcheck-elements.log"
    rc=${PIPESTATUS[0]}
    summary=$(grep -m1 "ERROR SUMMARY" "$LOGS/memcheck-elements.log")
    [ "$rc" = 0 ] && record "memcheck elements" PASS "NV12 on CUDA memory, 2 frames; $summary" \
      || record "memcheck elements" FAIL "exit $rc; $summary"
  fi
else
  record memcheck SKIP "compute-sanitizer not found"
fi
fi

# ---------------------------------------------------------------- out of memory
if want oom; then
step "GPU out of memory: the engine, the CLI and the element"
oom_model=${R50:-$SMALL}
timeout 300 "$BIN/test_cuda_oom" "$oom_model" 1280 720 2>&1 | tee "$LOGS/oom.log"
rc=${PIPESTATUS[0]}
detail=$(grep -m1 "the engine takes" "$LOGS/oom.log" | sed 's/.*frames up to \([0-9x]*\): the engine takes \([0-9]*\) MiB.*/\1 needs \2 MiB/')
detail="$(basename "$oom_model") $detail; $(grep -c ': *create .*ok: refused\|: *run .*ok: refused' "$LOGS/oom.log") levels refused, $(grep -c 'ok: ran' "$LOGS/oom.log") ran"
[ "$rc" = 0 ] && record "oom engine" PASS "$detail" || record "oom engine" FAIL "exit $rc; $detail"
# other processes while one holds all but 16 MiB of the GPU's memory
"$BIN/test_cuda_oom" --hold-free 16 > "$LOGS/oom-hold.log" 2>&1 &
holder=$!
for _ in $(seq 60); do grep -q holding "$LOGS/oom-hold.log" && break; sleep 1; done
cat "$LOGS/oom-hold.log"
timeout 60 "$BIN/mrcnn-bench" --backend cuda --model "$SMALL" \
  --image "$WORK/images/landscape_640x480.png" --frames 1 --warmup 0 > "$LOGS/oom-cli.log" 2>&1
rc=$?
cat "$LOGS/oom-cli.log"
msg=$(grep -m1 "mrcnn-bench:" "$LOGS/oom-cli.log" | cut -c1-160)
if [ "$rc" -ne 0 ] && [ "$rc" -lt 124 ] && grep -q "memory" "$LOGS/oom-cli.log"; then
  record "oom cli" PASS "exit $rc: $msg"
else
  record "oom cli" FAIL "exit $rc: $msg"
fi
gst_env && element_error "oom element" --expect-oom
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
fi

# ---------------------------------------------------------------- tensor-core path
# The precisions the gate refuses until this script has passed them
# (docs/cuda.md): only these steps lift it, for their own commands.
UNLOCK="MRCNN_CUDA_UNVERIFIED=tf32,fp16,fp32-tc"
# tc_e2e NAME MODEL: fp32 on the tensor-core path against the CPU's fp32,
# compare_dumps' tolerances (the same numbers within fp32 noise)
tc_e2e() {
  local name=$1 model=$2 d=$WORK/tc/$1
  mkdir -p "$d"
  # the CPU's dump of the end-to-end step, where it ran
  if [ -d "$WORK/e2e/$name/cpu" ]; then
    ln -sfn "$WORK/e2e/$name/cpu" "$d/cpu"
  elif ! timeout 150 "$BIN/mrcnn-dump" --backend cpu "$model" "$d/cpu" "${IMAGES[@]}"; then
    record "tc fp32 $name" FAIL "CPU dump failed"; return
  fi
  if ! env $UNLOCK MRCNN_CUDA_PATH=tc timeout 150 "$BIN/mrcnn-dump" --backend cuda \
      "$model" "$d/cuda" "${IMAGES[@]}"; then
    record "tc fp32 $name" FAIL "CUDA dump failed"; return
  fi
  if "$PYTHON" "$src/tests/gpu/compare_backends.py" "$model" "$d/cpu" "$d/cuda"; then
    record "tc fp32 $name" PASS "${#IMAGES[@]} images within compare_dumps' tolerances"
  else
    record "tc fp32 $name" FAIL "see tc.log"
  fi
}
if want tc; then
step "tensor-core path (NHWC, cuDNN graph API, cuBLASLt, CUDA graphs) against the CPU"
for m in "small:$SMALL" ${R50:+"r50:$R50"}; do
  tc_e2e "${m%%:*}" "${m#*:}" 2>&1 | tee -a "$LOGS/tc.log"
done
while IFS= read -r line; do RESULTS+=("$line"); done < <(sed -n 's/^--- \(tc fp32 [a-z0-9]*\): \([A-Z]*\) \(.*\)$/\1|\2|\3/p' "$LOGS/tc.log")
# tf32 and fp16 against the CPU's fp32 and fp16 reference, on the shipped
# shapes model's held-out frames, within the fp16 reference's bounds
if [ -f "$src/models/shapes.safetensors" ] && [ -x "$BIN/mrcnn-infer" ]; then
  env $UNLOCK timeout 300 "$PYTHON" "$src/tests/model/test_precision.py" --mode cuda \
    --infer "$BIN/mrcnn-infer" --model "$src/models/shapes.safetensors" 2>&1 | tee "$LOGS/tc-precision.log"
  rc=${PIPESTATUS[0]}
  detail=$(grep -E "^(tf32|fp16)-cuda" "$LOGS/tc-precision.log" | head -3 | cut -c1-100 | tr '\n' ';')
  [ "$rc" = 0 ] && record "tc tf32+fp16 shapes" PASS "$detail" || record "tc tf32+fp16 shapes" FAIL "exit $rc; $detail"
else
  record "tc tf32+fp16 shapes" FAIL "models/shapes.safetensors or mrcnn-infer missing"
fi
# memcheck of the path: the second pass of a size is captured, the third
# replayed
san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$san" ]; then
  env $UNLOCK timeout 180 "$san" --tool memcheck --error-exitcode 3 --print-limit 20 \
    "$BIN/mrcnn-bench" --backend cuda --precision fp16 --model "$SMALL" \
    --image "$WORK/images/landscape_640x480.png" --frames 2 --warmup 1 2>&1 | tee "$LOGS/memcheck-tc.log"
  rc=${PIPESTATUS[0]}
  summary=$(grep -m1 "ERROR SUMMARY" "$LOGS/memcheck-tc.log")
  [ "$rc" = 0 ] && record "memcheck tc fp16" PASS "$summary" || record "memcheck tc fp16" FAIL "exit $rc; $summary"
fi
fi

# ---------------------------------------------------------------- benchmark
# R50-FPN at 1280x720 and 640x480, box score threshold 0 (so 100
# detections: the mask head's whole load): ours at fp32 (the verified path),
# fp32 on the tensor-core path, tf32 and fp16, against torchvision eager
# fp32, TF32 and autocast fp16 (cudnn.benchmark on), on this card; batch 8
# against batch 1; per-stage times; each process's peak device memory as
# nvidia-smi sees it (CUDA context included), sampled every 0.2 s.
step "benchmark: R50-FPN, ours fp32/tf32/fp16 vs torchvision eager fp32/TF32/autocast fp16, same card"
# other work on the same card (MRCNN_GPU_WAIT_PID: a process started beside
# this script) must be finished before anything is timed
if [ -n "${MRCNN_GPU_WAIT_PID:-}" ]; then
  echo "waiting for process $MRCNN_GPU_WAIT_PID to finish before timing"
  while kill -0 "$MRCNN_GPU_WAIT_PID" 2>/dev/null; do sleep 2; done
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
fi
# run_mem MEMFILE CMD...: runs CMD, writes the peak device memory (MiB) of
# its processes (CMD and its descendants: timeout runs the program as a
# child) to MEMFILE
tree_pids() { local c; echo "$1"; for c in $(pgrep -P "$1"); do tree_pids "$c"; done; }
run_mem() {
  local memfile=$1 pid peak=0 m rc
  shift
  "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    m=$(nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2>/dev/null \
      | awk -F', *' -v pids=" $(tree_pids "$pid" | tr '\n' ' ')" \
          'index(pids, " " $1 " ") { s += $2 } END { print s + 0 }')
    [ "${m:-0}" -gt "$peak" ] 2>/dev/null && peak=$m
    sleep 0.2
  done
  wait "$pid"
  rc=$?
  echo "$peak" > "$memfile"
  return $rc
}
B=$WORK/bench
mkdir -p "$B"
bench_ran=0
if [ -n "$R50" ] && want bench; then
  bench_ran=1
  "$PYTHON" - "$WORK/images/landscape_640x480.png" "$B/frame_1280x720.png" <<'PY' || echo "run.sh: cannot make the 1280x720 frame"
import sys
from PIL import Image
Image.open(sys.argv[1]).convert("RGB").resize((1280, 720), Image.BILINEAR).save(sys.argv[2])
PY
  cp "$WORK/images/landscape_640x480.png" "$B/frame_640x480.png"
  for size in 1280x720 640x480; do
    img=$B/frame_$size.png
    for prec in fp32 fp32tc tf32 fp16; do
      p=${prec%tc}
      path=; [ "$prec" = fp32tc ] && path=MRCNN_CUDA_PATH=tc
      run_mem "$B/ours-$prec-$size-b1.mem" env $UNLOCK $path timeout 120 "$BIN/mrcnn-bench" \
        --backend cuda --model "$R50" --image "$img" --precision "$p" --score-threshold 0 \
        --frames 15 --warmup 3 --json "$B/ours-$prec-$size-b1.json" >> "$LOGS/bench.log" 2>&1 \
        || echo "run.sh: ours $prec $size failed (bench.log)"
    done
    for mode in fp32 tf32 fp16; do
      flag=; [ "$mode" != fp32 ] && flag=--$mode
      run_mem "$B/tv-$mode-$size.mem" timeout 150 "$PYTHON" "$src/tests/gpu/bench_torchvision.py" \
        --model "$R50" --image "$img" --frames 10 --warmup 3 --cudnn-benchmark --score-thresh 0 \
        $flag --json "$B/tv-$mode-$size.json" >> "$LOGS/bench.log" 2>&1 \
        || echo "run.sh: torchvision $mode $size failed (bench.log)"
    done
  done
  for prec in fp32 fp16; do
    run_mem "$B/ours-$prec-1280x720-b8.mem" env $UNLOCK timeout 150 "$BIN/mrcnn-bench" \
      --backend cuda --model "$R50" --image "$B/frame_1280x720.png" --precision "$prec" \
      --score-threshold 0 --batch 8 --frames 5 --warmup 2 \
      --json "$B/ours-$prec-1280x720-b8.json" >> "$LOGS/bench.log" 2>&1 \
      || echo "run.sh: ours $prec batch 8 failed (bench.log)"
  done
  tail -n 40 "$LOGS/bench.log"
fi

# ---------------------------------------------------------------- table
tar -C "$WORK" -czf "$OUT/logs.tar.gz" logs bench 2>/dev/null || true
step "summary"
echo "total $(( $(date +%s) - t_start )) s"
fail=0
printf '%-28s %-5s %s\n' check result detail
for r in "${RESULTS[@]}"; do
  IFS='|' read -r name status detail <<< "$r"
  printf '%-28s %-5s %s\n' "$name" "$status" "$detail"
  [ "$status" = PASS ] || fail=1
done
if [ "$bench_ran" = 1 ]; then
  "$PYTHON" "$src/tests/gpu/bench_table.py" "$B" \
    "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)" || fail=1
fi
exit $fail
