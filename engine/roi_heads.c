/* RoI heads' pooler: torchvision's MultiScaleRoIAlign, which both heads
 * (box_head.c, mask_head.c) pool their boxes with. It has no weights and no
 * scratch of its own: each head pools into its own buffer. */
#include <math.h>

#include "engine_priv.h"
#include "roi_align.h"

/* MultiScaleRoIAlign infers each level's scale as 2^round(log2(feature
 * height / image height)) in float32, with the image height being the
 * largest resized (unpadded) height of the batch, and maps boxes to levels
 * k_min..k_max. */
void
mrcnn_roi_levels (const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    float scales[4], int *k_min, int *k_max)
{
  for (int l = 0; l < MRCNN_FPN_LEVELS; l++) {
    float approx = (float) ((double) pyramid[l].h / (double) b->res_h_max);
    scales[l] = exp2f (nearbyintf (log2f (approx)));
  }
  *k_min = (int) -log2f (scales[0]);
  *k_max = (int) -log2f (scales[MRCNN_FPN_LEVELS - 1]);
}

mrcnn_status
mrcnn_roi_pool (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    const float *boxes, const mrcnn_rows *rows, int pooled, float *out_data,
    mrcnn_layout layout, mrcnn_fmap *out, mrcnn_error *err)
{
  float scales[4];
  int k_min, k_max;
  mrcnn_roi_levels (pyramid, b, scales, &k_min, &k_max);
  *out = (mrcnn_fmap) { out_data, rows->total, pyramid[0].c, pooled, pooled,
    layout, MRCNN_STORE_F32 };
  for (int i = 0; i < b->n; i++) {
    if (rows->count[i] == 0)
      continue;
    mrcnn_fmap features[MRCNN_FPN_LEVELS], part;
    for (int l = 0; l < MRCNN_FPN_LEVELS; l++)
      be->ops->image_view (be, &pyramid[l], i, &features[l]);
    be->ops->image_view (be, out, rows->start[i], &part);
    mrcnn_roi_align_desc d = {
      .features = features, .scales = scales, .nlevels = MRCNN_FPN_LEVELS,
      .k_min = k_min, .k_max = k_max,
      .boxes = boxes + (size_t) rows->start[i] * 4, .nboxes = rows->count[i],
      .pooled = pooled, .sampling_ratio = 2,
    };
    MRCNN_TRY (be->ops->roi_align (be, q, &d, &part, err));
  }
  out->n = rows->total;
  return MRCNN_OK;
}
