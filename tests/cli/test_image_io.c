/* Test of image_io: PNG round trips, every PNG colour type and bit depth,
 * interlacing, JPEG colour spaces (gray, YCbCr, CMYK, YCCK), and bad files
 * (missing, directory, empty, not an image, truncated, corrupt, zero or
 * oversized dimensions, random byte damage) which must give an error whose
 * message names the file, never a crash. All files are made here, in a
 * temporary directory that is removed afterwards.
 *
 * Random data comes from a fresh seed each run (printed; replay with
 * MRCNN_TEST_SEED=<seed>). */
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jpeglib.h>
#include <png.h>

#include "cli_test.h"
#include "image_io.h"

static char *tmpdir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

/* --------------------------------------------------------- file writers */

typedef struct {
  int color_type, bit_depth, interlace;
  const png_color *palette;
  int n_palette;
  const uint8_t *trns;
  int n_trns;
  const png_color_16 *trans_color;  /* tRNS of gray and RGB images */
} png_spec;

static void
on_test_png_error (png_structp png, png_const_charp msg)
{
  fprintf (stderr, "test PNG writer: %s\n", msg);
  png_longjmp (png, 1);
}

/* Writes raw libpng rows (rowbytes each, packed as the PNG stores them). */
static int
write_png_raw (const char *path, int w, int h, const png_spec *spec,
    const uint8_t *data, size_t rowbytes)
{
  FILE *fp = fopen (path, "wb");
  png_structp png;
  png_infop info;

  if (fp == NULL)
    return 0;
  png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL,
      on_test_png_error, NULL);
  info = png_create_info_struct (png);
  if (setjmp (png_jmpbuf (png))) {
    png_destroy_write_struct (&png, &info);
    fclose (fp);
    return 0;
  }
  png_init_io (png, fp);
  png_set_IHDR (png, info, w, h, spec->bit_depth, spec->color_type,
      spec->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (spec->palette != NULL)
    png_set_PLTE (png, info, spec->palette, spec->n_palette);
  if (spec->trns != NULL || spec->trans_color != NULL)
    png_set_tRNS (png, info, spec->trns, spec->n_trns, spec->trans_color);
  png_write_info (png, info);
  {
    int passes = png_set_interlace_handling (png);
    for (int p = 0; p < passes; p++)
      for (int y = 0; y < h; y++)
        png_write_row (png, data + (size_t) y * rowbytes);
  }
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  return fclose (fp) == 0;
}

typedef struct {
  J_COLOR_SPACE in_space;   /* what `data` holds */
  J_COLOR_SPACE jpeg_space; /* what the file stores */
  int components;
  int adobe_marker;         /* -1: libjpeg's default */
  int progressive;
} jpeg_spec;

static int
write_jpeg (const char *path, int w, int h, const jpeg_spec *spec,
    const uint8_t *data)
{
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr jerr;
  FILE *fp = fopen (path, "wb");

  if (fp == NULL)
    return 0;
  cinfo.err = jpeg_std_error (&jerr);  /* test code: libjpeg may exit */
  jpeg_create_compress (&cinfo);
  jpeg_stdio_dest (&cinfo, fp);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = spec->components;
  cinfo.in_color_space = spec->in_space;
  jpeg_set_defaults (&cinfo);
  jpeg_set_colorspace (&cinfo, spec->jpeg_space);
  if (spec->adobe_marker >= 0)
    cinfo.write_Adobe_marker = spec->adobe_marker;
  jpeg_set_quality (&cinfo, 95, TRUE);
  for (int c = 0; c < cinfo.num_components; c++)
    cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
  if (spec->progressive)
    jpeg_simple_progression (&cinfo);
  jpeg_start_compress (&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW) data
        + (size_t) cinfo.next_scanline * w * spec->components;
    jpeg_write_scanlines (&cinfo, &row, 1);
  }
  jpeg_finish_compress (&cinfo);
  jpeg_destroy_compress (&cinfo);
  return fclose (fp) == 0;
}

/* --------------------------------------------------------------- checks */

