/* Engine life cycle, memory planning and the forward pass in stage order. */
#include <stdio.h>
#include <string.h>

#include "calibration.h"
#include "engine_priv.h"

static int
round_up32 (int v)
{
  return (v + 31) / 32 * 32;
}

void
mrcnn_engine_config_init (mrcnn_engine_config *cfg, const mrcnn_model *model)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->backend = MRCNN_BACKEND_AUTO;
  cfg->device_id = -1;
  cfg->num_threads = 0;
  cfg->max_width = 3840;
  cfg->max_height = 2160;
  cfg->max_batch = 1;
  if (model) {
    cfg->thresholds = model->defaults;
  } else {
    cfg->thresholds.score_threshold = 0.05f;
    cfg->thresholds.nms_threshold = 0.5f;
    cfg->thresholds.max_detections = 100;
    cfg->thresholds.mask_threshold = 0.5f;
  }
}

static const char *const precision_names[] = { "fp32", "tf32", "fp16", "bf16",
  "int8" };

const char *
mrcnn_precision_name (mrcnn_precision p)
{
  return (unsigned) p < G_N_ELEMENTS (precision_names) ? precision_names[p]
      : "unknown";
}

int
mrcnn_precision_from_name (const char *name, mrcnn_precision *out)
{
  for (unsigned i = 0; name && i < G_N_ELEMENTS (precision_names); i++)
    if (g_ascii_strcasecmp (name, precision_names[i]) == 0) {
      *out = (mrcnn_precision) i;
      return 1;
    }
  return 0;
}

const char *
mrcnn_stage_name (mrcnn_stage stage)
{
  static const char *names[] = { "preprocess", "backbone", "fpn", "rpn",
    "box_head", "mask_head", "paste" };
  return stage < MRCNN_STAGE_COUNT ? names[stage] : "unknown";
}

static mrcnn_status
check_thresholds (const mrcnn_thresholds *t, mrcnn_error *err)
{
  if (!(t->score_threshold >= 0.0f && t->score_threshold <= 1.0f))
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "score threshold %g is outside [0, 1]", t->score_threshold);
  if (!(t->nms_threshold >= 0.0f && t->nms_threshold <= 1.0f))
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "NMS threshold %g is outside [0, 1]", t->nms_threshold);
  if (!(t->mask_threshold >= 0.0f && t->mask_threshold <= 1.0f))
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mask threshold %g is outside [0, 1]", t->mask_threshold);
  if (t->max_detections < 1 || t->max_detections > 10000)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "max detections %d is outside [1, 10000]", t->max_detections);
  return MRCNN_OK;
}

/* Thresholds for a run of this engine: valid, and no more detections than
 * its buffers were planned for. */
static mrcnn_status
check_thresholds_for (const mrcnn_engine *e, const mrcnn_thresholds *t,
    mrcnn_error *err)
{
  MRCNN_TRY (check_thresholds (t, err));
  if (t->max_detections > e->cfg.thresholds.max_detections)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "max detections %d exceeds the %d this engine was created for; "
        "create a new engine", t->max_detections,
        e->cfg.thresholds.max_detections);
  return MRCNN_OK;
}

mrcnn_status
mrcnn_engine_set_thresholds (mrcnn_engine *e, const mrcnn_thresholds *t,
    mrcnn_error *err)
{
  if (!e || !t)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_engine_set_thresholds: NULL argument");
  MRCNN_TRY (check_thresholds_for (e, t, err));
  g_mutex_lock (&e->lock);
  e->th = *t;
  g_mutex_unlock (&e->lock);
  return MRCNN_OK;
}

mrcnn_backend_kind
mrcnn_engine_backend (const mrcnn_engine *e)
{
  return e ? e->kind : MRCNN_BACKEND_CPU;
}

mrcnn_precision
mrcnn_engine_precision (const mrcnn_engine *e)
{
  return e ? e->cfg.precision : MRCNN_PRECISION_FP32;
}

const char *
mrcnn_engine_precision_note (const mrcnn_engine *e)
{
  return e && e->caps.note ? e->caps.note : "";
}

long
mrcnn_engine_reference_overflows (const mrcnn_engine *e)
{
  return e ? e->be->ops->overflows (e->be) : 0;
}

const char *
mrcnn_engine_cpu_kernels (const mrcnn_engine *e)
{
  return e ? e->caps.kernels : "";
}

void
mrcnn_engine_stage_times (const mrcnn_engine *e, double *ms)
{
  mrcnn_engine *me = (mrcnn_engine *) e;
  g_mutex_lock (&me->lock);
  memcpy (ms, e->stage_ms, sizeof e->stage_ms);
  g_mutex_unlock (&me->lock);
}

