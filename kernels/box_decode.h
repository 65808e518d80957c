/* gst-maskrcnn kernels: box decoding, clipping and size filter.
 *
 * torchvision's BoxCoder.decode_single, clip_boxes_to_image and
 * remove_small_boxes, per box, in float32 with torch's operation order.
 * The RPN decodes with weights (1, 1, 1, 1), the box head with
 * (10, 10, 5, 5). Divisions by the weights are true divisions (torch's CPU
 * kernel divides; it does not multiply by a reciprocal).
 */
#ifndef MRCNN_KERNELS_BOX_DECODE_H
#define MRCNN_KERNELS_BOX_DECODE_H

#include "mrcnn_hd.h"

/* log (1000 / 16) as float: the largest dw / dh before exp. */
#define MRCNN_BBOX_XFORM_CLIP 4.135166556742356f

/* Decodes delta (dx, dy, dw, dh) against reference box ref (x1, y1, x2, y2)
 * with weights (wx, wy, ww, wh). out may alias neither input. */
MRCNN_HD void
mrcnn_box_decode (const float ref[4], const float delta[4],
    const float weights[4], float out[4])
{
  float widths = ref[2] - ref[0];
  float heights = ref[3] - ref[1];
  float ctr_x = MRCNN_FADD (ref[0], MRCNN_FMUL (0.5f, widths));
  float ctr_y = MRCNN_FADD (ref[1], MRCNN_FMUL (0.5f, heights));
  float dx = delta[0] / weights[0];
  float dy = delta[1] / weights[1];
  float dw = delta[2] / weights[2];
  float dh = delta[3] / weights[3];
  float pred_ctr_x, pred_ctr_y, half_w, half_h;

  /* torch.clamp (max=): a NaN stays NaN */
  if (dw > MRCNN_BBOX_XFORM_CLIP)
    dw = MRCNN_BBOX_XFORM_CLIP;
  if (dh > MRCNN_BBOX_XFORM_CLIP)
    dh = MRCNN_BBOX_XFORM_CLIP;

  pred_ctr_x = MRCNN_FADD (MRCNN_FMUL (dx, widths), ctr_x);
  pred_ctr_y = MRCNN_FADD (MRCNN_FMUL (dy, heights), ctr_y);
  half_w = MRCNN_FMUL (0.5f, MRCNN_FMUL (expf (dw), widths));
  half_h = MRCNN_FMUL (0.5f, MRCNN_FMUL (expf (dh), heights));

  out[0] = MRCNN_FSUB (pred_ctr_x, half_w);
  out[1] = MRCNN_FSUB (pred_ctr_y, half_h);
  out[2] = MRCNN_FADD (pred_ctr_x, half_w);
  out[3] = MRCNN_FADD (pred_ctr_y, half_h);
}

/* clip_boxes_to_image: x into [0, img_w], y into [0, img_h], in place.
 * A NaN coordinate stays NaN, as with torch.clamp. */
MRCNN_HD void
mrcnn_box_clip (float box[4], int img_w, int img_h)
{
  float w = (float) img_w, h = (float) img_h;
  int i;

  for (i = 0; i < 4; i++) {
    float lim = (i & 1) ? h : w;
    float v = box[i];
    v = v < 0.0f ? 0.0f : v;
    v = v > lim ? lim : v;
    box[i] = v;
  }
}

/* remove_small_boxes: 1 when both sides are >= min_size (so 0 for NaN). */
MRCNN_HD int
mrcnn_box_keep_size (const float box[4], float min_size)
{
  float w = box[2] - box[0];
  float h = box[3] - box[1];
  return (w >= min_size) && (h >= min_size);
}

/* transform.postprocess's resize_boxes ratio of one axis:
 * (float)original_size / (float)resized_size. */
MRCNN_HD float
mrcnn_box_resize_ratio (int original_size, int resized_size)
{
  return (float) original_size / (float) resized_size;
}

/* Maps a box from the resized image back to the frame:
 * x * ratio_w, y * ratio_h, in place. */
MRCNN_HD void
mrcnn_box_resize (float box[4], float ratio_w, float ratio_h)
{
  box[0] = MRCNN_FMUL (box[0], ratio_w);
  box[1] = MRCNN_FMUL (box[1], ratio_h);
  box[2] = MRCNN_FMUL (box[2], ratio_w);
  box[3] = MRCNN_FMUL (box[3], ratio_h);
}

#endif /* MRCNN_KERNELS_BOX_DECODE_H */
