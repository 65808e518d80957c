/* CPU backend: memory, convolutions through oneDNN, fully connected layers
 * through an optimized BLAS. The per-element ops are in ops_cpu.c. */
#include <stdio.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include "backend_cpu.h"

#define DNNL_CHECK(call, err) \
  do { \
    dnnl_status_t _s = (call); \
    if (_s != dnnl_success) \
      return mrcnn_fail ((err), MRCNN_ERR_BACKEND, \
          "oneDNN call %s failed with status %d (%s:%d)", #call, (int) _s, \
          __FILE__, __LINE__); \
  } while (0)

struct mrcnn_conv {
  int oc, ic, kh, kw, stride, pad, relu;
  float *w_oihw;
  float *bias;
  /* primitive for the last (n, h, w, accumulate, layouts) */
  int n, h, w, acc, in_layout, out_layout;
  dnnl_primitive_t prim;
  dnnl_memory_t src_m, wei_m, bias_m, dst_m;
  float *w_reordered;
  dnnl_memory_desc_t wei_md;
  int have_wei_md;
};

struct mrcnn_linear {
  float *w;  /* out x in */
  float *b;
  int out, in, relu;
};

static mrcnn_status
cpu_alloc (mrcnn_backend *be, size_t n, float **out, mrcnn_error *err)
{
  *out = g_try_malloc0_n (n ? n : 1, sizeof (float));
  if (!*out)
    return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY,
        "cannot allocate %zu MiB of host memory",
        n * sizeof (float) >> 20);
  return MRCNN_OK;
}

static void
cpu_release (mrcnn_backend *be, float *p)
{
  g_free (p);
}

static const float *
cpu_download (mrcnn_backend *be, const float *p, size_t n, float *scratch,
    mrcnn_error *err)
{
  return p;
}

static mrcnn_status
cpu_upload (mrcnn_backend *be, float *dst, const float *src, size_t n,
    mrcnn_error *err)
{
  if (dst != src)
    memcpy (dst, src, n * sizeof (float));
  return MRCNN_OK;
}

static mrcnn_status
cpu_sync (mrcnn_backend *be, mrcnn_error *err)
{
  return MRCNN_OK;   /* every op has finished when it returns */
}

static mrcnn_status
cpu_frame_reserve (mrcnn_backend *be, int max_width, int max_height,
    mrcnn_error *err)
{
  return MRCNN_OK;   /* preprocess reads the frame where it is */
}

/* ---------------------------------------------------------------- conv */

static void
conv_drop_primitive (mrcnn_conv *c)
{
  if (c->prim)
    dnnl_primitive_destroy (c->prim);
  if (c->src_m)
    dnnl_memory_destroy (c->src_m);
  if (c->wei_m)
    dnnl_memory_destroy (c->wei_m);
  if (c->bias_m)
    dnnl_memory_destroy (c->bias_m);
  if (c->dst_m)
    dnnl_memory_destroy (c->dst_m);
  c->prim = NULL;
  c->src_m = c->wei_m = c->bias_m = c->dst_m = NULL;
  c->n = c->h = c->w = -1;
}

static mrcnn_status
cpu_conv_new (mrcnn_backend *be, const mrcnn_conv_desc *d, mrcnn_conv **out,
    mrcnn_error *err)
{
  mrcnn_conv *c = g_new0 (mrcnn_conv, 1);
  c->oc = d->w->out_ch;
  c->ic = d->w->in_ch;
  c->kh = d->w->kh;
  c->kw = d->w->kw;
  c->stride = d->stride;
  c->pad = d->pad;
  c->relu = d->relu;
  size_t nw = (size_t) c->oc * c->ic * c->kh * c->kw;
  c->w_oihw = g_memdup2 (d->w->weight, nw * sizeof (float));
  c->bias = g_memdup2 (d->w->bias, (size_t) c->oc * sizeof (float));
  c->n = c->h = c->w = -1;
  *out = c;
  return MRCNN_OK;
}

static void
cpu_conv_free (mrcnn_backend *be, mrcnn_conv *c)
{
  if (!c)
    return;
  conv_drop_primitive (c);
  g_free (c->w_reordered);
  g_free (c->w_oihw);
  g_free (c->bias);
  g_free (c);
}

/* Reorders the OIHW weights into the layout the primitive asked for, once
 * per layout (the layout rarely changes with the input size). */
