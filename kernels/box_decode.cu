/* CUDA kernels of the RPN's and the box head's candidate stages: the anchor
 * grid (kernels/anchors.h), box decoding, clipping and the size filter
 * (kernels/box_decode.h), sigmoid and softmax scores (kernels/activation.h),
 * one thread per anchor or candidate. The sorting, NMS and selection around
 * them are in nms.cu and engine/cuda/postproc_cuda.cu. */
#include "cuda_common.cuh"
#include "activation.h"
#include "anchors.h"
#include "box_decode.h"
#include "nms.h"

/* Ascending order of this key is descending order of a score >= 0; NaN and
 * negative scores do not occur (sigmoid and softmax outputs). */
__device__ __forceinline__ uint32_t
mrcnn_desc_key (float score)
{
  uint32_t u = __float_as_uint (score);
  uint32_t ordered = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return ~ordered;
}

__global__ void
mrcnn_rpn_keys_kernel (mrcnn_cuda_rpn_params p, float *keys, int *vals)
{
  const int l = blockIdx.y;
  const int A = p.num_anchors, HW = p.h[l] * p.w[l];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= HW * A)
    return;
  int a = i % A, loc = i / A;
  keys[p.key_off[l] + i] = p.head[l][(size_t) a * HW + loc];
  vals[p.key_off[l] + i] = i;
}

extern "C" cudaError_t
mrcnn_cuda_rpn_keys (const mrcnn_cuda_rpn_params *p, int max_level_anchors,
    float *keys, int *vals, cudaStream_t stream)
{
  if (p->nlevels < 1 || p->nlevels > MRCNN_CUDA_MAX_LEVELS
      || p->num_anchors < 1)
    return cudaErrorInvalidValue;
  for (int l = 0; l < p->nlevels; l++)
    if ((long long) p->h[l] * p->w[l] * p->num_anchors > max_level_anchors)
      return cudaErrorInvalidValue;
  dim3 blocks (mrcnn_cuda_blocks (max_level_anchors, 256), p->nlevels);
  if (blocks.x > 0)
    mrcnn_rpn_keys_kernel<<<blocks, 256, 0, stream>>> (*p, keys, vals);
  return cudaGetLastError ();
}

__global__ void
mrcnn_rpn_decode_kernel (mrcnn_cuda_rpn_params p, const float *sorted_keys,
    const int *sorted_vals, float *boxes, float *scores, uint8_t *valid)
{
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= p.cand_off[p.nlevels])
    return;
  int l = 0;
  while (l + 1 < p.nlevels && j >= p.cand_off[l + 1])
    l++;
  const int A = p.num_anchors, W = p.w[l], HW = p.h[l] * W;
  const int rank = j - p.cand_off[l];
  const int i = sorted_vals[p.key_off[l] + rank];
  const float obj = sorted_keys[p.key_off[l] + rank];
  const int a = i % A, loc = i / A, x = loc % W, y = loc / W;
  const float unit[4] = { 1.0f, 1.0f, 1.0f, 1.0f };
  float anchor[4], delta[4], box[4];
  mrcnn_anchor_at (p.cell_anchors + ((size_t) l * A + a) * 4, x, y,
      p.stride_x[l], p.stride_y[l], anchor);
  for (int c = 0; c < 4; c++)
    delta[c] = p.head[l][(size_t) (A + a * 4 + c) * HW + loc];
  mrcnn_box_decode (anchor, delta, unit, box);
  const float score = mrcnn_sigmoid (obj);
  mrcnn_box_clip (box, p.img_w, p.img_h);
  for (int c = 0; c < 4; c++)
    boxes[4 * (size_t) j + c] = box[c];
  scores[j] = score;
  valid[j] = mrcnn_box_keep_size (box, p.min_size) && score >= p.score_thresh;
}

extern "C" cudaError_t
mrcnn_cuda_rpn_decode (const mrcnn_cuda_rpn_params *p,
    const float *sorted_keys, const int *sorted_vals, float *boxes,
    float *scores, uint8_t *valid, cudaStream_t stream)
{
  if (p->nlevels < 1 || p->nlevels > MRCNN_CUDA_MAX_LEVELS)
    return cudaErrorInvalidValue;
  int total = p->cand_off[p->nlevels];
  MRCNN_CUDA_LAUNCH (mrcnn_rpn_decode_kernel, mrcnn_cuda_blocks (total, 128),
      128, 0, stream, *p, sorted_keys, sorted_vals, boxes, scores, valid);
  return cudaGetLastError ();
}

