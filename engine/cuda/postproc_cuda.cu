/* The RPN's and the box head's post-processing on the device: the sorting
 * (CUB radix sorts from the toolkit) and the order of the kernels in
 * kernels/box_decode.cu and kernels/nms.cu. Mirrors the CPU backend's host
 * code step for step (see engine/cpu/postproc_cpu.c):
 *
 * RPN   keys (objectness in (y, x, anchor) order) -> per-level top-k in
 *       torch's order (one thread, kernels/topk.h) -> the top pre_nms_top_n
 *       of each level decoded, clipped,
 *       scored, filtered (flags, no compaction: a level's candidates stay in
 *       score order) -> count and largest coordinate of the survivors (they
 *       decide torchvision's offset variant) -> NMS per level -> the kept
 *       candidates in torchvision's order -> post_nms_top_n.
 * boxes candidates (proposal, class) -> stable sort by (class, score desc)
 *       -> class segments -> NMS per class -> kept in torchvision's order ->
 *       max_detections.
 * torchvision's order of the kept candidates: (score desc, index asc) when
 * batched_nms offsets the boxes (<= 1000 candidates: the stable radix sort),
 * else torch's unstable sort of the kept candidates taken in index order,
 * whose order of equal scores only the same introsort steps reproduce: one
 * thread runs kernels/topk.h on them, as the CPU backend does. The top-k and
 * that sort are sequential; saturated scores make them decide what
 * survives, so exactness wins over speed here.
 * Only the final count is read back (4 bytes, the stream's one
 * synchronisation point in each function); the caller needs it to size the
 * next stage's launches. */
#include <string.h>

#include <cub/device/device_radix_sort.cuh>

#include "backend_cuda.h"
#include "nms.h"
#include "topk.h"

#define TRY(call) MRCNN_CUDA_SITE_TRY (site, call)

static size_t
round_up (size_t v)
{
  return (v + 255) / 256 * 256;
}

/* Largest temporary storage any sort of the plan needs. */
static cudaError_t
cub_temp_bytes (const mrcnn_cuda_postproc_plan *p, size_t *bytes,
    mrcnn_cuda_site *site)
{
  size_t a = 0, b = 0, c = 0;
  TRY (cub::DeviceRadixSort::SortPairs (NULL, b, (const uint64_t *) NULL,
          (uint64_t *) NULL, (const int *) NULL, (int *) NULL,
          p->max_det_cand > 0 ? p->max_det_cand : 1));
  int nk = p->max_rpn_cand > p->max_det_cand ? p->max_rpn_cand : p->max_det_cand;
  TRY (cub::DeviceRadixSort::SortPairs (NULL, c, (const uint32_t *) NULL,
          (uint32_t *) NULL, (const int *) NULL, (int *) NULL, nk));
  *bytes = round_up (a > b ? (a > c ? a : c) : (b > c ? b : c));
  return cudaSuccess;
}

template <typename T>
static cudaError_t
dalloc (T **ptr, size_t n, mrcnn_cuda_site *site)
{
  *ptr = NULL;
  TRY (cudaMalloc ((void **) ptr, round_up ((n ? n : 1) * sizeof (T))));
  return cudaSuccess;
}

extern "C" void
mrcnn_cuda_postproc_release (mrcnn_cuda_postproc_plan *p)
{
  void *bufs[] = { p->cell_anchors, p->keys, p->keys_sorted, p->vals,
    p->vals_sorted, p->rpn_boxes, p->rpn_scores, p->rpn_valid, p->det_boxes,
    p->det_scores, p->det_valid, p->det_keys, p->det_keys_sorted, p->det_vals,
    p->det_perm, p->keep, p->keep_key, p->keep_key_sorted, p->order_in,
    p->order, p->mask, p->seg_begin, p->seg_end, p->counters, p->max_coord,
    p->cub_temp, p->rank, p->head_nchw };
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    if (bufs[i])
      cudaFree (bufs[i]);
  if (p->host_count)
    cudaFreeHost (p->host_count);
  p->cell_anchors = p->keys = p->keys_sorted = NULL;
  p->vals = p->vals_sorted = p->det_vals = p->det_perm = NULL;
  p->rpn_boxes = p->rpn_scores = p->det_boxes = p->det_scores = NULL;
  p->rpn_valid = p->det_valid = p->keep = NULL;
  p->det_keys = p->det_keys_sorted = NULL;
  p->keep_key = p->keep_key_sorted = NULL;
  p->order_in = p->order = NULL;
  p->mask = NULL;
  p->seg_begin = p->seg_end = p->counters = NULL;
  p->max_coord = NULL;
  p->cub_temp = NULL;
  p->rank = NULL;
  p->host_count = NULL;
  p->head_nchw = NULL;
}

