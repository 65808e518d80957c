/* libFuzzer target: the still-image decoders of the command-line tools
 * (engine/tools/image_io.c over libpng and libjpeg-turbo).
 *
 * Each input is probed (header only) and then decoded in full. Both calls
 * must either succeed with a consistent size or fail with an error status
 * and a message naming the file, leaving the output image empty; the
 * decoded pixels are all read so that MemorySanitizer-style uninitialised
 * reads show up under valgrind and any short buffer shows up under ASan. */
#include <string.h>

#include "fuzz_input.h"
#include "image_io.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
one_input (const uint8_t *data, size_t size)
{
  const char *path = fuzz_input_path (data, size);
  mrcnn_error err;
  int pw = -1, ph = -1;

  memset (&err, 0, sizeof err);
  mrcnn_status pst = mrcnn_image_probe (path, &pw, &ph, &err);
  if (pst != MRCNN_OK) {
    if (pw != 0 || ph != 0 || strstr (err.message, path) == NULL)
      __builtin_trap ();
  } else if (pw < 1 || ph < 1 || pw > MRCNN_IMAGE_MAX_SIDE
      || ph > MRCNN_IMAGE_MAX_SIDE) {
    __builtin_trap ();
  }

  mrcnn_loaded_image img;
  memset (&err, 0, sizeof err);
  mrcnn_status st = mrcnn_image_load (path, &img, &err);
  if (verbose ())
    fprintf (stderr, "%s: status %d%s%s\n", path, (int) st,
        st != MRCNN_OK ? ": " : "", st != MRCNN_OK ? err.message : "");
  if (st != MRCNN_OK) {
    if (img.rgb != NULL || img.width != 0 || img.height != 0
        || strstr (err.message, path) == NULL)
      __builtin_trap ();
    return 0;
  }
  /* A file whose header probes fine may still fail in its pixel data, but
   * one that decodes must have probed to the same size. */
  if (pst != MRCNN_OK || img.width != pw || img.height != ph
      || img.stride < 3 * img.width || img.rgb == NULL)
    __builtin_trap ();
  unsigned sum = 0;
  for (int y = 0; y < img.height; y++) {
    const uint8_t *row = img.rgb + (size_t) y * img.stride;
    for (int x = 0; x < 3 * img.width; x++)
      sum += row[x];
  }
  volatile unsigned sink = sum;
  (void) sink;
  mrcnn_loaded_image_clear (&img);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  return fuzz_run_small_stack (one_input, data, size);
}
