/* CUDA backend convolutions through cuDNN.
 *
 * One convolution = its weights and bias on the device, cuDNN descriptors,
 * and a small table of plans: for each input size (batch rounded up to a
 * power of two, height, width, accumulate) the algorithm cudnnFind measured
 * fastest among those whose workspace fits the backend's one workspace,
 * chosen the first time that size runs and reused after. cudnnFind writes
 * its trial outputs into the front of that workspace, never into the
 * caller's output (which holds the residual when accumulating).
 *
 * Fusion: out = act (conv (in) + bias [+ out]) is one
 * cudnnConvolutionBiasActivationForward call (the residual as its z input,
 * aliasing y) when the activation is ReLU, or when it is the identity and
 * the algorithm is IMPLICIT_PRECOMP_GEMM (cuDNN's restriction); otherwise,
 * or when cuDNN refuses the fused call, cudnnConvolutionForward (beta = 1
 * for the residual), cudnnAddTensor (bias) and cudnnActivationForward.
 *
 * Math: CUDNN_FMA_MATH (plain fp32) unless MRCNN_CUDA_MATH=tf32 allows
 * tensor-core TF32 (benchmark only: it changes results at the 1e-3 level). */
#include <stdio.h>
#include <string.h>

#include "backend_cuda.h"

typedef struct {
  int nb, h, w, acc;
  cudnnConvolutionFwdAlgo_t algo;
  cudnnMathType_t math;
  size_t ws;
  int fused;                  /* 0 after cuDNN refused the fused call */
} conv_plan;

struct mrcnn_conv {
  int oc, ic, kh, kw, stride, pad, relu;
  float *w, *b;               /* device: OIHW weights, bias */
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd;
  cudnnActivationDescriptor_t act_relu, act_id;
  cudnnTensorDescriptor_t xd, yd, bd;
  conv_plan *plans;
  int nplans, cap;
};

static int
pow2_at_least (int n)
{
  int p = 1;
  while (p < n)
    p <<= 1;
  return p;
}

mrcnn_status
mrcnn_cuda_conv_new (mrcnn_backend *be, const mrcnn_conv_desc *d,
    mrcnn_conv **out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  CUDA_ENTER (cu, err);
  mrcnn_conv *c = g_new0 (mrcnn_conv, 1);
  *out = c;   /* conv_free releases a partly built one */
  c->oc = d->w->out_ch;
  c->ic = d->w->in_ch;
  c->kh = d->w->kh;
  c->kw = d->w->kw;
  c->stride = d->stride;
  c->pad = d->pad;
  c->relu = d->relu;
  size_t nw = (size_t) c->oc * c->ic * c->kh * c->kw;
  CUDA_CHECK (cudaMalloc ((void **) &c->w, nw * sizeof (float)), err);
  CUDA_CHECK (cudaMalloc ((void **) &c->b, (size_t) c->oc * sizeof (float)), err);
  CUDA_CHECK (cudaMemcpyAsync (c->w, d->w->weight, nw * sizeof (float),
          cudaMemcpyHostToDevice, cu->stream), err);
  CUDA_CHECK (cudaMemcpyAsync (c->b, d->w->bias, (size_t) c->oc * sizeof (float),
          cudaMemcpyHostToDevice, cu->stream), err);
  CUDA_CHECK (cudaStreamSynchronize (cu->stream), err);

  CUDNN_CHECK (cudnnCreateFilterDescriptor (&c->wd), err);
  CUDNN_CHECK (cudnnSetFilter4dDescriptor (c->wd, CUDNN_DATA_FLOAT,
          CUDNN_TENSOR_NCHW, c->oc, c->ic, c->kh, c->kw), err);
  CUDNN_CHECK (cudnnCreateConvolutionDescriptor (&c->cd), err);
  CUDNN_CHECK (cudnnSetConvolution2dDescriptor (c->cd, c->pad, c->pad,
          c->stride, c->stride, 1, 1, CUDNN_CROSS_CORRELATION,
          CUDNN_DATA_FLOAT), err);
  CUDNN_CHECK (cudnnSetConvolutionMathType (c->cd,
          cu->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH), err);
  CUDNN_CHECK (cudnnCreateActivationDescriptor (&c->act_relu), err);
  CUDNN_CHECK (cudnnSetActivationDescriptor (c->act_relu, CUDNN_ACTIVATION_RELU,
          CUDNN_PROPAGATE_NAN, 0.0), err);
  CUDNN_CHECK (cudnnCreateActivationDescriptor (&c->act_id), err);
  CUDNN_CHECK (cudnnSetActivationDescriptor (c->act_id,
          CUDNN_ACTIVATION_IDENTITY, CUDNN_PROPAGATE_NAN, 0.0), err);
  CUDNN_CHECK (cudnnCreateTensorDescriptor (&c->xd), err);
  CUDNN_CHECK (cudnnCreateTensorDescriptor (&c->yd), err);
  CUDNN_CHECK (cudnnCreateTensorDescriptor (&c->bd), err);
  CUDNN_CHECK (cudnnSetTensor4dDescriptor (c->bd, CUDNN_TENSOR_NCHW,
          CUDNN_DATA_FLOAT, 1, c->oc, 1, 1), err);
  return MRCNN_OK;
}

