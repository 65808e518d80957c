/* CPU backend: memory, convolutions and fully connected layers through
 * oneDNN, in the layout its fastest kernels for this CPU want. The
 * per-element ops are in ops_cpu.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include "backend_cpu.h"
#include "precision.h"

#define DNNL_CHECK(call, err) \
  do { \
    dnnl_status_t _s = (call); \
    if (_s != dnnl_success) \
      return mrcnn_fail ((err), MRCNN_ERR_BACKEND, \
          "oneDNN call %s failed with status %d (%s:%d)", #call, (int) _s, \
          __FILE__, __LINE__); \
  } while (0)

/* A layer's weights in each layout its primitives asked for (usually one),
 * reordered from the plain float32 copy once per layout. */
#define WEIGHT_FORMATS 4

typedef struct {
  float *plain;                  /* float32, already rounded to a reduced
                                  * precision */
  int ndims;
  dnnl_dims_t dims;
  dnnl_format_tag_t plain_tag;   /* oihw for convs, ba for W^T of linears */
  int8_t *levels;                /* int8: the plain weights' s8 levels
                                  * (plain / the row's scale), packed from
                                  * instead of plain; NULL: none */
  void *packed[WEIGHT_FORMATS];
  dnnl_memory_desc_t md[WEIGHT_FORMATS];
  int n;
} packed_weights;

/* A layer keeps the plans (primitives) of the last few input shapes it
 * met: a convolution 32 (the RPN's shared conv runs on five levels, the mask
 * head on batches of 8, 16, ... up to max_detections), a fully connected
 * layer 8 (one per row count), so that a frame creates none once the sizes
 * have been seen. A primitive runs with the OpenMP threads that were
 * current when it was made (oneDNN fixes its work split then), so the
 * threads are part of the shape: a pass with one thread never runs a
 * primitive made for two, which would put two threads on its one core.
 * Plans are shared by the passes that run at once: looked up and replaced
 * under the backend's plans_lock, never replaced while a pass runs them
 * (busy); a run binds its own data to them. Both kinds of layer keep their
 * plans in a plan_cache (plan_take, plan_release). */
#define CONV_PLANS 32
#define LINEAR_PLANS 8
#define PLAN_KEY 9         /* ints of the longest shape (a convolution's) */

/* What every plan starts with: the shape it was made for and its place in
 * its layer's cache. */
typedef struct {
  int key[PLAN_KEY];       /* the shape, the threads last; zeros after */
  int made;                /* holds primitives made for key */
  unsigned long used;      /* when last taken, for replacement */
  int busy;                /* passes running it now */
} plan_head;

/* How one kind of layer makes a plan for a shape (the kind's own
 * description of it) and drops one (leaving it zeroed: not made). */
typedef struct {
  size_t size;             /* of the kind's plan, which starts with a
                            * plan_head */
  mrcnn_status (*make) (mrcnn_backend_cpu *cpu, mrcnn_queue *q, void *layer,
      const void *shape, plan_head *p, mrcnn_error *err);
  void (*drop) (plan_head *p);
} plan_kind;

/* A layer's plans: count plans of kind->size bytes. */
typedef struct {
  const plan_kind *kind;
  void *plans;
  int count;
  unsigned long clock;
} plan_cache;

typedef struct {
  plan_head head;
  dnnl_primitive_t prim;
  dnnl_memory_desc_t src_md, dst_md, pad_md;
  dnnl_memory_t wei_m, bias_m;
  /* an input the convolution cannot read as it is (float32 at bf16, or a
   * plain image where the native layout is nhwc) is reordered into the
   * queue's scratch first */
  dnnl_primitive_t cvt;
  dnnl_memory_desc_t given_md, cvt_pad_md;
  size_t src_bytes, dst_elems;
  const mrcnn_q8_layer *q8;  /* the layer's, when it computes in int8 */
  const mrcnn_q8_layer *out_q8;  /* the reference's: the U8 output's
                                  * levels, to round it to */
} conv_plan;

struct mrcnn_conv {
  int oc, ic, kh, kw, stride, pad, relu;
  packed_weights w;  /* OIHW */
  float *bias;       /* float32 at every precision */
  mrcnn_q8_layer q;  /* at int8 */
  /* at int8, when it writes a map stored U8: that map's levels (oq) and
   * the output scales to them (q.oscale / oq.scale per channel); when it
   * accumulates into one: that map's scale */
  mrcnn_q8_layer oq;
  float *oscale_u8;
  float acc_scale;
  plan_cache plans;
};

/* A fully connected layer: a oneDNN matmul (float32, or bf16 at bf16) per
 * row count and thread count it met. */
typedef struct {
  plan_head head;
  dnnl_primitive_t prim;
  dnnl_memory_desc_t src_md, dst_md, pad_md;
  dnnl_memory_t wei_m, bias_m;
} linear_plan;

struct mrcnn_linear {
  packed_weights w;  /* W^T: in x out, stored as W (out x in, row major) */
  float *b;
  mrcnn_q8_layer q;  /* at int8 */
  int out, in, relu;
  plan_cache plans;
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
cpu_download (mrcnn_backend *be, mrcnn_queue *q, const float *p, size_t n,
    float *scratch, mrcnn_error *err)
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
cpu_sync (mrcnn_backend *be, mrcnn_queue *q, mrcnn_error *err)
{
  return MRCNN_OK;   /* every op has finished when it returns */
}

static mrcnn_status
cpu_frame_reserve (mrcnn_backend *be, int max_width, int max_height,
    mrcnn_error *err)
{
  return MRCNN_OK;   /* preprocess reads the frame where it is */
}

/* ---------------------------------------------------------------- precision */

/* Rounds n floats in place to the precision's 16-bit type (nothing at
 * fp32); at fp16, finite values that overflow to infinity are counted. */
static void
round_to_precision (mrcnn_backend_cpu *cpu, float *p, size_t n)
{
  long over = 0;
  if (cpu->precision == MRCNN_PRECISION_BF16) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
      p[i] = mrcnn_bf16_round (p[i]);
  } else if (cpu->precision == MRCNN_PRECISION_FP16) {
#pragma omp parallel for schedule(static) reduction(+:over)
    for (size_t i = 0; i < n; i++) {
      float r = mrcnn_fp16_round (p[i]);
      over += isinf (r) && !isinf (p[i]);
      p[i] = r;
    }
  }
  if (over)
    __atomic_fetch_add (&cpu->overflows, over, __ATOMIC_RELAXED);
}

/* The emulated reference rounds activations where the real path stores the
 * reduced type (oneDNN itself does on the real bf16 path). */
static void
cpu_round (mrcnn_backend_cpu *cpu, float *p, size_t n)
{
  if (cpu->emulate)
    round_to_precision (cpu, p, n);
}

/* Rounds a layer's weights (rows x cols, a row per output channel) once,
 * at load, for both the real and the emulated path: oneDNN's conversion of
 * rounded values to bf16 is then exact, and at int8 the levels packed are
 * those values over their scale, so both compute with the same weights. At int8 a layer
 * that the calibration quantizes gets its scales in q (the real path packs
 * its weights to s8 with them); the others stay float32. */