static cudaError_t
postproc_alloc (mrcnn_cuda_postproc_plan *p, mrcnn_cuda_site *site)
{
  const int nc = p->max_rpn_cand > p->max_det_cand ? p->max_rpn_cand
      : p->max_det_cand;
  const int segs = p->nlevels > p->num_classes ? p->nlevels : p->num_classes;
  /* the longest segment: a level's top-k, or one class's boxes (at most
   * one per proposal) */
  const int max_len = p->pre_nms_top_n > p->post_nms_top_n
      ? p->pre_nms_top_n : p->post_nms_top_n;
  const size_t words = (size_t) (max_len + 63) / 64;
  p->mask_words = words * (size_t) nc;
  TRY (dalloc (&p->cell_anchors, (size_t) p->nlevels * p->num_anchors * 4,
          site));
  TRY (dalloc (&p->keys, p->max_rpn_keys, site));
  TRY (dalloc (&p->keys_sorted, p->max_rpn_keys, site));
  TRY (dalloc (&p->vals, p->max_rpn_keys, site));
  TRY (dalloc (&p->vals_sorted, p->max_rpn_keys, site));
  TRY (dalloc (&p->rpn_boxes, (size_t) p->max_rpn_cand * 4, site));
  TRY (dalloc (&p->rpn_scores, p->max_rpn_cand, site));
  TRY (dalloc (&p->rpn_valid, p->max_rpn_cand, site));
  TRY (dalloc (&p->det_boxes, (size_t) p->max_det_cand * 4, site));
  TRY (dalloc (&p->det_scores, p->max_det_cand, site));
  TRY (dalloc (&p->det_valid, p->max_det_cand, site));
  TRY (dalloc (&p->det_keys, p->max_det_cand, site));
  TRY (dalloc (&p->det_keys_sorted, p->max_det_cand, site));
  TRY (dalloc (&p->det_vals, p->max_det_cand, site));
  TRY (dalloc (&p->det_perm, p->max_det_cand, site));
  TRY (dalloc (&p->keep, nc, site));
  TRY (dalloc (&p->keep_key, nc, site));
  TRY (dalloc (&p->keep_key_sorted, nc, site));
  TRY (dalloc (&p->order_in, nc, site));
  TRY (dalloc (&p->order, nc, site));
  TRY (dalloc (&p->mask, p->mask_words, site));
  TRY (dalloc (&p->seg_begin, segs, site));
  TRY (dalloc (&p->seg_end, segs, site));
  TRY (dalloc (&p->counters, 4, site));
  TRY (dalloc (&p->max_coord, 1, site));
  const int rank_n = p->max_level_anchors > nc ? p->max_level_anchors : nc;
  TRY (dalloc ((mrcnn_rank_item **) &p->rank, rank_n, site));
  TRY (cub_temp_bytes (p, &p->cub_temp_bytes, site));
  TRY (cudaMalloc (&p->cub_temp, p->cub_temp_bytes));
  TRY (cudaMallocHost ((void **) &p->host_count, sizeof (int)));
  return cudaSuccess;
}

extern "C" cudaError_t
mrcnn_cuda_postproc_alloc (mrcnn_cuda_postproc_plan *p, mrcnn_cuda_site *site)
{
  cudaError_t e = postproc_alloc (p, site);
  if (e != cudaSuccess)
    mrcnn_cuda_postproc_release (p);
  return e;
}

/* Checks that a sort fits the planned temporary storage, then runs it. */
#define SORT(fn, ...) \
  do { \
    size_t _need = 0; \
    TRY (fn (NULL, _need, __VA_ARGS__)); \
    if (_need > p->cub_temp_bytes) { \
      site->code = cudaErrorMemoryAllocation; \
      site->call = #fn " (temporary storage beyond the plan)"; \
      site->file = __FILE__; \
      site->line = __LINE__; \
      return cudaErrorMemoryAllocation; \
    } \
    TRY (fn (p->cub_temp, _need, __VA_ARGS__)); \
  } while (0)

/* Reads the count the last kernel wrote to counters[2]. */
static cudaError_t
read_count (mrcnn_cuda_postproc_plan *p, int *n, cudaStream_t stream,
    mrcnn_cuda_site *site)
{
  TRY (cudaMemcpyAsync (p->host_count, p->counters + 2, sizeof (int),
          cudaMemcpyDeviceToHost, stream));
  TRY (cudaStreamSynchronize (stream));
  *n = *p->host_count;
  return cudaSuccess;
}