/* Local, so that this test needs only the tools library, not the engine. */
static const char *
status_name (mrcnn_status st)
{
  static const char *names[] = { "OK", "INVALID_ARG", "IO", "FORMAT",
    "MODEL", "UNSUPPORTED", "NO_MEMORY", "BACKEND" };
  return (unsigned) st < sizeof names / sizeof names[0] ? names[st] : "?";
}

/* Loads `path` and compares with the expected RGB (w x h, packed) within
 * `tol` per channel. */
static void
check_load (const char *path, const uint8_t *expected, int w, int h, int tol,
    const char *what)
{
  mrcnn_loaded_image img;
  mrcnn_error err;
  mrcnn_status st = mrcnn_image_load (path, &img, &err);
  int worst = 0, pw = -1, ph = -1;

  CHECK (st == MRCNN_OK, "%s: load failed: %s", what, err.message);
  if (st != MRCNN_OK)
    return;
  CHECK (img.width == w && img.height == h && img.stride >= 3 * w,
      "%s: got %dx%d stride %d, want %dx%d", what, img.width, img.height,
      img.stride, w, h);
  if (img.width == w && img.height == h) {
    for (int y = 0; y < h; y++)
      for (int x = 0; x < 3 * w; x++) {
        int d = abs (img.rgb[(size_t) y * img.stride + x]
            - expected[(size_t) y * 3 * w + x]);
        worst = d > worst ? d : worst;
      }
    CHECK (worst <= tol, "%s: pixels differ by up to %d (allowed %d)", what,
        worst, tol);
  }
  st = mrcnn_image_probe (path, &pw, &ph, &err);
  CHECK (st == MRCNN_OK && pw == w && ph == h, "%s: probe gave %dx%d (%s)",
      what, pw, ph, st == MRCNN_OK ? "ok" : err.message);
  mrcnn_loaded_image_clear (&img);
}

/* Loading and probing `path` must fail with `want` (or, when want is
 * MRCNN_OK, with any error), leave the image empty and name the file. */
static void
check_fails (const char *path, mrcnn_status want, const char *needle,
    const char *what)
{
  mrcnn_loaded_image img = { (uint8_t *) 1, 5, 5, 15 };
  mrcnn_error err;
  mrcnn_status st = mrcnn_image_load (path, &img, &err);

  CHECK (st != MRCNN_OK && (want == MRCNN_OK || st == want),
      "%s: status %s, want %s", what, status_name (st),
      want == MRCNN_OK ? "an error" : status_name (want));
  if (st == MRCNN_OK) {
    mrcnn_loaded_image_clear (&img);
    return;
  }
  CHECK (img.rgb == NULL && img.width == 0 && img.height == 0,
      "%s: output not emptied on failure", what);
  CHECK (err.status == st, "%s: err.status %d != returned %d", what,
      err.status, st);
  CHECK (strstr (err.message, path) != NULL,
      "%s: message does not name the file: '%s'", what, err.message);
  CHECK (needle == NULL || strstr (err.message, needle) != NULL,
      "%s: message lacks '%s': '%s'", what, needle, err.message);
  printf ("  %-28s -> %s\n", what, err.message);
}

/* ---------------------------------------------------------------- tests */

static void
test_png_round_trip (void)
{
  static const int sizes[][2] = { { 1, 1 }, { 37, 23 }, { 300, 200 },
    { 2, 513 } };

  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    int w = sizes[i][0], h = sizes[i][1], stride = 3 * w + rng_range (9);
    uint8_t *src = malloc ((size_t) stride * h), *packed =
        malloc ((size_t) 3 * w * h);
    char *path = tmp_path ("round.png");
    char what[64];
    mrcnn_error err;

    for (int y = 0; y < h; y++)
      for (int x = 0; x < stride; x++) {
        uint8_t v = (uint8_t) rng_next ();
        src[(size_t) y * stride + x] = v;
        if (x < 3 * w)
          packed[(size_t) y * 3 * w + x] = v;
      }
    snprintf (what, sizeof what, "round trip %dx%d", w, h);
    CHECK (mrcnn_image_save_png (path, src, w, h, stride, &err) == MRCNN_OK,
        "%s: save failed: %s", what, err.message);
    check_load (path, packed, w, h, 0, what);
    g_free (path);
    free (src);
    free (packed);
  }
}