static void
round_weights (mrcnn_backend_cpu *cpu, packed_weights *pw, mrcnn_q8_layer *q,
    const mrcnn_quant *quant, int rows, size_t cols, const float *bias)
{
  if (cpu->precision != MRCNN_PRECISION_INT8) {
    round_to_precision (cpu, pw->plain, (size_t) rows * cols);
    return;
  }
  mrcnn_cpu_q8_init (q, quant, pw->plain, rows, cols, bias);
  if (q->on && !cpu->emulate) {
    pw->levels = g_new (int8_t, (size_t) rows * cols);
    for (int r = 0; r < rows; r++)
      for (size_t k = 0; k < cols; k++)
        pw->levels[(size_t) r * cols + k] = (int8_t) mrcnn_q8_level (
            pw->plain[(size_t) r * cols + k], q->inv_wscale[r],
            -MRCNN_S8_MAX, MRCNN_S8_MAX);
  }
}

/* A queue's buffer *buf of *size bytes, grown when a larger input comes
 * (so only in the first frames, or for a larger frame). */
static mrcnn_status
reserve (void **buf, size_t *size, size_t bytes, const char *what,
    mrcnn_error *err)
{
  if (bytes <= *size)
    return MRCNN_OK;
  g_free (*buf);
  *buf = g_try_malloc (bytes);
  *size = *buf ? bytes : 0;
  if (!*buf)
    return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY,
        "cannot allocate %zu MiB of host memory for %s", bytes >> 20, what);
  return MRCNN_OK;
}

static mrcnn_status
scratch_reserve (mrcnn_queue *q, size_t bytes, mrcnn_error *err)
{
  return reserve (&q->scratch, &q->scratch_size, bytes,
      "reduced-precision inputs", err);
}

/* ---------------------------------------------------------------- queues */

static mrcnn_status
cpu_queue_new (mrcnn_backend *be, mrcnn_queue **out, mrcnn_error *err)
{
  mrcnn_backend_cpu *cpu = (mrcnn_backend_cpu *) be;
  mrcnn_queue *q = g_new0 (mrcnn_queue, 1);
  if (dnnl_stream_create (&q->stream, cpu->engine,
          dnnl_stream_default_flags) != dnnl_success) {
    g_free (q);
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "cannot create a oneDNN CPU stream");
  }
  *out = q;
  return MRCNN_OK;
}

static void
cpu_queue_free (mrcnn_backend *be, mrcnn_queue *q)
{
  if (!q)
    return;
  if (q->stream)
    dnnl_stream_destroy (q->stream);
  g_free (q->scratch);
  g_free (q->pad);
  g_free (q);
}

/* OpenMP's default thread count (OMP_NUM_THREADS, or the cores), as the
 * process started: the calling thread's own setting changes with the
 * passes it has run. */
static int
default_threads (void)
{
  static gsize once = 0;
  static int n;
  if (g_once_init_enter (&once)) {
    n = omp_get_max_threads ();
    g_once_init_leave (&once, 1);
  }
  return n;
}

/* OpenMP's thread count is a setting of the calling thread, and passes run
 * in other threads than the one that made the engine (a GStreamer
 * streaming thread, an engine's pass threads). */
static void
cpu_queue_begin (mrcnn_backend *be, mrcnn_queue *q, int workers)
{
  if (workers > 0 && omp_get_max_threads () != workers)
    omp_set_num_threads (workers);
}

/* A memory object binding data to a plan's description for one run. */
static mrcnn_status
bind (mrcnn_backend_cpu *cpu, const dnnl_memory_desc_t *md, void *data,
    dnnl_memory_t *out, mrcnn_error *err)
{
  DNNL_CHECK (dnnl_memory_create (out, md, cpu->engine, data), err);
  return MRCNN_OK;
}

/* Executes prim on q's stream with args and, when pad_md describes one, a
 * scratchpad from q; waits for it. */
static mrcnn_status
execute (mrcnn_backend_cpu *cpu, mrcnn_queue *q, dnnl_primitive_t prim,
    int nargs, dnnl_exec_arg_t *args, const dnnl_memory_desc_t *pad_md,
    mrcnn_error *err)
{
  size_t pad_bytes = dnnl_memory_desc_get_size (pad_md);
  dnnl_memory_t pad_m = NULL;
  if (pad_bytes > 0) {
    MRCNN_TRY (reserve (&q->pad, &q->pad_size, pad_bytes,
            "a primitive's scratchpad", err));
    MRCNN_TRY (bind (cpu, pad_md, q->pad, &pad_m, err));
    args[nargs++] = (dnnl_exec_arg_t) { DNNL_ARG_SCRATCHPAD, pad_m };
  }
  dnnl_status_t s = dnnl_primitive_execute (prim, q->stream, nargs, args);
  if (s == dnnl_success)
    s = dnnl_stream_wait (q->stream);
  if (pad_m)
    dnnl_memory_destroy (pad_m);
  if (s != dnnl_success)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "oneDNN primitive execution failed with status %d", (int) s);
  return MRCNN_OK;
}

/* Primitive attributes: user scratchpad, and the post-ops if any. */
static mrcnn_status
make_attr (dnnl_post_ops_t po, dnnl_primitive_attr_t *attr, mrcnn_error *err)
{
  DNNL_CHECK (dnnl_primitive_attr_create (attr), err);
  dnnl_status_t s = dnnl_primitive_attr_set_scratchpad_mode (*attr,
      dnnl_scratchpad_mode_user);
  if (s == dnnl_success && po)
    s = dnnl_primitive_attr_set_post_ops (*attr, po);
  if (s != dnnl_success) {
    dnnl_primitive_attr_destroy (*attr);
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "oneDNN primitive attributes failed with status %d", (int) s);
  }
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- plans */

static plan_head *
plan_at (const plan_cache *c, int i)
{
  return (plan_head *) ((char *) c->plans + (size_t) i * c->kind->size);
}

static void
plan_cache_init (plan_cache *c, const plan_kind *kind, int count)
{
  c->kind = kind;
  c->count = count;
  c->plans = g_malloc0 (kind->size * count);
  c->clock = 0;
}

static void
plan_cache_clear (plan_cache *c)
{
  for (int i = 0; c->plans && i < c->count; i++)
    c->kind->drop (plan_at (c, i));
  g_free (c->plans);
  c->plans = NULL;
}

/* The plan for key (shape: what the kind's make reads), made when the key
 * is new (replacing the one used longest ago that no pass is running),
 * marked busy until plan_release. When every plan is busy, the new plan
 * serves this run only, and plan_release frees it. */
static mrcnn_status
plan_take (mrcnn_backend_cpu *cpu, mrcnn_queue *q, plan_cache *c, void *layer,
    const int key[PLAN_KEY], const void *shape, plan_head **out,
    mrcnn_error *err)
{
  const plan_kind *kind = c->kind;
  g_mutex_lock (&cpu->plans_lock);
  plan_head *victim = NULL;
  c->clock++;
  for (int i = 0; i < c->count; i++) {
    plan_head *p = plan_at (c, i);
    if (p->made && memcmp (p->key, key, sizeof p->key) == 0) {
      p->used = c->clock;
      p->busy++;
      *out = p;
      g_mutex_unlock (&cpu->plans_lock);
      return MRCNN_OK;
    }
    if (!p->busy && (!victim || p->used < victim->used))
      victim = p;
  }
  if (!victim)
    victim = g_malloc0 (kind->size);   /* every plan is in use */
  kind->drop (victim);
  mrcnn_status st = kind->make (cpu, q, layer, shape, victim, err);
  if (st != MRCNN_OK) {
    kind->drop (victim);
  } else {
    memcpy (victim->key, key, sizeof victim->key);
    victim->made = 1;
    victim->used = c->clock;
    victim->busy++;
    *out = victim;
  }
  g_mutex_unlock (&cpu->plans_lock);
  return st;
}

