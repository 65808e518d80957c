/* CUDA backend internals shared by backend_cuda.c, conv_cuda.c and
 * postproc_cuda.cu (the latter sees only the C-compatible part below the
 * #ifndef, as it is compiled by nvcc without glib). */
#ifndef MRCNN_BACKEND_CUDA_H
#define MRCNN_BACKEND_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "cuda_launch.h"

/* Where a CUDA runtime call failed, for the C side to turn into an
 * mrcnn_error (nvcc-compiled code reports through this). */
typedef struct {
  cudaError_t code;
  const char *call;
  const char *file;
  int line;
} mrcnn_cuda_site;

#define MRCNN_CUDA_SITE_TRY(site, expr) \
  do { \
    cudaError_t _e = (expr); \
    if (_e != cudaSuccess) { \
      (site)->code = _e; \
      (site)->call = #expr; \
      (site)->file = __FILE__; \
      (site)->line = __LINE__; \
      return _e; \
    } \
  } while (0)

/* ---------------------------------------------------------------- postproc
 * Device buffers of the RPN and box post-processing, planned once
 * (postproc_cuda.cu). */
typedef struct {
  int nlevels, num_anchors;
  int pre_nms_top_n, post_nms_top_n;
  float rpn_nms_thr;          /* mrcnn_nms_threshold () of the double */
  float rpn_score_thresh, rpn_min_size, box_min_size;
  int num_classes, max_detections;
  int max_level_anchors;      /* bound on h * w * A of one level */
  int max_rpn_keys;           /* sum over levels of that bound */
  int max_rpn_cand;           /* nlevels * pre_nms_top_n */
  int max_det_cand;           /* post_nms_top_n * (num_classes - 1) */

  float *cell_anchors;        /* nlevels x A x 4 */
  /* RPN */
  float *keys, *keys_sorted;
  int *vals, *vals_sorted;
  float *rpn_boxes, *rpn_scores;
  uint8_t *rpn_valid;
  /* box head */
  float *det_boxes, *det_scores;
  uint8_t *det_valid;
  uint64_t *det_keys, *det_keys_sorted;
  int *det_vals, *det_perm;
  /* shared by both */
  uint8_t *keep;
  uint32_t *keep_key, *keep_key_sorted;
  int *order_in, *order;
  unsigned long long *mask;
  size_t mask_words;          /* capacity in 64-bit words */
  int *seg_begin, *seg_end;   /* max (nlevels, num_classes) */
  int *counters;              /* n_valid, n_keep, count */
  void *rank;                 /* mrcnn_rank_item scratch (kernels/topk.h) */
  float *max_coord;
  void *cub_temp;
  size_t cub_temp_bytes;
  int *host_count;            /* pinned */
  /* the tensor-core path's: each level's NHWC head output as NCHW, what
   * the RPN's kernels read (NULL on the other path) */
  float *head_nchw;
  size_t head_nchw_floats;
} mrcnn_cuda_postproc_plan;

#ifdef __cplusplus
extern "C" {
#endif

/* Sizes the plan's buffers (fields above the device pointers must be set)
 * and allocates them; on failure everything allocated is freed. */
cudaError_t mrcnn_cuda_postproc_alloc (mrcnn_cuda_postproc_plan *p,
    mrcnn_cuda_site *site);
void mrcnn_cuda_postproc_release (mrcnn_cuda_postproc_plan *p);

typedef struct {
  const float *head[MRCNN_CUDA_MAX_LEVELS];  /* 1 x 5A x h x w, NCHW */
  int h[MRCNN_CUDA_MAX_LEVELS], w[MRCNN_CUDA_MAX_LEVELS];
  int pad_w, pad_h, img_w, img_h;
} mrcnn_cuda_rpn_frame;

/* RPN filter_proposals; writes proposals (post_nms_top_n x 4) and *n. */
cudaError_t mrcnn_cuda_postproc_rpn (mrcnn_cuda_postproc_plan *p,
    const mrcnn_cuda_rpn_frame *f, float *proposals, int *n,
    cudaStream_t stream, mrcnn_cuda_site *site);

/* RoIHeads.postprocess_detections; writes up to max_det detections. */
cudaError_t mrcnn_cuda_postproc_detect (mrcnn_cuda_postproc_plan *p,
    const float *proposals, const float *pred, int n_props,
    float score_thresh, float nms_thr, int max_det, int img_w, int img_h,
    float *boxes, float *scores, int *labels, int *n, cudaStream_t stream,
    mrcnn_cuda_site *site);

/* The same, leaving the count on the device (*count, device memory) and
 * nothing to wait for: the RPN writes post_nms_top_n rows, the box head
 * max_det rows, those past the count zero (label 0); the box head reads
 * only the first *n_valid (device memory) of its n_props rows. */
cudaError_t mrcnn_cuda_postproc_rpn_dev (mrcnn_cuda_postproc_plan *p,
    const mrcnn_cuda_rpn_frame *f, float *proposals, int *count,
    cudaStream_t stream, mrcnn_cuda_site *site);
cudaError_t mrcnn_cuda_postproc_detect_dev (mrcnn_cuda_postproc_plan *p,
    const float *proposals, const int *n_valid, const float *pred,
    int n_props, float score_thresh, float nms_thr, int max_det, int img_w,
    int img_h, float *boxes, float *scores, int *labels, int *count,
    cudaStream_t stream, mrcnn_cuda_site *site);

#ifdef __cplusplus
}
#endif