static int
reg_runs (const mrcnn_backend_reg *r, mrcnn_precision p, int emulate)
{
  return ((emulate ? r->emulated : mrcnn_backend_reg_precisions (r))
      & MRCNN_PRECISION_BIT (p)) != 0;
}

/* Appends the precisions of `bits` ("fp32 and bf16", "none") to s. */
static void
append_precisions (GString *s, unsigned bits)
{
  int n = 0, total = 0;
  for (unsigned p = 0; p < G_N_ELEMENTS (precision_names); p++)
    total += (bits & MRCNN_PRECISION_BIT (p)) != 0;
  for (unsigned p = 0; p < G_N_ELEMENTS (precision_names); p++)
    if (bits & MRCNN_PRECISION_BIT (p))
      g_string_append_printf (s, "%s%s", n++ == 0 ? "" : n == total
          ? " and " : ", ", precision_names[p]);
  if (total == 0)
    g_string_append (s, "none");
}

int
mrcnn_precision_available (mrcnn_precision precision)
{
  int n;
  const mrcnn_backend_reg *const *regs = mrcnn_backends (&n);
  for (int i = 0; i < n; i++)
    if (reg_runs (regs[i], precision, 0))
      return 1;
  return 0;
}

/* Whether a backend of this build that cfg allows runs its precision, as
 * the backends say of themselves (mrcnn_backend_reg), before any device is
 * touched; when none does, where it runs instead, if anywhere. */
static mrcnn_status
check_precision (const mrcnn_engine_config *cfg,
    const mrcnn_backend_reg *const *regs, int n, mrcnn_error *err)
{
  const mrcnn_precision p = cfg->precision;
  const int emulate = cfg->emulate_precision != 0;
  if ((unsigned) p >= G_N_ELEMENTS (precision_names))
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "unknown precision %d; use fp32, tf32, fp16, bf16 or int8", (int) p);
  const mrcnn_backend_reg *want = NULL;
  if (cfg->backend != MRCNN_BACKEND_AUTO)
    MRCNN_TRY (mrcnn_backend_find (cfg->backend, &want, err));
  for (int i = 0; i < n; i++)
    if (reg_runs (regs[i], p, emulate) && (!want || want == regs[i]))
      return MRCNN_OK;
  /* none: where it runs instead, and what each backend runs; first, a
   * backend that has the precision's code but has not had it verified on
   * its device says so */
  GString *where = g_string_new (NULL), *refs = g_string_new (NULL);
  GString *what = g_string_new (NULL), *gate = g_string_new (NULL);
  for (int i = 0; i < n; i++) {
    const mrcnn_backend_reg *r = regs[i];
    if (!emulate && (!want || want == r)
        && (r->unverified & MRCNN_PRECISION_BIT (p)))
      g_string_append_printf (gate, "%s %s; ", mrcnn_precision_name (p),
          r->unverified_why);
    if (reg_runs (r, p, emulate))
      g_string_append_printf (where, "%s%s", where->len ? ", " : "", r->name);
    if (reg_runs (r, p, 1))
      g_string_append_printf (refs, "%s%s", refs->len ? ", " : "", r->name);
    unsigned bits = emulate ? r->emulated : mrcnn_backend_reg_precisions (r);
    g_string_append_printf (what, "%sthe %s backend %s", i ? "; " : "",
        r->name, !emulate ? "computes in " : bits
        ? "runs the float32 references of " : "runs no float32 reference");
    if (bits)
      append_precisions (what, bits);
  }
  const char *name = mrcnn_precision_name (p);
  mrcnn_status st;
  if (where->len)
    st = mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED, "%s%s runs on the %s "
        "backend, not on %s: %s", emulate ? "the float32 reference of "
        "precision " : "precision ", name, where->str, want->name, what->str);
  else if (emulate)
    st = mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED, "precision %s has no "
        "float32 reference in this build: %s", name, what->str);
  else
    st = mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED, "%sprecision %s is not "
        "available in this build: %s%s%s%s", gate->str, name, what->str,
        refs->len ? " (its float32 reference runs on the " : "", refs->str,
        refs->len ? " backend, with emulate_precision)" : "");
  g_string_free (gate, TRUE);
  g_string_free (where, TRUE);
  g_string_free (refs, TRUE);
  g_string_free (what, TRUE);
  return st;
}

/* e->be, made by r, if it runs the configured precision on this machine:
 * set to it, and what it can do kept in e->caps. */
