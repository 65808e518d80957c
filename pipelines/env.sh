# Sourced by the example scripts: makes the plugin of an uninstalled build
# visible to GStreamer. The build directory is $MRCNN_BUILD_DIR, else
# build/ at the top of the source tree. An installed plugin needs none of
# this; an uninstalled one wins over it.

MRCNN_SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MRCNN_BUILD_DIR=${MRCNN_BUILD_DIR:-$MRCNN_SOURCE_DIR/build}

if [ -f "$MRCNN_BUILD_DIR/gst/libgstmaskrcnn.so" ]; then
  export GST_PLUGIN_PATH="$MRCNN_BUILD_DIR/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
  # A registry of its own, so that an installed copy of the plugin cannot
  # shadow the one just built.
  export GST_REGISTRY=${GST_REGISTRY:-$MRCNN_BUILD_DIR/gst-registry.bin}
  # The metadata library's typelib (GstMaskRcnn-1.0) and the library it
  # loads, for Python applications (pipelines/count-objects.py).
  export GI_TYPELIB_PATH="$MRCNN_BUILD_DIR/gst${GI_TYPELIB_PATH:+:$GI_TYPELIB_PATH}"
  export LD_LIBRARY_PATH="$MRCNN_BUILD_DIR/gst${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# GNU OpenMP's threads spin at every barrier by default; when other
# processes share the cores that collapses the engine's frame rate (2-13
# frames/s against 18-28 with passive waiting for the shipped model beside
# two busy processes; 4% slower when idle: docs/performance.md). OpenMP reads
# this once, when a process starts; a value the user chose is kept.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

# Sourced into the user's shell: `return`, never `exit` (which would close
# that shell), and no shell options set here. Run as a script by mistake,
# `return` fails outside a function and the script ends with status 1.
if ! gst-inspect-1.0 maskrcnn >/dev/null 2>&1; then
  echo "The maskrcnn GStreamer plugin was not found: build the project" \
       "(meson setup build && ninja -C build), set MRCNN_BUILD_DIR to" \
       "your build directory, or install the packages (see README.md)." >&2
  return 1 2>/dev/null || exit 1
fi
