#!/bin/sh
# Prepares, on a machine without a GPU (CI's or a developer's, Debian 12
# with the CUDA toolkit, cuDNN and the project's build dependencies), what
# tests/gpu/run.sh needs on a GPU machine that has no compilers' worth of
# dependencies and no network:
#
#   .gpu-bundle/bundle.tar.xz
#     bin/     test_cuda_parity, mrcnn-dump, mrcnn-bench (built with
#              -Dcuda=enabled, sm_90 + PTX)
#     lib/     libmrcnn and every shared library those need beyond the C and
#              C++ runtimes and CUDA's own (oneDNN, OpenBLAS, GLib,
#              json-glib, libpng, libjpeg, ...)
#     models/  the small test model (narrow ResNet-18 FPN, random init)
#     images/  the parity test images
#
# .gpu-bundle/ is ignored by git: name it in the device tool's `carry`.
#
# usage: tests/gpu/prepare.sh [BUILD_DIR]     (default build-gpu)
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-gpu}
bundle=$src/.gpu-bundle
python=${PYTHON:-/usr/bin/python3}

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$src" -Dcuda=enabled
else
  meson configure "$build" -Dcuda=enabled
fi
ninja -C "$build"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/models" "$stage/images"
bins="tests/gpu/test_cuda_parity tests/parity/mrcnn-dump engine/tools/mrcnn-bench"
for b in $bins; do
  cp "$build/$b" "$stage/bin/"
done
cp "$build/tests/small-r18.safetensors" "$stage/models/"
"$python" "$src/tests/parity/make_images.py" "$stage/images" >/dev/null

# the shared libraries: everything ldd resolves except the C/C++ runtimes
# (any Linux has newer ones) and CUDA's (the GPU machine's driver, toolkit
# or PyTorch wheels provide them, matched to its driver)
skip='linux-vdso|ld-linux|/libc\.so|/libm\.so|/libpthread|/libdl\.|/librt\.|/libstdc\+\+|/libgcc_s|/libcuda\.|/libcudart|/libcublas|/libcudnn|/libnvrtc|/libnvJitLink'
# (ldd on the binaries where they were built: their RUNPATH finds libmrcnn)
for b in $bins; do
  ldd "$build/$b"
done | awk '/=> \// { print $3 }' | sort -u | grep -Ev "$skip" | while read -r lib; do
  cp -L "$lib" "$stage/lib/"
done
if ! ls "$stage"/lib/libmrcnn.so* >/dev/null 2>&1; then
  echo "prepare: libmrcnn was not picked up by ldd" >&2
  exit 1
fi

mkdir -p "$bundle"
tar -C "$stage" -cJf "$bundle/bundle.tar.xz.part" .
mv "$bundle/bundle.tar.xz.part" "$bundle/bundle.tar.xz"
git -C "$src" rev-parse HEAD > "$bundle/commit" 2>/dev/null || true
echo "prepare: $(du -h "$bundle/bundle.tar.xz" | cut -f1) in $bundle/bundle.tar.xz" \
  "($(ls "$stage/lib" | wc -l) libraries), built from $(cat "$bundle/commit" 2>/dev/null || echo '?')"