static mrcnn_status
use_backend (mrcnn_engine *e, const mrcnn_backend_reg *r, mrcnn_error *err)
{
  const mrcnn_precision p = e->cfg.precision;
  const int emulate = e->cfg.emulate_precision != 0;
  mrcnn_backend_caps caps;
  e->be->ops->caps (e->be, &caps);
  if (!((emulate ? caps.emulated : caps.precisions) & MRCNN_PRECISION_BIT (p))) {
    GString *here = g_string_new (NULL);
    append_precisions (here, caps.precisions);
    mrcnn_status st = mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
        "precision %s does not run on this machine: %s%sthe %s backend "
        "computes in %s here", mrcnn_precision_name (p), caps.limits,
        *caps.limits ? "; " : "", r->name, here->str);
    g_string_free (here, TRUE);
    return st;
  }
  MRCNN_TRY (e->be->ops->set_precision (e->be, p, emulate, err));
  e->be->ops->caps (e->be, &e->caps);
  e->kind = r->kind;
  return MRCNN_OK;
}

/* The first backend of this build that cfg allows, that runs its precision
 * and that opens: backend AUTO tries CUDA, where built and a device
 * answers, then the CPU. */
static mrcnn_status
make_backend (mrcnn_engine *e, const mrcnn_backend_reg *const *regs, int n,
    mrcnn_error *err)
{
  const mrcnn_engine_config *cfg = &e->cfg;
  mrcnn_error why = { MRCNN_ERR_UNSUPPORTED, "no backend runs it" };
  for (int i = 0; i < n; i++) {
    const mrcnn_backend_reg *r = regs[i];
    if ((cfg->backend != MRCNN_BACKEND_AUTO && cfg->backend != r->kind)
        || !reg_runs (r, cfg->precision, cfg->emulate_precision))
      continue;
    why = (mrcnn_error) { 0 };
    if (r->create (cfg, &e->be, &why) != MRCNN_OK)
      continue;
    if (use_backend (e, r, &why) == MRCNN_OK)
      return MRCNN_OK;
    e->be->ops->destroy (e->be);
    e->be = NULL;
  }
  return mrcnn_fail (err, why.status, "%s", why.message);
}

/* The sizes of a context of `frames` frames: one frame's input, padded to
 * 32 either way round, and the counts the engine was made for. */
static void
plan_sizes (const mrcnn_engine *e, int frames, mrcnn_plan *p)
{
  const mrcnn_model *m = e->model;
  p->frames = frames;
  p->short_side = round_up32 (m->min_size);
  p->long_side = round_up32 (m->max_size);
  p->frame_area = (size_t) p->short_side * p->long_side;
  p->frame_short_max = MIN (p->long_side, frames * p->short_side);
  p->max_detections = e->cfg.thresholds.max_detections;
  p->post_nms_top_n = m->rpn_post_nms_top_n;
}

/* The stages' parts, in the order the stages run. */
static const mrcnn_stage_parts *const stages[] = {
  &mrcnn_preprocess_parts, &mrcnn_body_parts, &mrcnn_fpn_parts,
  &mrcnn_rpn_parts, &mrcnn_box_head_parts, &mrcnn_mask_head_parts,
  &mrcnn_postprocess_parts,
};

void
mrcnn_plan_buffer (mrcnn_context *ctx, size_t n, mrcnn_stage first,
    mrcnn_stage last, int reduced, float **slot)
{
  mrcnn_buffer_req r = { n, (int) first, (int) last, reduced != 0, slot };
  *slot = NULL;
  g_array_append_val (ctx->buffers, r);
}

/* Every planned buffer at once: the backend's arena where it has one. */
static mrcnn_status
alloc_buffers (const mrcnn_engine *e, mrcnn_context *c, mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  mrcnn_buffer_req *reqs = (mrcnn_buffer_req *) c->buffers->data;
  const int n = (int) c->buffers->len;
  if (be->ops->alloc_buffers)
    return be->ops->alloc_buffers (be, c->q, reqs, n, err);
  for (int i = 0; i < n; i++)
    MRCNN_TRY (be->ops->alloc (be, reqs[i].n, reqs[i].slot, err));
  return MRCNN_OK;
}

static void
release_buffers (const mrcnn_engine *e, mrcnn_context *c)
{
  mrcnn_backend *be = e->be;
  mrcnn_buffer_req *reqs = (mrcnn_buffer_req *) c->buffers->data;
  const int n = (int) c->buffers->len;
  if (be->ops->release_buffers) {
    be->ops->release_buffers (be, c->q, reqs, n);
    return;
  }
  for (int i = 0; i < n; i++)
    mrcnn_release_buf (be, reqs[i].slot);
}

void
mrcnn_context_free (const mrcnn_engine *e, mrcnn_context *c)
{
  if (!c)
    return;
  mrcnn_backend *be = e->be;
  if (c->buffers)
    release_buffers (e, c);
  for (size_t i = 0; i < G_N_ELEMENTS (stages); i++)
    stages[i]->scratch_free (e, c);
  if (c->buffers)
    g_array_free (c->buffers, TRUE);
  /* the queue owns a host buffer it reserved */
  if (!be->ops->download_reserve)
    g_free (c->host_scratch);
  if (c->q)
    be->ops->queue_free (be, c->q);
  g_free (c);
}

