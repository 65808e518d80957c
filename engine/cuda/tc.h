/* The CUDA backend's tensor-core path: internals shared by backend_tc.c
 * (the table, memory, queues, marks, captured passes, downloads),
 * conv_tc.c (convolutions through cuDNN's graph API), linear_tc.c (fully
 * connected layers through cuBLASLt) and ops_tc.c (the NHWC element-wise
 * ops and the post-processing that leaves its counts on the device).
 *
 * Everything here compiles with -Dcuda=enabled; none of it has run on a GPU
 * yet (docs/cuda.md). */
#ifndef MRCNN_CUDA_TC_H
#define MRCNN_CUDA_TC_H

#include <cublasLt.h>

#include "backend_cuda.h"
#include "cuda_tc.h"
#include "tc_desc.h"

#define CUBLASLT_CHECK(call, err) \
  do { \
    cublasStatus_t _s = (call); \
    if (_s != CUBLAS_STATUS_SUCCESS) \
      return mrcnn_cuda_fail_lib ((err), _s == CUBLAS_STATUS_ALLOC_FAILED, \
          __FILE__, __LINE__, "cuBLASLt call %s failed: %s (%d)", #call, \
          cublasLtGetStatusString (_s), (int) _s); \
  } while (0)

/* What the backend has for the path: made by mrcnn_cuda_tc_enable. */
typedef struct mrcnn_tc_state {
  mrcnn_backend_ops ops;         /* the backend's table on this path */
  mrcnn_precision precision;
  mrcnn_tc_math math;
  cublasLtHandle_t lt;
  size_t workspace_limit;        /* the most workspace one plan may take */
  /* one block for what a convolution or a matmul needs besides its
   * tensors, in this order: its converted input, its float32
   * accumulator where cuDNN fuses nothing, its workspace; sized by the
   * largest plan, grown only when a plan is made */
  void *scratch;
  size_t scratch_size;
  unsigned epoch;                /* bumped when scratch moves: what holds
                                  * its address (variant packs, captured
                                  * passes) is made again */
  GHashTable *conv_plans;        /* descriptor key -> conv plan, shared by
                                  * the layers of one shape */
  int graphs;                    /* capture passes (MRCNN_CUDA_GRAPHS=0
                                  * turns it off) */
  char kernels[128];             /* caps.kernels */
  /* host frames' pinned staging: two slots of the largest frame, each
   * with the event of its last copy to the device, waited for only when a
   * batch holds more than two host frames */
  uint8_t *pinned;
  size_t pinned_slot;
  cudaEvent_t pinned_ev[2];
  int pinned_next;
} mrcnn_tc_state;

/* A pass captured once and replayed (CUDA graphs), by key. */
#define MRCNN_TC_GRAPHS 8

typedef struct {
  void *key;
  size_t key_len;
  int seen;                      /* passes run with this key */
  int uncapturable;              /* a capture failed: always eager */
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  unsigned epoch;
  unsigned marks;                /* the marks recorded inside it */
  unsigned long used;
} mrcnn_tc_graph;

typedef struct mrcnn_tc_queue {
  cudaEvent_t ev[MRCNN_STAGE_COUNT + 1];  /* mark (stage) records
                                           * ev[stage + 1] */
  int skip;                      /* the ops describe and plan, launch
                                  * nothing: a plan-only pass, or a pass
                                  * whose captured graph is replayed */
  int plan_only;
  mrcnn_tc_graph graphs[MRCNN_TC_GRAPHS];
  mrcnn_tc_graph *replay, *capture;
  unsigned long clock;
  unsigned marked;               /* bit stage + 1: ev[stage + 1] holds
                                  * this pass's mark */
  void *arena;                   /* the context's planned buffers */
  size_t arena_size;
  float *host, *staging;         /* results: pinned host, device twin */
  size_t host_size;
} mrcnn_tc_queue;

static inline mrcnn_tc_state *
mrcnn_tc (mrcnn_backend *be)
{
  return ((mrcnn_backend_cuda *) be)->tc;
}

