/* COCO RLE, following pycocotools' maskApi.c (rleEncode, rleToString). */
#include "mrcnn/coco_rle.h"

#include <stdlib.h>

uint32_t *
mrcnn_coco_rle_encode (const uint8_t *mask, int w, int h, int stride,
    size_t *n_counts)
{
  size_t total, k = 0, cap;
  uint32_t *counts, run = 0;
  int prev = 0;

  if (n_counts == NULL || w < 0 || h < 0)
    return NULL;
  *n_counts = 0;
  total = (size_t) w * (size_t) h;
  if (total > 0 && (mask == NULL || stride < w))
    return NULL;
  /* Counts are 32 bit as in pycocotools. */
  if (total >= UINT32_MAX)
    return NULL;
  /* Most masks have far fewer runs than pixels: grow as needed instead of
   * reserving the worst case of one run per pixel. */
  cap = 64;
  counts = malloc (cap * sizeof *counts);
  if (counts == NULL)
    return NULL;

  /* Column-major scan: a column of a frame-sized mask touches one cache
   * line per row, which the next 63 columns reuse, so no transpose buffer
   * is needed. */
  for (int x = 0; x < w; x++) {
    const uint8_t *p = mask + x;
    for (int y = 0; y < h; y++, p += stride) {
      int v = *p != 0;
      if (v != prev) {
        if (k + 1 >= cap) {
          uint32_t *bigger = realloc (counts, 2 * cap * sizeof *counts);
          if (bigger == NULL) {
            free (counts);
            return NULL;
          }
          counts = bigger;
          cap *= 2;
        }
        counts[k++] = run;
        run = 0;
        prev = v;
      }
      run++;
    }
  }
  counts[k++] = run;
  *n_counts = k;
  return counts;
}

/* Floor division by 32 without relying on the implementation-defined right
 * shift of negative numbers, which pycocotools does use (arithmetic). */
static int64_t
floor_div32 (int64_t x)
{
  return x >= 0 ? x / 32 : -((-x + 31) / 32);
}

char *
mrcnn_coco_rle_to_string (const uint32_t *counts, size_t n)
{
  char *s;
  size_t p = 0;

  if (counts == NULL && n > 0)
    return NULL;
  /* A 33-bit signed delta needs at most 7 groups of 5 bits. */
  if (n > (SIZE_MAX - 1) / 7)
    return NULL;
  s = malloc (n * 7 + 1);
  if (s == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    int64_t x = counts[i];
    int more = 1;
    if (i > 2)
      x -= counts[i - 2];
    while (more) {
      int64_t c = x & 0x1f;  /* two's complement low bits, also when x < 0 */
      x = floor_div32 (x);
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more)
        c |= 0x20;
      s[p++] = (char) (c + 48);
    }
  }
  s[p] = '\0';
  return s;
}

char *
mrcnn_coco_rle_encode_string (const uint8_t *mask, int w, int h, int stride)
{
  size_t n;
  uint32_t *counts = mrcnn_coco_rle_encode (mask, w, h, stride, &n);
  char *s;

  if (counts == NULL)
    return NULL;
  s = mrcnn_coco_rle_to_string (counts, n);
  free (counts);
  return s;
}