/* The floats one pass's results take (download_results): each frame's two
 * counts, and its detections' boxes, scores, labels and masks. */
static size_t
results_floats (const mrcnn_plan *p)
{
  return (size_t) p->frames * (2 + (size_t) p->max_detections
      * (4 + 1 + 1 + MRCNN_MASK_SIZE * MRCNN_MASK_SIZE));
}

static mrcnn_status prepare_passes (const mrcnn_engine *e, mrcnn_context *c,
    mrcnn_error *err);

mrcnn_status
mrcnn_context_new (const mrcnn_engine *e, int max_batch, mrcnn_context **out,
    mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  mrcnn_context *c = g_new0 (mrcnn_context, 1);
  plan_sizes (e, max_batch, &c->plan);
  c->buffers = g_array_new (FALSE, FALSE, sizeof (mrcnn_buffer_req));
  c->device_counts = be->ops->rpn_proposals_dev && be->ops->detect_dev;
  mrcnn_status st = be->ops->queue_new (be, &c->q, err);
  for (size_t i = 0; st == MRCNN_OK && i < G_N_ELEMENTS (stages); i++)
    st = stages[i]->plan (e, c, err);
  if (st == MRCNN_OK)
    st = alloc_buffers (e, c, err);
  /* host side: the results' downloads (larger reads, such as the debug
   * record's, go through it in parts: mrcnn_context_download) */
  c->host_scratch_size = results_floats (&c->plan);
  if (st == MRCNN_OK && be->ops->download_reserve) {
    st = be->ops->download_reserve (be, c->q, c->host_scratch_size,
        &c->host_scratch, err);
  } else if (st == MRCNN_OK) {
    c->host_scratch = g_try_new (float, c->host_scratch_size);
    if (!c->host_scratch)
      st = mrcnn_fail (err, MRCNN_ERR_NO_MEMORY,
          "cannot allocate host buffers");
  }
  if (st == MRCNN_OK && e->caps.plans_ahead)
    st = prepare_passes (e, c, err);
  if (st != MRCNN_OK) {
    mrcnn_context_free (e, c);
    return st;
  }
  *out = c;
  return MRCNN_OK;
}

void
mrcnn_engine_free (mrcnn_engine *e)
{
  if (!e)
    return;
  mrcnn_sched_free (e);
  if (e->be) {
    for (size_t i = 0; i < G_N_ELEMENTS (stages); i++)
      if (stages[i]->unload)
        stages[i]->unload (e);
    e->be->ops->destroy (e->be);
  }
  mrcnn_debug_free (e->debug);
  g_mutex_clear (&e->lock);
  g_free (e);
}

/* An engine on the first of the backends regs that cfg allows and that
 * runs its precision. */
static mrcnn_status
engine_new (const mrcnn_model *model, const mrcnn_engine_config *cfg,
    const mrcnn_backend_reg *const *regs, int nregs, mrcnn_engine **out,
    mrcnn_error *err)
{
  if (!model || !out)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_engine_new: model and out must not be NULL");
  *out = NULL;
  mrcnn_engine_config defaults;
  if (!cfg) {
    mrcnn_engine_config_init (&defaults, model);
    cfg = &defaults;
  }
  if (cfg->max_width < 2 || cfg->max_height < 2 || cfg->max_width > 16384
      || cfg->max_height > 16384)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "planned maximum frame %dx%d is outside 2x2 .. 16384x16384",
        cfg->max_width, cfg->max_height);
  if (cfg->num_threads < 0)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "num_threads %d is negative", cfg->num_threads);
  MRCNN_TRY (check_thresholds (&cfg->thresholds, err));
  MRCNN_TRY (check_precision (cfg, regs, nregs, err));
  MRCNN_TRY (mrcnn_calibration_check (model, cfg->precision, err));

  if (cfg->max_batch < 1 || cfg->max_batch > MRCNN_BATCH_MAX)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "max_batch %d is outside 1 .. %d", cfg->max_batch, MRCNN_BATCH_MAX);
  if (cfg->passes < 0 || cfg->passes > MRCNN_BATCH_MAX)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "passes %d is outside 0 .. %d (0: as many as the batch and the "
        "threads allow)", cfg->passes, MRCNN_BATCH_MAX);

  mrcnn_engine *e = g_new0 (mrcnn_engine, 1);
  g_mutex_init (&e->lock);
  e->model = model;
  e->cfg = *cfg;
  e->th = cfg->thresholds;
  mrcnn_status st = make_backend (e, regs, nregs, err);
  if (st == MRCNN_OK)
    st = e->be->ops->frame_reserve (e->be, cfg->max_width, cfg->max_height,
        err);
  for (size_t i = 0; st == MRCNN_OK && i < G_N_ELEMENTS (stages); i++)
    if (stages[i]->load)
      st = stages[i]->load (e, err);
  /* the contexts are planned from the stages' weights */
  if (st == MRCNN_OK)
    st = mrcnn_sched_new (e, err);
  if (st != MRCNN_OK) {
    mrcnn_engine_free (e);
    return st;
  }
  *out = e;
  return MRCNN_OK;
}