/* torch.topk of one level's n logits: keys_out[0..k) and vals_out[0..k)
 * receive the values and their indices in torch's order. One thread: the
 * order is that of a sequential algorithm. */
__global__ void
mrcnn_rank_topk_kernel (const float *keys, int n, int k,
    mrcnn_rank_item *items, float *keys_out, int *vals_out)
{
  if (blockIdx.x != 0 || threadIdx.x != 0)
    return;
  for (int j = 0; j < n; j++) {
    items[j].v = keys[j];
    items[j].i = j;
  }
  k = mrcnn_rank_topk (items, n, k);
  for (int j = 0; j < k; j++) {
    keys_out[j] = items[j].v;
    vals_out[j] = items[j].i;
  }
}

/* batched_nms' per-group form (more than 1000 valid candidates): order[0..)
 * becomes the kept candidates in index order re-sorted by torch's unstable
 * sort. Otherwise order keeps the stable (score desc, index asc) order the
 * radix sort gave, which is the offset form's. */
__global__ void
mrcnn_rank_kept_kernel (const uint8_t *keep, const float *scores, int n,
    const int *n_valid, mrcnn_rank_item *items, int *order)
{
  if (blockIdx.x != 0 || threadIdx.x != 0)
    return;
  if ((long long) *n_valid * 4 <= 4000)
    return;
  int m = 0;
  for (int i = 0; i < n; i++)
    if (keep[i]) {
      items[m].v = scores[i];
      items[m].i = i;
      m++;
    }
  mrcnn_rank_sort (items, m);
  for (int j = 0; j < m; j++)
    order[j] = items[j].i;
}

/* keep flags of n candidates -> the first k in torchvision's order (see the
 * top of this file), into out_*. */
static cudaError_t
select_kept (mrcnn_cuda_postproc_plan *p, int n, const float *boxes,
    const float *scores, int k, int num_classes, float *out_boxes,
    float *out_scores, int *out_labels, cudaStream_t stream,
    mrcnn_cuda_site *site)
{
  TRY (mrcnn_cuda_keep_keys (p->keep, scores, n, p->keep_key, p->order_in,
          stream));
  SORT (cub::DeviceRadixSort::SortPairs, p->keep_key, p->keep_key_sorted,
      p->order_in, p->order, n, 0, 32, stream);
  mrcnn_rank_kept_kernel<<<1, 1, 0, stream>>> (p->keep, scores, n,
      p->counters, (mrcnn_rank_item *) p->rank, p->order);
  TRY (cudaGetLastError ());
  TRY (mrcnn_cuda_count_max (p->keep, NULL, n, p->counters + 1, NULL,
          stream));
  TRY (mrcnn_cuda_gather_top (p->order, p->counters + 1, k, boxes, scores,
          num_classes, out_boxes, out_scores, out_labels, p->counters + 2,
          stream));
  return cudaSuccess;
}

/* The rows past the count of the last selection (counters[2], at most k)
 * zero, label 0, and the count to *count_out (device memory): what the
 * next stages read where the count stays on the device. */
__global__ void
mrcnn_rows_finish_kernel (const int *count, int k, float *boxes,
    float *scores, int *labels, int *count_out)
{
  const int n = *count < k ? *count : k;
  int q = blockIdx.x * blockDim.x + threadIdx.x;
  if (q == 0)
    *count_out = n;
  if (q < n || q >= k)
    return;
  for (int c = 0; c < 4; c++)
    boxes[4 * (size_t) q + c] = 0.0f;
  if (scores)
    scores[q] = 0.0f;
  if (labels)
    labels[q] = 0;
}

static cudaError_t
rows_finish (mrcnn_cuda_postproc_plan *p, int k, float *boxes, float *scores,
    int *labels, int *count_out, cudaStream_t stream, mrcnn_cuda_site *site)
{
  unsigned int blocks = (unsigned int) ((k > 0 ? k : 1) + 255) / 256;
  mrcnn_rows_finish_kernel<<<blocks, 256, 0, stream>>> (p->counters + 2, k,
      boxes, scores, labels, count_out);
  TRY (cudaGetLastError ());
  return cudaSuccess;
}

/* Box-head candidates of proposal rows at or past *n_valid are no
 * candidates: the rows past the RPN's count, where it stays on the
 * device. */
__global__ void
mrcnn_det_limit_kernel (const int *n_valid, int n_props, int per_row,
    uint8_t *valid, uint64_t *keys)
{
  long long j = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= (long long) n_props * per_row || j / per_row < *n_valid)
    return;
  valid[j] = 0;
  keys[j] = ~(uint64_t) 0;
}

