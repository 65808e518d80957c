#!/usr/bin/env bash
# Builds the Debian packages (debian/) from a copy of the source tree in a
# temporary directory, checks what each package holds (dpkg-deb -c), unpacks
# them all into a temporary root (dpkg -x, no chroot, nothing installed on
# this machine) and checks that GStreamer, looking only there, finds the
# three elements, and that the tools run from there on the shipped model.
#
# Installs debhelper and the build dependencies it lacks (Debian 12, as
# root). Writes nothing into the source tree. Keep the directory for a look
# with MRCNN_KEEP_DEBS=1. Exit status: 0 when every check passed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gst-maskrcnn-debs.XXXXXX")
if [ "${MRCNN_KEEP_DEBS:-0}" = 1 ]; then
  echo "== packages and logs stay in $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi
fail() { echo "check-debs: FAIL: $*" >&2; exit 1; }

# Packaging tools and the build dependencies of debian/control. apt waits
# for another package manager's lock instead of failing on it.
need=(debhelper dpkg-dev build-essential fakeroot)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
apt_lock=(-o DPkg::Lock::Timeout=600)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get "${apt_lock[@]}" update -q
  apt-get "${apt_lock[@]}" install -y -q --no-install-recommends "${missing[@]}"
fi

# The sources as git sees them (tracked, plus new files not ignored), so
# that a build tree, .venv or earlier package outputs never enter.
SRC=$WORK/gst-maskrcnn
mkdir -p "$SRC"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do
      if [ -e "$f" ]; then printf '%s\0' "$f"; fi   # deleted, not committed
    done \
  | tar --null -T - -cf -) | tar -xf - -C "$SRC"