static void
plan_release (mrcnn_backend_cpu *cpu, plan_cache *c, plan_head *p)
{
  g_mutex_lock (&cpu->plans_lock);
  p->busy--;
  if ((char *) p < (char *) c->plans
      || (char *) p >= (char *) c->plans + c->kind->size * c->count) {
    c->kind->drop (p);
    g_free (p);
  }
  g_mutex_unlock (&cpu->plans_lock);
}

/* ---------------------------------------------------------------- weights */

/* One oneDNN reorder between two descriptions of the same tensor (layout
 * and data type may differ), each value multiplied by *scale first when
 * scale is non-NULL (how oneDNN 2.x quantizes: then rounded to nearest even
 * and saturated). */
mrcnn_status
mrcnn_cpu_reorder (mrcnn_backend_cpu *cpu, dnnl_stream_t stream,
    const dnnl_memory_desc_t *from_md, void *from,
    const dnnl_memory_desc_t *to_md, void *to, const float *scale,
    mrcnn_error *err)
{
  dnnl_memory_t fm = NULL, tm = NULL;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_primitive_desc_t rpd = NULL;
  dnnl_primitive_t reorder = NULL;
  dnnl_status_t s = dnnl_memory_create (&fm, from_md, cpu->engine, from);
  if (s == dnnl_success)
    s = dnnl_memory_create (&tm, to_md, cpu->engine, to);
  if (s == dnnl_success && scale) {
    s = dnnl_primitive_attr_create (&attr);
    if (s == dnnl_success)
      s = dnnl_primitive_attr_set_output_scales (attr, 1, 0, scale);
  }
  if (s == dnnl_success)
    s = dnnl_reorder_primitive_desc_create (&rpd, from_md, cpu->engine,
        to_md, cpu->engine, attr);
  if (s == dnnl_success)
    s = dnnl_primitive_create (&reorder, rpd);
  if (s == dnnl_success) {
    dnnl_exec_arg_t args[] = { { DNNL_ARG_FROM, fm }, { DNNL_ARG_TO, tm } };
    s = dnnl_primitive_execute (reorder, stream, 2, args);
  }
  if (s == dnnl_success)
    s = dnnl_stream_wait (stream);
  if (reorder)
    dnnl_primitive_destroy (reorder);
  if (rpd)
    dnnl_primitive_desc_destroy (rpd);
  if (attr)
    dnnl_primitive_attr_destroy (attr);
  if (tm)
    dnnl_memory_destroy (tm);
  if (fm)
    dnnl_memory_destroy (fm);
  if (s != dnnl_success)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "oneDNN cannot reorder a "
        "tensor (status %d)", (int) s);
  return MRCNN_OK;
}

/* Output scales (mask, count of them) on attr: how oneDNN 2.x quantizes in
 * reorders and dequantizes int8 results. */
static mrcnn_status
set_scales (dnnl_primitive_attr_t attr, int count, int mask,
    const float *scales, mrcnn_error *err)
{
  DNNL_CHECK (dnnl_primitive_attr_set_output_scales (attr, count, mask,
          scales), err);
  return MRCNN_OK;
}

/* Reorders the plain float32 weights (dims, tag plain_tag) into the layout
 * and type a primitive asked for, into a new buffer *packed. */
static mrcnn_status
pack_weights (mrcnn_backend_cpu *cpu, dnnl_stream_t stream,
    const packed_weights *pw,
    const dnnl_memory_desc_t *want, void **packed, mrcnn_error *err)
{
  dnnl_memory_desc_t plain;
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&plain, pw->ndims, pw->dims,
          pw->levels ? dnnl_s8 : dnnl_f32, pw->plain_tag), err);
  size_t bytes = dnnl_memory_desc_get_size (want);
  *packed = g_try_malloc (bytes);
  if (!*packed)
    return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY, "cannot allocate %zu MiB of "
        "weights", bytes >> 20);
  mrcnn_status st = mrcnn_cpu_reorder (cpu, stream, &plain, pw->levels
      ? (void *) pw->levels : (void *) pw->plain, want, *packed, NULL, err);
  if (st != MRCNN_OK) {
    g_free (*packed);
    *packed = NULL;
  }
  return st;
}

static void
weights_init (packed_weights *pw, const float *w, size_t count, int ndims,
    const dnnl_dims_t dims, dnnl_format_tag_t plain_tag)
{
  memset (pw, 0, sizeof *pw);
  pw->plain = g_memdup2 (w, count * sizeof (float));
  pw->ndims = ndims;
  memcpy (pw->dims, dims, sizeof (dnnl_dim_t) * ndims);
  pw->plain_tag = plain_tag;
}

static void
weights_clear (packed_weights *pw)
{
  for (int i = 0; i < pw->n; i++)
    g_free (pw->packed[i]);
  g_free (pw->plain);
  g_free (pw->levels);
  memset (pw, 0, sizeof *pw);
}

/* The weights in the layout `want`, packed (on stream) the first time it is
 * asked for; called under plans_lock. */
static mrcnn_status
weights_get (mrcnn_backend_cpu *cpu, dnnl_stream_t stream, packed_weights *pw,
    const dnnl_memory_desc_t *want, int *index, mrcnn_error *err)
{
  for (int i = 0; i < pw->n; i++)
    if (dnnl_memory_desc_equal (&pw->md[i], want)) {
      *index = i;
      return MRCNN_OK;
    }
  if (pw->n == WEIGHT_FORMATS)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "a layer's weights were asked "
        "for in more than %d layouts", WEIGHT_FORMATS);
  MRCNN_TRY (pack_weights (cpu, stream, pw, want, &pw->packed[pw->n], err));
  pw->md[pw->n] = *want;
  *index = pw->n++;
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- conv */

static void
conv_plan_drop (plan_head *head)
{
  conv_plan *p = (conv_plan *) head;
  dnnl_primitive_t prims[] = { p->prim, p->cvt };
  dnnl_memory_t m[] = { p->wei_m, p->bias_m };
  for (size_t i = 0; i < G_N_ELEMENTS (prims); i++)
    if (prims[i])
      dnnl_primitive_destroy (prims[i]);
  for (size_t i = 0; i < G_N_ELEMENTS (m); i++)
    if (m[i])
      dnnl_memory_destroy (m[i]);
  memset (p, 0, sizeof *p);
}

static mrcnn_status conv_plan_make (mrcnn_backend_cpu *cpu, mrcnn_queue *q,
    void *layer, const void *shape, plan_head *head, mrcnn_error *err);

