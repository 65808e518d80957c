/* PNG and JPEG reading into packed RGB, PNG writing. See image_io.h.
 *
 * Both libraries report fatal errors through a callback that must not
 * return; each decoder here turns that into a longjmp back to its own entry
 * point, where everything allocated so far is released and the library's
 * message is handed to the caller. Locals written after setjmp and read in
 * the error branch are volatile for that reason. */
#include "image_io.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <png.h>
#include <jpeglib.h>
#include <jerror.h>

typedef enum {
  IMAGE_FORMAT_PNG,
  IMAGE_FORMAT_JPEG
} image_format;

static mrcnn_status
set_error (mrcnn_error *err, mrcnn_status status, const char *fmt, ...)
{
  if (err != NULL) {
    va_list ap;
    err->status = status;
    va_start (ap, fmt);
    vsnprintf (err->message, sizeof err->message, fmt, ap);
    va_end (ap);
  }
  return status;
}

static void
clear_error (mrcnn_error *err)
{
  if (err != NULL) {
    err->status = MRCNN_OK;
    err->message[0] = '\0';
  }
}

/* Shared size check: the header of any format passes through here before a
 * single pixel is allocated. */
static mrcnn_status
check_size (const char *path, unsigned long w, unsigned long h,
    mrcnn_error *err)
{
  if (w == 0 || h == 0)
    return set_error (err, MRCNN_ERR_UNSUPPORTED,
        "%s: the image header gives a size of %lux%lu pixels; an image "
        "needs at least one pixel per side", path, w, h);
  if (w > MRCNN_IMAGE_MAX_SIDE || h > MRCNN_IMAGE_MAX_SIDE)
    return set_error (err, MRCNN_ERR_UNSUPPORTED,
        "%s: the image is %lux%lu pixels; the largest supported side is %d "
        "pixels (scale the image down first)", path, w, h,
        MRCNN_IMAGE_MAX_SIDE);
  return MRCNN_OK;
}

static uint32_t
read_be32 (const unsigned char *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8
      | p[3];
}

/* Opens `path` and tells its format from the magic bytes. On success *fp is
 * positioned at the start of the file. */
