/* Still-image input and output for the command-line tools and tests.
 *
 * PNG (libpng) and JPEG (libjpeg-turbo) files are read into packed 8-bit RGB,
 * whatever their bit depth, colour type or colour space. The format is told
 * by the file's magic bytes, not its name. Truncated, corrupt and oversized
 * files are errors with a message naming the file; nothing here aborts.
 */
#ifndef MRCNN_TOOLS_IMAGE_IO_H
#define MRCNN_TOOLS_IMAGE_IO_H

#include <stdint.h>

#include "mrcnn/mrcnn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest width or height accepted by mrcnn_image_load() and
 * mrcnn_image_probe(); a guard against memory exhaustion by a hostile or
 * broken header, far above anything the engine is planned for. */
#define MRCNN_IMAGE_MAX_SIDE 16384

/* A decoded image: packed RGB, `stride` bytes per row (stride >= 3 * width). */
typedef struct {
  uint8_t *rgb;  /* owned; release with mrcnn_loaded_image_clear() */
  int width;
  int height;
  int stride;
} mrcnn_loaded_image;

/* Decodes the PNG or JPEG file at `path` into *out (which need not be
 * initialised; on failure it is left empty: rgb NULL, sizes 0).
 *
 * PNG: palette, grayscale, 16-bit, interlaced and alpha images are all
 * accepted; 16-bit samples are scaled to 8 bits and alpha is dropped (the
 * colour under it is kept). JPEG: grayscale, YCbCr, RGB, CMYK and YCCK
 * (Adobe inverted or not) are converted to RGB. No colour management and no
 * EXIF orientation: pixels are taken as stored, so coordinates computed on
 * the result refer to the file's own pixel grid.
 *
 * Errors: MRCNN_ERR_INVALID_ARG (NULL arguments), MRCNN_ERR_IO (cannot open
 * or read), MRCNN_ERR_FORMAT (empty, not PNG/JPEG, corrupt or truncated),
 * MRCNN_ERR_UNSUPPORTED (a side of 0 or over MRCNN_IMAGE_MAX_SIDE),
 * MRCNN_ERR_NO_MEMORY. Every message names the file. */
mrcnn_status mrcnn_image_load (const char *path, mrcnn_loaded_image *out,
    mrcnn_error *err);

/* Reads only the header of the PNG or JPEG file at `path` and stores its size
 * in *width and *height, with the same checks and errors as
 * mrcnn_image_load() except those of the pixel data itself. Lets a caller
 * learn the largest frame of a batch before decoding it. */
mrcnn_status mrcnn_image_probe (const char *path, int *width, int *height,
    mrcnn_error *err);

/* Frees the pixels of `img` and zeroes it. Safe on a zeroed or already
 * cleared image and on NULL. */
void mrcnn_loaded_image_clear (mrcnn_loaded_image *img);

/* Fills `view` with an MRCNN_PIXEL_RGB host view of `img` for
 * mrcnn_engine_run(). The view borrows img's pixels: it is valid until img is
 * cleared. */
void mrcnn_loaded_image_view (const mrcnn_loaded_image *img,
    mrcnn_image *view);

/* Writes w x h packed RGB pixels (`stride` bytes per row) to `path` as an
 * 8-bit RGB PNG, replacing any file there. On failure no partial file is left
 * behind. Errors: MRCNN_ERR_INVALID_ARG, MRCNN_ERR_IO, MRCNN_ERR_NO_MEMORY. */
mrcnn_status mrcnn_image_save_png (const char *path, const uint8_t *rgb,
    int w, int h, int stride, mrcnn_error *err);

/* A deterministic w x h packed RGB frame (stride 3 * w) with smooth
 * structure, a disc and some texture, for benchmarks and tests that need a
 * frame but no particular content; NULL when out of memory. Free with
 * free(). */
uint8_t *mrcnn_image_synthetic (int w, int h);

#ifdef __cplusplus
}
#endif
#endif /* MRCNN_TOOLS_IMAGE_IO_H */
