#!/usr/bin/env bash
# Builds and runs the libFuzzer targets (clang, ASan + UBSan).
#
#   tests/fuzz/run.sh [ci]             build, replay the corpus, fuzz each target
#                                      for $FUZZ_SECONDS (default 60) seconds
#   tests/fuzz/run.sh build            only build (into $FUZZ_BUILD_DIR, default build-fuzz)
#   tests/fuzz/run.sh regress          build and replay corpus/ and regress/ only
#   tests/fuzz/run.sh fuzz [SECONDS]   build and fuzz each target for SECONDS
#   tests/fuzz/run.sh long TARGET RUNS [JOBS]
#                                      build and fuzz one target for RUNS
#                                      executions in JOBS parallel processes
#                                      (libFuzzer -fork; default 1), keeping its
#                                      corpus in $FUZZ_BUILD_DIR/long-TARGET
#                                      (docs/reliability.md)
#
# Targets: model (mrcnn_model_open: safetensors header, JSON metadata, tensor
# table, architecture check) and image (mrcnn_image_probe/_load: PNG, JPEG).
# The targets are compiled straight from the engine sources they test, so
# this needs clang but not a second meson configuration, and the gcc build
# never needs clang. Inputs the short run finds go to a scratch directory,
# not into the committed corpus; a crash leaves its input in
# $FUZZ_BUILD_DIR/artifacts/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
CC_FUZZ=${CC_FUZZ:-clang}
TARGETS=(model image)

need_clang() {
  if ! command -v "$CC_FUZZ" >/dev/null \
      || [ -z "$(find /usr/lib/llvm-*/lib/clang -name 'libclang_rt.fuzzer-x86_64.a' 2>/dev/null)" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "== installing clang and its sanitizer/libFuzzer runtimes"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q
      apt-get install -y -q --no-install-recommends clang libclang-rt-dev
    else
      echo "fuzz: $CC_FUZZ with libFuzzer is needed (Debian: apt-get install clang libclang-rt-dev)" >&2
      exit 1
    fi
  fi
}

build() {
  need_clang
  mkdir -p "$BUILD" "$BUILD/artifacts"
  local common=(-g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -std=gnu11
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
    -Wall -Wno-unused-parameter)
  # shellcheck disable=SC2046
  "$CC_FUZZ" "${common[@]}" -Iengine/include -Iengine -Ikernels \
    $(pkg-config --cflags glib-2.0 json-glib-1.0) \
    tests/fuzz/fuzz_model.c engine/model.c engine/arch.c engine/calibration.c \
    engine/status.c \
    $(pkg-config --libs glib-2.0 json-glib-1.0) -lm -o "$BUILD/fuzz-model"
  # shellcheck disable=SC2046
  "$CC_FUZZ" "${common[@]}" -Iengine/include -Iengine/tools \
    $(pkg-config --cflags libpng libjpeg) \
    tests/fuzz/fuzz_image.c engine/tools/image_io.c \
    $(pkg-config --libs libpng libjpeg) -o "$BUILD/fuzz-image"
}

# libFuzzer options per target: the model seeds are whole models (25 KB,
# and 36 KB for the one with a 10 kB label, which -max_len must not cut);
# images grow from a few hundred bytes.
opts() {
  local t=$1
  local o=(-timeout=30 -rss_limit_mb=3072 -dict="tests/fuzz/$t.dict"
    -artifact_prefix="$BUILD/artifacts/$t-" -print_final_stats=1)
  case $t in
    model) o+=(-max_len=40960) ;;
    # a single allocation over 1 GiB is a bug (the largest image allowed,
    # 16384 x 16384 RGB, is 768 MiB): caught even before RSS grows
    image) o+=(-max_len=16384 -malloc_limit_mb=1024) ;;
  esac
  printf '%s\n' "${o[@]}"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

regress() {
  for t in "${TARGETS[@]}"; do
    local dirs=("tests/fuzz/corpus/$t")
    [ -d "tests/fuzz/regress/$t" ] && dirs+=("tests/fuzz/regress/$t")
    mapfile -t o < <(opts "$t")
    echo "== fuzz-$t: replaying ${dirs[*]}"
    if ! "$BUILD/fuzz-$t" "${o[@]}" -runs=0 "${dirs[@]}" \
        > "$BUILD/regress-$t.log" 2>&1; then
      tail -n 60 "$BUILD/regress-$t.log" >&2
      echo "fuzz-$t: corpus replay FAILED" >&2
      exit 1
    fi
    grep -E 'INITED|DONE' "$BUILD/regress-$t.log" | tail -n 1
  done
}

fuzz_for() {
  local secs=$1
  for t in "${TARGETS[@]}"; do
    local scratch="$BUILD/scratch-$t"
    rm -rf "$scratch"
    mkdir -p "$scratch" "$BUILD/artifacts"
    mapfile -t o < <(opts "$t")
    echo "== fuzz-$t: ${secs}s"
    "$BUILD/fuzz-$t" "${o[@]}" -max_total_time="$secs" "$scratch" \
      "tests/fuzz/corpus/$t" > "$BUILD/fuzz-$t.log" 2>&1 || {
        tail -n 60 "$BUILD/fuzz-$t.log" >&2
        echo "fuzz-$t: FAILED, input in $BUILD/artifacts/" >&2
        exit 1
      }
    { grep -E 'cov: ' "$BUILD/fuzz-$t.log" | tail -n 1
      grep -E '^(Done|stat::number_of_executed_units)' "$BUILD/fuzz-$t.log"; } || true
  done
}

long_run() {
  local t=$1 runs=$2 jobs=${3:-1}
  local dir="$BUILD/long-$t"
  mkdir -p "$dir" "$BUILD/artifacts"
  mapfile -t o < <(opts "$t")
  # -fork=N: N worker processes; the parent merges what they find into $dir
  # and counts all their executions against -runs
  [ "$jobs" -gt 1 ] && o+=(-fork="$jobs")
  echo "== fuzz-$t: $runs executions in $jobs process(es), corpus in $dir, log in $BUILD/long-$t.log"
  "$BUILD/fuzz-$t" "${o[@]}" -runs="$runs" -reduce_inputs=1 "$dir" \
    "tests/fuzz/corpus/$t" 2>&1 | tee "$BUILD/long-$t.log" \
    | grep -E 'pulse|NEW_FUNC|DONE|ERROR|stat::|wrapping up|^#[0-9]+0000:'
}

mode=${1:-ci}
case $mode in
  build) build ;;
  regress) build; regress ;;
  fuzz) build; fuzz_for "${2:-${FUZZ_SECONDS:-60}}" ;;
  ci) build; regress; fuzz_for "${FUZZ_SECONDS:-60}" ;;
  long) build; long_run "${2:?target}" "${3:?runs}" "${4:-1}" ;;
  *) sed -n '2,17p' "$0" >&2; exit 2 ;;
esac
