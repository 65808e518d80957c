/* The tensor-core path's fully connected layers through cuBLASLt: the
 * box head's fc6, fc7 and predictor, y = act (x W^T + b) with the bias and
 * the ReLU in the matmul's epilogue (CUBLASLT_EPILOGUE_BIAS, _RELU_BIAS).
 *
 * Per number of rows a layer runs on (the box head runs on its planned
 * rows, so one or two per layer), the descriptor of tc_desc.c, cuBLASLt's
 * matmul and matrix descriptors and the algorithm its heuristic ranks
 * first within the workspace, made when the row count is first seen (the
 * engine's plan-only passes at context creation). At fp16 the weights are
 * stored in fp16 and x is converted into scratch; D is float32 at every
 * precision, and so is the accumulation (CUBLAS_COMPUTE_32F; _FAST_TF32 at
 * tf32).
 *
 * Never run on a GPU yet (docs/cuda.md). */
#include <string.h>

#include "precision.h"
#include "tc.h"

typedef struct {
  mrcnn_tc_linear_desc d;
  cublasLtMatmulDesc_t op;
  cublasLtMatrixLayout_t a, b, y;
  cublasLtMatmulAlgo_t algo;
  size_t workspace;
} lin_size;

struct mrcnn_linear {
  mrcnn_tc_linear_layer l;
  void *w;                     /* out x in, row major, math.weights */
  float *b;
  lin_size *sizes;
  int nsizes, cap;
};

static cudaDataType_t
cuda_type (mrcnn_tc_type t)
{
  return t == MRCNN_TC_F16 ? CUDA_R_16F : CUDA_R_32F;
}

mrcnn_status
mrcnn_tc_linear_new (mrcnn_backend *be, const float *weight,
    const float *bias, int out_features, int in_features, int relu,
    const mrcnn_quant *quant, mrcnn_linear **out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_linear *l = g_new0 (mrcnn_linear, 1);
  *out = l;   /* linear_free releases a partly built one */
  l->l = (mrcnn_tc_linear_layer) { out_features, in_features, relu };
  const int f16 = cu->tc->math.weights == MRCNN_TC_F16;
  const size_t nw = (size_t) out_features * in_features;
  uint16_t *h = NULL;
  if (f16) {
    h = g_try_new (uint16_t, nw);
    if (!h)
      return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY, "cannot allocate host "
          "memory for a fully connected layer's weights");
    for (size_t i = 0; i < nw; i++)
      h[i] = mrcnn_fp16_from_f32 (weight[i]);
  }
  const size_t wbytes = nw * (f16 ? 2 : 4);
  cudaError_t e = cudaSetDevice (cu->device);
  if (e == cudaSuccess)
    e = cudaMalloc (&l->w, wbytes);
  if (e == cudaSuccess)
    e = cudaMalloc ((void **) &l->b, (size_t) out_features * sizeof (float));
  if (e == cudaSuccess)
    e = cudaMemcpy (l->w, f16 ? (const void *) h : (const void *) weight,
        wbytes, cudaMemcpyHostToDevice);
  if (e == cudaSuccess)
    e = cudaMemcpy (l->b, bias, (size_t) out_features * sizeof (float),
        cudaMemcpyHostToDevice);
  g_free (h);
  if (e != cudaSuccess)
    return mrcnn_cuda_fail_rt (err, e, "cudaMalloc / cudaMemcpy (a fully "
        "connected layer's weights)", __FILE__, __LINE__);
  return MRCNN_OK;
}

static void
size_clear (lin_size *s)
{
  if (s->a)
    cublasLtMatrixLayoutDestroy (s->a);
  if (s->b)
    cublasLtMatrixLayoutDestroy (s->b);
  if (s->y)
    cublasLtMatrixLayoutDestroy (s->y);
  if (s->op)
    cublasLtMatmulDescDestroy (s->op);
  memset (s, 0, sizeof *s);
}

void
mrcnn_tc_linear_free (mrcnn_backend *be, mrcnn_linear *l)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (!l)
    return;
  cudaSetDevice (cu->device);
  for (int i = 0; i < l->nsizes; i++)
    size_clear (&l->sizes[i]);
  if (l->w)
    cudaFree (l->w);
  if (l->b)
    cudaFree (l->b);
  g_free (l->sizes);
  g_free (l);
}

static mrcnn_status
layout (cublasLtMatrixLayout_t *out, const mrcnn_tc_matrix *m,
    mrcnn_error *err)
{
  CUBLASLT_CHECK (cublasLtMatrixLayoutCreate (out, cuda_type (m->type),
          (uint64_t) m->rows, (uint64_t) m->cols, m->ld), err);
  return MRCNN_OK;
}