mrcnn_status
mrcnn_engine_new (const mrcnn_model *model, const mrcnn_engine_config *cfg,
    mrcnn_engine **out, mrcnn_error *err)
{
  int n;
  const mrcnn_backend_reg *const *regs = mrcnn_backends (&n);
  return engine_new (model, cfg, regs, n, out, err);
}

mrcnn_status
mrcnn_engine_new_on (const mrcnn_model *model, const mrcnn_engine_config *cfg,
    const mrcnn_backend_reg *reg, mrcnn_engine **out, mrcnn_error *err)
{
  if (cfg && cfg->backend != MRCNN_BACKEND_AUTO && cfg->backend != reg->kind)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_engine_new_on: the configuration asks for another backend "
        "than %s", reg->name);
  return engine_new (model, cfg, &reg, 1, out, err);
}

static mrcnn_status
check_image (const mrcnn_engine *e, const mrcnn_image *img, mrcnn_error *err)
{
  if (mrcnn_pp_pixel_bytes (img->format) == 0)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "unknown pixel format %d", (int) img->format);
  if (img->width < 2 || img->height < 2)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "frame of %dx%d pixels is too small; the engine needs at least 2x2",
        img->width, img->height);
  int rw, rh;
  if (!mrcnn_model_resized_size (e->model, img->width, img->height, &rw, &rh))
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "frame of %dx%d pixels is too thin: resized for the model (min size "
        "%d, max size %d) it would be %dx%d pixels, and a side of 0 has "
        "nothing to detect", img->width, img->height, e->model->min_size,
        e->model->max_size, rw, rh);
  if (img->on_device && !e->caps.device_frames)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "frame is in CUDA device memory but the engine runs on the %s "
        "backend, which reads frames in host memory", e->be->ops->name);
  for (int p = 0; p < mrcnn_pp_planes (img->format); p++) {
    int w = mrcnn_pp_plane_row_bytes (img->format, img->width, p);
    if (!img->planes[p])
      return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
          "frame plane %d is NULL", p);
    if (img->strides[p] < w)
      return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
          "frame plane %d stride %d is smaller than its row of %d bytes", p,
          img->strides[p], w);
  }
  return MRCNN_OK;
}

mrcnn_status
mrcnn_engine_check_frame (const mrcnn_engine *e, const mrcnn_image *img,
    const mrcnn_thresholds *th, mrcnn_error *err)
{
  MRCNN_TRY (check_image (e, img, err));
  return th ? check_thresholds_for (e, th, err) : MRCNN_OK;
}

static double
now_ms (void)
{
  return (double) g_get_monotonic_time () / 1000.0;
}

mrcnn_status
mrcnn_context_download (const mrcnn_engine *e, const mrcnn_context *ctx,
    const float *src, size_t n, float *dst, mrcnn_error *err)
{
  /* in parts of the host scratch's size, which a backend that copies
   * downloads into it needs */
  for (size_t off = 0; off < n; off += ctx->host_scratch_size) {
    size_t part = MIN (n - off, ctx->host_scratch_size);
    const float *p = e->be->ops->download (e->be, ctx->q, src + off, part,
        ctx->host_scratch, err);
    if (!p)
      return err ? err->status : MRCNN_ERR_BACKEND;
    memcpy (dst + off, p, part * sizeof (float));
  }
  return MRCNN_OK;
}

/* A pass's results in host memory (download_results). */
typedef struct {
  mrcnn_span span[5];          /* counts (device counts only), boxes,
                                * scores, labels, mask probabilities */
  int nspans;
} pass_results;

enum { SPAN_COUNTS, SPAN_BOXES, SPAN_SCORES, SPAN_LABELS, SPAN_PROBS };

/* Queues the copies of the results (spans of backend memory) into the
 * context's host buffer: one packed download where the backend has
 * download_async, else one download() each. */