/* The storage type of a map on this path. */
static inline mrcnn_tc_type
mrcnn_tc_store (const mrcnn_tc_state *tc, const mrcnn_fmap *f)
{
  return f->store == MRCNN_STORE_REDUCED ? tc->math.reduced : MRCNN_TC_F32;
}

/* The type an op reads or writes a map in, as a flag of kernels/nhwc.cu:
 * 1 for fp16. */
static inline int
mrcnn_tc_f16 (const mrcnn_tc_state *tc, const mrcnn_fmap *f)
{
  return mrcnn_tc_store (tc, f) == MRCNN_TC_F16;
}

/* Scratch for a plan's conversion, accumulator and workspace: grows it
 * when the plan needs more (never while a pass is being captured: that
 * fails, and the pass then runs as it comes). */
mrcnn_status mrcnn_tc_scratch_reserve (mrcnn_backend_cuda *cu,
    mrcnn_queue *q, size_t bytes, mrcnn_error *err);

/* conv_tc.c */
mrcnn_status mrcnn_tc_conv_new (mrcnn_backend *be, const mrcnn_conv_desc *d,
    mrcnn_conv **out, mrcnn_error *err);
void mrcnn_tc_conv_free (mrcnn_backend *be, mrcnn_conv *conv);
mrcnn_status mrcnn_tc_conv_run (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_conv *conv, const mrcnn_fmap *in, int accumulate, mrcnn_fmap *out,
    mrcnn_error *err);
/* The shared plans (mrcnn_tc_state.conv_plans' values). */
void mrcnn_tc_conv_plan_free (gpointer plan);

/* linear_tc.c */
mrcnn_status mrcnn_tc_linear_new (mrcnn_backend *be, const float *weight,
    const float *bias, int out_features, int in_features, int relu,
    const mrcnn_quant *quant, mrcnn_linear **out, mrcnn_error *err);
void mrcnn_tc_linear_free (mrcnn_backend *be, mrcnn_linear *lin);
mrcnn_status mrcnn_tc_linear_run (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_linear *lin, const float *x, int n, float *y, mrcnn_error *err);

/* ops_tc.c */
mrcnn_status mrcnn_tc_preprocess (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_image *img, const mrcnn_preprocess_desc *d, mrcnn_fmap *out,
    mrcnn_error *err);
mrcnn_status mrcnn_tc_max_pool (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *in, int k, int s, int p, mrcnn_fmap *out,
    mrcnn_error *err);
mrcnn_status mrcnn_tc_upsample_add (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *top, mrcnn_fmap *lateral, mrcnn_error *err);
mrcnn_status mrcnn_tc_roi_align (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_roi_align_desc *d, mrcnn_fmap *out, mrcnn_error *err);
void mrcnn_tc_image_view (mrcnn_backend *be, const mrcnn_fmap *batch, int i,
    mrcnn_fmap *out);
mrcnn_status mrcnn_tc_to_nchw (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *in, mrcnn_fmap *out, mrcnn_error *err);
mrcnn_status mrcnn_tc_mask_probs (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *taps, const float *deconv_bias, const float *weight,
    const float *bias, const int *classes, float *probs, mrcnn_error *err);
mrcnn_status mrcnn_tc_postproc_new (mrcnn_backend *be,
    const mrcnn_postproc_desc *d, mrcnn_postproc **out, mrcnn_error *err);
mrcnn_status mrcnn_tc_rpn_proposals (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_postproc *pp, const mrcnn_fmap *head, int pad_w, int pad_h,
    int img_w, int img_h, float *proposals, int *n, mrcnn_error *err);
mrcnn_status mrcnn_tc_rpn_proposals_dev (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_postproc *pp, const mrcnn_fmap *head, int pad_w, int pad_h,
    int img_w, int img_h, float *proposals, int *count, mrcnn_error *err);
mrcnn_status mrcnn_tc_detect_dev (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_postproc *pp, const float *proposals, const int *n_valid,
    const float *pred, int n_props, const mrcnn_thresholds *th, int img_w,
    int img_h, float *boxes, float *scores, int *labels, int *count,
    mrcnn_error *err);

#endif
