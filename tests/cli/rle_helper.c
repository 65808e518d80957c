/* Prints masks and their COCO compressed RLE for test_rle_decode.py, one per
 * line: "<height> <width> <row-major mask as 0/1 characters> <counts>".
 * Usage: rle_helper SEED COUNT. A few fixed edge cases come first, then
 * COUNT random masks (noise and blobs, some large enough for counts and
 * deltas that need several 5-bit groups). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli_test.h"
#include "mrcnn/coco_rle.h"

static int
emit (const uint8_t *m, int w, int h)
{
  /* Encode with a padded stride, as frames are laid out. */
  int stride = w + 3;
  uint8_t *padded = malloc ((size_t) stride * h);
  char *s;

  if (padded == NULL)
    return 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < stride; x++)
      padded[y * stride + x] = x < w ? m[y * w + x] : 0xaa;
  s = mrcnn_coco_rle_encode_string (padded, w, h, stride);
  free (padded);
  if (s == NULL) {
    fprintf (stderr, "rle_helper: encoding a %dx%d mask failed\n", w, h);
    return 0;
  }
  printf ("%d %d ", h, w);
  for (int i = 0; i < w * h; i++)
    putchar (m[i] ? '1' : '0');
  printf (" %s\n", s);
  free (s);
  return 1;
}

static void
random_mask (uint8_t *m, int w, int h)
{
  int kind = rng_range (3);

  for (int i = 0; i < w * h; i++)
    m[i] = 0;
  if (kind == 0) {
    int density = rng_range (101);
    for (int i = 0; i < w * h; i++)
      m[i] = rng_range (100) < density ? (uint8_t) (1 + rng_range (255)) : 0;
    return;
  }
  for (int b = 1 + rng_range (3); b > 0; b--) {
    int x0 = rng_range (w), y0 = rng_range (h);
    int x1 = x0 + rng_range (w - x0) + 1, y1 = y0 + rng_range (h - y0) + 1;
    for (int y = y0; y < y1; y++)
      for (int x = x0; x < x1; x++)
        m[y * w + x] = kind == 1 ? 1 : (uint8_t) ((x + y) % 7 != 0);
  }
}

int
main (int argc, char **argv)
{
  int count;
  uint8_t *m;

  if (argc != 3) {
    fprintf (stderr, "usage: rle_helper SEED COUNT\n");
    return 2;
  }
  rng_state = strtoull (argv[1], NULL, 10) | 1;
  count = atoi (argv[2]);
  m = malloc (640 * 480);
  if (m == NULL)
    return 1;

  m[0] = 0;
  emit (m, 1, 1);
  m[0] = 1;
  emit (m, 1, 1);
  for (int i = 0; i < 35; i++)
    m[i] = 1;
  emit (m, 7, 5);  /* all inside: leading empty outside run */
  for (int i = 0; i < 35; i++)
    m[i] = 0;
  emit (m, 5, 7);

  for (int i = 0; i < count; i++) {
    int large = i % 8 == 0;
    int w = 1 + rng_range (large ? 640 : 48);
    int h = 1 + rng_range (large ? 480 : 48);
    random_mask (m, w, h);
    if (!emit (m, w, h)) {
      free (m);
      return 1;
    }
  }
  free (m);
  return 0;
}