static mrcnn_status
download_results (const mrcnn_engine *e, mrcnn_context *ctx,
    const mrcnn_batch *b, const mrcnn_detections *dets, const float *probs,
    pass_results *r, mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  const size_t total = (size_t) dets->rows.total;
  const size_t mm = MRCNN_MASK_SIZE * MRCNN_MASK_SIZE;
  r->span[SPAN_COUNTS] = (mrcnn_span) { (const float *) ctx->counts,
    ctx->device_counts ? 2 * (size_t) b->n : 0 };
  r->span[SPAN_BOXES] = (mrcnn_span) { dets->boxes, total * 4 };
  r->span[SPAN_SCORES] = (mrcnn_span) { dets->scores, total };
  r->span[SPAN_LABELS] = (mrcnn_span) { (const float *) dets->labels, total };
  r->span[SPAN_PROBS] = (mrcnn_span) { probs, total * mm };
  r->nspans = 5;
  size_t all = 0;
  for (int i = 0; i < r->nspans; i++)
    all += r->span[i].n;
  if (all > ctx->host_scratch_size)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "a pass's results (%zu "
        "floats) exceed the %zu planned", all, ctx->host_scratch_size);
  if (be->ops->download_async)
    return be->ops->download_async (be, ctx->q, r->span, r->nspans, err);
  size_t off = 0;
  for (int i = 0; i < r->nspans; i++) {
    r->span[i].host = ctx->host_scratch + off;
    if (r->span[i].n == 0)
      continue;
    r->span[i].host = be->ops->download (be, ctx->q, r->span[i].src,
        r->span[i].n, ctx->host_scratch + off, err);
    if (!r->span[i].host)
      return err ? err->status : MRCNN_ERR_BACKEND;
    off += r->span[i].n;
  }
  return MRCNN_OK;
}

/* Image i's detections and masks as a result in frame pixels, from the
 * pass's results in host memory. */
static void
make_result (const mrcnn_engine *e, const mrcnn_batch *b,
    const mrcnn_detections *dets, const pass_results *pr, int i,
    mrcnn_result **out)
{
  const mrcnn_frame_geometry *f = &b->frame[i];
  const int n = dets->rows.count[i], first = dets->rows.start[i];
  const int M = MRCNN_MASK_SIZE;
  const float *boxes = pr->span[SPAN_BOXES].host + (size_t) first * 4;
  const float *scores = pr->span[SPAN_SCORES].host + first;
  const int *labels = (const int *) pr->span[SPAN_LABELS].host + first;
  mrcnn_result *r = g_new0 (mrcnn_result, 1);
  r->image_w = f->img_w;
  r->image_h = f->img_h;
  r->n = n;
  r->mask_size = M;
  r->det = g_new0 (mrcnn_detection, MAX (n, 1));
  r->mask_probs = g_new (float, (size_t) MAX (n, 1) * M * M);
  if (n)
    memcpy (r->mask_probs, pr->span[SPAN_PROBS].host + (size_t) first * M * M,
        (size_t) n * M * M * sizeof (float));
  /* GeneralizedRCNNTransform.postprocess: float32 ratio per axis */
  float rw = (float) f->img_w / (float) f->res_w;
  float rh = (float) f->img_h / (float) f->res_h;
  for (int k = 0; k < n; k++) {
    mrcnn_detection *d = &r->det[k];
    d->x1 = boxes[4 * k] * rw;
    d->y1 = boxes[4 * k + 1] * rh;
    d->x2 = boxes[4 * k + 2] * rw;
    d->y2 = boxes[4 * k + 3] * rh;
    d->score = scores[k];
    d->class_id = labels[k];
    d->label = mrcnn_model_class_label (e->model, d->class_id);
  }
  *out = r;
}

static void
free_results (mrcnn_result **results, int n)
{
  for (int k = 0; k < n; k++) {
    mrcnn_result_free (results[k]);
    results[k] = NULL;
  }
}

/* What one pass carries from stage to stage. */
typedef struct {
  mrcnn_fmap input, laterals[MRCNN_FPN_LEVELS], pyramid[MRCNN_LEVELS];
  mrcnn_proposals props;
  mrcnn_detections dets;
  float *probs;
  pass_results results;
  double t[MRCNN_STAGE_COUNT + 1];     /* host clock at each mark, where
                                        * the backend has no marks */
} pass_state;

/* Stage `stage` ends (-1: the pass starts): the backend records it, or
 * the engine waits for the stage's work and reads the clock. */
static mrcnn_status
mark (const mrcnn_engine *e, mrcnn_context *ctx, int stage, pass_state *p,
    mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  if (be->ops->mark)
    return be->ops->mark (be, ctx->q, stage, err);
  if (stage >= 0)
    MRCNN_TRY (be->ops->sync (be, ctx->q, err));
  p->t[stage + 1] = now_ms ();
  return MRCNN_OK;
}

