/* The counting backend (counting_backend.h): the CPU backend with its
 * table replaced by a copy whose entries count and forward, plus the
 * optional entries of the tensor-core path done on the host. */
#include <string.h>

#include <glib.h>

#include "counting_backend.h"
#include "arena.h"

#define COUNT(field) __atomic_fetch_add (&stats.field, 1, __ATOMIC_RELAXED)

static counting_stats stats;
static GArray *last_requests;          /* mrcnn_buffer_req */
static size_t last_arena;

/* What a queue of this backend has besides the CPU's: its host buffer and
 * the clock at its marks. */
typedef struct {
  float *host;
  size_t host_size;
  double t[MRCNN_STAGE_COUNT + 1];
  int capturing, plan_only;
} queue_extra;

/* The table the CPU backend runs with while counted; it starts the
 * struct, so that a call finds the rest from be->ops. */
typedef struct {
  mrcnn_backend_ops ops;
  const mrcnn_backend_ops *cpu;
  counting_options opt;
  GMutex lock;
  GHashTable *queues;                  /* mrcnn_queue * -> queue_extra * */
  GHashTable *arenas;                  /* mrcnn_queue * -> arena block */
  int post_nms_top_n;
  int failed_once;
  GHashTable *convs;                   /* mrcnn_conv * -> its layer */
} counting;

static GArray *conv_calls;

static counting *
of (mrcnn_backend *be)
{
  return (counting *) be->ops;
}

static queue_extra *
extra (mrcnn_backend *be, mrcnn_queue *q)
{
  counting *c = of (be);
  g_mutex_lock (&c->lock);
  queue_extra *x = g_hash_table_lookup (c->queues, q);
  if (!x) {
    x = g_new0 (queue_extra, 1);
    g_hash_table_insert (c->queues, q, x);
  }
  g_mutex_unlock (&c->lock);
  return x;
}

static void
free_extra (gpointer p)
{
  queue_extra *x = p;
  g_free (x->host);
  g_free (x);
}

static double
now_ms (void)
{
  return (double) g_get_monotonic_time () / 1000.0;
}

/* ---------------------------------------------------------------- counted */

static void
c_destroy (mrcnn_backend *be)
{
  counting *c = of (be);
  be->ops = c->cpu;
  g_hash_table_destroy (c->queues);
  g_hash_table_destroy (c->arenas);
  g_hash_table_destroy (c->convs);
  g_mutex_clear (&c->lock);
  g_free (c);
  be->ops->destroy (be);
}

static void
c_caps (mrcnn_backend *be, mrcnn_backend_caps *out)
{
  of (be)->cpu->caps (be, out);
  out->plans_ahead = 0;
}

static mrcnn_status
c_alloc (mrcnn_backend *be, size_t n, float **out, mrcnn_error *err)
{
  COUNT (alloc);
  return of (be)->cpu->alloc (be, n, out, err);
}

static mrcnn_status
c_sync (mrcnn_backend *be, mrcnn_queue *q, mrcnn_error *err)
{
  COUNT (sync);
  return of (be)->cpu->sync (be, q, err);
}

/* The CPU's download reads backend memory where it is; in the copying mode
 * it copies and (would) wait, as CUDA's does. */
static const float *
c_download (mrcnn_backend *be, mrcnn_queue *q, const float *p, size_t n,
    float *host, mrcnn_error *err)
{
  COUNT (download);
  if (of (be)->opt.mode == COUNTING_PLAIN)
    return of (be)->cpu->download (be, q, p, n, host, err);
  memcpy (host, p, n * sizeof (float));
  return host;
}

static mrcnn_status
c_upload (mrcnn_backend *be, float *dst, const float *src, size_t n,
    mrcnn_error *err)
{
  COUNT (upload);
  return of (be)->cpu->upload (be, dst, src, n, err);
}

static mrcnn_status
c_conv_new (mrcnn_backend *be, const mrcnn_conv_desc *d, mrcnn_conv **out,
    mrcnn_error *err)
{
  counting *c = of (be);
  mrcnn_status st = c->cpu->conv_new (be, d, out, err);
  if (st == MRCNN_OK && *out) {
    mrcnn_tc_conv_layer *l = g_new (mrcnn_tc_conv_layer, 1);
    *l = (mrcnn_tc_conv_layer) { d->w->in_ch, d->w->out_ch, d->w->kh,
      d->w->kw, d->stride, d->pad, d->relu };
    g_mutex_lock (&c->lock);
    g_hash_table_insert (c->convs, *out, l);
    g_mutex_unlock (&c->lock);
  }
  return st;
}