__global__ void
mrcnn_det_candidates_kernel (const float *proposals, const float *pred,
    int n_props, int C, int img_w, int img_h, float score_thresh,
    float min_size, float *boxes, float *scores, uint8_t *valid,
    uint64_t *keys, int *vals)
{
  const long long total = (long long) n_props * (C - 1);
  long long j = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= total)
    return;
  const int r = (int) (j / (C - 1)), c = (int) (j % (C - 1)) + 1;
  const float *logit = pred + (size_t) r * 5 * C;
  const float *delta = logit + C;
  const float weights[4] = { 10.0f, 10.0f, 5.0f, 5.0f };
  float mx, sum, box[4];
  /* every thread of the row recomputes the row's statistics in the same
   * order: cheaper than a pass of its own for C of about a hundred */
  mrcnn_softmax_stats (logit, C, &mx, &sum);
  const float score = mrcnn_softmax_prob (logit[c], mx, sum);
  mrcnn_box_decode (proposals + 4 * (size_t) r, delta + 4 * c, weights, box);
  mrcnn_box_clip (box, img_w, img_h);
  const int ok = score > score_thresh && mrcnn_box_keep_size (box, min_size);
  for (int k = 0; k < 4; k++)
    boxes[4 * j + k] = box[k];
  scores[j] = score;
  valid[j] = (uint8_t) ok;
  keys[j] = ok ? ((uint64_t) c << 32) | mrcnn_desc_key (score) : ~(uint64_t) 0;
  vals[j] = (int) j;
}

extern "C" cudaError_t
mrcnn_cuda_det_candidates (const float *proposals, const float *pred,
    int n_props, int num_classes, int img_w, int img_h, float score_thresh,
    float min_size, float *boxes, float *scores, uint8_t *valid,
    uint64_t *keys, int *vals, cudaStream_t stream)
{
  if (num_classes < 2)
    return cudaErrorInvalidValue;
  long long total = (long long) n_props * (num_classes - 1);
  MRCNN_CUDA_LAUNCH (mrcnn_det_candidates_kernel,
      mrcnn_cuda_blocks (total, 128), 128, 0, stream, proposals, pred,
      n_props, num_classes, img_w, img_h, score_thresh, min_size, boxes,
      scores, valid, keys, vals);
  return cudaGetLastError ();
}

__global__ void
mrcnn_keep_keys_kernel (const uint8_t *keep, const float *scores, int n,
    uint32_t *key, int *idx)
{
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n)
    return;
  key[i] = keep[i] ? mrcnn_desc_key (scores[i]) : 0xFFFFFFFFu;
  idx[i] = i;
}

extern "C" cudaError_t
mrcnn_cuda_keep_keys (const uint8_t *keep, const float *scores, int n,
    uint32_t *key, int *idx, cudaStream_t stream)
{
  MRCNN_CUDA_LAUNCH (mrcnn_keep_keys_kernel, mrcnn_cuda_blocks (n, 256), 256,
      0, stream, keep, scores, n, key, idx);
  return cudaGetLastError ();
}

__global__ void
mrcnn_gather_top_kernel (const int *order, const int *n_keep, int k,
    const float *boxes, const float *scores, int C, float *out_boxes,
    float *out_scores, int *out_labels, int *count_out)
{
  const int n = *n_keep < k ? *n_keep : k;
  int q = blockIdx.x * blockDim.x + threadIdx.x;
  if (q == 0)
    *count_out = n;
  if (q >= n)
    return;
  const int cand = order[q];
  for (int c = 0; c < 4; c++)
    out_boxes[4 * (size_t) q + c] = boxes[4 * (size_t) cand + c];
  if (out_scores)
    out_scores[q] = scores[cand];
  if (out_labels)
    out_labels[q] = cand % (C - 1) + 1;
}

extern "C" cudaError_t
mrcnn_cuda_gather_top (const int *order, const int *n_keep, int k,
    const float *boxes, const float *scores, int num_classes,
    float *out_boxes, float *out_scores, int *out_labels, int *count_out,
    cudaStream_t stream)
{
  if (k < 0 || (out_labels && num_classes < 2))
    return cudaErrorInvalidValue;
  /* at least one block, so that *count_out is written for k == 0 too */
  unsigned int blocks = mrcnn_cuda_blocks (k > 0 ? k : 1, 256);
  mrcnn_gather_top_kernel<<<blocks, 256, 0, stream>>> (order, n_keep, k,
      boxes, scores, num_classes, out_boxes, out_scores, out_labels,
      count_out);
  return cudaGetLastError ();
}