/* ---------------------------------------------------------------- C side */
#ifndef __CUDACC__

#include <cublas_v2.h>
#include <cudnn.h>

#include "backend.h"

typedef struct {
  mrcnn_backend base;
  int device;
  char device_name[256];
  cudaStream_t stream;
  cudnnHandle_t cudnn;
  cublasHandle_t cublas;
  int tf32;                   /* MRCNN_CUDA_MATH=tf32: tensor-core convs */
  void *workspace;            /* cuDNN workspace, also cudnnFind's output */
  size_t workspace_size;
  uint8_t *frame;             /* staging of host frames */
  size_t frame_size;
  int queue_taken;            /* its one queue exists */
  struct mrcnn_tc_state *tc;  /* the tensor-core path's (tc.h); NULL on
                               * the path that ran fp32 on 2026-11-26 */
} mrcnn_backend_cuda;

/* The box post-processing's buffers, planned once per context. */
struct mrcnn_postproc {
  mrcnn_cuda_postproc_plan plan;
};

/* The CUDA backend's one queue: its stream (the ops read cu->stream). */
struct mrcnn_queue {
  mrcnn_backend_cuda *cu;
  struct mrcnn_tc_queue *tc;  /* the tensor-core path's (tc.h) */
};

/* A failed CUDA, cuDNN or cuBLAS call: the message names the call, its
 * error and where, and how much device memory is free. It is
 * MRCNN_ERR_NO_MEMORY where the library said allocation failed, and also
 * where less than MRCNN_CUDA_LOW_MEMORY_MB is free: short of memory, the
 * libraries answer with other codes (cuDNN CUDNN_STATUS_INTERNAL_ERROR from
 * cudnnCreate, CUB cudaErrorInvalidDevice when it cannot load a kernel). */
#define MRCNN_CUDA_LOW_MEMORY_MB 128
mrcnn_status mrcnn_cuda_fail_lib (mrcnn_error *err, int alloc_failed,
    const char *file, int line, const char *fmt, ...)
    __attribute__ ((format (printf, 5, 6)));
mrcnn_status mrcnn_cuda_fail_rt (mrcnn_error *err, cudaError_t e,
    const char *call, const char *file, int line);
mrcnn_status mrcnn_cuda_fail_site (mrcnn_error *err,
    const mrcnn_cuda_site *site);

