/* The tensor-core path's descriptors (tc_desc.h): plain C on the host, so
 * that every build compiles and tests it. */
#include <string.h>

#include "tc_desc.h"

mrcnn_status
mrcnn_tc_math_for (mrcnn_precision p, mrcnn_tc_math *out, mrcnn_error *err)
{
  switch (p) {
    case MRCNN_PRECISION_FP32:
      *out = (mrcnn_tc_math) { MRCNN_TC_F32, MRCNN_TC_F32, 0, 0 };
      return MRCNN_OK;
    case MRCNN_PRECISION_TF32:
      *out = (mrcnn_tc_math) { MRCNN_TC_F32, MRCNN_TC_F32, 1, 1 };
      return MRCNN_OK;
    case MRCNN_PRECISION_FP16:
      *out = (mrcnn_tc_math) { MRCNN_TC_F16, MRCNN_TC_F16, 1, 0 };
      return MRCNN_OK;
    default:
      return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
          "precision %s has no tensor-core path on CUDA (fp32, tf32 and "
          "fp16 do; bf16 runs on the CPU backend)", mrcnn_precision_name (p));
  }
}

int64_t
mrcnn_tc_align (int64_t base_align, int64_t step_bytes)
{
  int64_t a = MRCNN_TC_BASE_ALIGN;
  while (a > 1 && (base_align % a != 0 || step_bytes % a != 0))
    a /= 2;
  return a;
}

int64_t
mrcnn_tc_addr_align (const void *p)
{
  uintptr_t u = (uintptr_t) p;
  int64_t a = MRCNN_TC_BASE_ALIGN;
  while (a > 1 && u % (uintptr_t) a != 0)
    a /= 2;
  return a;
}

/* Where every column of a matrix starts: one column only where it starts. */
static int64_t
matrix_align (int64_t base_align, int64_t ld_bytes, int64_t cols)
{
  return mrcnn_tc_align (base_align, cols > 1 ? ld_bytes : base_align);
}

static size_t
round_base (size_t bytes)
{
  return (bytes + MRCNN_TC_BASE_ALIGN - 1) / MRCNN_TC_BASE_ALIGN
      * MRCNN_TC_BASE_ALIGN;
}

/* An NHWC map of n x c x h x w (c already padded), fully packed. */
static void
nhwc (mrcnn_tc_tensor *t, int64_t n, int64_t c, int64_t h, int64_t w,
    mrcnn_tc_type type, int64_t align)
{
  *t = (mrcnn_tc_tensor) { { n, c, h, w }, { h * w * c, 1, w * c, c }, type,
    align };
}

static int64_t
elems (const mrcnn_tc_tensor *t)
{
  return t->dim[0] * t->dim[1] * t->dim[2] * t->dim[3];
}

/* FNV-1a over 64-bit words: the key of a plan. */
static uint64_t
hash_words (uint64_t h, const int64_t *v, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    uint64_t x = (uint64_t) v[i];
    for (int b = 0; b < 8; b++) {
      h ^= (x >> (8 * b)) & 0xffu;
      h *= 0x100000001b3ull;
    }
  }
  return h;
}

static uint64_t
hash_tensor (uint64_t h, const mrcnn_tc_tensor *t)
{
  h = hash_words (h, t->dim, 4);
  h = hash_words (h, t->stride, 4);
  int64_t more[2] = { t->type, t->align };
  return hash_words (h, more, 2);
}

/* The output size of one axis, or 0 when the kernel does not fit. */
static int
out_size (int in, int k, int s, int p)
{
  if (in + 2 * p < k)
    return 0;
  return (in + 2 * p - k) / s + 1;
}

