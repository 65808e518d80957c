/* gst-maskrcnn kernels: non-maximum suppression (torchvision.ops.nms).
 *
 * Arithmetic of torchvision's CPU nms kernel, in float32:
 *   area  = (x2 - x1) * (y2 - y1)
 *   w     = max (0, min (ax2, bx2) - max (ax1, bx1)), h likewise
 *   inter = w * h
 *   ovr   = inter / (area_a + area_b - inter)
 * and box b is suppressed when ovr > iou_threshold. torchvision compares the
 * float ovr with the threshold as a double; mrcnn_nms_threshold() gives the
 * float that decides the same for every ovr. A NaN ovr suppresses nothing.
 *
 * Greedy order: torchvision 0.14's nms sorts by descending score with a
 * stable sort (equal scores in index order); callers sort once and pass the
 * boxes in that order. What batched_nms returns is ordered otherwise when it
 * loops over the groups: see kernels/topk.h.
 *
 * batched_nms (per level in the RPN, per class in the box head) on the CPU
 * with at most 1000 boxes (4000 numbers) does not loop over the groups: it
 * offsets every box by idx * (max_coordinate + 1), with max_coordinate the
 * largest coordinate of all the boxes, and runs one nms on the shifted boxes.
 * The shift changes the float rounding of the overlaps, so exact parity needs
 * the same shift: mrcnn_nms_group_offset() and mrcnn_box_offset(). Above
 * 1000 boxes torchvision runs nms per group on the unshifted boxes.
 */
#ifndef MRCNN_KERNELS_NMS_H
#define MRCNN_KERNELS_NMS_H

#include "mrcnn_hd.h"

MRCNN_HD float
mrcnn_box_area (const float b[4])
{
  return MRCNN_FMUL (b[2] - b[0], b[3] - b[1]);
}

/* The float t such that, for every float ovr, ovr > t exactly when
 * ovr > thr in double: the largest float not above thr. */
MRCNN_HD float
mrcnn_nms_threshold (double thr)
{
  float t = (float) thr;
  if ((double) t > thr)
    t = nextafterf (t, -INFINITY);
  return t;
}

/* 1 when a (the higher scoring box) suppresses b. */
MRCNN_HD int
mrcnn_box_suppresses (const float a[4], float area_a, const float b[4],
    float area_b, float thr)
{
  /* std::max (p, q) is p < q ? q : p and std::min (p, q) is q < p ? q : p */
  float xx1 = a[0] < b[0] ? b[0] : a[0];
  float yy1 = a[1] < b[1] ? b[1] : a[1];
  float xx2 = b[2] < a[2] ? b[2] : a[2];
  float yy2 = b[3] < a[3] ? b[3] : a[3];
  float dw = xx2 - xx1, dh = yy2 - yy1;
  float w = 0.0f < dw ? dw : 0.0f;
  float h = 0.0f < dh ? dh : 0.0f;
  float inter = MRCNN_FMUL (w, h);
  float ovr = inter / MRCNN_FSUB (MRCNN_FADD (area_a, area_b), inter);
  return ovr > thr;
}

/* The offset batched_nms adds to every coordinate of a box in group idx. */
MRCNN_HD float
mrcnn_nms_group_offset (float max_coordinate, int idx)
{
  return MRCNN_FMUL ((float) idx, max_coordinate + 1.0f);
}

/* out = in + offset, coordinate by coordinate. */
MRCNN_HD void
mrcnn_box_offset (const float in[4], float offset, float out[4])
{
  out[0] = in[0] + offset;
  out[1] = in[1] + offset;
  out[2] = in[2] + offset;
  out[3] = in[3] + offset;
}

/* Greedy NMS over n boxes (x1, y1, x2, y2, 4 floats each) already sorted by
 * descending score. thr as from mrcnn_nms_threshold(). The caller provides
 * scratch for n areas and n flags; keep receives the kept indices into the
 * sorted array, ascending. Returns the number kept. Host only: the CUDA
 * kernel parallelises the inner loop with mrcnn_box_suppresses(). */
static inline int
mrcnn_nms_sorted (const float *boxes, int n, float thr, float *area_scratch,
    uint8_t *suppressed_scratch, int *keep)
{
  int i, j, nkeep = 0;

  for (i = 0; i < n; i++) {
    area_scratch[i] = mrcnn_box_area (boxes + 4 * (size_t) i);
    suppressed_scratch[i] = 0;
  }
  for (i = 0; i < n; i++) {
    const float *a = boxes + 4 * (size_t) i;
    float area_a = area_scratch[i];

    if (suppressed_scratch[i])
      continue;
    keep[nkeep++] = i;
    for (j = i + 1; j < n; j++) {
      if (suppressed_scratch[j])
        continue;
      if (mrcnn_box_suppresses (a, area_a, boxes + 4 * (size_t) j,
              area_scratch[j], thr))
        suppressed_scratch[j] = 1;
    }
  }
  return nkeep;
}

#endif /* MRCNN_KERNELS_NMS_H */