mrcnn_status
mrcnn_cpu_reorder (mrcnn_backend_cpu *cpu, const dnnl_memory_desc_t *from_md,
    void *from, const dnnl_memory_desc_t *to_md, void *to, mrcnn_error *err)
{
  dnnl_memory_t fm, tm;
  dnnl_primitive_desc_t rpd;
  dnnl_primitive_t reorder;
  DNNL_CHECK (dnnl_memory_create (&fm, from_md, cpu->engine, from), err);
  DNNL_CHECK (dnnl_memory_create (&tm, to_md, cpu->engine, to), err);
  DNNL_CHECK (dnnl_reorder_primitive_desc_create (&rpd, from_md, cpu->engine,
          to_md, cpu->engine, NULL), err);
  DNNL_CHECK (dnnl_primitive_create (&reorder, rpd), err);
  dnnl_exec_arg_t args[] = { { DNNL_ARG_FROM, fm }, { DNNL_ARG_TO, tm } };
  DNNL_CHECK (dnnl_primitive_execute (reorder, cpu->stream, 2, args), err);
  DNNL_CHECK (dnnl_stream_wait (cpu->stream), err);
  dnnl_primitive_destroy (reorder);
  dnnl_primitive_desc_destroy (rpd);
  dnnl_memory_destroy (fm);
  dnnl_memory_destroy (tm);
  return MRCNN_OK;
}

static mrcnn_status
conv_set_weights (mrcnn_backend_cpu *cpu, mrcnn_conv *c,
    const dnnl_memory_desc_t *want, mrcnn_error *err)
{
  if (c->have_wei_md && dnnl_memory_desc_equal (&c->wei_md, want))
    return MRCNN_OK;
  dnnl_memory_desc_t plain;
  dnnl_dims_t wd = { c->oc, c->ic, c->kh, c->kw };
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&plain, 4, wd, dnnl_f32, dnnl_oihw), err);
  size_t bytes = dnnl_memory_desc_get_size (want);
  g_free (c->w_reordered);
  c->w_reordered = g_try_malloc (bytes);
  if (!c->w_reordered)
    return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY, "cannot allocate conv weights");
  MRCNN_TRY (mrcnn_cpu_reorder (cpu, &plain, c->w_oihw, want, c->w_reordered, err));
  c->wei_md = *want;
  c->have_wei_md = 1;
  return MRCNN_OK;
}

static int
out_size (const mrcnn_conv *c, int in, int k)
{
  return (in + 2 * c->pad - k) / c->stride + 1;
}

static dnnl_format_tag_t
layout_tag (mrcnn_layout l)
{
  return l == MRCNN_LAYOUT_NATIVE ? dnnl_nChw8c : dnnl_nchw;
}

static mrcnn_status
conv_prepare (mrcnn_backend_cpu *cpu, mrcnn_conv *c, int n, int h, int w,
    int acc, int in_layout, int out_layout, mrcnn_error *err)
{
  if (c->prim && c->n == n && c->h == h && c->w == w && c->acc == acc
      && c->in_layout == in_layout && c->out_layout == out_layout)
    return MRCNN_OK;
  conv_drop_primitive (c);
  int oh = out_size (c, h, c->kh), ow = out_size (c, w, c->kw);
  dnnl_dims_t sd = { n, c->ic, h, w }, dd = { n, c->oc, oh, ow };
  dnnl_dims_t wd = { c->oc, c->ic, c->kh, c->kw }, bd = { c->oc };
  dnnl_dims_t strides = { c->stride, c->stride }, pads = { c->pad, c->pad };
  dnnl_memory_desc_t src_md, dst_md, wei_any, bias_md;
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&src_md, 4, sd, dnnl_f32,
          layout_tag (in_layout)), err);
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&dst_md, 4, dd, dnnl_f32,
          layout_tag (out_layout)), err);
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&wei_any, 4, wd, dnnl_f32,
          dnnl_format_tag_any), err);
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&bias_md, 1, bd, dnnl_f32, dnnl_x), err);

  dnnl_convolution_desc_t cd;