/* filter_proposals up to the selection of the kept candidates: the count
 * is in counters[2] */
static cudaError_t
rpn_core (mrcnn_cuda_postproc_plan *p, const mrcnn_cuda_rpn_frame *f,
    float *proposals, cudaStream_t stream, mrcnn_cuda_site *site)
{
  mrcnn_cuda_rpn_params rp;
  memset (&rp, 0, sizeof rp);
  rp.nlevels = p->nlevels;
  rp.num_anchors = p->num_anchors;
  rp.cell_anchors = p->cell_anchors;
  rp.img_w = f->img_w;
  rp.img_h = f->img_h;
  rp.min_size = p->rpn_min_size;
  rp.score_thresh = p->rpn_score_thresh;
  int key_off = 0, cand_off = 0, max_k = 0;
  for (int l = 0; l < p->nlevels; l++) {
    const int na = f->h[l] * f->w[l] * p->num_anchors;
    const int kl = na < p->pre_nms_top_n ? na : p->pre_nms_top_n;
    if (f->h[l] < 1 || f->w[l] < 1 || na > p->max_level_anchors
        || key_off + na > p->max_rpn_keys || cand_off + kl > p->max_rpn_cand) {
      site->code = cudaErrorInvalidValue;
      site->call = "rpn_proposals (level larger than planned)";
      site->file = __FILE__;
      site->line = __LINE__;
      return cudaErrorInvalidValue;
    }
    rp.head[l] = f->head[l];
    rp.h[l] = f->h[l];
    rp.w[l] = f->w[l];
    rp.stride_x[l] = f->pad_w / f->w[l];
    rp.stride_y[l] = f->pad_h / f->h[l];
    rp.key_off[l] = key_off;
    rp.cand_off[l] = cand_off;
    const int k = na < p->pre_nms_top_n ? na : p->pre_nms_top_n;
    max_k = k > max_k ? k : max_k;
    key_off += na;
    cand_off += k;
  }
  rp.cand_off[p->nlevels] = cand_off;

  TRY (mrcnn_cuda_rpn_keys (&rp, p->max_level_anchors, p->keys, p->vals,
          stream));
  for (int l = 0; l < p->nlevels; l++) {
    const int off = rp.key_off[l], na = f->h[l] * f->w[l] * p->num_anchors;
    mrcnn_rank_topk_kernel<<<1, 1, 0, stream>>> (p->keys + off, na,
        p->pre_nms_top_n, (mrcnn_rank_item *) p->rank, p->keys_sorted + off,
        p->vals_sorted + off);
    TRY (cudaGetLastError ());
  }
  TRY (mrcnn_cuda_rpn_decode (&rp, p->keys_sorted, p->vals_sorted,
          p->rpn_boxes, p->rpn_scores, p->rpn_valid, stream));
  TRY (mrcnn_cuda_count_max (p->rpn_valid, p->rpn_boxes, cand_off,
          p->counters, p->max_coord, stream));
  TRY (mrcnn_cuda_set_segments (rp.cand_off, p->nlevels, p->seg_begin,
          p->seg_end, stream));
  TRY (cudaMemsetAsync (p->keep, 0, (size_t) cand_off, stream));
  TRY (mrcnn_cuda_batched_nms (p->rpn_boxes, NULL, p->rpn_valid,
          p->seg_begin, p->seg_end, p->nlevels, max_k, p->counters,
          p->max_coord, p->rpn_nms_thr, p->mask, p->keep, stream));
  TRY (select_kept (p, cand_off, p->rpn_boxes, p->rpn_scores,
          p->post_nms_top_n, 0, proposals, NULL, NULL, stream, site));
  return cudaSuccess;
}

extern "C" cudaError_t
mrcnn_cuda_postproc_rpn (mrcnn_cuda_postproc_plan *p,
    const mrcnn_cuda_rpn_frame *f, float *proposals, int *n,
    cudaStream_t stream, mrcnn_cuda_site *site)
{
  cudaError_t e = rpn_core (p, f, proposals, stream, site);
  return e != cudaSuccess ? e : read_count (p, n, stream, site);
}

extern "C" cudaError_t
mrcnn_cuda_postproc_rpn_dev (mrcnn_cuda_postproc_plan *p,
    const mrcnn_cuda_rpn_frame *f, float *proposals, int *count,
    cudaStream_t stream, mrcnn_cuda_site *site)
{
  cudaError_t e = rpn_core (p, f, proposals, stream, site);
  return e != cudaSuccess ? e : rows_finish (p, p->post_nms_top_n,
      proposals, NULL, NULL, count, stream, site);
}

