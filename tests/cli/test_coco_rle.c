/* Unit test of coco_rle: hand-checked cases (expected strings produced by
 * pycocotools 2.0) and random masks against a plain re-implementation of
 * pycocotools' rleEncode/rleToString and a decoder.
 *
 * Random masks come from a fresh seed each run, printed so that a failure
 * can be replayed with MRCNN_TEST_SEED=<seed>. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_test.h"
#include "mrcnn/coco_rle.h"

/* ---------------------------------------------- independent reference */

/* pycocotools' rleEncode on a column-major copy, then rleToString, written
 * as directly as maskApi.c does it (arithmetic >> on long). */
static char *
ref_encode (const uint8_t *mask, int w, int h, int stride)
{
  long n = (long) w * h;
  uint8_t *col = malloc (n > 0 ? n : 1);
  long *cnts = malloc (sizeof (long) * (n + 1));
  char *s = malloc (14 * (n + 1) + 1);
  long k = 0, c = 0, p = 0;
  uint8_t prev = 0;

  for (int x = 0; x < w; x++)
    for (int y = 0; y < h; y++)
      col[(long) x * h + y] = mask[(long) y * stride + x] ? 1 : 0;
  for (long j = 0; j < n; j++) {
    if (col[j] != prev) {
      cnts[k++] = c;
      c = 0;
      prev = col[j];
    }
    c++;
  }
  cnts[k++] = c;

  for (long i = 0; i < k; i++) {
    long x = cnts[i];
    int more = 1;
    if (i > 2)
      x -= cnts[i - 2];
    while (more) {
      char ch = (char) (x & 0x1f);
      x >>= 5;
      more = (ch & 0x10) ? x != -1 : x != 0;
      if (more)
        ch |= 0x20;
      ch += 48;
      s[p++] = ch;
    }
  }
  s[p] = '\0';
  free (col);
  free (cnts);
  return s;
}

/* pycocotools' rleFrString + rleDecode into a row-major 0/1 mask. Returns
 * 0 when the string does not describe exactly w * h pixels. */
static int
ref_decode (const char *s, int w, int h, uint8_t *out)
{
  /* Each count takes at least one character. */
  long *cnts = malloc (sizeof (long) * (strlen (s) + 1));
  long m = 0, total = 0, pos = 0;
  size_t p = 0;

  while (s[p]) {
    long x = 0;
    int k = 0, more = 1;
    while (more) {
      long c = (long) s[p] - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (int) (c & 0x20);
      p++;
      k++;
      if (!more && (c & 0x10))
        x |= (long) (~0UL << (5 * k));  /* sign extension */
    }
    if (m > 2)
      x += cnts[m - 2];
    if (x < 0) {
      free (cnts);
      return 0;
    }
    cnts[m++] = x;
    total += x;
  }
  if (total != (long) w * h) {
    free (cnts);
    return 0;
  }
  for (long i = 0; i < m; i++)
    for (long j = 0; j < cnts[i]; j++, pos++) {
      long x = pos / h, y = pos % h;
      out[y * w + x] = (uint8_t) (i & 1);
    }
  free (cnts);
  return 1;
}

/* ------------------------------------------------------------ hand cases */

static void
check_string (const uint8_t *mask, int w, int h, int stride,
    const char *expected, const char *what)
{
  char *s = mrcnn_coco_rle_encode_string (mask, w, h, stride);
  CHECK (s != NULL && strcmp (s, expected) == 0, "%s: got '%s', want '%s'",
      what, s ? s : "(null)", expected);
  free (s);
}

static void
check_counts_string (const uint32_t *counts, size_t n, const char *expected,
    const char *what)
{
  char *s = mrcnn_coco_rle_to_string (counts, n);
  CHECK (s != NULL && strcmp (s, expected) == 0, "%s: got '%s', want '%s'",
      what, s ? s : "(null)", expected);
  free (s);
}