#define CUDA_CHECK(call, err) \
  do { \
    cudaError_t _e = (call); \
    if (_e != cudaSuccess) \
      return mrcnn_cuda_fail_rt ((err), _e, #call, __FILE__, __LINE__); \
  } while (0)

/* cuDNN's codes for a failed allocation */
#define MRCNN_CUDNN_ALLOC_FAILED(s) \
  ((s) == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED \
      || (s) == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED)

#define CUDNN_CHECK(call, err) \
  do { \
    cudnnStatus_t _s = (call); \
    if (_s != CUDNN_STATUS_SUCCESS) \
      return mrcnn_cuda_fail_lib ((err), MRCNN_CUDNN_ALLOC_FAILED (_s), \
          __FILE__, __LINE__, "cuDNN call %s failed: %s (%d)", #call, \
          cudnnGetErrorString (_s), (int) _s); \
  } while (0)

#define CUBLAS_CHECK(call, err) \
  do { \
    cublasStatus_t _s = (call); \
    if (_s != CUBLAS_STATUS_SUCCESS) \
      return mrcnn_cuda_fail_lib ((err), _s == CUBLAS_STATUS_ALLOC_FAILED, \
          __FILE__, __LINE__, "cuBLAS call %s failed: %s (%d)", #call, \
          cublasGetStatusString (_s), (int) _s); \
  } while (0)

/* Makes the backend's device current in the calling thread (the engine may
 * be created in one thread and run in another). */
#define CUDA_ENTER(cu, err) CUDA_CHECK (cudaSetDevice ((cu)->device), err)

/* The backend's table on the path that ran fp32 on a GPU; the
 * tensor-core path's table starts as a copy of it. */
extern const mrcnn_backend_ops mrcnn_cuda_ops;

/* backend_tc.c: the tensor-core path. Switches the backend to it (its
 * own table, cu->base.ops) at precision p (fp32, tf32 or fp16), before any
 * queue or layer is made; freed with the backend. */
mrcnn_status mrcnn_cuda_tc_enable (mrcnn_backend_cuda *cu, mrcnn_precision p,
    mrcnn_error *err);
void mrcnn_cuda_tc_free (mrcnn_backend_cuda *cu);

/* conv_cuda.c */
mrcnn_status mrcnn_cuda_conv_new (mrcnn_backend *be, const mrcnn_conv_desc *d,
    mrcnn_conv **out, mrcnn_error *err);
void mrcnn_cuda_conv_free (mrcnn_backend *be, mrcnn_conv *conv);
mrcnn_status mrcnn_cuda_conv_run (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_conv *conv,
    const mrcnn_fmap *in, int accumulate, mrcnn_fmap *out, mrcnn_error *err);

/* ops_cuda.c */
mrcnn_status mrcnn_cuda_preprocess_op (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_image *img, const mrcnn_preprocess_desc *d, mrcnn_fmap *out,
    mrcnn_error *err);
mrcnn_status mrcnn_cuda_max_pool_op (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *in,
    int k, int s, int p, mrcnn_fmap *out, mrcnn_error *err);
mrcnn_status mrcnn_cuda_upsample_add_op (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *top, mrcnn_fmap *lateral, mrcnn_error *err);
/* The kernels' parameters of a RoIAlign call (levels 1..MRCNN_CUDA_MAX_
 * LEVELS, checked by the caller), and out's dimensions. */
void mrcnn_cuda_roi_params_of (const mrcnn_roi_align_desc *d,
    mrcnn_cuda_roi_params *p, mrcnn_fmap *out);
mrcnn_status mrcnn_cuda_roi_align_op (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_roi_align_desc *d, mrcnn_fmap *out, mrcnn_error *err);
void mrcnn_cuda_image_view (mrcnn_backend *be, const mrcnn_fmap *batch,
    int i, mrcnn_fmap *out);
mrcnn_status mrcnn_cuda_to_nchw_op (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *in, mrcnn_fmap *out, mrcnn_error *err);
mrcnn_status mrcnn_cuda_mask_probs_op (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *taps, const float *deconv_bias, const float *weight,
    const float *bias, const int *classes, float *probs, mrcnn_error *err);
mrcnn_status mrcnn_cuda_postproc_new_op (mrcnn_backend *be,
    const mrcnn_postproc_desc *d, mrcnn_postproc **out, mrcnn_error *err);
void mrcnn_cuda_postproc_free_op (mrcnn_backend *be, mrcnn_postproc *pp);
mrcnn_status mrcnn_cuda_rpn_proposals_op (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_postproc *pp, const mrcnn_fmap *head, int pad_w, int pad_h,
    int img_w, int img_h, float *proposals, int *n, mrcnn_error *err);
mrcnn_status mrcnn_cuda_detect_op (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_postproc *pp, const float *proposals, const float *pred, int n_props,
    const mrcnn_thresholds *th, int img_w, int img_h, float *boxes,
    float *scores, int *labels, int *n, mrcnn_error *err);

#endif /* !__CUDACC__ */

#endif