/* Bits of a radix sort key that hold the class (c < 2^bits). */
static int
class_bits (int num_classes)
{
  int b = 1;
  while ((1 << b) <= num_classes)
    b++;
  return b;
}

/* postprocess_detections up to the selection of the kept candidates (the
 * count in counters[2]); n_valid (device, may be NULL): the proposals' own
 * count among the n_props rows. */
static cudaError_t
detect_core (mrcnn_cuda_postproc_plan *p, const float *proposals,
    const int *n_valid, const float *pred, int n_props, float score_thresh,
    float nms_thr, int max_det, int img_w, int img_h, float *boxes,
    float *scores, int *labels, cudaStream_t stream, mrcnn_cuda_site *site)
{
  const int C = p->num_classes;
  const int nc = n_props * (C - 1);
  TRY (mrcnn_cuda_det_candidates (proposals, pred, n_props, C, img_w, img_h,
          score_thresh, p->box_min_size, p->det_boxes, p->det_scores,
          p->det_valid, p->det_keys, p->det_vals, stream));
  if (n_valid) {
    mrcnn_det_limit_kernel<<<(unsigned int) ((nc + 255) / 256), 256, 0,
        stream>>> (n_valid, n_props, C - 1, p->det_valid, p->det_keys);
    TRY (cudaGetLastError ());
  }
  TRY (mrcnn_cuda_count_max (p->det_valid, p->det_boxes, nc, p->counters,
          p->max_coord, stream));
  SORT (cub::DeviceRadixSort::SortPairs, p->det_keys, p->det_keys_sorted,
      p->det_vals, p->det_perm, nc, 0, 32 + class_bits (C), stream);
  TRY (mrcnn_cuda_det_segments (p->det_keys_sorted, nc, C, p->seg_begin,
          p->seg_end, stream));
  TRY (cudaMemsetAsync (p->keep, 0, (size_t) nc, stream));
  TRY (mrcnn_cuda_batched_nms (p->det_boxes, p->det_perm, NULL, p->seg_begin,
          p->seg_end, C, n_props, p->counters, p->max_coord, nms_thr,
          p->mask, p->keep, stream));
  TRY (select_kept (p, nc, p->det_boxes, p->det_scores, max_det, C, boxes,
          scores, labels, stream, site));
  return cudaSuccess;
}

static cudaError_t
detect_check (const mrcnn_cuda_postproc_plan *p, int n_props, int max_det,
    mrcnn_cuda_site *site)
{
  if (n_props < 0 || n_props > p->post_nms_top_n || max_det > p->max_detections) {
    site->code = cudaErrorInvalidValue;
    site->call = "detect (more proposals or detections than planned)";
    site->file = __FILE__;
    site->line = __LINE__;
    return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

extern "C" cudaError_t
mrcnn_cuda_postproc_detect (mrcnn_cuda_postproc_plan *p,
    const float *proposals, const float *pred, int n_props,
    float score_thresh, float nms_thr, int max_det, int img_w, int img_h,
    float *boxes, float *scores, int *labels, int *n, cudaStream_t stream,
    mrcnn_cuda_site *site)
{
  cudaError_t e = detect_check (p, n_props, max_det, site);
  if (e != cudaSuccess)
    return e;
  *n = 0;
  if (n_props * (p->num_classes - 1) == 0)
    return cudaSuccess;
  e = detect_core (p, proposals, NULL, pred, n_props, score_thresh, nms_thr,
      max_det, img_w, img_h, boxes, scores, labels, stream, site);
  return e != cudaSuccess ? e : read_count (p, n, stream, site);
}

extern "C" cudaError_t
mrcnn_cuda_postproc_detect_dev (mrcnn_cuda_postproc_plan *p,
    const float *proposals, const int *n_valid, const float *pred,
    int n_props, float score_thresh, float nms_thr, int max_det, int img_w,
    int img_h, float *boxes, float *scores, int *labels, int *count,
    cudaStream_t stream, mrcnn_cuda_site *site)
{
  cudaError_t e = detect_check (p, n_props, max_det, site);
  if (e != cudaSuccess)
    return e;
  if (n_props < 1) {
    site->code = cudaErrorInvalidValue;
    site->call = "detect_dev (no planned rows)";
    site->file = __FILE__;
    site->line = __LINE__;
    return cudaErrorInvalidValue;
  }
  e = detect_core (p, proposals, n_valid, pred, n_props, score_thresh,
      nms_thr, max_det, img_w, img_h, boxes, scores, labels, stream, site);
  return e != cudaSuccess ? e : rows_finish (p, max_det, boxes, scores,
      labels, count, stream, site);
}