void
mrcnn_cuda_conv_free (mrcnn_backend *be, mrcnn_conv *c)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (!c)
    return;
  cudaSetDevice (cu->device);
  if (c->w)
    cudaFree (c->w);
  if (c->b)
    cudaFree (c->b);
  if (c->wd)
    cudnnDestroyFilterDescriptor (c->wd);
  if (c->cd)
    cudnnDestroyConvolutionDescriptor (c->cd);
  if (c->act_relu)
    cudnnDestroyActivationDescriptor (c->act_relu);
  if (c->act_id)
    cudnnDestroyActivationDescriptor (c->act_id);
  if (c->xd)
    cudnnDestroyTensorDescriptor (c->xd);
  if (c->yd)
    cudnnDestroyTensorDescriptor (c->yd);
  if (c->bd)
    cudnnDestroyTensorDescriptor (c->bd);
  g_free (c->plans);
  g_free (c);
}

static int
math_allowed (const mrcnn_backend_cuda *cu, cudnnMathType_t m)
{
  return cu->tf32 || m == CUDNN_FMA_MATH || m == CUDNN_DEFAULT_MATH;
}

/* Chooses the algorithm of this layer for the sizes in c->xd / c->yd. */
static mrcnn_status
conv_find (mrcnn_backend_cuda *cu, mrcnn_conv *c, const mrcnn_fmap *in,
    size_t y_bytes, conv_plan *plan, mrcnn_error *err)
{
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int n = 0;
  size_t y_room = (y_bytes + 255) / 256 * 256;
  size_t ws_left = 0;
  if (y_room < cu->workspace_size) {
    /* trial outputs go to the front of the workspace */
    ws_left = cu->workspace_size - y_room;
    CUDNN_CHECK (cudnnFindConvolutionForwardAlgorithmEx (cu->cudnn, c->xd,
            in->data, c->wd, c->w, c->cd, c->yd, cu->workspace,
            CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf,
            (char *) cu->workspace + y_room, ws_left), err);
  } else {
    /* an output larger than the workspace: heuristics, nothing runs */
    ws_left = cu->workspace_size;
    CUDNN_CHECK (cudnnGetConvolutionForwardAlgorithm_v7 (cu->cudnn, c->xd,
            c->wd, c->cd, c->yd, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf),
        err);
  }
  for (int i = 0; i < n; i++) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS
        || !math_allowed (cu, perf[i].mathType))
      continue;
    /* the trial ran with less workspace than the real call gets, so the
     * size of the real call is asked again */
    size_t need = 0;
    CUDNN_CHECK (cudnnSetConvolutionMathType (c->cd,
            cu->tf32 ? perf[i].mathType : CUDNN_FMA_MATH), err);
    if (cudnnGetConvolutionForwardWorkspaceSize (cu->cudnn, c->xd, c->wd,
            c->cd, c->yd, perf[i].algo, &need) != CUDNN_STATUS_SUCCESS
        || need > cu->workspace_size)
      continue;
    plan->algo = perf[i].algo;
    plan->math = cu->tf32 ? perf[i].mathType : CUDNN_FMA_MATH;
    plan->ws = need;
    plan->fused = 1;
    return MRCNN_OK;
  }
  return mrcnn_fail (err, MRCNN_ERR_BACKEND,
      "cuDNN offers no algorithm for a %dx%d convolution %d->%d on a "
      "%dx%dx%dx%d input within a %zu MiB workspace (set "
      "MRCNN_CUDA_WORKSPACE_MB higher)", c->kh, c->kw, c->ic, c->oc, in->n,
      in->c, in->h, in->w, cu->workspace_size >> 20);
}

