/* CUDA batched NMS (torchvision's batched_nms) over segments of candidates
 * sorted by descending score, one segment per group (RPN level or class).
 *
 * 1. mask: one block per 64 x 64 tile of a segment computes, for each row
 *    box, the bit set of later boxes it suppresses - mrcnn_box_suppresses ()
 *    of kernels/nms.h on the coordinates shifted by mrcnn_nms_group_offset ()
 *    when torchvision would shift them (<= 1000 candidates), as
 *    engine/postprocess.c does;
 * 2. scan: one warp per segment walks the rows in order (64 rows staged in
 *    shared memory at a time), keeping a row when no kept row suppressed it:
 *    the greedy order of the CPU's loop.
 * Boxes of different groups never suppress each other in either variant
 * (the offset separates the groups by more than the largest coordinate), so
 * comparing only within segments gives the CPU's result. */
#include "cuda_common.cuh"
#include "nms.h"

#define NMS_TILE 64

__global__ void
mrcnn_count_max_kernel (const uint8_t *valid, const float *boxes, int n,
    int *count, float *max_coord)
{
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int c = 0;
  float m = 0.0f;
  if (i < n && valid[i]) {
    c = 1;
    if (boxes)
      for (int k = 0; k < 4; k++)
        m = fmaxf (m, boxes[4 * (size_t) i + k]);
  }
  for (int o = 16; o > 0; o >>= 1) {
    c += __shfl_down_sync (0xffffffffu, c, o);
    m = fmaxf (m, __shfl_down_sync (0xffffffffu, m, o));
  }
  if ((threadIdx.x & 31) == 0) {
    if (c)
      atomicAdd (count, c);
    /* the coordinates of valid boxes are clipped, so >= 0: their int bits
     * order as the floats do */
    if (boxes && m > 0.0f)
      atomicMax ((int *) max_coord, __float_as_int (m));
  }
}

extern "C" cudaError_t
mrcnn_cuda_count_max (const uint8_t *valid, const float *boxes, int n,
    int *count, float *max_coord, cudaStream_t stream)
{
  cudaError_t e = cudaMemsetAsync (count, 0, sizeof (int), stream);
  if (e == cudaSuccess && max_coord)
    e = cudaMemsetAsync (max_coord, 0, sizeof (float), stream);
  if (e != cudaSuccess)
    return e;
  if (boxes && !max_coord)
    return cudaErrorInvalidValue;
  MRCNN_CUDA_LAUNCH (mrcnn_count_max_kernel, mrcnn_cuda_blocks (n, 256), 256,
      0, stream, valid, boxes, n, count, max_coord);
  return cudaGetLastError ();
}

typedef struct {
  int off[MRCNN_CUDA_MAX_LEVELS + 1];
} mrcnn_seg_offsets;

__global__ void
mrcnn_set_segments_kernel (mrcnn_seg_offsets o, int n, int *begin, int *end)
{
  int g = threadIdx.x;
  if (g < n) {
    begin[g] = o.off[g];
    end[g] = o.off[g + 1];
  }
}

extern "C" cudaError_t
mrcnn_cuda_set_segments (const int *off, int n_groups, int *seg_begin,
    int *seg_end, cudaStream_t stream)
{
  if (n_groups < 1 || n_groups > MRCNN_CUDA_MAX_LEVELS)
    return cudaErrorInvalidValue;
  mrcnn_seg_offsets o;
  for (int g = 0; g <= n_groups; g++)
    o.off[g] = off[g];
  mrcnn_set_segments_kernel<<<1, 32, 0, stream>>> (o, n_groups, seg_begin,
      seg_end);
  return cudaGetLastError ();
}

