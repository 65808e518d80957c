/* gst-maskrcnn kernels: launchers of the CUDA kernels in kernels/ (.cu).
 *
 * Plain C prototypes, so that the CUDA backend (engine/cuda/, C) calls them.
 * Every launcher queues its kernel(s) on `stream` and returns the launch's
 * status (cudaGetLastError ()); an argument the kernel cannot take returns
 * cudaErrorInvalidValue before anything is queued. Pointers are device
 * pointers unless a comment says otherwise. Each kernel calls the shared
 * per-element math of the header of the same name, per thread.
 */
#ifndef MRCNN_KERNELS_CUDA_LAUNCH_H
#define MRCNN_KERNELS_CUDA_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "preprocess.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MRCNN_CUDA_MAX_LEVELS 8

/* preprocess.cu: frame (planes are device pointers) -> 3 x pad_h x pad_w,
 * normalised and resized, zero outside pp->out_w x pp->out_h. */
cudaError_t mrcnn_cuda_preprocess (const mrcnn_pp_src *src,
    const mrcnn_pp_params *pp, int pad_w, int pad_h, float *out,
    cudaStream_t stream);

/* pool.cu: max pooling of `planes` H x W planes into OH x OW planes. */
cudaError_t mrcnn_cuda_max_pool (const float *in, int planes, int H, int W,
    int k, int s, int p, float *out, int OH, int OW, cudaStream_t stream);

/* interp.cu: lateral (planes x H x W) += nearest-upsample (top, planes x
 * TH x TW). */
cudaError_t mrcnn_cuda_upsample_add (const float *top, int planes, int TH,
    int TW, float *lateral, int H, int W, cudaStream_t stream);

/* roi_align.cu: MultiScaleRoIAlign. Box i (x1, y1, x2, y2 in image pixels)
 * is pooled from level mrcnn_roi_level (box, k_min, k_max). */
typedef struct {
  const float *data[MRCNN_CUDA_MAX_LEVELS];   /* 1 x channels x h x w each */
  int h[MRCNN_CUDA_MAX_LEVELS], w[MRCNN_CUDA_MAX_LEVELS];
  float scale[MRCNN_CUDA_MAX_LEVELS];
  int nlevels, k_min, k_max;
  int channels, pooled, sampling_ratio;
} mrcnn_cuda_roi_params;

cudaError_t mrcnn_cuda_roi_align (const mrcnn_cuda_roi_params *p,
    const float *boxes, int nboxes, float *out, cudaStream_t stream);

/* activation.cu: y[r][c] = act (y[r][c] + bias[c]) for rows x cols. */
cudaError_t mrcnn_cuda_bias_act (float *y, const float *bias, int rows,
    int cols, int relu, cudaStream_t stream);

/* activation.cu: the mask predictor after its transposed convolution's GEMM
 * (see the backend's mask_probs): taps n x 4D x h x w, probs n x 2h x 2w. */
cudaError_t mrcnn_cuda_mask_probs (const float *taps, int n, int D, int h,
    int w, const float *deconv_bias, const float *weight, const float *bias,
    const int *classes, float *probs, cudaStream_t stream);

/* mask_paste.cu: paste_masks_in_image of one M x M mask for `box` (frame
 * pixels, host) into an im_w x im_h frame, binarised at threshold, window
 * [x0, x0 + w) x [y0, y0 + h) written to dst (w x h bytes, `stride` bytes a
 * row, 255 inside, 0 outside) - what mrcnn_result_paste_mask () does on the
 * host. */
cudaError_t mrcnn_cuda_paste_mask (const float *mask, int M,
    const float box[4], int im_w, int im_h, float threshold, int x0, int y0,
    int w, int h, uint8_t *dst, int stride, cudaStream_t stream);

/* ---------------------------------------------------------------- boxes */

/* box_decode.cu, RPN. Level l's head output is 1 x 5A x h x w: A objectness
 * channels, then 4A deltas (anchor-major). */
typedef struct {
  int nlevels, num_anchors;
  const float *head[MRCNN_CUDA_MAX_LEVELS];
  int h[MRCNN_CUDA_MAX_LEVELS], w[MRCNN_CUDA_MAX_LEVELS];
  int stride_x[MRCNN_CUDA_MAX_LEVELS], stride_y[MRCNN_CUDA_MAX_LEVELS];
  int key_off[MRCNN_CUDA_MAX_LEVELS];        /* level's anchors in key arrays */
  int cand_off[MRCNN_CUDA_MAX_LEVELS + 1];   /* level's top-k candidates */
  const float *cell_anchors;                 /* nlevels x A x 4 */
  int img_w, img_h;                          /* clip window (resized image) */
  float min_size, score_thresh;
} mrcnn_cuda_rpn_params;