#define INIT_DESC(wmd) \
  dnnl_convolution_forward_desc_init (&cd, dnnl_forward_inference, \
      dnnl_convolution_direct, &src_md, (wmd), &bias_md, &dst_md, strides, \
      pads, pads)
  DNNL_CHECK (INIT_DESC (c->have_wei_md ? &c->wei_md : &wei_any), err);

  dnnl_primitive_attr_t attr;
  dnnl_post_ops_t po;
  DNNL_CHECK (dnnl_primitive_attr_create (&attr), err);
  DNNL_CHECK (dnnl_post_ops_create (&po), err);
  if (acc)
    DNNL_CHECK (dnnl_post_ops_append_sum (po, 1.0f), err);
  if (c->relu)
    DNNL_CHECK (dnnl_post_ops_append_eltwise (po, 1.0f, dnnl_eltwise_relu, 0.f, 0.f), err);
  DNNL_CHECK (dnnl_primitive_attr_set_post_ops (attr, po), err);

  dnnl_primitive_desc_t pd;
  dnnl_status_t s = dnnl_primitive_desc_create (&pd, &cd, attr, cpu->engine, NULL);
  if (s != dnnl_success && c->have_wei_md) {
    /* the fixed weight layout does not suit this size: let oneDNN choose */
    DNNL_CHECK (INIT_DESC (&wei_any), err);
    s = dnnl_primitive_desc_create (&pd, &cd, attr, cpu->engine, NULL);
  }
  dnnl_post_ops_destroy (po);
  dnnl_primitive_attr_destroy (attr);
  if (s != dnnl_success)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "oneDNN cannot create a %dx%d convolution %d->%d for a %dx%dx%d input "
        "(status %d)", c->kh, c->kw, c->ic, c->oc, n, h, w, (int) s);

  const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md (pd,
      dnnl_query_weights_md, 0);
  mrcnn_status st = conv_set_weights (cpu, c, want, err);
  if (st == MRCNN_OK && dnnl_primitive_create (&c->prim, pd) != dnnl_success)
    st = mrcnn_fail (err, MRCNN_ERR_BACKEND, "oneDNN primitive creation failed");
  dnnl_primitive_desc_destroy (pd);
  MRCNN_TRY (st);

  DNNL_CHECK (dnnl_memory_create (&c->src_m, &src_md, cpu->engine, DNNL_MEMORY_NONE), err);
  DNNL_CHECK (dnnl_memory_create (&c->dst_m, &dst_md, cpu->engine, DNNL_MEMORY_NONE), err);
  DNNL_CHECK (dnnl_memory_create (&c->wei_m, &c->wei_md, cpu->engine, c->w_reordered), err);
  DNNL_CHECK (dnnl_memory_create (&c->bias_m, &bias_md, cpu->engine, c->bias), err);
  c->n = n;
  c->h = h;
  c->w = w;
  c->acc = acc;
  c->in_layout = in_layout;
  c->out_layout = out_layout;
  return MRCNN_OK;
#undef INIT_DESC
}

static mrcnn_status
cpu_conv_run (mrcnn_backend *be, mrcnn_conv *c, const mrcnn_fmap *in,
    int accumulate, mrcnn_fmap *out, mrcnn_error *err)
{
  mrcnn_backend_cpu *cpu = (mrcnn_backend_cpu *) be;
  if (in->c != c->ic)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "convolution expects %d input channels, got %d", c->ic, in->c);
  MRCNN_TRY (conv_prepare (cpu, c, in->n, in->h, in->w, accumulate,
          in->layout, out->layout, err));
  out->n = in->n;
  out->c = c->oc;
  out->h = out_size (c, in->h, c->kh);
  out->w = out_size (c, in->w, c->kw);
  DNNL_CHECK (dnnl_memory_set_data_handle (c->src_m, in->data), err);
  DNNL_CHECK (dnnl_memory_set_data_handle (c->dst_m, out->data), err);
  dnnl_exec_arg_t args[] = {
    { DNNL_ARG_SRC, c->src_m }, { DNNL_ARG_WEIGHTS, c->wei_m },
    { DNNL_ARG_BIAS, c->bias_m }, { DNNL_ARG_DST, c->dst_m },
  };
  DNNL_CHECK (dnnl_primitive_execute (c->prim, cpu->stream, 4, args), err);
  DNNL_CHECK (dnnl_stream_wait (cpu->stream), err);
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- linear */

static mrcnn_status
cpu_linear_new (mrcnn_backend *be, const float *weight, const float *bias,
    int out_features, int in_features, int relu, mrcnn_linear **out,
    mrcnn_error *err)
{
  mrcnn_linear *l = g_new0 (mrcnn_linear, 1);
  l->w = g_memdup2 (weight, (size_t) out_features * in_features * sizeof (float));
  l->b = g_memdup2 (bias, (size_t) out_features * sizeof (float));
  l->out = out_features;
  l->in = in_features;
  l->relu = relu;
  *out = l;
  return MRCNN_OK;
}