/* The pass after its preprocessing, to its results' download: what a
 * backend may capture once and replay (pass_begin). */
static mrcnn_status
device_part (const mrcnn_engine *e, mrcnn_context *ctx,
    const mrcnn_thresholds *th, const mrcnn_batch *b, pass_state *p,
    mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  mrcnn_queue *q = ctx->q;
  MRCNN_TRY (mrcnn_body_run (be, q, e->body, ctx->body, e->fpn, ctx->fpn,
          &p->input, p->laterals, err));
  MRCNN_TRY (mark (e, ctx, MRCNN_STAGE_BACKBONE, p, err));
  MRCNN_TRY (mrcnn_fpn_run (be, q, e->fpn, ctx->fpn, p->laterals, p->pyramid,
          err));
  MRCNN_TRY (mark (e, ctx, MRCNN_STAGE_FPN, p, err));
  MRCNN_TRY (mrcnn_rpn_run (be, q, e->rpn, ctx->rpn, ctx->postproc,
          ctx->counts, p->pyramid, b, &p->props, err));
  MRCNN_TRY (mark (e, ctx, MRCNN_STAGE_RPN, p, err));
  MRCNN_TRY (mrcnn_box_head_run (be, q, e->box_head, ctx->box_head,
          ctx->postproc, ctx->counts, p->pyramid, b, &p->props, th, &p->dets,
          err));
  MRCNN_TRY (mark (e, ctx, MRCNN_STAGE_BOX_HEAD, p, err));
  MRCNN_TRY (mrcnn_mask_head_run (be, q, e->mask_head, ctx->mask_head,
          p->pyramid, b, &p->dets, &p->probs, err));
  MRCNN_TRY (mark (e, ctx, MRCNN_STAGE_MASK_HEAD, p, err));
  MRCNN_TRY (download_results (e, ctx, b, &p->dets, p->probs, &p->results,
          err));
  return mark (e, ctx, MRCNN_STAGE_PASTE, p, err);
}

/* What the device part of a pass depends on besides the buffers'
 * contents: the batch's geometry and each frame's thresholds. */
typedef struct {
  int n, pad_w, pad_h, res_w_max, res_h_max;
  struct {
    int res_w, res_h, max_detections;
    float score_threshold, nms_threshold;
  } f[MRCNN_BATCH_MAX];
} pass_key;

static size_t
make_key (const mrcnn_batch *b, const mrcnn_thresholds *th, pass_key *k)
{
  memset (k, 0, sizeof *k);
  k->n = b->n;
  k->pad_w = b->pad_w;
  k->pad_h = b->pad_h;
  k->res_w_max = b->res_w_max;
  k->res_h_max = b->res_h_max;
  for (int i = 0; i < b->n; i++) {
    k->f[i].res_w = b->frame[i].res_w;
    k->f[i].res_h = b->frame[i].res_h;
    k->f[i].max_detections = th[i].max_detections;
    k->f[i].score_threshold = th[i].score_threshold;
    k->f[i].nms_threshold = th[i].nms_threshold;
  }
  return G_STRUCT_OFFSET (pass_key, f) + (size_t) b->n * sizeof k->f[0];
}

/* One forward pass of a planned batch on ctx (taken by this call):
 * frames first .. first + b->n - 1 of the whole batch. With plan_only, the
 * backend only plans what the pass runs (caps.plans_ahead) and there are
 * no results. */