static const plan_kind conv_plan_kind = {
  sizeof (conv_plan), conv_plan_make, conv_plan_drop
};

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
  dnnl_dims_t wd = { c->oc, c->ic, c->kh, c->kw };
  weights_init (&c->w, d->w->weight, nw, 4, wd, dnnl_oihw);
  round_weights ((mrcnn_backend_cpu *) be, &c->w, &c->q, &d->quant, c->oc,
      nw / c->oc, d->w->bias);
  c->bias = g_memdup2 (d->w->bias, (size_t) c->oc * sizeof (float));
  if (c->q.on && d->out_quant.on) {
    mrcnn_cpu_q8_input_init (&c->oq, &d->out_quant);
    c->oscale_u8 = g_new (float, c->oc);
    for (int r = 0; r < c->oc; r++)
      c->oscale_u8[r] = c->q.oscale[r] * c->oq.inv_scale;
  }
  if (c->q.on && d->acc_quant.on) {
    mrcnn_q8_layer aq;
    mrcnn_cpu_q8_input_init (&aq, &d->acc_quant);
    c->acc_scale = aq.scale;
  }
  plan_cache_init (&c->plans, &conv_plan_kind, CONV_PLANS);
  *out = c;
  return MRCNN_OK;
}

static void
cpu_conv_free (mrcnn_backend *be, mrcnn_conv *c)
{
  if (!c)
    return;
  plan_cache_clear (&c->plans);
  weights_clear (&c->w);
  mrcnn_cpu_q8_clear (&c->q);
  g_free (c->oscale_u8);
  g_free (c->bias);
  g_free (c);
}

static int
out_size (const mrcnn_conv *c, int in, int k)
{
  return (in + 2 * c->pad - k) / c->stride + 1;
}

static dnnl_format_tag_t
layout_tag (const mrcnn_backend_cpu *cpu, int l)
{
  return l == MRCNN_LAYOUT_NATIVE ? cpu->native_tag : dnnl_nchw;
}

/* What a convolution's plan is made for. */
typedef struct {
  const mrcnn_fmap *in, *out;
  int acc;
} conv_shape;

static mrcnn_status
conv_plan_make (mrcnn_backend_cpu *cpu, mrcnn_queue *q, void *layer,
    const void *shape, plan_head *head, mrcnn_error *err)
{
  mrcnn_conv *c = layer;
  conv_plan *p = (conv_plan *) head;
  const mrcnn_fmap *in = ((const conv_shape *) shape)->in;
  const mrcnn_fmap *out = ((const conv_shape *) shape)->out;
  const int acc = ((const conv_shape *) shape)->acc;
  const int n = in->n, h = in->h, w = in->w;
  int oh = out_size (c, h, c->kh), ow = out_size (c, w, c->kw);
  dnnl_dims_t sd = { n, c->ic, h, w }, dd = { n, c->oc, oh, ow };
  dnnl_dims_t wd = { c->oc, c->ic, c->kh, c->kw }, bd = { c->oc };
  dnnl_dims_t strides = { c->stride, c->stride }, pads = { c->pad, c->pad };
  /* the kernels read the compute type: a float32 input at bf16 is
   * converted first (and rounded, on the emulated path). oneDNN's nhwc
   * kernels have no plain-input form (the stem's 3-channel image would run
   * its reference code): such an input is reordered to nhwc; the blocked
   * kernels read it as it is. */
  /* At int8 a quantized layer reads its input as u8 or s8 levels in the
   * layout oneDNN picks (the conversion quantizes), its reference reads
   * the input rounded to those levels. */
  /* A map stored U8 holds the levels an int8 layer reads: as it is (on the
   * reference: rounded again, which leaves it as it is). One written U8
   * gets the levels of its readers' scale from the kernel (its output
   * scales divided by that scale, an accumulated U8 map's old levels
   * rescaled by the sum's), rounded by the reference. */
  const int int8 = c->q.on && !cpu->emulate;
  const int in_u8 = in->store == MRCNN_STORE_U8;
  const int out_u8 = out->store == MRCNN_STORE_U8;
  if ((in_u8 && !(c->q.on && c->q.u8)) || (out_u8 && !c->oq.on)
      || (out_u8 && acc && c->acc_scale <= 0.0f))
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "a %dx%d convolution %d->%d "
        "was given an 8-bit map it was not made for (%s)", c->kh, c->kw,
        c->ic, c->oc, in_u8 ? "input" : "output");
  dnnl_data_type_t in_dt = mrcnn_cpu_store_dt (cpu, in);
  int relayout = in->layout != MRCNN_LAYOUT_NATIVE
      && cpu->native_tag == dnnl_nhwc;
  const int convert = !(int8 && in_u8) && (in_dt != cpu->compute_dt
      || relayout || int8 || (cpu->emulate && (c->q.on
              || (in->store == MRCNN_STORE_F32
                  && cpu->precision != MRCNN_PRECISION_INT8))));
  dnnl_memory_desc_t src_md, given_md, dst_md, wei_any, bias_md;
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&given_md, 4, sd, in_dt,
          layout_tag (cpu, in->layout)), err);
  if (int8 && in_u8)
    src_md = given_md;
  else if (int8)
    DNNL_CHECK (dnnl_memory_desc_init_by_tag (&src_md, 4, sd, c->q.u8
            ? dnnl_u8 : dnnl_s8, dnnl_format_tag_any), err);
  else
    DNNL_CHECK (dnnl_memory_desc_init_by_tag (&src_md, 4, sd,
            cpu->compute_dt, relayout ? dnnl_nhwc
            : layout_tag (cpu, in->layout)), err);
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&dst_md, 4, dd,
          mrcnn_cpu_store_dt (cpu, out), layout_tag (cpu, out->layout)), err);
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&wei_any, 4, wd, int8 ? dnnl_s8
          : cpu->compute_dt, dnnl_format_tag_any), err);
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&bias_md, 1, bd, dnnl_f32, dnnl_x), err);

  /* the weights' layout is always oneDNN's choice for this shape: forcing
   * an earlier shape's layout can leave only its reference kernel */
  dnnl_convolution_desc_t cd;
  DNNL_CHECK (dnnl_convolution_forward_desc_init (&cd, dnnl_forward_inference,
          dnnl_convolution_direct, &src_md, &wei_any, &bias_md, &dst_md,
          strides, pads, pads), err);
  dnnl_primitive_attr_t attr;
  dnnl_post_ops_t po;
  DNNL_CHECK (dnnl_post_ops_create (&po), err);
  if (acc)
    DNNL_CHECK (dnnl_post_ops_append_sum (po, int8 && out_u8
            ? c->acc_scale * c->oq.inv_scale : 1.0f), err);
  if (c->relu)
    DNNL_CHECK (dnnl_post_ops_append_eltwise (po, 1.0f, dnnl_eltwise_relu, 0.f, 0.f), err);
  mrcnn_status ast = make_attr (po, &attr, err);
  dnnl_post_ops_destroy (po);
  MRCNN_TRY (ast);
  if (int8 && (ast = set_scales (attr, c->oc, 1 << 1, out_u8 ? c->oscale_u8
              : c->q.oscale, err)) != MRCNN_OK) {
    dnnl_primitive_attr_destroy (attr);
    return ast;
  }
  dnnl_primitive_desc_t pd;
  dnnl_status_t s = dnnl_primitive_desc_create (&pd, &cd, attr, cpu->engine, NULL);
  dnnl_primitive_attr_destroy (attr);
  if (s != dnnl_success)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "oneDNN cannot create a %dx%d %s convolution %d->%d for a %dx%dx%d "
        "input (status %d)", c->kh, c->kw, int8 ? "int8" : c->q.on
        ? "int8 reference" : mrcnn_precision_name (cpu->compute_dt
            == dnnl_bf16 ? MRCNN_PRECISION_BF16 : MRCNN_PRECISION_FP32),
        c->ic, c->oc, n, h, w, (int) s);
  if (int8 && !in_u8)
    src_md = *dnnl_primitive_desc_query_md (pd, dnnl_query_src_md, 0);

  int wi = 0;
  mrcnn_status st = weights_get (cpu, q->stream, &c->w,
      dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0), &wi, err);
  if (st == MRCNN_OK && dnnl_primitive_create (&p->prim, pd) != dnnl_success)
    st = mrcnn_fail (err, MRCNN_ERR_BACKEND, "oneDNN primitive creation failed");
  if (st == MRCNN_OK)
    p->pad_md = *dnnl_primitive_desc_query_md (pd, dnnl_query_scratchpad_md, 0);
  dnnl_primitive_desc_destroy (pd);
  MRCNN_TRY (st);

  p->src_md = src_md;
  p->dst_md = dst_md;
  DNNL_CHECK (dnnl_memory_create (&p->wei_m, &c->w.md[wi], cpu->engine,
          c->w.packed[wi]), err);
  DNNL_CHECK (dnnl_memory_create (&p->bias_m, &bias_md, cpu->engine,
          int8 ? c->q.bias_acc : c->bias), err);
  p->q8 = c->q.on ? &c->q : NULL;
  p->out_q8 = out_u8 && cpu->emulate ? &c->oq : NULL;
  if (convert) {
    dnnl_primitive_desc_t rpd;
    MRCNN_TRY (make_attr (NULL, &attr, err));
    if (int8 && (ast = set_scales (attr, 1, 0, &c->q.inv_scale, err))
        != MRCNN_OK) {
      dnnl_primitive_attr_destroy (attr);
      return ast;
    }
    s = dnnl_reorder_primitive_desc_create (&rpd, &given_md, cpu->engine,
        &src_md, cpu->engine, attr);
    dnnl_primitive_attr_destroy (attr);
    if (s == dnnl_success) {
      s = dnnl_primitive_create (&p->cvt, rpd);
      if (s == dnnl_success)
        p->cvt_pad_md = *dnnl_primitive_desc_query_md (rpd,
            dnnl_query_scratchpad_md, 0);
      dnnl_primitive_desc_destroy (rpd);
    }
    if (s != dnnl_success)
      return mrcnn_fail (err, MRCNN_ERR_BACKEND,
          "oneDNN cannot convert a convolution's input (status %d)", (int) s);
    p->given_md = given_md;
    p->src_bytes = dnnl_memory_desc_get_size (&src_md);
  }
  p->dst_elems = dnnl_memory_desc_get_size (&dst_md) / sizeof (float);
  return MRCNN_OK;
}