mrcnn_status
mrcnn_tc_conv_describe (const mrcnn_tc_conv_layer *l,
    const mrcnn_tc_conv_io *io, const mrcnn_tc_math *m,
    size_t workspace_limit, mrcnn_tc_conv_desc *d, mrcnn_error *err)
{
  memset (d, 0, sizeof *d);
  if (l->in_ch < 1 || l->out_ch < 1 || l->kh < 1 || l->kw < 1
      || l->stride < 1 || l->pad < 0)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "convolution %dx%d %d->%d, "
        "stride %d, padding %d: not a convolution", l->kh, l->kw, l->in_ch,
        l->out_ch, l->stride, l->pad);
  if (io->n < 1 || io->h < 1 || io->w < 1)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "convolution on an empty "
        "%dx%dx%d input", io->n, io->h, io->w);
  const int oh = out_size (io->h, l->kh, l->stride, l->pad);
  const int ow = out_size (io->w, l->kw, l->stride, l->pad);
  if (oh < 1 || ow < 1)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "a %dx%d convolution with "
        "padding %d does not fit a %dx%d input", l->kh, l->kw, l->pad,
        io->h, io->w);
  if (io->in_align < 1 || io->out_align < 1)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "convolution: alignment "
        "of the input (%lld) or output (%lld) is not given",
        (long long) io->in_align, (long long) io->out_align);
  const int64_t cp = mrcnn_tc_channels (l->in_ch);
  const int64_t kp = mrcnn_tc_channels (l->out_ch);
  const mrcnn_tc_type xt = m->weights;
  /* the kernels read the weights' type in NHWC: anything else (a float32
   * map at fp16, the plain NCHW image) is converted into scratch, which
   * starts at a buffer's alignment */
  d->convert_input = io->in_nchw || io->in_type != xt;
  const int64_t x_align = d->convert_input ? MRCNN_TC_BASE_ALIGN
      : io->in_align;
  /* cuDNN asks where a tensor starts; more than 16 bytes buys nothing */
  nhwc (&d->x, io->n, cp, io->h, io->w, xt, MIN (x_align, MRCNN_TC_MAP_ALIGN));
  /* KRSC: the filter of output k is R x S pixels of C channels */
  d->w = (mrcnn_tc_tensor) { { kp, cp, l->kh, l->kw },
    { l->kh * l->kw * cp, 1, l->kw * cp, cp }, xt, MRCNN_TC_MAP_ALIGN };
  d->b = (mrcnn_tc_tensor) { { 1, kp, 1, 1 }, { kp, 1, kp, kp },
    MRCNN_TC_F32, MRCNN_TC_MAP_ALIGN };
  nhwc (&d->y, io->n, kp, oh, ow, io->out_type,
      MIN (io->out_align, MRCNN_TC_MAP_ALIGN));
  d->z = d->y;
  nhwc (&d->acc, io->n, kp, oh, ow, MRCNN_TC_F32, MRCNN_TC_MAP_ALIGN);
  for (int i = 0; i < 2; i++) {
    d->pre_pad[i] = d->post_pad[i] = l->pad;
    d->stride[i] = l->stride;
    d->dilation[i] = 1;
  }
  d->out_h = oh;
  d->out_w = ow;
  d->relu = l->relu != 0;
  d->residual = io->residual != 0;
  d->tensor_cores = m->tensor_cores;
  d->workspace_limit = workspace_limit;
  const mrcnn_tc_tensor *all[] = { &d->x, &d->w, &d->y };
  for (size_t i = 0; i < G_N_ELEMENTS (all); i++)
    if (elems (all[i]) >= MRCNN_TC_MAX_ELEMS)
      return mrcnn_fail (err, MRCNN_ERR_BACKEND, "a %dx%d convolution "
          "%d->%d on a %dx%dx%dx%d input has a tensor of %lld elements, "
          "beyond the 2^31 cuDNN's kernels index: run smaller batches",
          l->kh, l->kw, l->in_ch, l->out_ch, io->n, l->in_ch, io->h, io->w,
          (long long) elems (all[i]));
  if (d->x.align < (int64_t) mrcnn_tc_type_size (xt)
      || d->y.align < (int64_t) mrcnn_tc_type_size (io->out_type))
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "convolution: a map starts "
        "at an address aligned to %lld bytes, less than its element",
        (long long) MIN (d->x.align, d->y.align));
  d->in_bytes = io->in_nchw
      ? (size_t) io->n * l->in_ch * io->h * io->w * sizeof (float)
      : (size_t) io->n * io->h * io->w * cp * mrcnn_tc_type_size (io->in_type);
  d->out_bytes = (size_t) elems (&d->y) * mrcnn_tc_type_size (io->out_type);
  d->cvt_bytes = d->convert_input
      ? round_base ((size_t) elems (&d->x) * mrcnn_tc_type_size (xt)) : 0;

  /* the plan depends on what cuDNN sees, not on how the input was stored
   * before its conversion */
  uint64_t h = 0xcbf29ce484222325ull;
  h = hash_tensor (h, &d->x);
  h = hash_tensor (h, &d->w);
  h = hash_tensor (h, &d->y);
  int64_t rest[] = { d->pre_pad[0], d->pre_pad[1], d->stride[0],
    d->stride[1], d->relu, d->residual, d->tensor_cores,
    (int64_t) d->workspace_limit };
  d->key = hash_words (h, rest, G_N_ELEMENTS (rest));
  return MRCNN_OK;
}

