/* gst-maskrcnn kernels: sigmoid and softmax as the heads use them.
 *
 * The RPN's objectness, the box head's class scores and the mask logits go
 * through these in both backends, so a CUDA kernel and the CPU loop round
 * the same way up to the device's expf (CUDA's expf is within 2 ulp of the
 * correctly rounded value; glibc's within 1), which is the only difference
 * the parity tests allow for here.
 *
 * torchvision: objectness.sigmoid () (RPN), F.softmax (class_logits, -1)
 * (RoIHeads.postprocess_detections), mask_logits.sigmoid () (maskrcnn_inference).
 */
#ifndef MRCNN_KERNELS_ACTIVATION_H
#define MRCNN_KERNELS_ACTIVATION_H

#include "mrcnn_hd.h"

/* 1 / (1 + exp (-x)) in float. */
MRCNN_HD float
mrcnn_sigmoid (float x)
{
  return 1.0f / MRCNN_FADD (1.0f, expf (-x));
}

/* Softmax statistics of one row of n logits: the maximum and the sum of
 * exp (logit - max), summed left to right. */
MRCNN_HD void
mrcnn_softmax_stats (const float *logits, int n, float *max_out,
    float *sum_out)
{
  float mx = logits[0], sum = 0.0f;
  int i;

  for (i = 1; i < n; i++)
    mx = fmaxf (mx, logits[i]);
  for (i = 0; i < n; i++)
    sum = MRCNN_FADD (sum, expf (MRCNN_FSUB (logits[i], mx)));
  *max_out = mx;
  *sum_out = sum;
}

/* Softmax probability of one logit given its row's statistics. */
MRCNN_HD float
mrcnn_softmax_prob (float logit, float mx, float sum)
{
  return expf (MRCNN_FSUB (logit, mx)) / sum;
}

#endif /* MRCNN_KERNELS_ACTIVATION_H */