static void
c_conv_free (mrcnn_backend *be, mrcnn_conv *conv)
{
  counting *c = of (be);
  g_mutex_lock (&c->lock);
  g_hash_table_remove (c->convs, conv);
  g_mutex_unlock (&c->lock);
  c->cpu->conv_free (be, conv);
}

static mrcnn_status
c_conv_run (mrcnn_backend *be, mrcnn_queue *q, mrcnn_conv *conv,
    const mrcnn_fmap *in, int accumulate, mrcnn_fmap *out, mrcnn_error *err)
{
  counting *c = of (be);
  COUNT (conv_run);
  g_mutex_lock (&c->lock);
  const mrcnn_tc_conv_layer *l = g_hash_table_lookup (c->convs, conv);
  if (l && in->n > 0) {
    counting_conv_call call = { *l, in->n, in->h, in->w, accumulate != 0,
      in->layout == MRCNN_LAYOUT_NCHW, in->store == MRCNN_STORE_REDUCED,
      out->store == MRCNN_STORE_REDUCED };
    g_array_append_val (conv_calls, call);
  }
  g_mutex_unlock (&c->lock);
  return c->cpu->conv_run (be, q, conv, in, accumulate, out, err);
}

static mrcnn_status
c_rpn_proposals (mrcnn_backend *be, mrcnn_queue *q, mrcnn_postproc *pp,
    const mrcnn_fmap *head, int pad_w, int pad_h, int img_w, int img_h,
    float *proposals, int *n, mrcnn_error *err)
{
  COUNT (rpn_host);
  return of (be)->cpu->rpn_proposals (be, q, pp, head, pad_w, pad_h, img_w,
      img_h, proposals, n, err);
}

static mrcnn_status
c_detect (mrcnn_backend *be, mrcnn_queue *q, mrcnn_postproc *pp,
    const float *proposals, const float *pred, int n_props,
    const mrcnn_thresholds *th, int img_w, int img_h, float *boxes,
    float *scores, int *labels, int *n, mrcnn_error *err)
{
  COUNT (detect_host);
  return of (be)->cpu->detect (be, q, pp, proposals, pred, n_props, th,
      img_w, img_h, boxes, scores, labels, n, err);
}

static mrcnn_status
c_postproc_new (mrcnn_backend *be, const mrcnn_postproc_desc *d,
    mrcnn_postproc **out, mrcnn_error *err)
{
  of (be)->post_nms_top_n = d->post_nms_top_n;
  return of (be)->cpu->postproc_new (be, d, out, err);
}

static void
c_queue_free (mrcnn_backend *be, mrcnn_queue *q)
{
  counting *c = of (be);
  g_mutex_lock (&c->lock);
  g_hash_table_remove (c->queues, q);
  g_mutex_unlock (&c->lock);
  c->cpu->queue_free (be, q);
}

/* ---------------------------------------------------------------- the
 * tensor-core path's calls, on the host */

/* One arena per queue, planned from the stages' lifetimes: a buffer whose
 * lifetime the engine gives too short shares memory with another that is
 * still in use, and the results differ from the CPU backend's. */
static mrcnn_status
c_alloc_buffers (mrcnn_backend *be, mrcnn_queue *q, mrcnn_buffer_req *reqs,
    int n, mrcnn_error *err)
{
  counting *c = of (be);
  COUNT (alloc_buffers);
  /* the CUDA path's planning; every element a float here */
  size_t *off = g_new0 (size_t, MAX (n, 1));
  size_t size = mrcnn_arena_plan_requests (reqs, n, sizeof (float), 256,
      off);
  /* calloc's fresh pages: zero, as the CUDA arena is zeroed once, and
   * costing nothing until touched */
  char *arena = size == (size_t) -1 ? NULL : g_try_malloc0 (MAX (size, 1));
  if (!arena) {
    g_free (off);
    return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY, "counting backend: no "
        "host memory for an arena of %zu MiB", size >> 20);
  }
  for (int i = 0; i < n; i++)
    *reqs[i].slot = (float *) (arena + off[i]);
  g_free (off);
  g_mutex_lock (&c->lock);
  g_hash_table_insert (c->arenas, q, arena);
  g_mutex_unlock (&c->lock);
  if (last_requests)
    g_array_free (last_requests, TRUE);
  last_requests = g_array_new (FALSE, FALSE, sizeof (mrcnn_buffer_req));
  g_array_append_vals (last_requests, reqs, n);
  last_arena = size;
  return MRCNN_OK;
}

