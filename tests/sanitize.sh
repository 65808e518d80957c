#!/usr/bin/env bash
# Memory and undefined-behaviour checks of the C code, for CI:
#
#   1. AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer): a
#      separate gcc build ($ASAN_BUILD_DIR, default build-asan) with meson's
#      own -Db_sanitize=address,undefined, then the unit, CLI and GStreamer
#      element tests in it. Any report fails the test that caused it.
#   2. valgrind memcheck on the CPU path: mrcnn-infer (from an ordinary build,
#      $MRCNN_BUILD_DIR, default build) on a tiny random-init model and two
#      frames (PNG, JPEG). Any memory error or definitely lost block fails.
#   3. ThreadSanitizer: a separate gcc build ($TSAN_BUILD_DIR, default
#      build-tsan, -Db_sanitize=thread, CPU only) and the multi-stream tests
#      in it (meson suite multistream: several maskrcnn elements, one shared
#      engine, streams that end at different times). Any report fails.
#      Suppressions and why they are so few: tests/tsan.supp.
#
#   tests/sanitize.sh [asan|valgrind|tsan|all]     (default all)
#
# Extra arguments after the mode go to `meson test` of the ASan or TSan
# build (for example a test name). Installs valgrind where it is missing
# (Debian, root).
# Everything tolerated from third-party libraries is listed, with the reason,
# in the suppression file written below and in docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ASAN_BUILD=${ASAN_BUILD_DIR:-$ROOT/build-asan}
TSAN_BUILD=${TSAN_BUILD_DIR:-$ROOT/build-tsan}
BUILD=${MRCNN_BUILD_DIR:-$ROOT/build}
PYTHON=${MRCNN_PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=/usr/bin/python3
mode=${1:-all}
[ $# -gt 0 ] && shift

# ------------------------------------------------------------------ ASan

asan_env() {
  mkdir -p "$ASAN_BUILD"
  # LeakSanitizer suppressions: third-party allocations that are never freed
  # by design, matched by a function name in their allocation stack.
  cat > "$ASAN_BUILD/lsan.supp" <<'EOF'
# fontconfig keeps what it allocates while parsing its configuration
# (FcInitLoadConfigAndFonts, run from pango's own thread when the overlay
# first lays out text). fontconfig has no frame pointers, so ASan's fast
# unwinder stops inside it and only the library name can be matched.
leak:libfontconfig.so
# What a library's constructor allocates while it is loaded (a plugin's
# dependency, dlopened while the registry is built in the test process)
# lives as long as the process. Seen: 16 KB from a constructor through
# g_malloc, reported only by the test that happens to build the registry.
# Matching it needs whole allocation stacks (fast_unwind_on_malloc=0 below).
leak:_dl_init
EOF
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:print_summary=1:strict_init_order=1:detect_stack_use_after_return=0:intercept_tls_get_addr=0:fast_unwind_on_malloc=0"
  # intercept_tls_get_addr=0: gcc 12's LeakSanitizer misreads glibc >= 2.25
  # dynamic TLS blocks as old-style ones and its tracer crashes ("Tracer
  # caught signal 11") in processes that dlopen libraries with TLS (the
  # plugin, libgomp). Blocks held only by dynamic TLS then count as leaks,
  # which could only add reports, never hide one.
  export LSAN_OPTIONS="suppressions=$ASAN_BUILD/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:print_summary=1"
  # Load plugins in the (instrumented) test process: gst-plugin-scanner is
  # not instrumented and cannot load an ASan plugin.
  export GST_REGISTRY_FORK=no
}

asan_build() {
  # The same extra options as the ordinary build (CI: -Dcuda=enabled).
  local extra
  read -r -a extra <<< "${MRCNN_SETUP_ARGS:-}"
  if [ -f "$ASAN_BUILD/build.ninja" ]; then
    meson setup --reconfigure "$ASAN_BUILD" -Dpython="$PYTHON" "${extra[@]}" >/dev/null
  else
    meson setup "$ASAN_BUILD" -Dpython="$PYTHON" -Db_sanitize=address,undefined \
      -Dbuildtype=debugoptimized -Db_ndebug=false -Dc_args=-fno-omit-frame-pointer \
      "${extra[@]}"
  fi
  meson compile -C "$ASAN_BUILD"
}

# GStreamer's registry is written by the first process that finds it stale.
# That scan loads every installed plugin, and glib leaks its first quark
# block by design once there are more than 2048 quarks: build the registry
# once here, without leak checking, so that the tests only read it.
# Both registries the tests use: tests/gst's and tests/gpu's (the element
# pipeline tests, two of which run here on system memory).
asan_registry() {
  local reg libasan
  libasan=$(gcc -print-file-name=libasan.so)
  for reg in "$ASAN_BUILD/tests/gst/gst-registry.bin" \
      "$ASAN_BUILD/tests/gpu/gst-registry.bin"; do
    mkdir -p "$(dirname "$reg")"
    rm -f "$reg"
    ASAN_OPTIONS="detect_leaks=0:intercept_tls_get_addr=0" LD_PRELOAD="$libasan" \
      GST_REGISTRY="$reg" GST_PLUGIN_PATH="$ASAN_BUILD/gst" \
      gst-inspect-1.0 maskrcnn >/dev/null
  done
}

asan_tests() {
  # Every C test of the unit, integration (CLI) and gst suites (with the
  # multi-stream test on files, not its RTSP variant); not the
  # Python-only exporter test and not the parity suite (mostly model export
  # and torchvision; run it with `tests/sanitize.sh asan --suite parity`).
  mapfile -t tests < <(meson test -C "$ASAN_BUILD" --list 2>/dev/null \
    | sed -n 's/^gst-maskrcnn:\(unit\|integration\|gst\|gst+multistream\) \/ //p' \
    | grep -vx exporter)
  [ $# -gt 0 ] && tests=("$@")
  echo "== ASan+UBSan: ${#tests[@]} tests"
  meson test -C "$ASAN_BUILD" --no-rebuild --print-errorlogs --num-processes 1 \
    --timeout-multiplier 3 "${tests[@]}"
}

# ------------------------------------------------------------------ TSan

tsan_env() {
  # ignore_noninstrumented_modules, G_SLICE, OMP_NUM_THREADS and the
  # preloaded lock annotations: reasons in tests/tsan.supp. exitcode=66
  # makes any report fail the test that caused it (after the whole run, so
  # that every report is printed).
  export TSAN_OPTIONS="suppressions=$ROOT/tests/tsan.supp:exitcode=66:halt_on_error=0:second_deadlock_stack=1:ignore_noninstrumented_modules=1:history_size=4"
  export G_SLICE=always-malloc
  export OMP_NUM_THREADS=1
  export OMP_WAIT_POLICY=passive
  # gst-check forks each test case by default; TSan does not follow a
  # multi-threaded fork.
  export CK_FORK=no
  # As for ASan: gst-plugin-scanner cannot load an instrumented plugin.
  export GST_REGISTRY_FORK=no
}

tsan_build() {
  # CPU only: the CUDA paths cannot run where CI runs this, and the CUDA
  # libraries are not instrumented either.
  if [ -f "$TSAN_BUILD/build.ninja" ]; then
    meson setup --reconfigure "$TSAN_BUILD" -Dpython="$PYTHON" >/dev/null
  else
    meson setup "$TSAN_BUILD" -Dpython="$PYTHON" -Db_sanitize=thread \
      -Dbuildtype=debugoptimized -Db_ndebug=false -Dc_args=-fno-omit-frame-pointer \
      -Db_lundef=false -Dcuda=disabled
  fi
  nice -n 19 meson compile -C "$TSAN_BUILD"
}

tsan_registry() {
  local reg="$TSAN_BUILD/tests/gst/gst-registry.bin"
  rm -f "$reg"
  # gst-inspect is not instrumented: the runtime comes first, preloaded.
  TSAN_OPTIONS="report_bugs=0" LD_PRELOAD="$(gcc -print-file-name=libtsan.so)" \
    GST_REGISTRY="$reg" GST_PLUGIN_PATH="$TSAN_BUILD/gst" \
    gst-inspect-1.0 maskrcnn >/dev/null
}

tsan_tests() {
  # The RTSP variant stays out (suite rtsp): rtspsrc stalls inside GStreamer
  # when every thread runs as slowly as under TSan (tests/gst/test-multistream.c).
  local sel=(--suite multistream --no-suite rtsp)
  [ $# -gt 0 ] && sel=("$@")
  echo "== ThreadSanitizer: the multi-stream tests"
  # The test programs link the TSan runtime themselves; only the lock
  # annotations are preloaded.
  MRCNN_MULTISTREAM_FRAMES=${MRCNN_MULTISTREAM_FRAMES:-16} \
  nice -n 19 meson test -C "$TSAN_BUILD" --no-rebuild --print-errorlogs \
    --num-processes 1 --timeout-multiplier 3 \
    --wrapper "env LD_PRELOAD=$TSAN_BUILD/tests/libtsan-glib-sync.so" "${sel[@]}"
}

# ------------------------------------------------------------------ valgrind

valgrind_run() {
  if ! command -v valgrind >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind
    else
      echo "valgrind is needed (Debian: apt-get install valgrind)" >&2
      exit 1
    fi
  fi
  if [ ! -f "$BUILD/build.ninja" ]; then
    local extra
    read -r -a extra <<< "${MRCNN_SETUP_ARGS:-}"
    meson setup "$BUILD" -Dpython="$PYTHON" "${extra[@]}"
  fi
  meson compile -C "$BUILD" engine/tools/mrcnn-infer
  local out="$BUILD/valgrind"
  mkdir -p "$out"
  # One PNG and one JPEG frame, so that both decoders run too.
  gst-launch-1.0 -q videotestsrc pattern=ball num-buffers=1 \
    ! video/x-raw,width=160,height=120 ! videoconvert ! pngenc \
    ! filesink location="$out/frame.png"
  gst-launch-1.0 -q videotestsrc pattern=smpte num-buffers=1 \
    ! video/x-raw,width=128,height=96 ! videoconvert ! jpegenc \
    ! filesink location="$out/frame.jpg"
  # The fuzz corpus's valid model: ResNet-18 FPN, every width 4, 64..96
  # pixel input. Score threshold 0 keeps 100 detections per frame, so that
  # mask pasting, COCO RLE and the overlay drawing all run.
  local model=tests/fuzz/corpus/model/valid-r18-f16.safetensors
  # Suppressed: errors inside third-party code only, each with its reason.
  cat > "$out/valgrind.supp" <<'EOF'
# ld.so: glibc's SSE2 strncmp in is_dst() reads whole words past a strdup'd
# RPATH string; valgrind does not redirect string functions inside the
# dynamic loader. Happens when CUDA builds load cuBLAS, whose constructor
# dlopen()s at start-up, before any of our code runs.
{
   ld.so-is_dst-strncmp-word-overread
   Memcheck:Addr8
   fun:strncmp
   fun:is_dst
}
EOF
  echo "== valgrind memcheck: mrcnn-infer, 2 frames, 100 detections each"
  # --smc-check: oneDNN writes its convolution kernels at run time (JIT).
  if ! valgrind --tool=memcheck --error-exitcode=99 \
      --leak-check=full --show-leak-kinds=definite \
      --errors-for-leak-kinds=definite --smc-check=all-non-file \
      --num-callers=30 --suppressions="$out/valgrind.supp" \
      --log-file="$out/memcheck.log" \
      "$BUILD/engine/tools/mrcnn-infer" --model "$model" --score-threshold 0 \
      --json "$out/result.json" --overlay "$out/overlay.png" \
      "$out/frame.png" "$out/frame.jpg" > "$out/stdout.txt"; then
    cat "$out/memcheck.log" >&2
    echo "valgrind: FAILED (log: $out/memcheck.log)" >&2
    exit 1
  fi
  grep -c '"score"' "$out/result.json" | sed 's/^/  detections written: /'
  grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|in use at exit" \
    "$out/memcheck.log" | sed 's/^==[0-9]*== */  /'
}

case $mode in
  asan) asan_env; asan_build; asan_registry; asan_tests "$@" ;;
  valgrind) valgrind_run ;;
  tsan) tsan_env; tsan_build; tsan_registry; tsan_tests "$@" ;;
  all) (asan_env; asan_build; asan_registry; asan_tests "$@")
       valgrind_run
       (tsan_env; tsan_build; tsan_registry; tsan_tests) ;;
  *) sed -n '2,23p' "$0" >&2; exit 2 ;;
esac