static mrcnn_status
forward (const mrcnn_engine *e, mrcnn_context *ctx, const mrcnn_image *images,
    const mrcnn_thresholds *th, const mrcnn_batch *b, int first,
    mrcnn_result **results, int plan_only, mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  mrcnn_queue *q = ctx->q;
  pass_state *p = g_new0 (pass_state, 1);
  pass_key key;
  const size_t key_len = make_key (b, th, &key);
  mrcnn_status st = MRCNN_OK;
  int ran = 1, begun = 0;

  if (plan_only) {
    st = be->ops->pass_begin (be, q, &key, key_len, 1, err);
    begun = st == MRCNN_OK;
  }
  if (st == MRCNN_OK)
    st = mark (e, ctx, -1, p, err);
  if (st == MRCNN_OK)
    st = mrcnn_preprocess_run (be, q, e->preprocess, ctx->preprocess, images,
        b, &p->input, err);
  if (st == MRCNN_OK)
    st = mark (e, ctx, MRCNN_STAGE_PREPROCESS, p, err);
  if (st == MRCNN_OK && !plan_only && be->ops->pass_begin) {
    st = be->ops->pass_begin (be, q, &key, key_len, 0, err);
    begun = st == MRCNN_OK;
  }
  if (st == MRCNN_OK)
    st = device_part (e, ctx, th, b, p, err);
  /* a capture is ended whatever happened inside it; if it failed, nothing
   * ran and the ops are issued again, as they come */
  if (begun) {
    mrcnn_status end = be->ops->pass_end (be, q, &ran, err);
    if (st == MRCNN_OK)
      st = end;
  }
  if (!ran)
    st = device_part (e, ctx, th, b, p, err);
  if (st != MRCNN_OK || plan_only) {
    g_free (p);
    return st;
  }
  /* the pass's one wait, where the marks did not wait already */
  if (be->ops->mark)
    st = be->ops->sync (be, q, err);
  if (st != MRCNN_OK) {
    g_free (p);
    return st;
  }
  if (be->ops->stage_times) {
    be->ops->stage_times (be, q, ctx->stage_ms);
  } else {
    for (int s = 0; s < MRCNN_STAGE_COUNT; s++)
      ctx->stage_ms[s] += p->t[s + 1] - p->t[s];
  }
  /* the counts that stayed on the device came back with the results: the
   * rows of each image are those counts now (they start where planned) */
  if (ctx->device_counts) {
    const int *counts = (const int *) p->results.span[SPAN_COUNTS].host;
    for (int i = 0; i < b->n; i++) {
      p->props.rows.count[i] = counts[i];
      p->dets.rows.count[i] = counts[b->n + i];
    }
  }
  const double t0 = now_ms ();
  for (int i = 0; i < b->n; i++)
    make_result (e, b, &p->dets, &p->results, i, &results[i]);
  ctx->stage_ms[MRCNN_STAGE_PASTE] += now_ms () - t0;
  if (e->debug) {
    mrcnn_debug_pass pass = { first, &p->input, p->pyramid, &p->props,
      &p->dets, p->probs };
    st = mrcnn_debug_keep_pass (e, ctx, &pass, err);
    if (st != MRCNN_OK)
      free_results (results, b->n);
  }
  g_free (p);
  return st;
}

/* Plan-only passes of the planned frame size (the configured largest
 * frame, whose geometry every frame of that shape shares) at one frame and
 * at the context's whole batch, so that the backend makes its plans when
 * the engine is created, not on the first frames. */
static mrcnn_status
prepare_passes (const mrcnn_engine *e, mrcnn_context *c, mrcnn_error *err)
{
  const int w = e->cfg.max_width, h = e->cfg.max_height;
  guint8 *pixels = g_try_malloc0 ((size_t) w * h * 3);
  if (!pixels)
    return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY, "cannot allocate a %dx%d "
        "frame to plan passes with", w, h);
  mrcnn_image img[MRCNN_BATCH_MAX];
  mrcnn_thresholds th[MRCNN_BATCH_MAX];
  for (int i = 0; i < MRCNN_BATCH_MAX; i++) {
    img[i] = (mrcnn_image) { MRCNN_PIXEL_RGB, w, h, { pixels }, { w * 3 } };
    th[i] = e->cfg.thresholds;
  }
  const int sizes[2] = { 1, c->plan.frames };
  mrcnn_status st = MRCNN_OK;
  for (int k = 0; st == MRCNN_OK && k < (sizes[1] > 1 ? 2 : 1); k++) {
    mrcnn_batch b;
    st = mrcnn_batch_plan (e, c, img, sizes[k], &b, err);
    const int fit = st == MRCNN_OK ? mrcnn_batch_fit (c, &b) : 0;
    if (st == MRCNN_OK && fit < b.n) {
      mrcnn_batch part;
      mrcnn_batch_part (&b, 0, fit, &part);
      b = part;
    }
    if (st == MRCNN_OK)
      st = forward (e, c, img, th, &b, 0, NULL, 1, err);
  }
  g_free (pixels);
  return st;
}

/* Frames first .. first + count - 1 of batch b on ctx with `workers` of
 * the backend's workers: in parts of as many frames as the context holds
 * at the batch's size, each with b's geometry. */
mrcnn_status
mrcnn_context_run (const mrcnn_engine *e, mrcnn_context *ctx, int workers,
    const mrcnn_image *images, const mrcnn_thresholds *th,
    const mrcnn_batch *b, int first, int count, mrcnn_result **results,
    mrcnn_error *err)
{
  const int fit = mrcnn_batch_fit (ctx, b);
  mrcnn_status st = MRCNN_OK;
  e->be->ops->queue_begin (e->be, ctx->q, workers);
  for (int off = 0; st == MRCNN_OK && off < count; off += fit) {
    int f = first + off;
    mrcnn_batch part;
    mrcnn_batch_part (b, f, MIN (fit, count - off), &part);
    st = forward (e, ctx, images + f, th + f, &part, f, results + f, 0, err);
  }
  return st;
}