mrcnn_status
mrcnn_tc_linear_describe (const mrcnn_tc_linear_layer *l,
    const mrcnn_tc_linear_io *io, const mrcnn_tc_math *m,
    size_t workspace_limit, mrcnn_tc_linear_desc *d, mrcnn_error *err)
{
  memset (d, 0, sizeof *d);
  if (l->out_features < 1 || l->in_features < 1 || io->n < 1)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "fully connected layer "
        "%d->%d on %d rows: nothing to compute", l->in_features,
        l->out_features, io->n);
  if (io->x_align < 1 || io->y_align < 1)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "fully connected layer: "
        "alignment of x (%lld) or y (%lld) is not given",
        (long long) io->x_align, (long long) io->y_align);
  const int64_t K = l->in_features, N = l->out_features, n = io->n;
  if (K * N >= MRCNN_TC_MAX_ELEMS || K * n >= MRCNN_TC_MAX_ELEMS
      || N * n >= MRCNN_TC_MAX_ELEMS)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "fully connected layer "
        "%d->%d on %d rows: a matrix beyond 2^31 elements", l->in_features,
        l->out_features, io->n);
  const mrcnn_tc_type wt = m->weights;
  const int64_t ws = (int64_t) mrcnn_tc_type_size (wt);
  /* W (N x K, row major) is the column-major K x N matrix A, transposed */
  d->a = (mrcnn_tc_matrix) { K, N, K, wt,
    matrix_align (MRCNN_TC_BASE_ALIGN, K * ws, N) };
  d->convert_input = wt != MRCNN_TC_F32;
  d->b = (mrcnn_tc_matrix) { K, n, K, wt,
    matrix_align (d->convert_input ? MRCNN_TC_BASE_ALIGN : io->x_align,
        K * ws, n) };
  d->d = (mrcnn_tc_matrix) { N, n, N, MRCNN_TC_F32,
    matrix_align (io->y_align, N * (int64_t) sizeof (float), n) };
  if (d->b.align < ws || d->d.align < (int64_t) sizeof (float))
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "fully connected layer: x "
        "or y starts at an address aligned to %lld bytes, less than its "
        "element", (long long) MIN (d->b.align, d->d.align));
  d->relu = l->relu != 0;
  d->compute_tf32 = m->tf32;
  d->cvt_bytes = d->convert_input ? round_base ((size_t) (K * n * ws)) : 0;
  d->workspace_limit = workspace_limit;
  int64_t words[] = { K, N, n, wt, d->a.align, d->b.align, d->d.align,
    d->relu, d->compute_tf32, (int64_t) workspace_limit };
  d->key = hash_words (0xcbf29ce484222325ull, words, G_N_ELEMENTS (words));
  return MRCNN_OK;
}