static mrcnn_status
conv_execute (mrcnn_backend_cpu *cpu, mrcnn_queue *q, const conv_plan *p,
    const mrcnn_fmap *in, mrcnn_fmap *out, mrcnn_error *err)
{
  void *src = in->data;
  dnnl_memory_t m[4] = { NULL };
  mrcnn_status st = MRCNN_OK;
  if (p->cvt) {
    st = scratch_reserve (q, p->src_bytes, err);
    if (st == MRCNN_OK)
      st = bind (cpu, &p->given_md, in->data, &m[0], err);
    if (st == MRCNN_OK)
      st = bind (cpu, &p->src_md, q->scratch, &m[1], err);
    if (st == MRCNN_OK) {
      dnnl_exec_arg_t cargs[3] = { { DNNL_ARG_FROM, m[0] },
        { DNNL_ARG_TO, m[1] } };
      st = execute (cpu, q, p->cvt, 2, cargs, &p->cvt_pad_md, err);
    }
    src = q->scratch;
    if (st == MRCNN_OK && cpu->emulate && p->q8)
      mrcnn_cpu_q8_round (p->q8, src, p->src_bytes / sizeof (float));
    else if (st == MRCNN_OK && cpu->emulate && in->store == MRCNN_STORE_F32)
      cpu_round (cpu, src, p->src_bytes / sizeof (float));
  }
  if (st == MRCNN_OK)
    st = bind (cpu, &p->src_md, src, &m[2], err);
  if (st == MRCNN_OK)
    st = bind (cpu, &p->dst_md, out->data, &m[3], err);
  if (st == MRCNN_OK) {
    dnnl_exec_arg_t args[5] = {
      { DNNL_ARG_SRC, m[2] }, { DNNL_ARG_WEIGHTS, p->wei_m },
      { DNNL_ARG_BIAS, p->bias_m }, { DNNL_ARG_DST, m[3] },
    };
    st = execute (cpu, q, p->prim, 4, args, &p->pad_md, err);
  }
  for (int i = 0; i < 4; i++)
    if (m[i])
      dnnl_memory_destroy (m[i]);
  if (st == MRCNN_OK && out->store == MRCNN_STORE_REDUCED)
    cpu_round (cpu, out->data, p->dst_elems);
  if (st == MRCNN_OK && p->out_q8)
    mrcnn_cpu_q8_round (p->out_q8, out->data, p->dst_elems);
  return st;
}

static mrcnn_status
cpu_conv_run (mrcnn_backend *be, mrcnn_queue *q, mrcnn_conv *c,
    const mrcnn_fmap *in, int accumulate, mrcnn_fmap *out, mrcnn_error *err)
{
  mrcnn_backend_cpu *cpu = (mrcnn_backend_cpu *) be;
  if (in->c != c->ic)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "convolution expects %d input channels, got %d", c->ic, in->c);
  /* omp_get_max_threads (): this pass's threads */
  const int key[PLAN_KEY] = { in->n, in->h, in->w, accumulate, in->layout,
    out->layout, in->store, out->store, omp_get_max_threads () };
  const conv_shape shape = { in, out, accumulate };
  plan_head *p;
  MRCNN_TRY (plan_take (cpu, q, &c->plans, c, key, &shape, &p, err));
  out->n = in->n;
  out->c = c->oc;
  out->h = out_size (c, in->h, c->kh);
  out->w = out_size (c, in->w, c->kw);
  mrcnn_status st = conv_execute (cpu, q, (const conv_plan *) p, in, out,
      err);
  plan_release (cpu, &c->plans, p);
  return st;
}

/* A map into the u8 levels of quant (MRCNN_STORE_U8): one reorder that
 * scales by 1 / scale and rounds, or on the reference a copy rounded to
 * level x scale. (A primitive per call, as to_nchw's: a few per frame.) */