static mrcnn_status
conv_plan_for (mrcnn_backend_cuda *cu, mrcnn_conv *c, const mrcnn_fmap *in,
    int acc, size_t y_bytes, conv_plan **out, mrcnn_error *err)
{
  int nb = pow2_at_least (in->n);
  for (int i = 0; i < c->nplans; i++) {
    conv_plan *p = &c->plans[i];
    if (p->nb == nb && p->h == in->h && p->w == in->w && p->acc == acc) {
      /* the same algorithm for a smaller batch of the bucket: its workspace
       * can only be smaller or equal, but ask */
      size_t need = 0;
      CUDNN_CHECK (cudnnSetConvolutionMathType (c->cd, p->math), err);
      CUDNN_CHECK (cudnnGetConvolutionForwardWorkspaceSize (cu->cudnn, c->xd,
              c->wd, c->cd, c->yd, p->algo, &need), err);
      if (need <= cu->workspace_size) {
        p->ws = need;
        *out = p;
        return MRCNN_OK;
      }
      /* it no longer fits: find again below */
      p->nb = -1;
    }
  }
  if (c->nplans == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 4;
    c->plans = g_renew (conv_plan, c->plans, c->cap);
  }
  conv_plan *p = &c->plans[c->nplans];
  memset (p, 0, sizeof *p);
  MRCNN_TRY (conv_find (cu, c, in, y_bytes, p, err));
  p->nb = nb;
  p->h = in->h;
  p->w = in->w;
  p->acc = acc;
  c->nplans++;
  *out = p;
  return MRCNN_OK;
}

static mrcnn_status
conv_unfused (mrcnn_backend_cuda *cu, mrcnn_conv *c, const conv_plan *p,
    const mrcnn_fmap *in, int acc, float *y, mrcnn_error *err)
{
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CHECK (cudnnConvolutionForward (cu->cudnn, &one, c->xd, in->data,
          c->wd, c->w, c->cd, p->algo, cu->workspace, p->ws,
          acc ? &one : &zero, c->yd, y), err);
  CUDNN_CHECK (cudnnAddTensor (cu->cudnn, &one, c->bd, c->b, &one, c->yd, y),
      err);
  if (c->relu)
    CUDNN_CHECK (cudnnActivationForward (cu->cudnn, c->act_relu, &one, c->yd,
            y, &zero, c->yd, y), err);
  return MRCNN_OK;
}

mrcnn_status
mrcnn_cuda_conv_run (mrcnn_backend *be, mrcnn_queue *q, mrcnn_conv *c,
    const mrcnn_fmap *in, int accumulate, mrcnn_fmap *out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (in->c != c->ic)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "convolution expects %d input channels, got %d", c->ic, in->c);
  if (in->layout != MRCNN_LAYOUT_NCHW && in->layout != MRCNN_LAYOUT_NATIVE)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "convolution: unknown layout");
  CUDA_ENTER (cu, err);
  out->n = in->n;
  out->c = c->oc;
  out->h = (in->h + 2 * c->pad - c->kh) / c->stride + 1;
  out->w = (in->w + 2 * c->pad - c->kw) / c->stride + 1;
  if (in->n == 0)
    return MRCNN_OK;
  CUDNN_CHECK (cudnnSetTensor4dDescriptor (c->xd, CUDNN_TENSOR_NCHW,
          CUDNN_DATA_FLOAT, in->n, in->c, in->h, in->w), err);
  CUDNN_CHECK (cudnnSetTensor4dDescriptor (c->yd, CUDNN_TENSOR_NCHW,
          CUDNN_DATA_FLOAT, out->n, out->c, out->h, out->w), err);
  conv_plan *p = NULL;
  MRCNN_TRY (conv_plan_for (cu, c, in, accumulate,
          mrcnn_fmap_numel (out) * sizeof (float), &p, err));
  CUDNN_CHECK (cudnnSetConvolutionMathType (c->cd, p->math), err);

  const int fusable = c->relu
      || p->algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  if (p->fused && fusable) {
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t s = cudnnConvolutionBiasActivationForward (cu->cudnn, &one,
        c->xd, in->data, c->wd, c->w, c->cd, p->algo, cu->workspace, p->ws,
        accumulate ? &one : &zero, c->yd, out->data, c->bd, c->b,
        c->relu ? c->act_relu : c->act_id, c->yd, out->data);
    if (s == CUDNN_STATUS_SUCCESS)
      return MRCNN_OK;
    if (s != CUDNN_STATUS_NOT_SUPPORTED)
      return mrcnn_cuda_fail_lib (err, MRCNN_CUDNN_ALLOC_FAILED (s),
          __FILE__, __LINE__, "cuDNN call "
          "cudnnConvolutionBiasActivationForward failed: %s (%d)",
          cudnnGetErrorString (s), (int) s);
    p->fused = 0;   /* not for this algorithm: unfused from now on */
  }
  return conv_unfused (cu, c, p, in, accumulate, out->data, err);
}
