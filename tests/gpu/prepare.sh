#!/bin/sh
# Prepares, on a machine without a GPU (CI's or a developer's, Debian 12
# with the CUDA toolkit, cuDNN and the project's build dependencies), what
# tests/gpu/run.sh needs on a GPU machine that has no compilers' worth of
# dependencies and no network:
#
#   .gpu-bundle/bundle.tar.xz
#     bin/     test_cuda_parity, test_cuda_oom, mrcnn-dump, mrcnn-bench, mrcnn-infer (built with
#              -Dcuda=enabled, sm_90 + PTX)
#     lib/     libmrcnn and every shared library those need beyond the C and
#              C++ runtimes and CUDA's own (oneDNN, OpenBLAS, GLib,
#              json-glib, libpng, libjpeg, ...)
#     models/  the small test model (narrow ResNet-18 FPN, random init)
#     images/  the parity test images
#     gst/     the GStreamer runtime for the element check
#              (test_element_pipeline, in bin/): plugins/ holds
#              coreelements, videotestsrc, app, nvcodec (cudaupload,
#              cudadownload) and gst-maskrcnn's plugin; libexec/ the plugin
#              scanner; their libraries join lib/. Debian 12's packages,
#              fetched with `apt-get download` and unpacked here (nothing is
#              installed); GST=0 leaves this part out.
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
build=$(cd "$build" && pwd)   # ldd prints absolute paths only for these

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/models" "$stage/images"
bins="tests/gpu/test_cuda_parity tests/gpu/test_cuda_oom tests/parity/mrcnn-dump engine/tools/mrcnn-bench engine/tools/mrcnn-infer"
with_gst=${GST:-1}
if [ "$with_gst" = 1 ] && [ ! -x "$build/tests/gpu/test_element_pipeline" ]; then
  echo "prepare: the build has no CUDA-memory elements (gstreamer-cuda-1.0" \
    "missing?): the element check is left out" >&2
  with_gst=0
fi
[ "$with_gst" = 1 ] && bins="$bins tests/gpu/test_element_pipeline"
for b in $bins; do
  cp "$build/$b" "$stage/bin/"
done

# the GStreamer runtime: Debian 12's packages unpacked into a private root
gst_objs=
if [ "$with_gst" = 1 ]; then
  debs=$build/gst-debs
  root=$build/gst-root
  mkdir -p "$debs"
  rm -rf "$root"
  (cd "$debs" && apt-get download libgstreamer1.0-0 \
    libgstreamer-plugins-base1.0-0 libgstreamer-plugins-bad1.0-0 \
    gstreamer1.0-plugins-base gstreamer1.0-plugins-bad >/dev/null)
  for f in "$debs"/*.deb; do dpkg -x "$f" "$root"; done
  arch=x86_64-linux-gnu
  plugdir=$root/usr/lib/$arch/gstreamer-1.0
  mkdir -p "$stage/gst/plugins" "$stage/gst/libexec"
  for p in coreelements videotestsrc app nvcodec; do
    cp "$plugdir/libgst$p.so" "$stage/gst/plugins/"
  done
  cp "$build/gst/libgstmaskrcnn.so" "$stage/gst/plugins/"
  cp "$root/usr/lib/$arch/gstreamer1.0/gstreamer-1.0/gst-plugin-scanner" \
    "$stage/gst/libexec/"
  gst_objs=$(ls "$stage"/gst/plugins/*.so "$stage/gst/libexec/gst-plugin-scanner")
fi
cp "$build/tests/small-r18.safetensors" "$stage/models/"
"$python" "$src/tests/parity/make_images.py" "$stage/images" >/dev/null

# the shared libraries: everything ldd resolves except the C/C++ runtimes
# (any Linux has newer ones) and CUDA's (the GPU machine's driver, toolkit
# or PyTorch wheels provide them, matched to its driver)
skip='linux-vdso|ld-linux|/libc\.so|/libm\.so|/libpthread|/libdl\.|/librt\.|/libstdc\+\+|/libgcc_s|/libcuda\.|/libcudart|/libcublas|/libcudnn|/libnvrtc|/libnvJitLink'
# (ldd on the binaries where they were built: their RUNPATH finds libmrcnn)
# (the unpacked packages' libraries first, so that the bundle carries the
# versions the plugins were built against)
gst_ld=
[ -n "$gst_objs" ] && gst_ld=$root/usr/lib/$arch
for b in $bins; do
  ldd "$build/$b"
done | awk '/=> \// { print $3 }' | sort -u | grep -Ev "$skip" | while read -r lib; do
  cp -L "$lib" "$stage/lib/"
done
if [ -n "$gst_objs" ]; then
  notfound=$(for o in $gst_objs; do
    LD_LIBRARY_PATH=$gst_ld:$build/gst:$build/engine ldd "$o"
  done | grep "not found" | sort -u)
  if [ -n "$notfound" ]; then
    echo "prepare: libraries of the GStreamer plugins not found here:" >&2
    echo "$notfound" >&2
    exit 1
  fi
  for o in $gst_objs; do
    LD_LIBRARY_PATH=$gst_ld:$build/gst:$build/engine ldd "$o"
  done | awk '/=> \// { print $3 }' | sort -u | grep -Ev "$skip" | while read -r lib; do
    cp -L "$lib" "$stage/lib/"
  done
fi
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