static mrcnn_status
cpu_quantize (mrcnn_backend *be, mrcnn_queue *q, const mrcnn_quant *quant,
    const mrcnn_fmap *in, mrcnn_fmap *out, mrcnn_error *err)
{
  mrcnn_backend_cpu *cpu = (mrcnn_backend_cpu *) be;
  mrcnn_q8_layer lq;
  mrcnn_cpu_q8_input_init (&lq, quant);
  if (!lq.on || !lq.u8 || in->store == MRCNN_STORE_U8
      || out->store != MRCNN_STORE_U8)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "quantize: needs a "
        "non-negative range and a map not stored U8 into one stored U8");
  out->n = in->n;
  out->c = in->c;
  out->h = in->h;
  out->w = in->w;
  dnnl_dims_t dims = { in->n, in->c, in->h, in->w };
  dnnl_memory_desc_t from, to;
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&from, 4, dims,
          mrcnn_cpu_store_dt (cpu, in), layout_tag (cpu, in->layout)), err);
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&to, 4, dims,
          mrcnn_cpu_store_dt (cpu, out), layout_tag (cpu, out->layout)), err);
  mrcnn_status st = mrcnn_cpu_reorder (cpu, q->stream, &from, in->data, &to,
      out->data, cpu->emulate ? NULL : &lq.inv_scale, err);
  if (st == MRCNN_OK && cpu->emulate)
    mrcnn_cpu_q8_round (&lq, out->data,
        dnnl_memory_desc_get_size (&to) / sizeof (float));
  return st;
}

/* ---------------------------------------------------------------- linear */

static void linear_plan_drop (plan_head *head);
static mrcnn_status linear_plan_make (mrcnn_backend_cpu *cpu, mrcnn_queue *q,
    void *layer, const void *shape, plan_head *head, mrcnn_error *err);

static const plan_kind linear_plan_kind = {
  sizeof (linear_plan), linear_plan_make, linear_plan_drop
};

static mrcnn_status
cpu_linear_new (mrcnn_backend *be, const float *weight, const float *bias,
    int out_features, int in_features, int relu, const mrcnn_quant *quant,
    mrcnn_linear **out, mrcnn_error *err)
{
  mrcnn_linear *l = g_new0 (mrcnn_linear, 1);
  size_t nw = (size_t) out_features * in_features;
  dnnl_dims_t wd = { in_features, out_features };
  weights_init (&l->w, weight, nw, 2, wd, dnnl_ba);
  /* Without VNNI, oneDNN's s8 x s8 matmul (its gemm) adds 128 to the input
   * and sums pairs of u8 x s8 products in 16 bits, which saturate (errors
   * of the order of the output, measured by tests/engine/test_int8.c): a
   * fully connected layer with a signed input stays float32 there. */
  mrcnn_backend_cpu *cpu = (mrcnn_backend_cpu *) be;
  mrcnn_quant qq = quant ? *quant : (mrcnn_quant) { 0 };
  if (qq.on && qq.lo < 0.0f && !cpu->has_vnni && !cpu->emulate)
    qq.on = 0;
  round_weights (cpu, &l->w, &l->q, &qq, out_features, in_features, bias);
  l->b = g_memdup2 (bias, (size_t) out_features * sizeof (float));
  l->out = out_features;
  l->in = in_features;
  l->relu = relu;
  plan_cache_init (&l->plans, &linear_plan_kind, LINEAR_PLANS);
  *out = l;
  return MRCNN_OK;
}

static void
linear_plan_drop (plan_head *head)
{
  linear_plan *p = (linear_plan *) head;
  dnnl_memory_t m[] = { p->wei_m, p->bias_m };
  if (p->prim)
    dnnl_primitive_destroy (p->prim);
  for (size_t i = 0; i < G_N_ELEMENTS (m); i++)
    if (m[i])
      dnnl_memory_destroy (m[i]);
  memset (p, 0, sizeof *p);
}

static void
cpu_linear_free (mrcnn_backend *be, mrcnn_linear *l)
{
  if (!l)
    return;
  plan_cache_clear (&l->plans);
  weights_clear (&l->w);
  mrcnn_cpu_q8_clear (&l->q);
  g_free (l->b);
  g_free (l);
}

/* y = act(x W^T + b) for n rows at the compute type, fp32 accumulation and
 * output, with the weights in the layout oneDNN picks for this CPU (its
 * AVX-512 or AMX kernels; an optimized BLAS may not know the CPU). */
static mrcnn_status
linear_plan_make (mrcnn_backend_cpu *cpu, mrcnn_queue *q, void *layer,
    const void *shape, plan_head *head, mrcnn_error *err)
{
  mrcnn_linear *l = layer;
  linear_plan *p = (linear_plan *) head;
  const int n = *(const int *) shape;
  const int int8 = l->q.on && !cpu->emulate;
  dnnl_dims_t sd = { n, l->in }, bd = { 1, l->out }, dd = { n, l->out };
  dnnl_memory_desc_t src_md, wei_any, bias_md, dst_md;
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&src_md, 2, sd, !int8
          ? cpu->compute_dt : l->q.u8 ? dnnl_u8 : dnnl_s8, dnnl_ab), err);
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&wei_any, 2, l->w.dims,
          int8 ? dnnl_s8 : cpu->compute_dt, dnnl_format_tag_any), err);
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&bias_md, 2, bd, dnnl_f32, dnnl_ab), err);
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&dst_md, 2, dd, dnnl_f32, dnnl_ab), err);
  dnnl_matmul_desc_t md;
  DNNL_CHECK (dnnl_matmul_desc_init (&md, &src_md, &wei_any, &bias_md,
          &dst_md), err);
  dnnl_primitive_attr_t attr;
  dnnl_post_ops_t po;
  DNNL_CHECK (dnnl_post_ops_create (&po), err);
  if (l->relu)
    DNNL_CHECK (dnnl_post_ops_append_eltwise (po, 1.0f, dnnl_eltwise_relu, 0.f, 0.f), err);
  mrcnn_status ast = make_attr (po, &attr, err);
  dnnl_post_ops_destroy (po);
  MRCNN_TRY (ast);
  if (int8 && (ast = set_scales (attr, l->out, 1 << 1, l->q.oscale, err))
      != MRCNN_OK) {
    dnnl_primitive_attr_destroy (attr);
    return ast;
  }
  dnnl_primitive_desc_t pd;
  dnnl_status_t s = dnnl_primitive_desc_create (&pd, &md, attr, cpu->engine, NULL);
  dnnl_primitive_attr_destroy (attr);
  if (s != dnnl_success)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "oneDNN cannot create a %s matmul %d x %d -> %d (status %d)",
        mrcnn_precision_name (cpu->precision), n, l->in, l->out, (int) s);
  int wi = 0;
  mrcnn_status st = weights_get (cpu, q->stream, &l->w,
      dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0), &wi, err);
  if (st == MRCNN_OK && dnnl_primitive_create (&p->prim, pd) != dnnl_success)
    st = mrcnn_fail (err, MRCNN_ERR_BACKEND, "oneDNN matmul creation failed");
  if (st == MRCNN_OK)
    p->pad_md = *dnnl_primitive_desc_query_md (pd, dnnl_query_scratchpad_md, 0);
  dnnl_primitive_desc_destroy (pd);
  MRCNN_TRY (st);
  p->src_md = src_md;
  p->dst_md = dst_md;
  DNNL_CHECK (dnnl_memory_create (&p->wei_m, &l->w.md[wi], cpu->engine,
          l->w.packed[wi]), err);
  DNNL_CHECK (dnnl_memory_create (&p->bias_m, &bias_md, cpu->engine,
          int8 ? l->q.bias_acc : l->b), err);
  return MRCNN_OK;
}