/* keys[key_off[l] + i] = objectness of anchor i of level l in torchvision's
 * (y, x, anchor) order; vals[...] = i. max_level_anchors bounds h * w * A. */
cudaError_t mrcnn_cuda_rpn_keys (const mrcnn_cuda_rpn_params *p,
    int max_level_anchors, float *keys, int *vals, cudaStream_t stream);

/* Candidate j of level l is the (j - cand_off[l])-th best anchor of the
 * level (sorted_keys / sorted_vals at key_off[l] + rank): decoded, clipped,
 * scored (sigmoid) and flagged valid when it survives the size and score
 * filters. */
cudaError_t mrcnn_cuda_rpn_decode (const mrcnn_cuda_rpn_params *p,
    const float *sorted_keys, const int *sorted_vals, float *boxes,
    float *scores, uint8_t *valid, cudaStream_t stream);

/* Box head candidates, one per (proposal r, class c >= 1), index
 * r * (C - 1) + c - 1: softmax score, decode (10, 10, 5, 5), clip, score
 * and size filters. keys: (c << 32 | descending score key) or UINT64_MAX
 * when filtered out; vals: the candidate index. */
cudaError_t mrcnn_cuda_det_candidates (const float *proposals,
    const float *pred, int n_props, int num_classes, int img_w, int img_h,
    float score_thresh, float min_size, float *boxes, float *scores,
    uint8_t *valid, uint64_t *keys, int *vals, cudaStream_t stream);

/* nms.cu. Count of the flagged entries of valid[0..n) into *count and, when
 * boxes is not NULL, the largest coordinate of their boxes into *max_coord
 * (0 when none is larger). Both are zeroed first. */
cudaError_t mrcnn_cuda_count_max (const uint8_t *valid, const float *boxes,
    int n, int *count, float *max_coord, cudaStream_t stream);

/* Segments of group g: positions [seg_begin[g], seg_end[g]), sorted by
 * descending score; position q holds candidate perm[q] (q when perm is
 * NULL). Writes the segments of n_groups groups from host offsets
 * (begin[g] = off[g], end[g] = off[g + 1]). */
cudaError_t mrcnn_cuda_set_segments (const int *off, int n_groups,
    int *seg_begin, int *seg_end, cudaStream_t stream);

/* Segments of classes 0..num_classes-1 from keys sorted as
 * mrcnn_cuda_det_candidates writes them (n entries). */
cudaError_t mrcnn_cuda_det_segments (const uint64_t *sorted_keys, int n,
    int num_classes, int *seg_begin, int *seg_end, cudaStream_t stream);

/* torchvision's batched_nms over the segments: keep[perm[q]] = 1 for the
 * boxes kept (keep must be zeroed by the caller for every candidate).
 * valid (per candidate, may be NULL = all) excludes candidates. n_valid and
 * max_coord (device scalars) decide the coordinate-offset variant as
 * postprocess.c does. max_len bounds every segment's length; mask holds
 * (number of positions) x words 64-bit words, words = ceil (max_len / 64). */
cudaError_t mrcnn_cuda_batched_nms (const float *boxes, const int *perm,
    const uint8_t *valid, const int *seg_begin, const int *seg_end,
    int n_groups, int max_len, const int *n_valid, const float *max_coord,
    float thr, unsigned long long *mask, uint8_t *keep, cudaStream_t stream);

/* key[i] = keep[i] ? descending key of scores[i] : UINT32_MAX; idx[i] = i. */
cudaError_t mrcnn_cuda_keep_keys (const uint8_t *keep, const float *scores,
    int n, uint32_t *key, int *idx, cudaStream_t stream);

/* The first min (*n_keep, k) candidates of `order`: boxes, scores and, when
 * labels is not NULL, the class (candidate % (num_classes - 1) + 1). The
 * count goes to *count_out. */
cudaError_t mrcnn_cuda_gather_top (const int *order, const int *n_keep,
    int k, const float *boxes, const float *scores, int num_classes,
    float *out_boxes, float *out_scores, int *out_labels, int *count_out,
    cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif /* MRCNN_KERNELS_CUDA_LAUNCH_H */
