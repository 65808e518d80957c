/* Results: detections, mask probabilities and mask pasting. */
#include <string.h>

#include "engine_priv.h"
#include "mask_paste.h"

void
mrcnn_result_free (mrcnn_result *r)
{
  if (!r)
    return;
  g_free (r->det);
  g_free (r->mask_probs);
  g_free (r);
}

int
mrcnn_result_count (const mrcnn_result *r)
{
  return r ? r->n : 0;
}

int
mrcnn_result_image_width (const mrcnn_result *r)
{
  return r ? r->image_w : 0;
}

int
mrcnn_result_image_height (const mrcnn_result *r)
{
  return r ? r->image_h : 0;
}

const mrcnn_detection *
mrcnn_result_get (const mrcnn_result *r, int i)
{
  if (!r || i < 0 || i >= r->n)
    return NULL;
  return &r->det[i];
}

const float *
mrcnn_result_mask_probs (const mrcnn_result *r, int i, int *size)
{
  if (!r || i < 0 || i >= r->n)
    return NULL;
  if (size)
    *size = r->mask_size;
  return r->mask_probs + (size_t) i * r->mask_size * r->mask_size;
}

mrcnn_status
mrcnn_result_paste_mask (const mrcnn_result *r, int i, float threshold, int x0,
    int y0, int w, int h, uint8_t *dst, int stride, mrcnn_error *err)
{
  if (!r || !dst || i < 0 || i >= r->n)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_result_paste_mask: no detection %d (the result has %d)", i,
        r ? r->n : 0);
  if (w < 0 || h < 0 || stride < w)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_result_paste_mask: bad window %dx%d with stride %d", w, h,
        stride);
  const mrcnn_detection *d = &r->det[i];
  const float box[4] = { d->x1, d->y1, d->x2, d->y2 };
  const int M = r->mask_size;
  const float *mask = r->mask_probs + (size_t) i * M * M;
  mrcnn_paste_geom g;
  mrcnn_paste_geometry (box, M, r->image_w, r->image_h, &g);
  for (int y = 0; y < h; y++) {
    uint8_t *row = dst + (size_t) y * stride;
    memset (row, 0, (size_t) w);
    int fy = y0 + y;
    if (fy < g.y0 || fy >= g.y1)
      continue;
    int xs = MAX (x0, g.x0), xe = MIN (x0 + w, g.x1);
    for (int fx = xs; fx < xe; fx++)
      row[fx - x0] = mrcnn_paste_value (mask, M, &g, fx, fy) > threshold ? 255 : 0;
  }
  return MRCNN_OK;
}