/* The input at the compute type: bf16 or int8 levels converted into the
 * scratch, the emulated precisions' float32 rounded into it, float32 as it
 * is. */
static mrcnn_status
linear_input (mrcnn_backend_cpu *cpu, mrcnn_queue *q, const mrcnn_linear *l,
    const float *x, size_t count, const void **src, mrcnn_error *err)
{
  *src = x;
  if (l->q.on && !cpu->emulate) {
    MRCNN_TRY (scratch_reserve (q, count, err));
    mrcnn_cpu_q8_quantize (&l->q, x, q->scratch, count);
    *src = q->scratch;
  } else if (l->q.on) {
    MRCNN_TRY (scratch_reserve (q, count * sizeof (float), err));
    memcpy (q->scratch, x, count * sizeof (float));
    mrcnn_cpu_q8_round (&l->q, q->scratch, count);
    *src = q->scratch;
  } else if (cpu->precision == MRCNN_PRECISION_INT8) {
    /* a float32 layer of an int8 network */
  } else if (cpu->compute_dt == dnnl_bf16) {
    MRCNN_TRY (scratch_reserve (q, count * sizeof (uint16_t), err));
    uint16_t *xb = q->scratch;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; i++)
      xb[i] = mrcnn_bf16_from_f32 (x[i]);
    *src = xb;
  } else if (cpu->emulate) {
    MRCNN_TRY (scratch_reserve (q, count * sizeof (float), err));
    memcpy (q->scratch, x, count * sizeof (float));
    cpu_round (cpu, q->scratch, count);
    *src = q->scratch;
  }
  return MRCNN_OK;
}

static mrcnn_status
cpu_linear_run (mrcnn_backend *be, mrcnn_queue *q, mrcnn_linear *l,
    const float *x, int n, float *y, mrcnn_error *err)
{
  mrcnn_backend_cpu *cpu = (mrcnn_backend_cpu *) be;
  if (n <= 0)
    return MRCNN_OK;
  const int key[PLAN_KEY] = { n, omp_get_max_threads () };
  plan_head *head;
  const void *src;
  MRCNN_TRY (plan_take (cpu, q, &l->plans, l, key, &n, &head, err));
  const linear_plan *p = (const linear_plan *) head;
  dnnl_memory_t m[2] = { NULL };
  mrcnn_status st = linear_input (cpu, q, l, x, (size_t) n * l->in, &src,
      err);
  if (st == MRCNN_OK)
    st = bind (cpu, &p->src_md, (void *) src, &m[0], err);
  if (st == MRCNN_OK)
    st = bind (cpu, &p->dst_md, y, &m[1], err);
  if (st == MRCNN_OK) {
    dnnl_exec_arg_t args[5] = {
      { DNNL_ARG_SRC, m[0] }, { DNNL_ARG_WEIGHTS, p->wei_m },
      { DNNL_ARG_BIAS, p->bias_m }, { DNNL_ARG_DST, m[1] },
    };
    st = execute (cpu, q, p->prim, 4, args, &p->pad_md, err);
  }
  for (int i = 0; i < 2; i++)
    if (m[i])
      dnnl_memory_destroy (m[i]);
  plan_release (cpu, &l->plans, head);
  return st;
}

/* ---------------------------------------------------------------- life */

static const char *
isa_name (dnnl_cpu_isa_t isa)
{
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: case dnnl_cpu_isa_avx512_mic_4ops:
      return "avx512_mic";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
  }
}

static const char *
tag_name (dnnl_format_tag_t tag)
{
  return tag == dnnl_nhwc ? "nhwc" : tag == dnnl_nChw16c ? "nChw16c"
      : tag == dnnl_nChw8c ? "nChw8c" : "nchw";
}

/* The activation layout oneDNN's fastest kernels want on this CPU: the
 * source layout it picks (format_tag::any) for a typical 3x3 convolution
 * of the network at the compute type. On AVX2 that is 8-channel blocks; on
 * AVX-512 and AMX, nhwc (brgemm kernels). MRCNN_CPU_LAYOUT (nhwc, nChw8c,
 * nChw16c) overrides it, for comparisons. */
static mrcnn_status
choose_layout (mrcnn_backend_cpu *cpu, mrcnn_error *err)
{
  const char *env = g_getenv ("MRCNN_CPU_LAYOUT");
  if (env && *env) {
    static const dnnl_format_tag_t tags[] = { dnnl_nhwc, dnnl_nChw8c, dnnl_nChw16c };
    for (size_t i = 0; i < G_N_ELEMENTS (tags); i++)
      if (g_ascii_strcasecmp (env, tag_name (tags[i])) == 0) {
        cpu->native_tag = tags[i];
        return MRCNN_OK;
      }
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "MRCNN_CPU_LAYOUT=%s: use nhwc, nChw8c or nChw16c", env);
  }
  dnnl_dims_t sd = { 1, 256, 50, 68 }, wd = { 256, 256, 3, 3 }, bd = { 256 };
  dnnl_dims_t one = { 1, 1 };
  dnnl_memory_desc_t src, wei, bias, dst;
  /* int8: the layout of its u8 convolutions (their float32 output) */
  const int int8 = cpu->precision == MRCNN_PRECISION_INT8 && !cpu->emulate;
  const dnnl_data_type_t in_dt = int8 ? dnnl_u8 : cpu->compute_dt;
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&src, 4, sd, in_dt, dnnl_format_tag_any), err);
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&dst, 4, sd, cpu->compute_dt, dnnl_format_tag_any), err);
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&wei, 4, wd, int8 ? dnnl_s8
          : cpu->compute_dt, dnnl_format_tag_any), err);
  DNNL_CHECK (dnnl_memory_desc_init_by_tag (&bias, 1, bd, dnnl_f32, dnnl_x), err);
  dnnl_convolution_desc_t cd;
  DNNL_CHECK (dnnl_convolution_forward_desc_init (&cd, dnnl_forward_inference,
          dnnl_convolution_direct, &src, &wei, &bias, &dst, one, one, one), err);
  dnnl_primitive_desc_t pd;
  DNNL_CHECK (dnnl_primitive_desc_create (&pd, &cd, NULL, cpu->engine, NULL), err);
  const dnnl_memory_desc_t *got = dnnl_primitive_desc_query_md (pd,
      int8 ? dnnl_query_dst_md : dnnl_query_src_md, 0);
  const dnnl_blocking_desc_t *b = &got->format_desc.blocking;
  if (b->inner_nblks == 1 && b->inner_blks[0] == 16)
    cpu->native_tag = dnnl_nChw16c;
  else if (b->inner_nblks == 0 && b->strides[1] == 1)
    cpu->native_tag = dnnl_nhwc;
  else
    cpu->native_tag = dnnl_nChw8c;
  dnnl_primitive_desc_destroy (pd);
  return MRCNN_OK;
}

