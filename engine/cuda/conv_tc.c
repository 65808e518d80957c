/* The tensor-core path's convolutions through cuDNN 9's graph API, from C
 * (the backend API's cudnnBackend* descriptors; cudnn_frontend is C++).
 *
 * One convolution = its weights on the device (KRSC, channels padded to 8,
 * in the precision's weight type) and its float32 bias, and per size it
 * runs at, the descriptor of tc_desc.c and the execution plan of that
 * descriptor's key, shared with every layer of the same shape (tc->
 * conv_plans). A plan is one operation graph:
 *
 *   conv (x, w) -> t0;  t0 + b -> t1;  [t1 + z -> t2;]  [relu ->] y
 *
 * with t0.. virtual float32 tensors and z the output's own buffer (the
 * residual), so that a bottleneck block's last convolution, its bias, the
 * identity and the ReLU are one kernel. Where cuDNN has no engine for that
 * graph, the plan is the convolution alone into a float32 accumulator in
 * scratch, and kernels/nhwc.cu's epilogue adds the rest in the same order.
 *
 * Plans are made when a size is first seen: the engine's plan-only passes
 * at context creation (caps.plans_ahead) show every planned size. Engines
 * are taken in cuDNN's heuristic order (mode A), the first whose
 * numerical notes the precision allows (no TENSOR_CORE at fp32, so no TF32;
 * never down-converted inputs or reduced-precision reductions), whose
 * workspace fits, and which finalizes.
 *
 * Never run on a GPU yet (docs/cuda.md). */
#include <stdbool.h>
#include <string.h>

#include "precision.h"
#include "tc.h"

enum { UID_X = 1, UID_W, UID_B, UID_Z, UID_Y, UID_T0, UID_T1, UID_T2 };

/* The descriptors a plan was made from, all kept for the plan's life. */
#define TC_MAX_DESCS 48

typedef struct {
  cudnnBackendDescriptor_t d[TC_MAX_DESCS];
  int n;
} desc_list;

typedef struct {
  desc_list keep;
  cudnnBackendDescriptor_t plan;
  int64_t workspace;
  int unfused;                 /* the convolution alone, into acc */
  size_t acc_bytes;
} tc_conv_plan;

/* One size a convolution runs at, and the variant pack of the addresses
 * it last ran with. */
typedef struct {
  mrcnn_tc_conv_desc d;
  tc_conv_plan *plan;
  cudnnBackendDescriptor_t pack;
  void *ptrs[5];
  void *workspace;
} conv_size;

struct mrcnn_conv {
  mrcnn_tc_conv_layer l;
  void *w;                     /* KRSC, padded, math.weights */
  float *b;                    /* padded to the output channels */
  conv_size *sizes;
  int nsizes, cap;
};

#define CUDNN_FAIL(s, err, what) \
  mrcnn_cuda_fail_lib ((err), MRCNN_CUDNN_ALLOC_FAILED (s), __FILE__, \
      __LINE__, "cuDNN call %s failed: %s (%d)", (what), \
      cudnnGetErrorString (s), (int) (s))

static void
list_free (desc_list *L)
{
  for (int i = L->n - 1; i >= 0; i--)
    if (L->d[i])
      cudnnBackendDestroyDescriptor (L->d[i]);
  L->n = 0;
}

static mrcnn_status
desc_new (desc_list *L, cudnnBackendDescriptorType_t type,
    cudnnBackendDescriptor_t *out, mrcnn_error *err)
{
  *out = NULL;
  if (L->n == TC_MAX_DESCS)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "conv plan: more than %d "
        "cuDNN descriptors", TC_MAX_DESCS);
  CUDNN_CHECK (cudnnBackendCreateDescriptor (type, out), err);
  L->d[L->n++] = *out;
  return MRCNN_OK;
}

#define SET(desc, attr, type, count, value) \
  CUDNN_CHECK (cudnnBackendSetAttribute ((desc), (attr), (type), (count), \
          (value)), err)

