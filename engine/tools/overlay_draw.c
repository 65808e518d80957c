/* See overlay_draw.h. */
#include "overlay_draw.h"

#include <math.h>
#include <stddef.h>

void
mrcnn_overlay_draw_mask (uint8_t *rgb, int w, int h, int stride,
    const uint8_t *mask, int mask_stride, const uint8_t color[3],
    float alpha)
{
  int a;

  if (rgb == NULL || mask == NULL || color == NULL)
    return;
  if (!(alpha > 0.0f))
    return;
  a = alpha >= 1.0f ? 256 : (int) lroundf (alpha * 256.0f);
  for (int y = 0; y < h; y++) {
    uint8_t *px = rgb + (long) y * stride;
    const uint8_t *m = mask + (long) y * mask_stride;
    for (int x = 0; x < w; x++, px += 3) {
      if (!m[x])
        continue;
      for (int c = 0; c < 3; c++)
        px[c] = (uint8_t) ((px[c] * (256 - a) + color[c] * a) >> 8);
    }
  }
}

static void
fill_rect (uint8_t *rgb, int w, int h, int stride, int x0, int y0, int x1,
    int y1, const uint8_t color[3])
{
  /* Half-open [x0, x1) x [y0, y1), clipped. */
  if (x0 < 0)
    x0 = 0;
  if (y0 < 0)
    y0 = 0;
  if (x1 > w)
    x1 = w;
  if (y1 > h)
    y1 = h;
  for (int y = y0; y < y1; y++) {
    uint8_t *px = rgb + (long) y * stride + (long) x0 * 3;
    for (int x = x0; x < x1; x++, px += 3) {
      px[0] = color[0];
      px[1] = color[1];
      px[2] = color[2];
    }
  }
}

/* Rounds a coordinate into a range where int arithmetic cannot overflow;
 * anything beyond the image is clipped later anyway. */
static int
clamp_coord (float v, int limit)
{
  if (!(v > -1.0f))  /* also NaN */
    return -1;
  if (v > (float) limit + 1.0f)
    return limit + 1;
  return (int) lroundf (v);
}

void
mrcnn_overlay_draw_box (uint8_t *rgb, int w, int h, int stride, float x1,
    float y1, float x2, float y2, const uint8_t color[3], int thickness)
{
  int l, t, r, b;

  if (rgb == NULL || color == NULL || w <= 0 || h <= 0 || thickness <= 0)
    return;
  l = clamp_coord (x1, w);
  t = clamp_coord (y1, h);
  r = clamp_coord (x2, w);
  b = clamp_coord (y2, h);
  if (r <= l || b <= t)
    return;
  if (thickness > (r - l + 1) / 2)
    thickness = (r - l + 1) / 2 > 0 ? (r - l + 1) / 2 : 1;
  if (thickness > (b - t + 1) / 2)
    thickness = (b - t + 1) / 2 > 0 ? (b - t + 1) / 2 : 1;
  fill_rect (rgb, w, h, stride, l, t, r, t + thickness, color);  /* top */
  fill_rect (rgb, w, h, stride, l, b - thickness, r, b, color);  /* bottom */
  fill_rect (rgb, w, h, stride, l, t, l + thickness, b, color);  /* left */
  fill_rect (rgb, w, h, stride, r - thickness, t, r, b, color);  /* right */
}