int
mrcnn_cpu_layout_lanes (const mrcnn_backend_cpu *cpu)
{
  return cpu->native_tag == dnnl_nChw16c ? 16 : cpu->native_tag == dnnl_nChw8c
      ? 8 : 0;
}

static long
cpu_overflows (mrcnn_backend *be)
{
  return __atomic_load_n (&((mrcnn_backend_cpu *) be)->overflows,
      __ATOMIC_RELAXED);
}

/* bf16 runs on oneDNN's bf16 kernels (AVX512_BF16 or AMX), which
 * DNNL_MAX_CPU_ISA may also hide; the float32 references run anywhere. */
static void
cpu_caps (mrcnn_backend *be, mrcnn_backend_caps *out)
{
  mrcnn_backend_cpu *cpu = (mrcnn_backend_cpu *) be;
  *out = (mrcnn_backend_caps) {
    .precisions = MRCNN_PRECISION_BIT (MRCNN_PRECISION_FP32)
        | (cpu->has_bf16 ? MRCNN_PRECISION_BIT (MRCNN_PRECISION_BF16) : 0)
        | (cpu->has_int8 ? MRCNN_PRECISION_BIT (MRCNN_PRECISION_INT8) : 0),
    .emulated = mrcnn_backend_cpu_reg.emulated,
    .layout = tag_name (cpu->native_tag),
    .kernels = cpu->kernels,
    .limits = cpu->limits,
    .note = cpu->note,
  };
}

/* The kernels' input type, and the activation layout oneDNN picks for it. */
static mrcnn_status
cpu_set_precision (mrcnn_backend *be, mrcnn_precision p, int emulate,
    mrcnn_error *err)
{
  mrcnn_backend_cpu *cpu = (mrcnn_backend_cpu *) be;
  mrcnn_backend_caps caps;
  cpu_caps (be, &caps);
  if (!((emulate ? caps.emulated : caps.precisions) & MRCNN_PRECISION_BIT (p)))
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "set_precision: the CPU backend cannot run %s%s here", emulate
        ? "the float32 reference of " : "", mrcnn_precision_name (p));
  cpu->precision = p;
  cpu->emulate = emulate != 0;
  cpu->compute_dt = cpu->reduced_dt = !emulate && p == MRCNN_PRECISION_BF16
      ? dnnl_bf16 : dnnl_f32;
  MRCNN_TRY (choose_layout (cpu, err));
  g_snprintf (cpu->kernels, sizeof cpu->kernels, "%s, %s",
      isa_name (cpu->isa), tag_name (cpu->native_tag));
  cpu->note[0] = 0;
  if (p == MRCNN_PRECISION_INT8 && !emulate && !cpu->has_vnni)
    g_snprintf (cpu->note, sizeof cpu->note, "int8 runs here on oneDNN's %s "
        "kernels, without VNNI: each u8 x s8 product sum takes three "
        "instructions instead of one, so int8 may be slower than fp32 on this "
        "CPU (it is faster with AVX512_VNNI, AVX-VNNI or AMX)",
        isa_name (cpu->isa));
  return MRCNN_OK;
}

static void
cpu_destroy (mrcnn_backend *be)
{
  mrcnn_backend_cpu *cpu = (mrcnn_backend_cpu *) be;
  if (!cpu)
    return;
  if (cpu->engine)
    dnnl_engine_destroy (cpu->engine);
  g_mutex_clear (&cpu->plans_lock);
  g_free (cpu);
}

static const mrcnn_backend_ops cpu_ops = {
  .name = "cpu",
  .destroy = cpu_destroy,
  .caps = cpu_caps,
  .set_precision = cpu_set_precision,
  .overflows = cpu_overflows,
  .queue_new = cpu_queue_new,
  .queue_free = cpu_queue_free,
  .queue_begin = cpu_queue_begin,
  .alloc = cpu_alloc,
  .release = cpu_release,
  .download = cpu_download,
  .upload = cpu_upload,
  .sync = cpu_sync,
  .quantize = cpu_quantize,
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
  .image_view = mrcnn_cpu_image_view,
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
  g_mutex_init (&cpu->plans_lock);
  if (dnnl_engine_create (&cpu->engine, dnnl_cpu, 0) != dnnl_success) {
    cpu_destroy (&cpu->base);
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "cannot create the oneDNN CPU engine");
  }
  cpu->isa = dnnl_get_effective_cpu_isa ();
  cpu->has_bf16 = ((unsigned) cpu->isa & dnnl_cpu_isa_avx512_core_bf16)
      == dnnl_cpu_isa_avx512_core_bf16;
  /* int8 convolutions: oneDNN's jit kernels for AVX2 and newer; VNNI
   * (AVX512_VNNI, AVX-VNNI, AMX) multiplies u8 by s8 with int32 sums in
   * one instruction, which makes them faster than float32 */
  unsigned isa = (unsigned) cpu->isa;
  cpu->has_int8 = (isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2;
  cpu->has_vnni = (isa & dnnl_cpu_isa_avx512_core_vnni)
      == dnnl_cpu_isa_avx512_core_vnni
      || (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni;
  GString *limits = g_string_new (NULL);
  if (!cpu->has_bf16)
    g_string_append (limits, "bf16 needs a CPU with AVX512_BF16 or AMX");
  if (!cpu->has_int8)
    g_string_append_printf (limits, "%sint8 needs a CPU with AVX2 at least",
        limits->len ? ", " : "");
  if (limits->len)
    g_snprintf (cpu->limits, sizeof cpu->limits, "%s; oneDNN runs %s "
        "kernels on this one (the most it may use can also be capped by "
        "DNNL_MAX_CPU_ISA)", limits->str, isa_name (cpu->isa));
  g_string_free (limits, TRUE);
  mrcnn_status st = cpu_set_precision (&cpu->base, MRCNN_PRECISION_FP32, 0,
      err);
  if (st != MRCNN_OK) {
    cpu_destroy (&cpu->base);
    return st;
  }
  /* passes at once share the threads, one thread each at least; each pass
   * sets its own (cpu_queue_begin), so that nothing here changes the
   * calling thread's OpenMP setting, which a later engine made on the same
   * thread with num_threads 0 would read */
  cpu->base.workers = num_threads > 0 ? num_threads : default_threads ();
  *out = &cpu->base;
  return MRCNN_OK;
}

static mrcnn_status
cpu_create (const mrcnn_engine_config *cfg, mrcnn_backend **out,
    mrcnn_error *err)
{
  return mrcnn_backend_cpu_new (cfg->num_threads, out, err);
}

const mrcnn_backend_reg mrcnn_backend_cpu_reg = {
  MRCNN_BACKEND_CPU, "cpu",
  MRCNN_PRECISION_BIT (MRCNN_PRECISION_FP32)
      | MRCNN_PRECISION_BIT (MRCNN_PRECISION_BF16)
      | MRCNN_PRECISION_BIT (MRCNN_PRECISION_INT8),
  MRCNN_PRECISION_BIT (MRCNN_PRECISION_BF16)
      | MRCNN_PRECISION_BIT (MRCNN_PRECISION_FP16)
      | MRCNN_PRECISION_BIT (MRCNN_PRECISION_INT8),
  cpu_create,
};