/* One PNG colour type / depth: random samples, expected RGB computed from
 * the PNG specification's meaning of each sample. */
static void
test_png_variant (const char *what, int color_type, int bit_depth,
    int interlace, int with_trns)
{
  static png_color palette[256];
  static const uint8_t trns[4] = { 0, 128, 255, 7 };
  int w = 1 + rng_range (50), h = 1 + rng_range (40);
  int channels = color_type == PNG_COLOR_TYPE_GRAY ? 1
      : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
      : color_type == PNG_COLOR_TYPE_RGB ? 3
      : color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : 1;
  size_t rowbytes = ((size_t) w * channels * bit_depth + 7) / 8;
  uint8_t *raw = calloc (rowbytes, h), *expected = malloc ((size_t) 3 * w * h);
  int maxv = (1 << bit_depth) - 1;
  png_spec spec = { color_type, bit_depth, interlace, NULL, 0, NULL, 0,
    NULL };
  png_color_16 trans_color = { 0, 3, 3, 3, 3 };
  char *path = tmp_path ("variant.png");

  for (int i = 0; i < 256; i++) {
    palette[i].red = (png_byte) (i * 37);
    palette[i].green = (png_byte) (i * 91 + 5);
    palette[i].blue = (png_byte) (255 - i);
  }
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    spec.palette = palette;
    spec.n_palette = 1 << bit_depth;
    maxv = spec.n_palette - 1;
    if (with_trns) {
      spec.trns = trns;
      spec.n_trns = spec.n_palette < 4 ? spec.n_palette : 4;
    }
  } else if (with_trns) {
    /* Pixels of this value are transparent; their colour must stay. */
    spec.trans_color = &trans_color;
  }
  for (int y = 0; y < h; y++) {
    uint8_t *row = raw + (size_t) y * rowbytes;
    for (int x = 0; x < w; x++) {
      int rgb[3];
      for (int c = 0; c < channels; c++) {
        int s = rng_range (maxv + 1), i = x * channels + c, v8;
        if (bit_depth == 16) {
          /* Multiples of 257 scale to 8 bits exactly. */
          s = rng_range (256) * 257;
          row[2 * i] = (uint8_t) (s >> 8);
          row[2 * i + 1] = (uint8_t) s;
          v8 = s / 257;
        } else if (bit_depth == 8) {
          row[i] = (uint8_t) s;
          v8 = s;
        } else {
          int per_byte = 8 / bit_depth;
          int shift = 8 - bit_depth * (1 + i % per_byte);
          row[i / per_byte] |= (uint8_t) (s << shift);
          v8 = s * 255 / maxv;
        }
        if (color_type == PNG_COLOR_TYPE_PALETTE) {
          rgb[0] = palette[s].red;
          rgb[1] = palette[s].green;
          rgb[2] = palette[s].blue;
        } else if (c < 3 && (color_type & PNG_COLOR_MASK_COLOR)) {
          rgb[c] = v8;
        } else if (c == 0) {
          rgb[0] = rgb[1] = rgb[2] = v8;
        }
      }
      for (int c = 0; c < 3; c++)
        expected[((size_t) y * w + x) * 3 + c] = (uint8_t) rgb[c];
    }
  }
  CHECK (write_png_raw (path, w, h, &spec, raw, rowbytes), "%s: write", what);
  check_load (path, expected, w, h, 0, what);
  g_free (path);
  free (raw);
  free (expected);
}