/* cuBLASLt's descriptors and algorithm for d (s->d). */
static mrcnn_status
size_make (mrcnn_backend_cuda *cu, mrcnn_linear *l, lin_size *s,
    mrcnn_error *err)
{
  const mrcnn_tc_linear_desc *d = &s->d;
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  const cublasLtEpilogue_t epi = d->relu ? CUBLASLT_EPILOGUE_RELU_BIAS
      : CUBLASLT_EPILOGUE_BIAS;
  const void *bias = l->b;
  CUBLASLT_CHECK (cublasLtMatmulDescCreate (&s->op, d->compute_tf32
          ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUDA_R_32F),
      err);
  CUBLASLT_CHECK (cublasLtMatmulDescSetAttribute (s->op,
          CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), err);
  CUBLASLT_CHECK (cublasLtMatmulDescSetAttribute (s->op,
          CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), err);
  CUBLASLT_CHECK (cublasLtMatmulDescSetAttribute (s->op,
          CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi), err);
  /* the heuristic reads the bias pointer's alignment */
  CUBLASLT_CHECK (cublasLtMatmulDescSetAttribute (s->op,
          CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias), err);
  /* A is the stored K x N matrix (transposed by op), B is x^T: K x n */
  MRCNN_TRY (layout (&s->a, &d->a, err));
  MRCNN_TRY (layout (&s->b, &d->b, err));
  MRCNN_TRY (layout (&s->y, &d->d, err));

  cublasLtMatmulPreference_t pref = NULL;
  CUBLASLT_CHECK (cublasLtMatmulPreferenceCreate (&pref), err);
  const uint64_t ws = d->workspace_limit;
  const uint32_t al[4] = { (uint32_t) d->a.align, (uint32_t) d->b.align,
    (uint32_t) d->d.align, (uint32_t) d->d.align };
  const cublasLtMatmulPreferenceAttributes_t which[4] = {
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES };
  cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute (pref,
      CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
  for (int i = 0; st == CUBLAS_STATUS_SUCCESS && i < 4; i++)
    st = cublasLtMatmulPreferenceSetAttribute (pref, which[i], &al[i],
        sizeof al[i]);
  cublasLtMatmulHeuristicResult_t res;
  int found = 0;
  memset (&res, 0, sizeof res);
  if (st == CUBLAS_STATUS_SUCCESS)
    st = cublasLtMatmulAlgoGetHeuristic (cu->tc->lt, s->op, s->a, s->b, s->y,
        s->y, pref, 1, &res, &found);
  cublasLtMatmulPreferenceDestroy (pref);
  if (st != CUBLAS_STATUS_SUCCESS)
    return mrcnn_cuda_fail_lib (err, st == CUBLAS_STATUS_ALLOC_FAILED,
        __FILE__, __LINE__, "cuBLASLt call cublasLtMatmulAlgoGetHeuristic "
        "failed: %s (%d)", cublasLtGetStatusString (st), (int) st);
  if (found < 1 || res.state != CUBLAS_STATUS_SUCCESS)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "cuBLASLt offers no "
        "algorithm for a fully connected layer %d->%d on %lld rows at %s "
        "within a %zu MiB workspace", l->l.in_features, l->l.out_features,
        (long long) d->b.cols, mrcnn_precision_name (cu->tc->precision),
        d->workspace_limit >> 20);
  s->algo = res.algo;
  s->workspace = res.workspaceSize;
  return MRCNN_OK;
}

static mrcnn_status
size_for (mrcnn_backend_cuda *cu, mrcnn_linear *l,
    const mrcnn_tc_linear_desc *d, lin_size **out, mrcnn_error *err)
{
  for (int i = 0; i < l->nsizes; i++)
    if (l->sizes[i].d.key == d->key) {
      *out = &l->sizes[i];
      return MRCNN_OK;
    }
  if (l->nsizes == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 4;
    l->sizes = g_renew (lin_size, l->sizes, l->cap);
  }
  lin_size *s = &l->sizes[l->nsizes];
  memset (s, 0, sizeof *s);
  s->d = *d;
  CUDA_ENTER (cu, err);
  mrcnn_status st = size_make (cu, l, s, err);
  if (st != MRCNN_OK) {
    size_clear (s);
    return st;
  }
  l->nsizes++;
  *out = s;
  return MRCNN_OK;
}

mrcnn_status
mrcnn_tc_linear_run (mrcnn_backend *be, mrcnn_queue *q, mrcnn_linear *l,
    const float *x, int n, float *y, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_tc_state *tc = cu->tc;
  if (n <= 0)
    return MRCNN_OK;
  const mrcnn_tc_linear_io io = { n, mrcnn_tc_addr_align (x),
    mrcnn_tc_addr_align (y) };
  mrcnn_tc_linear_desc d;
  MRCNN_TRY (mrcnn_tc_linear_describe (&l->l, &io, &tc->math,
          tc->workspace_limit, &d, err));
  lin_size *s = NULL;
  MRCNN_TRY (size_for (cu, l, &d, &s, err));
  MRCNN_TRY (mrcnn_tc_scratch_reserve (cu, q, d.cvt_bytes + s->workspace,
          err));
  if (q->tc->skip)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  const void *b = x;
  char *scratch = tc->scratch;
  if (d.convert_input) {
    CUDA_CHECK (mrcnn_cuda_to_f16 (x, (size_t) n * l->l.in_features,
            (uint16_t *) scratch, cu->stream), err);
    b = scratch;
  }
  const float one = 1.0f, zero = 0.0f;
  CUBLASLT_CHECK (cublasLtMatmul (tc->lt, s->op, &one, l->w, s->a, b, s->b,
          &zero, y, s->y, y, s->y, &s->algo, scratch + d.cvt_bytes,
          s->workspace, cu->stream), err);
  return MRCNN_OK;
}