/* The graph's handle. cuDNN 9.x deprecates the _HANDLE attributes in favour
 * of device-property descriptors, which serve building graphs for a device
 * that is not present; here the device is present and the handle is what
 * runs them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static const cudnnBackendAttributeName_t ATTR_GRAPH_HANDLE =
    CUDNN_ATTR_OPERATIONGRAPH_HANDLE;
static const cudnnBackendAttributeName_t ATTR_PLAN_HANDLE =
    CUDNN_ATTR_EXECUTION_PLAN_HANDLE;
#pragma GCC diagnostic pop

static cudnnDataType_t
data_type (mrcnn_tc_type t)
{
  return t == MRCNN_TC_F16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
}

static mrcnn_status
tensor (desc_list *L, const mrcnn_tc_tensor *t, int64_t uid, bool is_virtual,
    cudnnBackendDescriptor_t *out, mrcnn_error *err)
{
  cudnnBackendDescriptor_t d;
  MRCNN_TRY (desc_new (L, CUDNN_BACKEND_TENSOR_DESCRIPTOR, &d, err));
  cudnnDataType_t dt = data_type (t->type);
  int64_t align = t->align;
  SET (d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
  SET (d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, t->dim);
  SET (d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, t->stride);
  SET (d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  SET (d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
  SET (d, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual);
  CUDNN_CHECK (cudnnBackendFinalize (d), err);
  *out = d;
  return MRCNN_OK;
}

/* A pointwise operation y = mode (x [, b]) in float32. */
static mrcnn_status
pointwise (desc_list *L, cudnnPointwiseMode_t mode,
    cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
    cudnnBackendDescriptor_t y, cudnnBackendDescriptor_t *op,
    mrcnn_error *err)
{
  cudnnBackendDescriptor_t pw;
  cudnnDataType_t prec = CUDNN_DATA_FLOAT;
  MRCNN_TRY (desc_new (L, CUDNN_BACKEND_POINTWISE_DESCRIPTOR, &pw, err));
  SET (pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
  SET (pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec);
  CUDNN_CHECK (cudnnBackendFinalize (pw), err);
  MRCNN_TRY (desc_new (L, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, op,
          err));
  SET (*op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR,
      CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &pw);
  SET (*op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC,
      CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
  if (b)
    SET (*op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC,
        CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b);
  SET (*op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC,
      CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
  CUDNN_CHECK (cudnnBackendFinalize (*op), err);
  return MRCNN_OK;
}

/* The operation graph of d: fused (conv, bias, residual, ReLU) or, with
 * unfused, the convolution alone into d->acc as a real tensor (UID_T0). */
static mrcnn_status
build_graph (mrcnn_backend_cuda *cu, const mrcnn_tc_conv_desc *d,
    int unfused, desc_list *L, cudnnBackendDescriptor_t *graph,
    mrcnn_error *err)
{
  cudnnBackendDescriptor_t x, w, b = NULL, z = NULL, y, t0, t1 = NULL,
      t2 = NULL, conv, ops[4];
  int nops = 0;
  MRCNN_TRY (tensor (L, &d->x, UID_X, false, &x, err));
  MRCNN_TRY (tensor (L, &d->w, UID_W, false, &w, err));
  MRCNN_TRY (tensor (L, &d->acc, UID_T0, !unfused, &t0, err));

  MRCNN_TRY (desc_new (L, CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, &conv, err));
  cudnnDataType_t comp = CUDNN_DATA_FLOAT;
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  int64_t dims = 2;
  SET (conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp);
  SET (conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1,
      &mode);
  SET (conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims);
  SET (conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2,
      d->dilation);
  SET (conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2,
      d->stride);
  SET (conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2,
      d->pre_pad);
  SET (conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2,
      d->post_pad);
  CUDNN_CHECK (cudnnBackendFinalize (conv), err);

  cudnnBackendDescriptor_t op;
  const float alpha = 1.0f, beta = 0.0f;
  MRCNN_TRY (desc_new (L,
          CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, &op, err));
  SET (op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
      CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
  SET (op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
      CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w);
  SET (op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y,
      CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &t0);
  SET (op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
      CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv);
  SET (op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT,
      1, &alpha);
  SET (op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT,
      1, &beta);
  CUDNN_CHECK (cudnnBackendFinalize (op), err);
  ops[nops++] = op;

  if (!unfused) {
    /* the last operation writes y; the ones before it virtual tensors */
    const int last_add = d->residual ? 2 : 1;   /* 1: bias, 2: residual */
    MRCNN_TRY (tensor (L, &d->b, UID_B, false, &b, err));
    MRCNN_TRY (tensor (L, &d->y, UID_Y, false, &y, err));
    if (d->residual)
      MRCNN_TRY (tensor (L, &d->z, UID_Z, false, &z, err));
    MRCNN_TRY (tensor (L, &d->acc, UID_T1, true, &t1, err));
    MRCNN_TRY (tensor (L, &d->acc, UID_T2, true, &t2, err));
    cudnnBackendDescriptor_t after_bias = last_add == 1 && !d->relu ? y : t1;
    MRCNN_TRY (pointwise (L, CUDNN_POINTWISE_ADD, t0, b, after_bias,
            &ops[nops], err));
    nops++;
    cudnnBackendDescriptor_t last = after_bias;
    if (d->residual) {
      last = d->relu ? t2 : y;
      MRCNN_TRY (pointwise (L, CUDNN_POINTWISE_ADD, t1, z, last, &ops[nops],
              err));
      nops++;
    }
    if (d->relu) {
      MRCNN_TRY (pointwise (L, CUDNN_POINTWISE_RELU_FWD, last, NULL, y,
              &ops[nops], err));
      nops++;
    }
  }

  MRCNN_TRY (desc_new (L, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, graph,
          err));
  SET (*graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
      nops, ops);
  SET (*graph, ATTR_GRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &cu->cudnn);
  CUDNN_CHECK (cudnnBackendFinalize (*graph), err);
  return MRCNN_OK;
}

/* Whether an engine's numerical notes suit the precision. */
static int
notes_allowed (cudnnBackendDescriptor_t engine, int tensor_cores)
{
  cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  int64_t n = 0;
  if (cudnnBackendGetAttribute (engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE,
          CUDNN_TYPE_NUMERICAL_NOTE, CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &n,
          notes) != CUDNN_STATUS_SUCCESS)
    return 0;
  for (int64_t i = 0; i < n; i++)
    if ((notes[i] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE && !tensor_cores)
        || notes[i] == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS
        || notes[i] == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION)
      return 0;
  return 1;
}

/* The first engine configuration of the heuristics that suits d and
 * finalizes into an execution plan: *plan, or NULL when there is none. */
static mrcnn_status
pick_plan (mrcnn_backend_cuda *cu, const mrcnn_tc_conv_desc *d,
    cudnnBackendDescriptor_t graph, desc_list *L,
    cudnnBackendDescriptor_t *plan, int64_t *workspace, mrcnn_error *err)
{
  cudnnBackendDescriptor_t heur;
  cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
  *plan = NULL;
  MRCNN_TRY (desc_new (L, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &heur, err));
  SET (heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH,
      CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph);
  SET (heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
  CUDNN_CHECK (cudnnBackendFinalize (heur), err);
  int64_t count = 0;
  CUDNN_CHECK (cudnnBackendGetAttribute (heur, CUDNN_ATTR_ENGINEHEUR_RESULTS,
          CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, NULL), err);
  count = MIN (count, 16);
  if (count <= 0)
    return MRCNN_OK;
  /* the results are written into descriptors made beforehand; these are
   * destroyed here, the chosen one is kept by the plan's list */
  desc_list cfgs = { 0 };
  mrcnn_status st = MRCNN_OK;
  for (int64_t i = 0; st == MRCNN_OK && i < count; i++) {
    cudnnBackendDescriptor_t c;
    st = desc_new (&cfgs, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &c, err);
  }
  int64_t got = 0;
  cudnnStatus_t s = st == MRCNN_OK ? cudnnBackendGetAttribute (heur,
      CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
      &got, cfgs.d) : CUDNN_STATUS_SUCCESS;
  if (st == MRCNN_OK && s != CUDNN_STATUS_SUCCESS)
    st = CUDNN_FAIL (s, err, "cudnnBackendGetAttribute (heuristics' results)");
  for (int64_t i = 0; st == MRCNN_OK && !*plan && i < got; i++) {
    cudnnBackendDescriptor_t cfg = cfgs.d[i], engine = NULL, p = NULL;
    int64_t one = 0, ws = 0;
    if (cudnnBackendCreateDescriptor (CUDNN_BACKEND_ENGINE_DESCRIPTOR,
            &engine) != CUDNN_STATUS_SUCCESS)
      continue;
    /* the configuration's workspace, where cuDNN tells it before a plan
     * is made (else the plan's, below) */
    int ok = cudnnBackendGetAttribute (cfg, CUDNN_ATTR_ENGINECFG_ENGINE,
        CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &one, &engine)
        == CUDNN_STATUS_SUCCESS && notes_allowed (engine, d->tensor_cores)
        && (cudnnBackendGetAttribute (cfg, CUDNN_ATTR_ENGINECFG_WORKSPACE_SIZE,
                CUDNN_TYPE_INT64, 1, &one, &ws) != CUDNN_STATUS_SUCCESS
            || (ws >= 0 && (size_t) ws <= d->workspace_limit));
    cudnnBackendDestroyDescriptor (engine);
    if (!ok)
      continue;
    ok = cudnnBackendCreateDescriptor (CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR,
        &p) == CUDNN_STATUS_SUCCESS
        && cudnnBackendSetAttribute (p, ATTR_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1,
            &cu->cudnn) == CUDNN_STATUS_SUCCESS
        && cudnnBackendSetAttribute (p, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
            CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg) == CUDNN_STATUS_SUCCESS
        && cudnnBackendFinalize (p) == CUDNN_STATUS_SUCCESS
        && cudnnBackendGetAttribute (p, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
            CUDNN_TYPE_INT64, 1, &one, &ws) == CUDNN_STATUS_SUCCESS
        && ws >= 0 && (size_t) ws <= d->workspace_limit;
    if (!ok) {
      if (p)
        cudnnBackendDestroyDescriptor (p);
      continue;
    }
    /* kept: the chosen configuration moves to the plan's list */
    if (L->n + 2 > TC_MAX_DESCS) {
      cudnnBackendDestroyDescriptor (p);
      st = mrcnn_fail (err, MRCNN_ERR_BACKEND, "conv plan: too many cuDNN "
          "descriptors");
      break;
    }
    L->d[L->n++] = cfg;
    cfgs.d[i] = NULL;
    L->d[L->n++] = p;
    *plan = p;
    *workspace = ws;
  }
  list_free (&cfgs);
  return st;
}

void
mrcnn_tc_conv_plan_free (gpointer data)
{
  tc_conv_plan *p = data;
  if (!p)
    return;
  list_free (&p->keep);
  g_free (p);
}

/* The plan of d's key: shared, or made now (fused, else unfused). */
static mrcnn_status
plan_for (mrcnn_backend_cuda *cu, const mrcnn_tc_conv_desc *d,
    tc_conv_plan **out, mrcnn_error *err)
{
  mrcnn_tc_state *tc = cu->tc;
  gint64 key = (gint64) d->key;
  tc_conv_plan *p = g_hash_table_lookup (tc->conv_plans, &key);
  if (p) {
    *out = p;
    return MRCNN_OK;
  }
  CUDA_ENTER (cu, err);
  p = g_new0 (tc_conv_plan, 1);
  mrcnn_status st = MRCNN_OK;
  for (int unfused = 0; !p->plan && unfused < 2; unfused++) {
    list_free (&p->keep);
    cudnnBackendDescriptor_t graph = NULL;
    st = build_graph (cu, d, unfused, &p->keep, &graph, err);
    if (st == MRCNN_OK)
      st = pick_plan (cu, d, graph, &p->keep, &p->plan, &p->workspace, err);
    p->unfused = unfused;
    /* a fused graph cuDNN refuses (at finalizing it or its heuristics) is
     * one it cannot run fused: the convolution alone then */
    if (st != MRCNN_OK && !unfused)
      st = MRCNN_OK;
    else if (st != MRCNN_OK)
      break;
  }
  if (st == MRCNN_OK && !p->plan)
    st = mrcnn_fail (err, MRCNN_ERR_BACKEND, "cuDNN offers no engine for a "
        "%lldx%lld convolution %lld->%lld (padded) on a %lldx%lldx%lld NHWC "
        "input at %s within a %zu MiB workspace (set MRCNN_CUDA_WORKSPACE_MB "
        "higher)", (long long) d->w.dim[2], (long long) d->w.dim[3],
        (long long) d->w.dim[1], (long long) d->w.dim[0],
        (long long) d->x.dim[0], (long long) d->x.dim[2],
        (long long) d->x.dim[3], mrcnn_precision_name (tc->precision),
        d->workspace_limit >> 20);
  if (st != MRCNN_OK) {
    mrcnn_tc_conv_plan_free (p);
    return st;
  }
  p->acc_bytes = p->unfused ? (size_t) (d->acc.dim[0] * d->acc.dim[1]
      * d->acc.dim[2] * d->acc.dim[3]) * sizeof (float) : 0;
  p->acc_bytes = (p->acc_bytes + MRCNN_TC_BASE_ALIGN - 1)
      / MRCNN_TC_BASE_ALIGN * MRCNN_TC_BASE_ALIGN;
  gint64 *k = g_new (gint64, 1);
  *k = key;
  g_hash_table_insert (tc->conv_plans, k, p);
  *out = p;
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- layers */

mrcnn_status
mrcnn_tc_conv_new (mrcnn_backend *be, const mrcnn_conv_desc *cd,
    mrcnn_conv **out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  const mrcnn_folded_conv *f = cd->w;
  mrcnn_conv *c = g_new0 (mrcnn_conv, 1);
  *out = c;   /* conv_free releases a partly built one */
  c->l = (mrcnn_tc_conv_layer) { f->in_ch, f->out_ch, f->kh, f->kw,
    cd->stride, cd->pad, cd->relu };
  const int cp = mrcnn_tc_channels (f->in_ch);
  const int kp = mrcnn_tc_channels (f->out_ch);
  const int R = f->kh, S = f->kw;
  const int f16 = cu->tc->math.weights == MRCNN_TC_F16;
  const size_t nw = (size_t) kp * R * S * cp;
  /* OIHW -> KRSC, zero in the padding */
  float *w = g_try_new0 (float, nw);
  uint16_t *h = f16 ? g_try_new0 (uint16_t, nw) : NULL;
  float *b = g_try_new0 (float, kp);
  if (!w || !b || (f16 && !h)) {
    g_free (w);
    g_free (h);
    g_free (b);
    return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY, "cannot allocate host "
        "memory for a convolution's weights");
  }
  for (int k = 0; k < f->out_ch; k++) {
    b[k] = f->bias[k];
    for (int ch = 0; ch < f->in_ch; ch++)
      for (int r = 0; r < R; r++)
        for (int s = 0; s < S; s++)
          w[(((size_t) k * R + r) * S + s) * cp + ch] =
              f->weight[(((size_t) k * f->in_ch + ch) * R + r) * S + s];
  }
  if (f16)
    for (size_t i = 0; i < nw; i++)
      h[i] = mrcnn_fp16_from_f32 (w[i]);
  const size_t wbytes = nw * (f16 ? 2 : 4);
  cudaError_t e = cudaSetDevice (cu->device);
  if (e == cudaSuccess)
    e = cudaMalloc (&c->w, wbytes);
  if (e == cudaSuccess)
    e = cudaMalloc ((void **) &c->b, (size_t) kp * sizeof (float));
  if (e == cudaSuccess)
    e = cudaMemcpy (c->w, f16 ? (void *) h : (void *) w, wbytes,
        cudaMemcpyHostToDevice);
  if (e == cudaSuccess)
    e = cudaMemcpy (c->b, b, (size_t) kp * sizeof (float),
        cudaMemcpyHostToDevice);
  g_free (w);
  g_free (h);
  g_free (b);
  if (e != cudaSuccess)
    return mrcnn_cuda_fail_rt (err, e, "cudaMalloc / cudaMemcpy (a "
        "convolution's weights)", __FILE__, __LINE__);
  return MRCNN_OK;
}

void
mrcnn_tc_conv_free (mrcnn_backend *be, mrcnn_conv *c)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (!c)
    return;
  cudaSetDevice (cu->device);
  for (int i = 0; i < c->nsizes; i++)
    if (c->sizes[i].pack)
      cudnnBackendDestroyDescriptor (c->sizes[i].pack);
  if (c->w)
    cudaFree (c->w);
  if (c->b)
    cudaFree (c->b);
  g_free (c->sizes);
  g_free (c);
}

static mrcnn_status
size_for (mrcnn_backend_cuda *cu, mrcnn_conv *c, const mrcnn_tc_conv_desc *d,
    conv_size **out, mrcnn_error *err)
{
  for (int i = 0; i < c->nsizes; i++)
    if (c->sizes[i].d.key == d->key) {
      *out = &c->sizes[i];
      return MRCNN_OK;
    }
  tc_conv_plan *p = NULL;
  MRCNN_TRY (plan_for (cu, d, &p, err));
  if (c->nsizes == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 4;
    c->sizes = g_renew (conv_size, c->sizes, c->cap);
  }
  conv_size *s = &c->sizes[c->nsizes++];
  memset (s, 0, sizeof *s);
  s->d = *d;
  s->plan = p;
  *out = s;
  return MRCNN_OK;
}

/* The variant pack for these addresses: the last one, or made again. */
static mrcnn_status
pack_for (conv_size *s, void *const ptrs[5], void *workspace,
    mrcnn_error *err)
{
  if (s->pack && memcmp (s->ptrs, ptrs, sizeof s->ptrs) == 0
      && s->workspace == workspace)
    return MRCNN_OK;
  if (s->pack)
    cudnnBackendDestroyDescriptor (s->pack);
  s->pack = NULL;
  /* fused: x, w, b, [z,] y; unfused: x, w and the accumulator (ptrs[4]),
   * the convolution's real output */
  int64_t uids[5];
  void *data[5];
  int n = 0;
  uids[n] = UID_X;
  data[n++] = ptrs[0];
  uids[n] = UID_W;
  data[n++] = ptrs[1];
  if (s->plan->unfused) {
    uids[n] = UID_T0;
    data[n++] = ptrs[4];
  } else {
    uids[n] = UID_B;
    data[n++] = ptrs[2];
    if (s->d.residual) {
      uids[n] = UID_Z;
      data[n++] = ptrs[3];
    }
    uids[n] = UID_Y;
    data[n++] = ptrs[4];
  }
  cudnnBackendDescriptor_t p = NULL;
  CUDNN_CHECK (cudnnBackendCreateDescriptor (
          CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &p), err);
  cudnnStatus_t st = cudnnBackendSetAttribute (p,
      CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n, uids);
  if (st == CUDNN_STATUS_SUCCESS)
    st = cudnnBackendSetAttribute (p, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS,
        CUDNN_TYPE_VOID_PTR, n, data);
  if (st == CUDNN_STATUS_SUCCESS)
    st = cudnnBackendSetAttribute (p, CUDNN_ATTR_VARIANT_PACK_WORKSPACE,
        CUDNN_TYPE_VOID_PTR, 1, &workspace);
  if (st == CUDNN_STATUS_SUCCESS)
    st = cudnnBackendFinalize (p);
  if (st != CUDNN_STATUS_SUCCESS) {
    cudnnBackendDestroyDescriptor (p);
    return CUDNN_FAIL (st, err, "variant pack");
  }
  s->pack = p;
  memcpy (s->ptrs, ptrs, sizeof s->ptrs);
  s->workspace = workspace;
  return MRCNN_OK;
}

mrcnn_status
mrcnn_tc_conv_run (mrcnn_backend *be, mrcnn_queue *q, mrcnn_conv *c,
    const mrcnn_fmap *in, int accumulate, mrcnn_fmap *out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_tc_state *tc = cu->tc;
  if (in->c != c->l.in_ch)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "convolution expects %d input channels, got %d", c->l.in_ch, in->c);
  out->n = in->n;
  out->c = c->l.out_ch;
  out->h = (in->h + 2 * c->l.pad - c->l.kh) / c->l.stride + 1;
  out->w = (in->w + 2 * c->l.pad - c->l.kw) / c->l.stride + 1;
  if (in->n == 0)
    return MRCNN_OK;
  const int in_nchw = in->layout == MRCNN_LAYOUT_NCHW;
  const mrcnn_tc_conv_io io = {
    .n = in->n, .h = in->h, .w = in->w, .residual = accumulate,
    .in_nchw = in_nchw,
    .in_type = in_nchw ? MRCNN_TC_F32 : mrcnn_tc_store (tc, in),
    .out_type = mrcnn_tc_store (tc, out),
    .in_align = mrcnn_tc_addr_align (in->data),
    .out_align = mrcnn_tc_addr_align (out->data),
  };
  if (out->layout != MRCNN_LAYOUT_NATIVE)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "convolution: the "
        "tensor-core path writes its native layout (nhwc) only");
  mrcnn_tc_conv_desc d;
  MRCNN_TRY (mrcnn_tc_conv_describe (&c->l, &io, &tc->math,
          tc->workspace_limit, &d, err));
  conv_size *s = NULL;
  MRCNN_TRY (size_for (cu, c, &d, &s, err));
  const tc_conv_plan *p = s->plan;
  MRCNN_TRY (mrcnn_tc_scratch_reserve (cu, q, d.cvt_bytes + p->acc_bytes
          + (size_t) p->workspace, err));
  if (q->tc->skip)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  char *scratch = tc->scratch;
  void *x = in->data;
  const int xf16 = d.x.type == MRCNN_TC_F16;
  if (d.convert_input) {
    if (in_nchw)
      CUDA_CHECK (mrcnn_cuda_nchw_to_nhwc (in->data, in->n, in->c, in->h,
              in->w, (int) d.x.dim[1], scratch, xf16, cu->stream), err);
    else
      CUDA_CHECK (mrcnn_cuda_to_f16 (in->data, (size_t) in->n * in->h
              * in->w * d.x.dim[1], (uint16_t *) scratch, cu->stream), err);
    x = scratch;
  }
  void *acc = scratch + d.cvt_bytes;
  void *ws = (char *) acc + p->acc_bytes;
  /* x, w, b, z, y; the unfused plan's output is acc */
  void *ptrs[5] = { x, c->w, c->b, out->data,
    p->unfused ? acc : (void *) out->data };
  MRCNN_TRY (pack_for (s, ptrs, ws, err));
  cudnnStatus_t st = cudnnBackendExecute (cu->cudnn, p->plan, s->pack);
  if (st != CUDNN_STATUS_SUCCESS)
    return CUDNN_FAIL (st, err, "cudnnBackendExecute (convolution)");
  if (p->unfused)
    CUDA_CHECK (mrcnn_cuda_nhwc_epilogue (acc, c->b, (size_t) d.y.dim[0]
            * d.y.dim[1] * d.y.dim[2] * d.y.dim[3], (int) d.y.dim[1],
            out->data, d.y.type == MRCNN_TC_F16, d.residual, d.relu,
            cu->stream), err);
  return MRCNN_OK;
}
