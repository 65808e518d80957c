/* gst-maskrcnn kernels: RPN anchors (torchvision AnchorGenerator).
 *
 * Cell anchors. For a size s and aspect ratio r (= height / width), in
 * float32: h_ratio = sqrtf (r), w_ratio = 1 / h_ratio, ws = w_ratio * s,
 * hs = h_ratio * s, and the anchor [-ws, -hs, ws, hs] / 2 rounded half to
 * even (torch.round), e.g. 32 px at ratios 0.5, 1, 2 gives [-23, -11, 23, 11],
 * [-16, -16, 16, 16], [-11, -23, 11, 23]. With several sizes per level the
 * cell anchors are ratio-major: index = ratio_index * n_sizes + size_index
 * (maskrcnn_resnet50_fpn has one size per level, so index = ratio index).
 *
 * Grid. A level of H x W features on a padded image of Hp x Wp pixels has
 * integer strides stride_y = Hp / H and stride_x = Wp / W (floor division;
 * the padded size, not the resized one). The anchor of cell (gx, gy) is the
 * cell anchor plus (gx * stride_x, gy * stride_y, gx * stride_x,
 * gy * stride_y), the shift converted to float and added in float.
 *
 * Order. Location-major, anchor-minor: within a level, anchor number
 * (gy * W + gx) * A + a, for A cell anchors; levels follow one another
 * (P2..P6). The RPN head's (A, H, W) objectness and (A * 4, H, W) deltas
 * are permuted to that order before they are matched to anchors.
 */
#ifndef MRCNN_KERNELS_ANCHORS_H
#define MRCNN_KERNELS_ANCHORS_H

#include "mrcnn_hd.h"

/* Zero-centred cell anchor (x1, y1, x2, y2) of one size and aspect ratio. */
MRCNN_HD void
mrcnn_anchor_base (float size, float aspect_ratio, float out[4])
{
  float h_ratio = sqrtf (aspect_ratio);
  float w_ratio = 1.0f / h_ratio;
  float ws = MRCNN_FMUL (w_ratio, size);
  float hs = MRCNN_FMUL (h_ratio, size);

  out[0] = rintf (-ws / 2.0f);
  out[1] = rintf (-hs / 2.0f);
  out[2] = rintf (ws / 2.0f);
  out[3] = rintf (hs / 2.0f);
}

/* The stride of a level along one axis: padded image size // feature size. */
MRCNN_HD int
mrcnn_anchor_stride (int padded_size, int feature_size)
{
  return padded_size / feature_size;
}

/* The anchor of grid cell (gx, gy) for cell anchor base. */
MRCNN_HD void
mrcnn_anchor_at (const float base[4], int gx, int gy, int stride_x,
    int stride_y, float out[4])
{
  float sx = (float) (gx * stride_x);
  float sy = (float) (gy * stride_y);

  out[0] = sx + base[0];
  out[1] = sy + base[1];
  out[2] = sx + base[2];
  out[3] = sy + base[3];
}

#endif /* MRCNN_KERNELS_ANCHORS_H */