static void
test_png_variants (void)
{
  for (int interlace = 0; interlace <= 1; interlace++) {
    int il = interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE;
    char what[64];
#define VARIANT_T(name, ct, bd, trns)                                      \
    snprintf (what, sizeof what, "%s%s", name, interlace ? " interlaced" : ""); \
    test_png_variant (what, ct, bd, il, trns)
#define VARIANT(name, ct, bd) VARIANT_T (name, ct, bd, 0)
    VARIANT ("gray 1-bit", PNG_COLOR_TYPE_GRAY, 1);
    VARIANT ("gray 2-bit", PNG_COLOR_TYPE_GRAY, 2);
    VARIANT ("gray 4-bit", PNG_COLOR_TYPE_GRAY, 4);
    VARIANT ("gray 8-bit", PNG_COLOR_TYPE_GRAY, 8);
    VARIANT ("gray 16-bit", PNG_COLOR_TYPE_GRAY, 16);
    VARIANT ("gray+alpha 8-bit", PNG_COLOR_TYPE_GRAY_ALPHA, 8);
    VARIANT ("gray+alpha 16-bit", PNG_COLOR_TYPE_GRAY_ALPHA, 16);
    VARIANT ("RGB 8-bit", PNG_COLOR_TYPE_RGB, 8);
    VARIANT ("RGB 16-bit", PNG_COLOR_TYPE_RGB, 16);
    VARIANT ("RGBA 8-bit", PNG_COLOR_TYPE_RGB_ALPHA, 8);
    VARIANT ("RGBA 16-bit", PNG_COLOR_TYPE_RGB_ALPHA, 16);
    VARIANT ("palette 1-bit", PNG_COLOR_TYPE_PALETTE, 1);
    VARIANT ("palette 4-bit", PNG_COLOR_TYPE_PALETTE, 4);
    VARIANT_T ("gray 2-bit tRNS", PNG_COLOR_TYPE_GRAY, 2, 1);
    VARIANT_T ("gray 8-bit tRNS", PNG_COLOR_TYPE_GRAY, 8, 1);
    VARIANT_T ("RGB 8-bit tRNS", PNG_COLOR_TYPE_RGB, 8, 1);
    VARIANT_T ("RGB 16-bit tRNS", PNG_COLOR_TYPE_RGB, 16, 1);
    VARIANT_T ("palette 1-bit tRNS", PNG_COLOR_TYPE_PALETTE, 1, 1);
    VARIANT_T ("palette 8-bit tRNS", PNG_COLOR_TYPE_PALETTE, 8, 1);
#undef VARIANT
#undef VARIANT_T
  }
}

/* Flat 8x8 blocks survive JPEG almost unchanged, so a small tolerance
 * checks the colour conversion rather than the compression. */
static void
test_jpeg (void)
{
  enum { W = 48, H = 32 };
  static uint8_t rgb[W * H * 3], gray[W * H], cmyk[W * H * 4];
  static uint8_t want_gray[W * H * 3], want_cmyk[W * H * 3],
      want_plain_cmyk[W * H * 3], plain_cmyk[W * H * 4];
  char *path = tmp_path ("t.jpg");

  for (int by = 0; by < H / 8; by++)
    for (int bx = 0; bx < W / 8; bx++) {
      uint8_t c[4] = { (uint8_t) rng_next (), (uint8_t) rng_next (),
        (uint8_t) rng_next (), (uint8_t) rng_next () };
      for (int y = by * 8; y < by * 8 + 8; y++)
        for (int x = bx * 8; x < bx * 8 + 8; x++) {
          size_t i = (size_t) y * W + x;
          for (int k = 0; k < 3; k++) {
            rgb[i * 3 + k] = c[k];
            want_gray[i * 3 + k] = c[0];
          }
          gray[i] = c[0];
          /* Adobe CMYK stores 255 - ink: red = ink (0, 255, 255, 0) */
          memcpy (cmyk + i * 4, c, 4);
          want_cmyk[i * 3 + 0] = (uint8_t) ((c[0] * c[3] + 127) / 255);
          want_cmyk[i * 3 + 1] = (uint8_t) ((c[1] * c[3] + 127) / 255);
          want_cmyk[i * 3 + 2] = (uint8_t) ((c[2] * c[3] + 127) / 255);
          for (int k = 0; k < 4; k++)
            plain_cmyk[i * 4 + k] = (uint8_t) (255 - c[k]);
          memcpy (want_plain_cmyk + i * 3, want_cmyk + i * 3, 3);
        }
    }

  {
    jpeg_spec s = { JCS_RGB, JCS_YCbCr, 3, -1, 0 };
    CHECK (write_jpeg (path, W, H, &s, rgb), "write YCbCr");
    check_load (path, rgb, W, H, 12, "JPEG YCbCr");
    s.progressive = 1;
    CHECK (write_jpeg (path, W, H, &s, rgb), "write progressive");
    check_load (path, rgb, W, H, 12, "JPEG progressive");
    s.jpeg_space = JCS_RGB;
    s.progressive = 0;
    CHECK (write_jpeg (path, W, H, &s, rgb), "write RGB");
    check_load (path, rgb, W, H, 12, "JPEG stored as RGB");
  }
  {
    jpeg_spec s = { JCS_GRAYSCALE, JCS_GRAYSCALE, 1, -1, 0 };
    CHECK (write_jpeg (path, W, H, &s, gray), "write gray");
    check_load (path, want_gray, W, H, 4, "JPEG grayscale");
  }
  {
    /* libjpeg writes the Adobe marker for CMYK, so values count as
     * inverted, as Photoshop stores them. */
    jpeg_spec s = { JCS_CMYK, JCS_CMYK, 4, -1, 0 };
    CHECK (write_jpeg (path, W, H, &s, cmyk), "write CMYK");
    check_load (path, want_cmyk, W, H, 8, "JPEG Adobe CMYK");
    s.jpeg_space = JCS_YCCK;
    CHECK (write_jpeg (path, W, H, &s, cmyk), "write YCCK");
    check_load (path, want_cmyk, W, H, 12, "JPEG Adobe YCCK");
    s.jpeg_space = JCS_CMYK;
    s.adobe_marker = 0;
    CHECK (write_jpeg (path, W, H, &s, plain_cmyk), "write plain CMYK");
    check_load (path, want_plain_cmyk, W, H, 8, "JPEG CMYK without Adobe");
  }
  g_free (path);
}