__device__ static int
lower_bound_u64 (const uint64_t *keys, int n, uint64_t v)
{
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = (lo + hi) >> 1;
    if (keys[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

__global__ void
mrcnn_det_segments_kernel (const uint64_t *keys, int n, int C, int *begin,
    int *end)
{
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C)
    return;
  if (c == 0) {                 /* background: no candidates */
    begin[0] = end[0] = 0;
    return;
  }
  begin[c] = lower_bound_u64 (keys, n, (uint64_t) c << 32);
  end[c] = lower_bound_u64 (keys, n, (uint64_t) (c + 1) << 32);
}

extern "C" cudaError_t
mrcnn_cuda_det_segments (const uint64_t *sorted_keys, int n, int num_classes,
    int *seg_begin, int *seg_end, cudaStream_t stream)
{
  MRCNN_CUDA_LAUNCH (mrcnn_det_segments_kernel,
      mrcnn_cuda_blocks (num_classes, 128), 128, 0, stream, sorted_keys, n,
      num_classes, seg_begin, seg_end);
  return cudaGetLastError ();
}

__global__ void
mrcnn_nms_mask_kernel (const float *boxes, const int *perm,
    const uint8_t *valid, const int *seg_begin, const int *seg_end,
    const int *n_valid, const float *max_coord, float thr, int words,
    unsigned long long *mask)
{
  const int g = blockIdx.z, rb = blockIdx.y, cb = blockIdx.x;
  const int b = seg_begin[g], len = seg_end[g] - b;
  if (cb < rb || rb * NMS_TILE >= len || cb * NMS_TILE >= len)
    return;
  /* postprocess.c: the offset variant for up to 1000 candidates */
  const int offset_trick = (long long) *n_valid * 4 <= 4000;
  const float off = offset_trick ? mrcnn_nms_group_offset (*max_coord, g)
      : 0.0f;
  __shared__ float col_box[NMS_TILE][4];
  __shared__ float col_area[NMS_TILE];
  __shared__ uint8_t col_ok[NMS_TILE];
  const int t = threadIdx.x;
  const int ncols = min (NMS_TILE, len - cb * NMS_TILE);
  if (t < ncols) {
    int q = b + cb * NMS_TILE + t;
    int cand = perm ? perm[q] : q;
    mrcnn_box_offset (boxes + 4 * (size_t) cand, off, col_box[t]);
    col_area[t] = mrcnn_box_area (col_box[t]);
    col_ok[t] = valid ? valid[cand] : 1;
  }
  __syncthreads ();
  const int i = rb * NMS_TILE + t;
  if (i >= len)
    return;
  const int rq = b + i;
  const int rc = perm ? perm[rq] : rq;
  float row[4];
  mrcnn_box_offset (boxes + 4 * (size_t) rc, off, row);
  const float area = mrcnn_box_area (row);
  unsigned long long bits = 0;
  for (int j = cb == rb ? t + 1 : 0; j < ncols; j++)
    if (col_ok[j] && mrcnn_box_suppresses (row, area, col_box[j], col_area[j],
            thr))
      bits |= 1ull << j;
  mask[(size_t) rq * words + cb] = bits;
}

/* Shared memory: removed[words] then a tile of NMS_TILE rows x words. */
__global__ void
mrcnn_nms_scan_kernel (const int *perm, const uint8_t *valid,
    const int *seg_begin, const int *seg_end, int words,
    const unsigned long long *mask, uint8_t *keep)
{
  extern __shared__ unsigned long long sh[];
  unsigned long long *removed = sh, *tile = sh + words;
  const int g = blockIdx.x, lane = threadIdx.x;
  const int b = seg_begin[g], len = seg_end[g] - b;
  if (len <= 0)
    return;
  const int nw = (len + NMS_TILE - 1) / NMS_TILE;
  /* excluded candidates start out removed */
  for (int w = lane; w < nw; w += 32) {
    unsigned long long r = 0;
    for (int k = 0; k < NMS_TILE && w * NMS_TILE + k < len; k++) {
      int q = b + w * NMS_TILE + k;
      if (valid && !valid[perm ? perm[q] : q])
        r |= 1ull << k;
    }
    removed[w] = r;
  }
  __syncwarp ();
  for (int c0 = 0, w0 = 0; c0 < len; c0 += NMS_TILE, w0++) {
    const int rows = min (NMS_TILE, len - c0), span = nw - w0;
    for (int t = lane; t < rows * span; t += 32) {
      int r = t / span, w = w0 + t % span;
      tile[r * words + w] = mask[(size_t) (b + c0 + r) * words + w];
    }
    __syncwarp ();
    for (int r = 0; r < rows; r++) {
      if ((removed[w0] >> r) & 1ull)
        continue;
      if (lane == 0) {
        int q = b + c0 + r;
        keep[perm ? perm[q] : q] = 1;
      }
      __syncwarp ();
      for (int w = w0 + lane; w < nw; w += 32)
        removed[w] |= tile[r * words + w];
      __syncwarp ();
    }
  }
}

extern "C" cudaError_t
mrcnn_cuda_batched_nms (const float *boxes, const int *perm,
    const uint8_t *valid, const int *seg_begin, const int *seg_end,
    int n_groups, int max_len, const int *n_valid, const float *max_coord,
    float thr, unsigned long long *mask, uint8_t *keep, cudaStream_t stream)
{
  if (n_groups < 1 || max_len < 0)
    return cudaErrorInvalidValue;
  if (max_len == 0)
    return cudaSuccess;
  const int words = (max_len + NMS_TILE - 1) / NMS_TILE;
  dim3 grid (words, words, n_groups);
  mrcnn_nms_mask_kernel<<<grid, NMS_TILE, 0, stream>>> (boxes, perm, valid,
      seg_begin, seg_end, n_valid, max_coord, thr, words, mask);
  cudaError_t e = cudaGetLastError ();
  if (e != cudaSuccess)
    return e;
  size_t shmem = (size_t) (NMS_TILE + 1) * words * sizeof (unsigned long long);
  if (shmem > 48 * 1024) {
    e = cudaFuncSetAttribute (mrcnn_nms_scan_kernel,
        cudaFuncAttributeMaxDynamicSharedMemorySize, (int) shmem);
    if (e != cudaSuccess)
      return e;
  }
  mrcnn_nms_scan_kernel<<<n_groups, 32, shmem, stream>>> (perm, valid,
      seg_begin, seg_end, words, mask, keep);
  return cudaGetLastError ();
}