static void
c_release_buffers (mrcnn_backend *be, mrcnn_queue *q, mrcnn_buffer_req *reqs,
    int n)
{
  counting *c = of (be);
  g_mutex_lock (&c->lock);
  g_hash_table_remove (c->arenas, q);
  g_mutex_unlock (&c->lock);
  for (int i = 0; i < n; i++)
    *reqs[i].slot = NULL;
}

static mrcnn_status
c_mark (mrcnn_backend *be, mrcnn_queue *q, int stage, mrcnn_error *err)
{
  COUNT (mark);
  queue_extra *x = extra (be, q);
  if (stage < -1 || stage >= MRCNN_STAGE_COUNT)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "mark of stage %d", stage);
  x->t[stage + 1] = now_ms ();
  return MRCNN_OK;
}

static void
c_stage_times (mrcnn_backend *be, mrcnn_queue *q, double *ms)
{
  queue_extra *x = extra (be, q);
  for (int s = 0; s < MRCNN_STAGE_COUNT; s++)
    ms[s] += x->t[s + 1] - x->t[s];
}

static mrcnn_status
c_pass_begin (mrcnn_backend *be, mrcnn_queue *q, const void *key,
    size_t key_len, int plan_only, mrcnn_error *err)
{
  queue_extra *x = extra (be, q);
  COUNT (pass_begin);
  if (plan_only)
    COUNT (plan_only);
  if (x->capturing)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "pass_begin twice");
  if (!key || key_len == 0)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "pass_begin without a key");
  x->capturing = 1;
  x->plan_only = plan_only;
  return MRCNN_OK;
}

/* The ops ran as they came (the CPU cannot hold them back), so a failed
 * capture here makes the engine run them a second time: the results must
 * not change. */
static mrcnn_status
c_pass_end (mrcnn_backend *be, mrcnn_queue *q, int *ran, mrcnn_error *err)
{
  counting *c = of (be);
  queue_extra *x = extra (be, q);
  COUNT (pass_end);
  if (!x->capturing)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "pass_end without "
        "pass_begin");
  x->capturing = 0;
  *ran = 1;
  if (c->opt.fail_first_capture && !c->failed_once && !x->plan_only) {
    c->failed_once = 1;
    *ran = 0;
  }
  return MRCNN_OK;
}

static mrcnn_status
c_download_reserve (mrcnn_backend *be, mrcnn_queue *q, size_t n,
    float **host, mrcnn_error *err)
{
  queue_extra *x = extra (be, q);
  COUNT (download_reserve);
  g_free (x->host);
  x->host = g_try_new (float, MAX (n, 1));
  x->host_size = x->host ? n : 0;
  *host = x->host;
  return x->host ? MRCNN_OK : mrcnn_fail (err, MRCNN_ERR_NO_MEMORY,
      "counting backend: no host buffer");
}

/* Packed into the queue's host buffer, one span after the other. */
static mrcnn_status
c_download_async (mrcnn_backend *be, mrcnn_queue *q, mrcnn_span *spans,
    int n, mrcnn_error *err)
{
  queue_extra *x = extra (be, q);
  COUNT (download_async);
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    if (off + spans[i].n > x->host_size)
      return mrcnn_fail (err, MRCNN_ERR_BACKEND, "download_async: %zu "
          "floats past the %zu reserved", off + spans[i].n, x->host_size);
    if (spans[i].n)
      memcpy (x->host + off, spans[i].src, spans[i].n * sizeof (float));
    spans[i].host = x->host + off;
    off += spans[i].n;
  }
  return MRCNN_OK;
}

/* The CPU's post-processing, with the counts written to "backend memory"
 * (host memory here) and the rows past them zero, as the device does. */