static mrcnn_status
open_image (const char *path, FILE **fp_out, image_format *format,
    mrcnn_error *err)
{
  static const unsigned char png_magic[8] =
      { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  /* Signature, then the IHDR chunk: length, type, width, height. */
  unsigned char head[24];
  struct stat st;
  size_t n;
  FILE *fp;

  *fp_out = NULL;
  fp = fopen (path, "rb");
  if (fp == NULL)
    return set_error (err, MRCNN_ERR_IO, "%s: cannot open the image: %s",
        path, strerror (errno));
  if (fstat (fileno (fp), &st) == 0 && S_ISDIR (st.st_mode)) {
    fclose (fp);
    return set_error (err, MRCNN_ERR_IO,
        "%s: is a directory, not an image file", path);
  }
  n = fread (head, 1, sizeof head, fp);
  if (ferror (fp)) {
    int e = errno;
    fclose (fp);
    return set_error (err, MRCNN_ERR_IO, "%s: cannot read the image: %s",
        path, strerror (e));
  }
  if (n == 0) {
    fclose (fp);
    return set_error (err, MRCNN_ERR_FORMAT,
        "%s: the file is empty (0 bytes), not an image", path);
  }
  if (n >= sizeof png_magic && memcmp (head, png_magic, sizeof png_magic) == 0) {
    *format = IMAGE_FORMAT_PNG;
    /* libpng reads on past IHDR before it reports the size, so a huge
     * header would first cost a full read of the chunks after it; refuse
     * it right away. */
    if (n == sizeof head && memcmp (head + 12, "IHDR", 4) == 0) {
      mrcnn_status s = check_size (path, read_be32 (head + 16),
          read_be32 (head + 20), err);
      if (s != MRCNN_OK) {
        fclose (fp);
        return s;
      }
    }
  } else if (n >= 3 && head[0] == 0xff && head[1] == 0xd8
      && head[2] == 0xff) {
    *format = IMAGE_FORMAT_JPEG;
  } else {
    fclose (fp);
    return set_error (err, MRCNN_ERR_FORMAT,
        "%s: not a PNG or JPEG image (unrecognised file header); convert it "
        "to PNG or JPEG first", path);
  }
  rewind (fp);
  *fp_out = fp;
  return MRCNN_OK;
}

/* Allocates a w x h RGB buffer, or NULL. Sizes are already bounded by
 * MRCNN_IMAGE_MAX_SIDE, so the product cannot overflow size_t. */
static uint8_t *
alloc_rgb (int w, int h, int *stride)
{
  *stride = 3 * w;
  return malloc ((size_t) *stride * (size_t) h);
}

/* ------------------------------------------------------------------ PNG */

typedef struct {
  FILE *fp;
  char message[256];
} png_io;

static void
on_png_error (png_structp png, png_const_charp msg)
{
  png_io *io = png_get_error_ptr (png);
  snprintf (io->message, sizeof io->message, "%s", msg);
  png_longjmp (png, 1);
}

static void
on_png_warning (png_structp png, png_const_charp msg)
{
  /* Ancillary-chunk complaints (bad iCCP profiles and the like) do not stop
   * the decode and would only be noise for the user. */
  (void) png;
  (void) msg;
}

static void
on_png_read (png_structp png, png_bytep data, size_t len)
{
  png_io *io = png_get_io_ptr (png);
  if (fread (data, 1, len, io->fp) != len) {
    if (ferror (io->fp))
      png_error (png, "read error");
    png_error (png, "the file ends early (truncated?)");
  }
}

/* libpng's allocator, bounded: libpng allocates the length an ancillary
 * chunk's header claims even after warning that it is too large (1.9 GB for
 * the bogus sPLT chunk of a 7x5 image, found by fuzzing). Nothing libpng
 * itself needs (row buffers of at most a few hundred KiB here, chunk data,
 * zlib's window) comes near the bound; the image goes to our own buffers. */
#define PNG_ALLOC_MAX ((png_alloc_size_t) 64 << 20)

static png_voidp
png_bounded_malloc (png_structp png, png_alloc_size_t size)
{
  (void) png;
  return size <= PNG_ALLOC_MAX ? malloc (size) : NULL;
}

static void
png_bounded_free (png_structp png, png_voidp ptr)
{
  (void) png;
  free (ptr);
}

static mrcnn_status
load_png (FILE *fp, const char *path, int header_only,
    mrcnn_loaded_image *out, int *w_out, int *h_out, mrcnn_error *err)
{
  png_io io = { fp, "" };
  png_structp png;
  png_infop info;
  uint8_t *volatile pixels = NULL;
  png_bytep *volatile rows = NULL;
  png_uint_32 pw, ph;
  int depth, ctype, interlace, stride, w, h;
  mrcnn_status st;

  png = png_create_read_struct_2 (PNG_LIBPNG_VER_STRING, &io, on_png_error,
      on_png_warning, NULL, png_bounded_malloc, png_bounded_free);
  if (png == NULL)
    return set_error (err, MRCNN_ERR_NO_MEMORY,
        "%s: out of memory starting the PNG decoder", path);
  info = png_create_info_struct (png);
  if (info == NULL) {
    png_destroy_read_struct (&png, NULL, NULL);
    return set_error (err, MRCNN_ERR_NO_MEMORY,
        "%s: out of memory starting the PNG decoder", path);
  }
  if (setjmp (png_jmpbuf (png))) {
    free (pixels);
    free (rows);
    png_destroy_read_struct (&png, &info, NULL);
    return set_error (err, MRCNN_ERR_FORMAT,
        "%s: not a valid PNG image: %s", path, io.message);
  }
  png_set_read_fn (png, &io, on_png_read);
  /* Our own size limit applies below, with a clearer message than libpng's
   * default limit of one million pixels per side. */
  png_set_user_limits (png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  /* No chunk other than the image data needs more than a few MiB (an ICC
   * profile is the largest); see also png_bounded_malloc. */
  png_set_chunk_malloc_max (png, 16u << 20);
  png_read_info (png, info);
  png_get_IHDR (png, info, &pw, &ph, &depth, &ctype, &interlace, NULL, NULL);

  st = check_size (path, pw, ph, err);
  if (st != MRCNN_OK || header_only) {
    png_destroy_read_struct (&png, &info, NULL);
    *w_out = (int) pw;
    *h_out = (int) ph;
    return st;
  }
  w = (int) pw;
  h = (int) ph;

  /* Whatever the source, ask libpng for 8-bit RGB. Palette expansion also
   * turns a tRNS chunk into alpha, which is then dropped like any other. */
  if (depth == 16)
    png_set_scale_16 (png);
  if (ctype == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb (png);
  if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
    png_set_expand_gray_1_2_4_to_8 (png);
  if ((ctype & PNG_COLOR_MASK_ALPHA) || png_get_valid (png, info, PNG_INFO_tRNS))
    png_set_strip_alpha (png);
  if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA)
    png_set_gray_to_rgb (png);
  png_set_interlace_handling (png);
  png_read_update_info (png, info);
  if (png_get_rowbytes (png, info) != (size_t) w * 3)
    png_error (png, "unexpected row size after conversion to RGB");

  pixels = alloc_rgb (w, h, &stride);
  rows = malloc (sizeof (png_bytep) * (size_t) h);
  if (pixels == NULL || rows == NULL) {
    free (pixels);
    free (rows);
    png_destroy_read_struct (&png, &info, NULL);
    return set_error (err, MRCNN_ERR_NO_MEMORY,
        "%s: out of memory for a %dx%d image", path, w, h);
  }
  for (int y = 0; y < h; y++)
    rows[y] = pixels + (size_t) y * stride;
  png_read_image (png, rows);
  /* The trailing chunks are not read: a file cut after its last image data
   * still holds a complete picture. */
  png_destroy_read_struct (&png, &info, NULL);
  free (rows);

  out->rgb = pixels;
  out->width = w;
  out->height = h;
  out->stride = stride;
  *w_out = w;
  *h_out = h;
  return MRCNN_OK;
}

/* ----------------------------------------------------------------- JPEG */

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jmp;
  int truncated;
  char message[JMSG_LENGTH_MAX];
} jpeg_err_ctx;

static void
on_jpeg_error_exit (j_common_ptr cinfo)
{
  jpeg_err_ctx *ctx = (jpeg_err_ctx *) cinfo->err;
  cinfo->err->format_message (cinfo, ctx->message);
  longjmp (ctx->jmp, 1);
}

static void
on_jpeg_emit_message (j_common_ptr cinfo, int level)
{
  jpeg_err_ctx *ctx = (jpeg_err_ctx *) cinfo->err;
  /* libjpeg pads a truncated file with grey and calls that a warning; a
   * half-grey picture would silently give wrong detections, so it is an
   * error here. The same goes for image data cut short by a marker
   * (JWRN_HIT_MARKER): a file of a hundred bytes could otherwise decode as
   * a 13000x13000 grey picture. Other corrupt-data warnings are tolerated
   * as every common viewer does. */
  if (level < 0 && (cinfo->err->msg_code == JWRN_JPEG_EOF
          || cinfo->err->msg_code == JWRN_HIT_MARKER)) {
    ctx->truncated = 1;
    cinfo->err->format_message (cinfo, ctx->message);
    longjmp (ctx->jmp, 1);
  }
  if (level < 0)
    cinfo->err->num_warnings++;
}

static void
on_jpeg_output_message (j_common_ptr cinfo)
{
  (void) cinfo;  /* never print from library code */
}

static void
cmyk_to_rgb (const uint8_t *src, uint8_t *dst, int w, int adobe_inverted)
{
  for (int x = 0; x < w; x++, src += 4, dst += 3) {
    unsigned c = src[0], m = src[1], y = src[2], k = src[3];
    if (!adobe_inverted) {
      c = 255 - c;
      m = 255 - m;
      y = 255 - y;
      k = 255 - k;
    }
    /* Stored values are now 255 - ink: multiply the "paper left" of the
     * colour ink and of black. */
    dst[0] = (uint8_t) ((c * k + 127) / 255);
    dst[1] = (uint8_t) ((m * k + 127) / 255);
    dst[2] = (uint8_t) ((y * k + 127) / 255);
  }
}

static mrcnn_status
load_jpeg (FILE *fp, const char *path, int header_only,
    mrcnn_loaded_image *out, int *w_out, int *h_out, mrcnn_error *err)
{
  struct jpeg_decompress_struct cinfo;
  jpeg_err_ctx jerr;
  uint8_t *volatile pixels = NULL;
  uint8_t *volatile cmyk_row = NULL;
  int w, h, stride, is_cmyk;
  mrcnn_status st;

  memset (&jerr, 0, sizeof jerr);
  cinfo.err = jpeg_std_error (&jerr.pub);
  jerr.pub.error_exit = on_jpeg_error_exit;
  jerr.pub.emit_message = on_jpeg_emit_message;
  jerr.pub.output_message = on_jpeg_output_message;
  if (setjmp (jerr.jmp)) {
    jpeg_destroy_decompress (&cinfo);
    free (pixels);
    free (cmyk_row);
    if (jerr.truncated)
      return set_error (err, MRCNN_ERR_FORMAT,
          "%s: the JPEG image data ends early (truncated?)", path);
    return set_error (err, MRCNN_ERR_FORMAT,
        "%s: not a valid JPEG image: %s", path, jerr.message);
  }
  jpeg_create_decompress (&cinfo);
  jpeg_stdio_src (&cinfo, fp);
  jpeg_read_header (&cinfo, TRUE);

  st = check_size (path, cinfo.image_width, cinfo.image_height, err);
  if (st != MRCNN_OK || header_only) {
    *w_out = (int) cinfo.image_width;
    *h_out = (int) cinfo.image_height;
    jpeg_destroy_decompress (&cinfo);
    return st;
  }

  is_cmyk = cinfo.jpeg_color_space == JCS_CMYK
      || cinfo.jpeg_color_space == JCS_YCCK;
  /* libjpeg-turbo converts grayscale, YCbCr and RGB to RGB itself; CMYK it
   * only delivers as CMYK. */
  cinfo.out_color_space = is_cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress (&cinfo);
  if (cinfo.output_components != (is_cmyk ? 4 : 3))
    ERREXIT (&cinfo, JERR_CONVERSION_NOTIMPL);

  w = (int) cinfo.output_width;
  h = (int) cinfo.output_height;
  pixels = alloc_rgb (w, h, &stride);
  if (is_cmyk)
    cmyk_row = malloc ((size_t) w * 4);
  if (pixels == NULL || (is_cmyk && cmyk_row == NULL)) {
    jpeg_destroy_decompress (&cinfo);
    free (pixels);
    free (cmyk_row);
    return set_error (err, MRCNN_ERR_NO_MEMORY,
        "%s: out of memory for a %dx%d image", path, w, h);
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t *dst = pixels + (size_t) cinfo.output_scanline * stride;
    JSAMPROW row = is_cmyk ? cmyk_row : dst;
    if (jpeg_read_scanlines (&cinfo, &row, 1) != 1)
      ERREXIT (&cinfo, JERR_INPUT_EMPTY);
    if (is_cmyk)
      cmyk_to_rgb (cmyk_row, dst, w, cinfo.saw_Adobe_marker);
  }
  /* No jpeg_finish_decompress(): a file missing only its end marker still
   * holds a complete picture. */
  jpeg_destroy_decompress (&cinfo);
  free (cmyk_row);

  out->rgb = pixels;
  out->width = w;
  out->height = h;
  out->stride = stride;
  *w_out = w;
  *h_out = h;
  return MRCNN_OK;
}

/* --------------------------------------------------------------- public */

static mrcnn_status
decode (const char *path, int header_only, mrcnn_loaded_image *out,
    int *w, int *h, mrcnn_error *err)
{
  image_format format = IMAGE_FORMAT_PNG;
  mrcnn_status st;
  FILE *fp;

  st = open_image (path, &fp, &format, err);
  if (st != MRCNN_OK)
    return st;
  if (format == IMAGE_FORMAT_PNG)
    st = load_png (fp, path, header_only, out, w, h, err);
  else
    st = load_jpeg (fp, path, header_only, out, w, h, err);
  fclose (fp);
  return st;
}

mrcnn_status
mrcnn_image_load (const char *path, mrcnn_loaded_image *out, mrcnn_error *err)
{
  int w = 0, h = 0;

  if (out != NULL)
    memset (out, 0, sizeof *out);
  if (path == NULL || out == NULL)
    return set_error (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_image_load: path and out must not be NULL");
  clear_error (err);
  return decode (path, 0, out, &w, &h, err);
}

mrcnn_status
mrcnn_image_probe (const char *path, int *width, int *height,
    mrcnn_error *err)
{
  mrcnn_loaded_image unused = { NULL, 0, 0, 0 };
  int w = 0, h = 0;
  mrcnn_status st;

  if (path == NULL || width == NULL || height == NULL)
    return set_error (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_image_probe: path, width and height must not be NULL");
  clear_error (err);
  st = decode (path, 1, &unused, &w, &h, err);
  *width = st == MRCNN_OK ? w : 0;
  *height = st == MRCNN_OK ? h : 0;
  return st;
}

void
mrcnn_loaded_image_clear (mrcnn_loaded_image *img)
{
  if (img == NULL)
    return;
  free (img->rgb);
  memset (img, 0, sizeof *img);
}

void
mrcnn_loaded_image_view (const mrcnn_loaded_image *img, mrcnn_image *view)
{
  memset (view, 0, sizeof *view);
  view->format = MRCNN_PIXEL_RGB;
  view->width = img->width;
  view->height = img->height;
  view->planes[0] = img->rgb;
  view->strides[0] = img->stride;
  view->on_device = 0;
}

/* ------------------------------------------------------------ PNG write */

static void
on_png_write (png_structp png, png_bytep data, size_t len)
{
  png_io *io = png_get_io_ptr (png);
  if (fwrite (data, 1, len, io->fp) != len)
    png_error (png, strerror (errno));
}

static void
on_png_flush (png_structp png)
{
  png_io *io = png_get_io_ptr (png);
  if (fflush (io->fp) != 0)
    png_error (png, strerror (errno));
}

mrcnn_status
mrcnn_image_save_png (const char *path, const uint8_t *rgb, int w, int h,
    int stride, mrcnn_error *err)
{
  png_io io = { NULL, "" };
  png_structp png;
  png_infop info;
  FILE *fp;

  if (path == NULL || rgb == NULL)
    return set_error (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_image_save_png: path and pixels must not be NULL");
  if (w <= 0 || h <= 0 || w > MRCNN_IMAGE_MAX_SIDE
      || h > MRCNN_IMAGE_MAX_SIDE || stride < 3 * w)
    return set_error (err, MRCNN_ERR_INVALID_ARG,
        "%s: cannot write a %dx%d image with %d bytes per row (sides must "
        "be 1..%d, rows at least 3 * width bytes)", path, w, h, stride,
        MRCNN_IMAGE_MAX_SIDE);
  clear_error (err);

  fp = fopen (path, "wb");
  if (fp == NULL)
    return set_error (err, MRCNN_ERR_IO, "%s: cannot create the file: %s",
        path, strerror (errno));
  io.fp = fp;

  png = png_create_write_struct (PNG_LIBPNG_VER_STRING, &io, on_png_error,
      on_png_warning);
  info = png != NULL ? png_create_info_struct (png) : NULL;
  if (info == NULL) {
    png_destroy_write_struct (&png, NULL);
    fclose (fp);
    remove (path);
    return set_error (err, MRCNN_ERR_NO_MEMORY,
        "%s: out of memory starting the PNG encoder", path);
  }
  if (setjmp (png_jmpbuf (png))) {
    png_destroy_write_struct (&png, &info);
    fclose (fp);
    remove (path);
    return set_error (err, MRCNN_ERR_IO, "%s: cannot write the PNG: %s",
        path, io.message);
  }
  png_set_write_fn (png, &io, on_png_write, on_png_flush);
  png_set_IHDR (png, info, (png_uint_32) w, (png_uint_32) h, 8,
      PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
      PNG_FILTER_TYPE_DEFAULT);
  png_write_info (png, info);
  for (int y = 0; y < h; y++)
    png_write_row (png, rgb + (size_t) y * stride);
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);

  if (fclose (fp) != 0) {
    int e = errno;
    remove (path);
    return set_error (err, MRCNN_ERR_IO, "%s: cannot write the PNG: %s",
        path, strerror (e));
  }
  return MRCNN_OK;
}

uint8_t *
mrcnn_image_synthetic (int w, int h)
{
  uint8_t *p = malloc ((size_t) w * h * 3);
  if (!p)
    return NULL;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *q = p + ((size_t) y * w + x) * 3;
      int cx = x - w / 2, cy = y - h / 3;
      int inside = cx * cx + cy * cy < (h / 5) * (h / 5);
      q[0] = (uint8_t) (inside ? 220 : (x * 255) / w);
      q[1] = (uint8_t) (inside ? 40 : (y * 255) / h);
      q[2] = (uint8_t) ((x ^ y) & 0x3f) + (inside ? 30 : 120);
    }
  return p;
}