static gboolean
write_bytes (const char *path, const void *data, size_t n)
{
  return g_file_set_contents (path, data, (gssize) n, NULL);
}

static uint32_t
crc32_png (const uint8_t *p, size_t n)
{
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return c ^ 0xffffffffu;
}

static void
put32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) (v >> 24);
  p[1] = (uint8_t) (v >> 16);
  p[2] = (uint8_t) (v >> 8);
  p[3] = (uint8_t) v;
}

/* A PNG signature and a valid-CRC IHDR claiming w x h, nothing more. */
static void
write_png_header_only (const char *path, uint32_t w, uint32_t h)
{
  uint8_t buf[8 + 25] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  uint8_t *chunk = buf + 8;

  put32 (chunk, 13);
  memcpy (chunk + 4, "IHDR", 4);
  put32 (chunk + 8, w);
  put32 (chunk + 12, h);
  chunk[16] = 8;  /* depth */
  chunk[17] = 2;  /* RGB */
  chunk[18] = chunk[19] = chunk[20] = 0;
  put32 (chunk + 21, crc32_png (chunk + 4, 17));
  write_bytes (path, buf, sizeof buf);
}

static void
test_bad_files (void)
{
  char *path, *good_png, *good_jpg;
  gchar *png_data = NULL, *jpg_data = NULL;
  gsize png_len = 0, jpg_len = 0;

  printf ("error messages:\n");
  path = tmp_path ("does-not-exist.png");
  check_fails (path, MRCNN_ERR_IO, "No such file", "missing file");
  g_free (path);

  check_fails (tmpdir, MRCNN_ERR_IO, "directory", "directory");

  path = tmp_path ("empty.png");
  write_bytes (path, "", 0);
  check_fails (path, MRCNN_ERR_FORMAT, "empty", "empty file");
  g_free (path);

  path = tmp_path ("notes.png");
  write_bytes (path, "hello, this is text\n", 20);
  check_fails (path, MRCNN_ERR_FORMAT, "not a PNG or JPEG", "text file");
  g_free (path);

  path = tmp_path ("sig-only.png");
  write_bytes (path, "\x89PNG\r\n\x1a\n", 8);
  check_fails (path, MRCNN_ERR_FORMAT, "truncated", "PNG signature only");
  g_free (path);

  path = tmp_path ("soi-only.jpg");
  write_bytes (path, "\xff\xd8\xff", 3);
  check_fails (path, MRCNN_ERR_FORMAT, NULL, "JPEG start marker only");
  g_free (path);

  path = tmp_path ("garbage.jpg");
  {
    uint8_t junk[300] = { 0xff, 0xd8, 0xff };
    for (int i = 3; i < 300; i++)
      junk[i] = (uint8_t) rng_next ();
    write_bytes (path, junk, sizeof junk);
  }
  check_fails (path, MRCNN_ERR_FORMAT, NULL, "JPEG marker then garbage");
  g_free (path);

  path = tmp_path ("zero-width.png");
  write_png_header_only (path, 0, 10);
  check_fails (path, MRCNN_OK, NULL, "PNG of width 0");
  g_free (path);

  /* A valid header for a 20000 x 20000 RGB image: refused before any
   * allocation (the image data is missing anyway). */
  path = tmp_path ("huge-header.png");
  write_png_header_only (path, 20000, 20000);
  check_fails (path, MRCNN_ERR_UNSUPPORTED, "16384", "PNG 20000x20000 header");
  {
    int w = -1, h = -1;
    mrcnn_error err;
    CHECK (mrcnn_image_probe (path, &w, &h, &err) == MRCNN_ERR_UNSUPPORTED
        && w == 0 && h == 0, "probe of a 20000x20000 header");
  }
  g_free (path);

  path = tmp_path ("wide.png");
  {
    png_spec spec = { PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE, NULL, 0,
      NULL, 0, NULL };
    uint8_t *row = calloc (1, 20000 / 8 * 2);
    CHECK (write_png_raw (path, 20000, 2, &spec, row, 20000 / 8),
        "write 20000x2");
    free (row);
  }
  check_fails (path, MRCNN_ERR_UNSUPPORTED, "16384", "PNG 20000x2");
  g_free (path);

  path = tmp_path ("wide.jpg");
  {
    jpeg_spec s = { JCS_GRAYSCALE, JCS_GRAYSCALE, 1, -1, 0 };
    uint8_t *px = calloc (20000, 8);
    CHECK (write_jpeg (path, 20000, 8, &s, px), "write 20000x8 JPEG");
    free (px);
  }
  check_fails (path, MRCNN_ERR_UNSUPPORTED, "16384", "JPEG 20000x8");
  g_free (path);

  /* Truncations and random damage of good files. */
  good_png = tmp_path ("good.png");
  good_jpg = tmp_path ("good.jpg");
  {
    enum { W = 64, H = 48 };
    static uint8_t px[W * H * 3];
    jpeg_spec s = { JCS_RGB, JCS_YCbCr, 3, -1, 0 };
    mrcnn_error err;
    for (size_t i = 0; i < sizeof px; i++)
      px[i] = (uint8_t) (rng_next () & 0x3f);
    CHECK (mrcnn_image_save_png (good_png, px, W, H, 3 * W, &err) == MRCNN_OK,
        "save good.png: %s", err.message);
    CHECK (write_jpeg (good_jpg, W, H, &s, px), "write good.jpg");
  }
  g_file_get_contents (good_png, &png_data, &png_len, NULL);
  g_file_get_contents (good_jpg, &jpg_data, &jpg_len, NULL);
  CHECK (png_data != NULL && jpg_data != NULL && png_len > 100
      && jpg_len > 100, "reading back the good files");

  path = tmp_path ("truncated.png");
  write_bytes (path, png_data, png_len / 2);
  check_fails (path, MRCNN_ERR_FORMAT, "truncated", "PNG cut in half");
  g_free (path);
  path = tmp_path ("truncated.jpg");
  write_bytes (path, jpg_data, jpg_len / 2);
  check_fails (path, MRCNN_ERR_FORMAT, "truncated", "JPEG cut in half");
  g_free (path);

  /* Image data cut short by a marker: libjpeg would fill the rest with
   * grey. A 110-byte file found by tests/fuzz decoded as 6912x15857. */
  path = tmp_path ("cut-then-eoi.jpg");
  {
    gchar *copy = g_memdup2 (jpg_data, jpg_len);
    copy[jpg_len / 2] = (gchar) 0xff;
    copy[jpg_len / 2 + 1] = (gchar) 0xd9;
    write_bytes (path, copy, jpg_len / 2 + 2);
    g_free (copy);
  }
  check_fails (path, MRCNN_ERR_FORMAT, "truncated", "JPEG data cut by EOI");
  g_free (path);
  path = tmp_path ("bomb.jpg");
  {
    static const uint8_t bomb[110] = {
      0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x3b, 0xff,
      0xdb, 0x00, 0x43, 0x00, 0x08, 0x06, 0x06, 0x07, 0x06, 0x05, 0x08, 0x07,
      0x07, 0x07, 0x09, 0x89, 0x08, 0x0a, 0x0c, 0x14, 0x0d, 0xf8, 0x0b, 0x0b,
      0x0c, 0x19, 0x12, 0x13, 0x50, 0x4c, 0x54, 0x45, 0x1f, 0x1e, 0x1d, 0x1a,
      0x1c, 0x1c, 0x20, 0x24, 0x2e, 0x27, 0x20, 0x22, 0x2c, 0x23, 0x1c, 0x1c,
      0x37, 0x28, 0x29, 0x2c, 0x30, 0x31, 0x34, 0x34, 0x34, 0x1f, 0x27, 0x39,
      0x3d, 0x38, 0x32, 0x3c, 0x2e, 0x33, 0x34, 0x32, 0xff, 0xc0, 0x00, 0x0b,
      0x08, 0x3d, 0xf1, 0x1b, 0x00, 0x01, 0x01, 0x11, 0x00, 0xff, 0xda, 0x00,
      0x08, 0x01, 0x01, 0x00, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0x0e, 0x24, 0x5a,
      0xff, 0xd9
    };
    write_bytes (path, bomb, sizeof bomb);
  }
  check_fails (path, MRCNN_ERR_FORMAT, NULL, "110-byte JPEG of 6912x15857");
  g_free (path);

  path = tmp_path ("bad-crc.png");
  {
    gchar *copy = g_memdup2 (png_data, png_len);
    copy[png_len / 2] ^= 0x5a;  /* inside IDAT: the CRC no longer matches */
    write_bytes (path, copy, png_len);
    g_free (copy);
  }
  check_fails (path, MRCNN_ERR_FORMAT, NULL, "PNG with a damaged IDAT");
  g_free (path);

  /* Every cut before the image data ends must fail; none may crash. */
  {
    char *cut = tmp_path ("cut.png");
    char *cutj = tmp_path ("cut.jpg");
    int bad = 0, bad_j = 0;
    for (size_t n = 1; n < png_len - 12; n += 1 + n / 16) {
      mrcnn_loaded_image img;
      mrcnn_error err;
      write_bytes (cut, png_data, n);
      if (mrcnn_image_load (cut, &img, &err) == MRCNN_OK) {
        bad++;
        mrcnn_loaded_image_clear (&img);
      } else if (strstr (err.message, cut) == NULL) {
        bad++;
      }
    }
    CHECK (bad == 0, "%d PNG cuts loaded or gave a message without the file "
        "name", bad);
    for (size_t n = 1; n < jpg_len - 2; n += 1 + n / 16) {
      mrcnn_loaded_image img;
      mrcnn_error err;
      write_bytes (cutj, jpg_data, n);
      if (mrcnn_image_load (cutj, &img, &err) == MRCNN_OK) {
        bad_j++;
        mrcnn_loaded_image_clear (&img);
      } else if (strstr (err.message, cutj) == NULL) {
        bad_j++;
      }
    }
    CHECK (bad_j == 0, "%d JPEG cuts loaded or gave a message without the "
        "file name", bad_j);
    g_free (cut);
    g_free (cutj);
  }

  /* Random byte damage: an error with the file's name or a sane image. */
  {
    char *dmg = tmp_path ("damaged");
    int bad = 0, errors = 0;
    for (int it = 0; it < 300; it++) {
      const gchar *src = it & 1 ? jpg_data : png_data;
      gsize len = it & 1 ? jpg_len : png_len;
      gchar *copy = g_memdup2 (src, len);
      mrcnn_loaded_image img;
      mrcnn_error err;
      int flips = 1 + rng_range (8);
      for (int f = 0; f < flips; f++)
        copy[rng_range ((int) len)] = (gchar) rng_next ();
      write_bytes (dmg, copy, len);
      g_free (copy);
      if (mrcnn_image_load (dmg, &img, &err) == MRCNN_OK) {
        if (img.rgb == NULL || img.width < 1 || img.height < 1
            || img.width > MRCNN_IMAGE_MAX_SIDE
            || img.height > MRCNN_IMAGE_MAX_SIDE)
          bad++;
        mrcnn_loaded_image_clear (&img);
      } else {
        errors++;
        if (strstr (err.message, dmg) == NULL || err.status == MRCNN_OK)
          bad++;
      }
    }
    printf ("  random damage: 300 files, %d errors, the rest decoded\n",
        errors);
    CHECK (bad == 0, "%d damaged files gave a bad image or message", bad);
    CHECK (errors > 0, "no damaged file was detected as damaged");
    g_free (dmg);
  }

  g_free (png_data);
  g_free (jpg_data);
  g_free (good_png);
  g_free (good_jpg);
}