static void
cpu_linear_free (mrcnn_backend *be, mrcnn_linear *l)
{
  if (!l)
    return;
  g_free (l->w);
  g_free (l->b);
  g_free (l);
}

/* y = x W^T + b (then ReLU) for n rows. OpenBLAS runs single-threaded
 * (mrcnn_backend_cpu_new): its own thread pool would compete with the
 * OpenMP threads of every other op for the same cores (on 2 cores that made
 * the shapes model 15% slower). The rows are split over the OpenMP threads
 * instead, in blocks of at least 16; each row's sums are the same whatever
 * the split. */
static mrcnn_status
cpu_linear_run (mrcnn_backend *be, mrcnn_linear *l, const float *x, int n,
    float *y, mrcnn_error *err)
{
  if (n <= 0)
    return MRCNN_OK;
  const int threads = omp_get_max_threads ();
  const int blocks = MAX (1, MIN (threads, n / 16));
#pragma omp parallel for schedule(static) num_threads(blocks) if(blocks > 1)
  for (int b = 0; b < blocks; b++) {
    const int r0 = (int) ((long) n * b / blocks);
    const int r1 = (int) ((long) n * (b + 1) / blocks);
    const int rows = r1 - r0;
    float *yb = y + (size_t) r0 * l->out;
    for (int i = 0; i < rows; i++)
      memcpy (yb + (size_t) i * l->out, l->b, (size_t) l->out * sizeof (float));
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, rows, l->out, l->in,
        1.0f, x + (size_t) r0 * l->in, l->in, l->w, l->in, 1.0f, yb, l->out);
    if (l->relu) {
      size_t total = (size_t) rows * l->out;
      for (size_t i = 0; i < total; i++)
        yb[i] = yb[i] > 0.0f ? yb[i] : 0.0f;
    }
  }
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- life */

static void
cpu_destroy (mrcnn_backend *be)
{
  mrcnn_backend_cpu *cpu = (mrcnn_backend_cpu *) be;
  if (!cpu)
    return;
  if (cpu->stream)
    dnnl_stream_destroy (cpu->stream);
  if (cpu->engine)
    dnnl_engine_destroy (cpu->engine);
  g_free (cpu);
}

static const mrcnn_backend_ops cpu_ops = {
  .name = "cpu",
  .destroy = cpu_destroy,
  .alloc = cpu_alloc,
  .release = cpu_release,
  .download = cpu_download,
  .upload = cpu_upload,
  .sync = cpu_sync,
  .frame_reserve = cpu_frame_reserve,
  .conv_new = cpu_conv_new,
  .conv_free = cpu_conv_free,
  .conv_run = cpu_conv_run,
  .linear_new = cpu_linear_new,
  .linear_free = cpu_linear_free,
  .linear_run = cpu_linear_run,
  .preprocess = mrcnn_cpu_preprocess,
  .max_pool = mrcnn_cpu_max_pool,
  .upsample_add = mrcnn_cpu_upsample_add,
  .roi_align = mrcnn_cpu_roi_align,
  .to_nchw = mrcnn_cpu_to_nchw,
  .mask_probs = mrcnn_cpu_mask_probs,
  .postproc_new = mrcnn_cpu_postproc_new,
  .postproc_free = mrcnn_cpu_postproc_free,
  .rpn_proposals = mrcnn_cpu_rpn_proposals,
  .detect = mrcnn_cpu_detect,
};

mrcnn_status
mrcnn_backend_cpu_new (int num_threads, mrcnn_backend **out, mrcnn_error *err)
{
  mrcnn_backend_cpu *cpu = g_new0 (mrcnn_backend_cpu, 1);
  cpu->base.ops = &cpu_ops;
  if (dnnl_engine_create (&cpu->engine, dnnl_cpu, 0) != dnnl_success
      || dnnl_stream_create (&cpu->stream, cpu->engine,
          dnnl_stream_default_flags) != dnnl_success) {
    cpu_destroy (&cpu->base);
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "cannot create the oneDNN CPU engine");
  }
  cpu->threads = MAX (num_threads, 0);
  if (num_threads > 0)
    mrcnn_cpu_set_threads (num_threads);
  /* the linear layers split their rows over OpenMP's threads themselves */
  openblas_set_num_threads (1);
  *out = &cpu->base;
  return MRCNN_OK;
}