unmet=$(cd "$SRC" && dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p')
if [ -n "$unmet" ]; then
  # Version constraints off: apt-get takes names.
  pkgs=$(echo "$unmet" | sed 's/([^)]*)//g; s/|[^ ]*//g')
  echo "== installing build dependencies: $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  apt-get "${apt_lock[@]}" install -y -q --no-install-recommends $pkgs
fi

echo "== dpkg-buildpackage -b -uc -us (log: $WORK/build.log)"
jobs=${MRCNN_DEB_JOBS:-$(nproc)}
if ! (cd "$SRC" && dpkg-buildpackage -b -uc -us -j"$jobs") >"$WORK/build.log" 2>&1; then
  tail -40 "$WORK/build.log" >&2
  fail "dpkg-buildpackage failed (the log's end is above)"
fi

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
version=$(cd "$SRC" && dpkg-parsechangelog -S Version)
deb() { echo "$WORK/${1}_${version}_${2:-$arch}.deb"; }

# Each package and files it must hold (shell globs over `dpkg-deb -c`
# paths, ./ removed).
check_contents() {
  local pkg=$1 file=$2 list pattern
  shift 2
  [ -f "$file" ] || fail "package $pkg was not built ($file missing)"
  list=$(dpkg-deb -c "$file" | awk '{print $6}' | sed 's|^\./|/|')
  for pattern in "$@"; do
    local hit=0
    while IFS= read -r path; do
      # shellcheck disable=SC2053  # the pattern is a glob on purpose
      [[ $path == $pattern ]] && { hit=1; break; }
    done <<< "$list"
    [ $hit = 1 ] || fail "$pkg: nothing matches $pattern; it holds:
$list"
  done
  echo "ok: $pkg holds ${*}"
}

check_contents gstreamer1.0-maskrcnn "$(deb gstreamer1.0-maskrcnn)" \
  "/usr/lib/$triplet/gstreamer-1.0/libgstmaskrcnn.so"
check_contents libmrcnn0 "$(deb libmrcnn0)" \
  "/usr/lib/$triplet/libmrcnn.so.0" "/usr/lib/$triplet/libmrcnn.so.0.*"
check_contents libmrcnn-dev "$(deb libmrcnn-dev)" \
  "/usr/include/mrcnn/mrcnn.h" "/usr/include/mrcnn/coco_rle.h" "/usr/include/mrcnn/detection_json.h" \
  "/usr/lib/$triplet/libmrcnn.so"
check_contents libgstmaskrcnnmeta0 "$(deb libgstmaskrcnnmeta0)" \
  "/usr/lib/$triplet/libgstmaskrcnnmeta.so.0" \
  "/usr/lib/$triplet/libgstmaskrcnnmeta.so.0.*"
check_contents gir1.2-gstmaskrcnn-1.0 "$(deb gir1.2-gstmaskrcnn-1.0)" \
  "/usr/lib/$triplet/girepository-1.0/GstMaskRcnn-1.0.typelib"
check_contents libgstmaskrcnnmeta-dev "$(deb libgstmaskrcnnmeta-dev)" \
  "/usr/include/gst-maskrcnn/gst/maskrcnn-meta.h" \
  "/usr/lib/$triplet/pkgconfig/gst-maskrcnn-meta.pc" \
  "/usr/share/gir-1.0/GstMaskRcnn-1.0.gir" \
  "/usr/lib/$triplet/libgstmaskrcnnmeta.so"
check_contents gst-maskrcnn-tools "$(deb gst-maskrcnn-tools)" \
  "/usr/bin/mrcnn-infer" "/usr/bin/mrcnn-bench" \
  "/usr/bin/mrcnn-export-torchvision" \
  "/usr/share/gst-maskrcnn/tools/maskrcnn_tools/__init__.py" \
  "/usr/share/gst-maskrcnn/tools/maskrcnn_tools/export_torchvision.py" \
  "/usr/share/gst-maskrcnn/tools/maskrcnn_tools/torch_model.py"
check_contents gst-maskrcnn-model "$(deb gst-maskrcnn-model all)" \
  "/usr/share/gst-maskrcnn/shapes.safetensors"

# The plugin's shared-library dependencies name the two libraries by soname.
deps=$(dpkg-deb -f "$(deb gstreamer1.0-maskrcnn)" Depends)
for lib in libmrcnn0 libgstmaskrcnnmeta0 gst-maskrcnn-model; do
  [[ $deps == *"$lib"* ]] || fail "gstreamer1.0-maskrcnn does not depend on $lib: $deps"
done
echo "ok: gstreamer1.0-maskrcnn depends on $deps"

# Unpacked into a root of their own: GStreamer looks only at the packages'
# plugin directory (GST_PLUGIN_SYSTEM_PATH, no GST_PLUGIN_PATH, a fresh
# registry), the libraries come from there (LD_LIBRARY_PATH), and so does
# the model (MRCNN_MODEL_DIR stands in for /usr/share/gst-maskrcnn).
R=$WORK/root
mkdir -p "$R"
for f in "$WORK"/*.deb; do dpkg -x "$f" "$R"; done
run_in_root() {
  env -u GST_PLUGIN_PATH \
    GST_PLUGIN_SYSTEM_PATH="$R/usr/lib/$triplet/gstreamer-1.0" \
    GST_REGISTRY="$WORK/registry.bin" \
    LD_LIBRARY_PATH="$R/usr/lib/$triplet" \
    GI_TYPELIB_PATH="$R/usr/lib/$triplet/girepository-1.0" \
    MRCNN_MODEL_DIR="$R/usr/share/gst-maskrcnn" "$@"
}
for element in maskrcnn maskrcnntrack maskrcnncount maskrcnnoverlay maskrcnnpublish; do
  out=$(run_in_root gst-inspect-1.0 "$element" 2>&1) \
    || fail "gst-inspect-1.0 $element found nothing in the packages: $out"
  grep -q "$R/usr/lib/$triplet/gstreamer-1.0/libgstmaskrcnn.so" <<< "$out" \
    || fail "gst-inspect-1.0 $element did not load the packaged plugin: $out"
  echo "ok: gst-inspect-1.0 $element (from the packages)"
done
# The libraries the plugin loads are the packaged ones.
ldd_out=$(run_in_root ldd "$R/usr/lib/$triplet/gstreamer-1.0/libgstmaskrcnn.so")
for lib in libmrcnn.so.0 libgstmaskrcnnmeta.so.0; do
  grep -q "$lib => $R/" <<< "$ldd_out" \
    || fail "the plugin does not load $lib from the packages: $ldd_out"
done
echo "ok: the plugin loads libmrcnn.so.0 and libgstmaskrcnnmeta.so.0 from the packages"

# A frame through the packaged elements on the packaged model; the source
# and sink come from the system's plugins, after the packages' directory.
out=$(run_in_root env GST_PLUGIN_SYSTEM_PATH="$R/usr/lib/$triplet/gstreamer-1.0:/usr/lib/$triplet/gstreamer-1.0" \
  GST_REGISTRY="$WORK/registry-system.bin" gst-launch-1.0 -q videotestsrc num-buffers=2 \
  ! video/x-raw,width=160,height=120 ! videoconvert ! maskrcnn post-messages=true \
  ! maskrcnntrack ! maskrcnncount lines="door:0.5,0,0.5,1" ! maskrcnnoverlay \
  ! fakesink 2>&1) || fail "a pipeline on the packages failed: $out"
echo "ok: videotestsrc ! maskrcnn ! maskrcnntrack ! maskrcnncount ! maskrcnnoverlay ran from the packages"
# The CLI from the packages, on the shipped model (the default lookup).
gst-launch-1.0 -q videotestsrc num-buffers=1 ! video/x-raw,width=160,height=120 \
  ! videoconvert ! pngenc ! filesink location="$WORK/frame.png"
out=$(run_in_root "$R/usr/bin/mrcnn-infer" --json "$WORK/frame.json" "$WORK/frame.png" 2>&1) \
  || fail "mrcnn-infer from the packages failed: $out"
[ -s "$WORK/frame.json" ] || fail "mrcnn-infer wrote no JSON"
echo "ok: mrcnn-infer from the packages on the shipped model"
# The exporter command runs the packaged maskrcnn_tools with python3 -m: the
# script, pointed at the root, must find every module the exporter imports
# there (--help imports them all; needs python3-torchvision, which the
# package recommends). From $WORK, so that no maskrcnn_tools of the current
# directory can stand in.
wrapper=$R/usr/bin/mrcnn-export-torchvision
grep -q "PYTHONPATH=/usr/share/gst-maskrcnn/tools" "$wrapper" \
  || fail "mrcnn-export-torchvision does not name /usr/share/gst-maskrcnn/tools: $(cat "$wrapper")"
if /usr/bin/python3 -c 'import torchvision' 2>/dev/null; then
  sed "s|/usr/share/gst-maskrcnn/tools|$R/usr/share/gst-maskrcnn/tools|" "$wrapper" > "$WORK/export-in-root"
  out=$(cd "$WORK" && PYTHONDONTWRITEBYTECODE=1 sh "$WORK/export-in-root" --help 2>&1) \
    || fail "mrcnn-export-torchvision --help from the packages failed: $out"
  grep -q -- "--random-init" <<< "$out" || fail "mrcnn-export-torchvision --help: $out"
  echo "ok: mrcnn-export-torchvision --help from the packages"
else
  echo "check-debs: mrcnn-export-torchvision not run: /usr/bin/python3 has no torchvision"
fi
echo "check-debs: all checks passed"