static void
test_hand_cases (void)
{
  static const uint8_t zero[1] = { 0 }, one[1] = { 1 }, big[1] = { 255 };
  /* [[0, 1], [1, 1]]: column major 0 1 1 1 -> counts 1 3 */
  static const uint8_t two[4] = { 0, 1, 1, 1 };
  /* Same mask with a row stride of 5 and garbage in the padding. */
  static const uint8_t padded[10] = { 0, 1, 9, 9, 9, 1, 1, 9, 9, 9 };
  /* 5 x 4 with column-major runs 5, 10, 3, 2: the fourth count is written
   * as its (negative) difference to the second. */
  uint8_t runs[20], flat[20];
  size_t n = 99;
  uint32_t *counts;

  check_string (zero, 1, 1, 1, "1", "1x1 outside");
  check_string (one, 1, 1, 1, "01", "1x1 inside");
  check_string (big, 1, 1, 1, "01", "nonzero other than 1 is inside");
  check_string (two, 2, 2, 2, "13", "2x2");
  check_string (padded, 2, 2, 5, "13", "2x2 with stride padding");
  check_string (NULL, 0, 0, 0, "0", "empty mask");

  for (int i = 0; i < 20; i++)
    flat[i] = (i >= 5 && i < 15) || i >= 18;
  for (int x = 0; x < 4; x++)
    for (int y = 0; y < 5; y++)
      runs[y * 4 + x] = flat[x * 5 + y];
  check_string (runs, 4, 5, 4, "5:3H", "negative delta");

  counts = mrcnn_coco_rle_encode (runs, 4, 5, 4, &n);
  CHECK (counts != NULL && n == 4 && counts[0] == 5 && counts[1] == 10
      && counts[2] == 3 && counts[3] == 2, "runs of the 5x4 mask (n=%zu)", n);
  free (counts);

  /* Multi-group counts and deltas, strings from pycocotools. */
  check_counts_string ((const uint32_t[]) { 0, 1000000 }, 2, "0Pb`n0",
      "count 1000000");
  check_counts_string ((const uint32_t[]) { 0, 600, 1, 399 }, 4, "0hb01gI",
      "delta -201");
  check_counts_string ((const uint32_t[]) { 0, 30, 600, 370 }, 4,
      "0n0hb0d:", "delta 340");
  check_counts_string (NULL, 0, "", "no counts");

  /* Invalid arguments give NULL, never a crash. */
  CHECK (mrcnn_coco_rle_encode (NULL, 3, 3, 3, &n) == NULL, "NULL mask");
  CHECK (mrcnn_coco_rle_encode (two, 2, 2, 1, &n) == NULL, "stride < w");
  CHECK (mrcnn_coco_rle_encode (two, -1, 2, 2, &n) == NULL, "negative w");
  CHECK (mrcnn_coco_rle_encode (two, 2, 2, 2, NULL) == NULL, "NULL n");
  CHECK (mrcnn_coco_rle_to_string (NULL, 3) == NULL, "NULL counts");
}

/* ---------------------------------------------------------- random masks */

static void
fill_random_mask (uint8_t *m, int w, int h, int stride)
{
  int kind = rng_range (4);

  for (int y = 0; y < h; y++)
    for (int x = 0; x < stride; x++)
      m[y * stride + x] = (uint8_t) (x < w ? 0 : rng_range (256));
  if (kind == 0) {  /* noise of random density */
    int density = rng_range (101);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        m[y * stride + x] = rng_range (100) < density ? 1 + rng_range (255) : 0;
  } else {  /* a few ellipses and rectangles: long runs, as real masks */
    int blobs = 1 + rng_range (4);
    for (int b = 0; b < blobs; b++) {
      int cx = rng_range (w), cy = rng_range (h);
      int rx = 1 + rng_range (w), ry = 1 + rng_range (h);
      int rect = kind == 1;
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
          long dx = x - cx, dy = y - cy;
          int in = rect ? (labs (dx) <= rx && labs (dy) <= ry)
              : (dx * dx * (long) ry * ry + dy * dy * (long) rx * rx
                  <= (long) rx * rx * ry * ry);
          if (in)
            m[y * stride + x] = 255;
        }
    }
    if (kind == 3)  /* punch holes */
      for (int i = 0; i < w * h / 10; i++)
        m[rng_range (h) * stride + rng_range (w)] = 0;
  }
}

static void
test_random_masks (int iterations)
{
  for (int it = 0; it < iterations; it++) {
    int large = it % 10 == 0;
    int w = 1 + rng_range (large ? 700 : 40);
    int h = 1 + rng_range (large ? 500 : 40);
    int stride = w + rng_range (8);
    uint8_t *m = malloc ((size_t) stride * h);
    uint8_t *back = malloc ((size_t) w * h);
    char *got, *want;

    fill_random_mask (m, w, h, stride);
    got = mrcnn_coco_rle_encode_string (m, w, h, stride);
    want = ref_encode (m, w, h, stride);
    CHECK (got != NULL && strcmp (got, want) == 0,
        "iteration %d (%dx%d stride %d): encoders differ", it, w, h, stride);
    if (got != NULL) {
      int ok = ref_decode (got, w, h, back);
      for (int y = 0; ok && y < h; y++)
        for (int x = 0; ok && x < w; x++)
          ok = back[y * w + x] == (m[y * stride + x] != 0);
      CHECK (ok, "iteration %d (%dx%d): decoding does not give the mask",
          it, w, h);
    }
    free (got);
    free (want);
    free (m);
    free (back);
  }
}

int
main (void)
{
  cli_test_seed ();
  test_hand_cases ();
  test_random_masks (400);
  return cli_test_finish ();
}