static void
test_save_errors_and_helpers (void)
{
  uint8_t px[12] = { 0 };
  mrcnn_error err;
  char *path = g_build_filename (tmpdir, "no-such-dir", "out.png", NULL);
  mrcnn_loaded_image img = { NULL, 0, 0, 0 };
  mrcnn_image view;

  CHECK (mrcnn_image_save_png (path, px, 2, 2, 6, &err) == MRCNN_ERR_IO
      && strstr (err.message, path) != NULL,
      "save into a missing directory: %s", err.message);
  CHECK (!g_file_test (path, G_FILE_TEST_EXISTS), "no file left behind");
  g_free (path);
  path = tmp_path ("x.png");
  CHECK (mrcnn_image_save_png (path, px, 2, 2, 5, &err)
      == MRCNN_ERR_INVALID_ARG, "stride < 3 * width");
  CHECK (mrcnn_image_save_png (path, px, 0, 2, 6, &err)
      == MRCNN_ERR_INVALID_ARG, "zero width");
  CHECK (mrcnn_image_save_png (path, NULL, 2, 2, 6, &err)
      == MRCNN_ERR_INVALID_ARG, "NULL pixels");
  CHECK (mrcnn_image_load (NULL, &img, &err) == MRCNN_ERR_INVALID_ARG,
      "NULL path");
  CHECK (mrcnn_image_load (path, NULL, NULL) == MRCNN_ERR_INVALID_ARG,
      "NULL out, NULL err");
  g_free (path);

  mrcnn_loaded_image_clear (NULL);
  mrcnn_loaded_image_clear (&img);
  img.rgb = malloc (30);
  img.width = 2;
  img.height = 3;
  img.stride = 10;
  mrcnn_loaded_image_view (&img, &view);
  CHECK (view.format == MRCNN_PIXEL_RGB && view.width == 2
      && view.height == 3 && view.planes[0] == img.rgb
      && view.strides[0] == 10 && view.on_device == 0
      && view.planes[1] == NULL, "view of a loaded image");
  mrcnn_loaded_image_clear (&img);
  CHECK (img.rgb == NULL && img.width == 0, "clear zeroes the image");
}

static void
remove_tree (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL) {
    char *p = g_build_filename (dir, name, NULL);
    g_remove (p);
    g_free (p);
  }
  g_dir_close (d);
  g_rmdir (dir);
}

int
main (void)
{
  GError *error = NULL;

  cli_test_seed ();
  tmpdir = g_dir_make_tmp ("mrcnn-image-io-XXXXXX", &error);
  if (tmpdir == NULL) {
    fprintf (stderr, "cannot make a temporary directory: %s\n",
        error->message);
    return 1;
  }
  test_png_round_trip ();
  test_png_variants ();
  test_jpeg ();
  test_bad_files ();
  test_save_errors_and_helpers ();
  remove_tree (tmpdir);
  g_free (tmpdir);
  return cli_test_finish ();
}