static mrcnn_status
c_rpn_proposals_dev (mrcnn_backend *be, mrcnn_queue *q, mrcnn_postproc *pp,
    const mrcnn_fmap *head, int pad_w, int pad_h, int img_w, int img_h,
    float *proposals, int *count, mrcnn_error *err)
{
  counting *c = of (be);
  int n = 0;
  COUNT (rpn_dev);
  MRCNN_TRY (c->cpu->rpn_proposals (be, q, pp, head, pad_w, pad_h, img_w,
          img_h, proposals, &n, err));
  memset (proposals + (size_t) n * 4, 0,
      (size_t) (c->post_nms_top_n - n) * 4 * sizeof (float));
  *count = n;
  return MRCNN_OK;
}

static mrcnn_status
c_detect_dev (mrcnn_backend *be, mrcnn_queue *q, mrcnn_postproc *pp,
    const float *proposals, const int *n_valid, const float *pred,
    int n_props, const mrcnn_thresholds *th, int img_w, int img_h,
    float *boxes, float *scores, int *labels, int *count, mrcnn_error *err)
{
  counting *c = of (be);
  int n = 0;
  COUNT (detect_dev);
  if (*n_valid < 0 || *n_valid > n_props)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "detect_dev: %d valid of %d "
        "rows", *n_valid, n_props);
  if (*n_valid > 0)
    MRCNN_TRY (c->cpu->detect (be, q, pp, proposals, pred, *n_valid, th,
            img_w, img_h, boxes, scores, labels, &n, err));
  const size_t rest = (size_t) (th->max_detections - n);
  memset (boxes + (size_t) n * 4, 0, rest * 4 * sizeof (float));
  memset (scores + n, 0, rest * sizeof (float));
  memset (labels + n, 0, rest * sizeof (int));
  *count = n;
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- reg */

static counting_options reg_opt;

static mrcnn_status
c_create (const mrcnn_engine_config *cfg, mrcnn_backend **out,
    mrcnn_error *err)
{
  MRCNN_TRY (mrcnn_backend_cpu_new (cfg->num_threads, out, err));
  mrcnn_backend *be = *out;
  counting *c = g_new0 (counting, 1);
  c->cpu = be->ops;
  c->opt = reg_opt;
  c->ops = *c->cpu;
  g_mutex_init (&c->lock);
  c->queues = g_hash_table_new_full (NULL, NULL, NULL, free_extra);
  c->arenas = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  c->ops.name = "counting";
  c->ops.destroy = c_destroy;
  c->ops.caps = c_caps;
  c->ops.alloc = c_alloc;
  c->ops.sync = c_sync;
  c->ops.download = c_download;
  c->ops.upload = c_upload;
  c->ops.conv_new = c_conv_new;
  c->ops.conv_free = c_conv_free;
  c->ops.conv_run = c_conv_run;
  c->convs = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  if (conv_calls)
    g_array_free (conv_calls, TRUE);
  conv_calls = g_array_new (FALSE, FALSE, sizeof (counting_conv_call));
  c->ops.rpn_proposals = c_rpn_proposals;
  c->ops.detect = c_detect;
  c->ops.postproc_new = c_postproc_new;
  c->ops.queue_free = c_queue_free;
  if (c->opt.mode == COUNTING_TENSOR_PATH) {
    c->ops.alloc_buffers = c_alloc_buffers;
    c->ops.release_buffers = c_release_buffers;
    c->ops.mark = c_mark;
    c->ops.stage_times = c_stage_times;
    c->ops.pass_begin = c_pass_begin;
    c->ops.pass_end = c_pass_end;
    c->ops.download_reserve = c_download_reserve;
    c->ops.download_async = c_download_async;
    c->ops.rpn_proposals_dev = c_rpn_proposals_dev;
    c->ops.detect_dev = c_detect_dev;
  }
  be->ops = &c->ops;
  return MRCNN_OK;
}

static mrcnn_backend_reg reg;

const mrcnn_backend_reg *
counting_reg (const counting_options *opt)
{
  reg_opt = *opt;
  reg = mrcnn_backend_cpu_reg;
  reg.name = "counting";
  reg.create = c_create;
  return &reg;
}

void
counting_stats_get (counting_stats *out)
{
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  *out = stats;
}

long
counting_waits (const counting_stats *s)
{
  return s->sync + s->download + s->rpn_host + s->detect_host;
}

long
counting_allocs (const counting_stats *s)
{
  return s->alloc + s->alloc_buffers + s->download_reserve;
}

const GArray *
counting_requests (void)
{
  return last_requests;
}

size_t
counting_arena_size (void)
{
  return last_arena;
}

const GArray *
counting_conv_calls (void)
{
  return conv_calls;
}
