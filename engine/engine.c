/* Engine life cycle, memory planning and the forward pass in stage order. */
#include <stdio.h>
#include <string.h>

#include "engine_priv.h"
#include "engine_debug.h"

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

static const char *const precision_names[] = { "fp32", "tf32", "fp16", "bf16" };

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

long
mrcnn_engine_reference_overflows (const mrcnn_engine *e)
{
  return e && e->kind == MRCNN_BACKEND_CPU ? mrcnn_backend_cpu_overflows (e->be)
      : 0;
}

const char *
mrcnn_engine_cpu_kernels (const mrcnn_engine *e)
{
  return e && e->kind == MRCNN_BACKEND_CPU ? mrcnn_backend_cpu_kernels (e->be)
      : "";
}

void
mrcnn_engine_stage_times (const mrcnn_engine *e, double *ms)
{
  mrcnn_engine *me = (mrcnn_engine *) e;
  g_mutex_lock (&me->lock);
  memcpy (ms, e->stage_ms, sizeof e->stage_ms);
  g_mutex_unlock (&me->lock);
}

/* Which backend can run the configured precision: bf16 and the emulated
 * references are the CPU's; the CUDA backend runs fp32 only so far. */
static mrcnn_status
check_precision (const mrcnn_engine_config *cfg, mrcnn_error *err)
{
  mrcnn_precision p = cfg->precision;
  const char *name = mrcnn_precision_name (p);
  if ((unsigned) p >= G_N_ELEMENTS (precision_names))
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "unknown precision %d; use fp32, tf32, fp16 or bf16", (int) p);
  if (cfg->emulate_precision) {
    if (p != MRCNN_PRECISION_BF16 && p != MRCNN_PRECISION_FP16)
      return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
          "precision %s has no CPU reference; the emulated precisions are "
          "bf16 and fp16", name);
    if (cfg->backend == MRCNN_BACKEND_CUDA)
      return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
          "the emulated %s reference runs on the CPU backend only", name);
    return MRCNN_OK;
  }
  if (p == MRCNN_PRECISION_BF16 && cfg->backend == MRCNN_BACKEND_CUDA)
    return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
        "precision bf16 runs on the CPU backend only; on CUDA use fp32");
  if (p != MRCNN_PRECISION_TF32 && p != MRCNN_PRECISION_FP16)
    return MRCNN_OK;
  if (cfg->backend == MRCNN_BACKEND_CPU)
    return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
        "precision %s is a CUDA precision; the CPU backend runs fp32, or "
        "bf16 on a CPU with AVX512_BF16 or AMX", name);
  return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
      "precision %s is not available in this version: the CUDA backend "
      "runs fp32 only", name);
}

static mrcnn_status
make_backend (mrcnn_engine *e, mrcnn_error *err)
{
  mrcnn_backend_kind want = e->cfg.backend;
  /* the CPU's precisions never try the GPU */
  if (want == MRCNN_BACKEND_AUTO && (e->cfg.emulate_precision
          || e->cfg.precision == MRCNN_PRECISION_BF16))
    want = MRCNN_BACKEND_CPU;
  if (want == MRCNN_BACKEND_CUDA || want == MRCNN_BACKEND_AUTO) {
    mrcnn_error cuda_err = { 0 };
    mrcnn_status st = mrcnn_backend_cuda_new (e->cfg.device_id, &e->be, &cuda_err);
    if (st == MRCNN_OK) {
      e->kind = MRCNN_BACKEND_CUDA;
      return MRCNN_OK;
    }
    if (want == MRCNN_BACKEND_CUDA)
      return mrcnn_fail (err, st, "%s", cuda_err.message);
  }
  MRCNN_TRY (mrcnn_backend_cpu_new (e->cfg.num_threads, e->cfg.precision,
          e->cfg.emulate_precision, &e->be, err));
  e->kind = MRCNN_BACKEND_CPU;
  return MRCNN_OK;
}

void
mrcnn_context_free (const mrcnn_engine *e, mrcnn_context *c)
{
  if (!c)
    return;
  mrcnn_backend *be = e->be;
  float **bufs[] = { &c->image, &c->act[0], &c->act[1], &c->act[2],
    &c->act[3], &c->rpn_hidden, &c->box_feat, &c->fc6_out, &c->fc7_out,
    &c->pred_out, &c->proposals, &c->det_boxes, &c->det_scores,
    (float **) &c->det_labels, &c->mask_feat[0], &c->mask_feat[1],
    &c->mask_up, &c->mask_probs };
  for (size_t i = 0; i < G_N_ELEMENTS (bufs); i++)
    if (*bufs[i])
      be->ops->release (be, *bufs[i]);
  for (int l = 0; l < MRCNN_LEVELS; l++) {
    if (l < MRCNN_FPN_LEVELS && c->lateral[l])
      be->ops->release (be, c->lateral[l]);
    if (c->pyramid[l])
      be->ops->release (be, c->pyramid[l]);
    if (c->rpn_raw[l])
      be->ops->release (be, c->rpn_raw[l]);
  }
  if (c->postproc)
    be->ops->postproc_free (be, c->postproc);
  if (c->q)
    be->ops->queue_free (be, c->q);
  g_free (c->host_scratch);
  g_free (c);
}

mrcnn_status
mrcnn_context_new (const mrcnn_engine *e, int max_batch, mrcnn_context **out,
    mrcnn_error *err)
{
  const mrcnn_model *m = e->model;
  const mrcnn_arch *a = e->arch;
  mrcnn_backend *be = e->be;
  mrcnn_context *c = g_new0 (mrcnn_context, 1);
  const size_t B = (size_t) max_batch;
  int short_pad = round_up32 (m->min_size), long_pad = round_up32 (m->max_size);
  mrcnn_status st = MRCNN_OK;
#define ALLOC(n, p) \
  do { if (st == MRCNN_OK) st = be->ops->alloc (be, (n), (p), err); } while (0)
  c->max_batch = max_batch;
  c->max_pad_w = c->max_pad_h = long_pad;
  c->max_area = (size_t) short_pad * long_pad;
  size_t area = c->max_area;

  ALLOC (B * 3 * area, &c->image);
  c->act_size = B * mrcnn_body_max_activation (a, area);
  for (int i = 0; i < 4; i++)
    ALLOC (c->act_size, &c->act[i]);
  for (int l = 0; l < MRCNN_LEVELS; l++) {
    int s = 4 << l;
    size_t lvl_area = B * (short_pad / s + 1) * (long_pad / s + 1);
    if (l < MRCNN_FPN_LEVELS)
      ALLOC ((size_t) mrcnn_ch_pad (a->fpn_ch) * lvl_area, &c->lateral[l]);
    ALLOC ((size_t) mrcnn_ch_pad (a->fpn_ch) * lvl_area, &c->pyramid[l]);
    ALLOC ((size_t) mrcnn_ch_pad (5 * a->num_anchors) * lvl_area,
        &c->rpn_raw[l]);
  }
  size_t p2_area = B * (short_pad / 4 + 1) * (long_pad / 4 + 1);
  ALLOC ((size_t) mrcnn_ch_pad (a->fpn_ch) * p2_area, &c->rpn_hidden);

  size_t R = B * m->rpn_post_nms_top_n;
  size_t D = B * e->cfg.thresholds.max_detections;
  size_t C = a->num_classes, M = MRCNN_MASK_POOL;
  ALLOC (R * a->box_in, &c->box_feat);
  ALLOC (R * a->representation, &c->fc6_out);
  ALLOC (R * a->representation, &c->fc7_out);
  ALLOC (R * 5 * C, &c->pred_out);
  ALLOC (R * 4, &c->proposals);
  ALLOC (D * 4, &c->det_boxes);
  ALLOC (D, &c->det_scores);
  ALLOC (D, (float **) &c->det_labels);   /* ints of a float's size */
  size_t mc = mrcnn_ch_pad (MAX (a->mask_ch, a->fpn_ch));
  for (int i = 0; i < 2; i++)
    ALLOC (D * mc * M * M, &c->mask_feat[i]);
  ALLOC (D * mrcnn_ch_pad (a->mask_deconv_ch) * 4 * M * M, &c->mask_up);
  ALLOC (D * 4 * M * M, &c->mask_probs);
#undef ALLOC

  /* host side: downloads of the results (proposals, detections, masks) and
   * of a debug feature map's channels */
  c->host_scratch_size = MAX (MAX (R * 4, area), D * 4 * M * M);
  if (st == MRCNN_OK) {
    c->host_scratch = g_try_new (float, c->host_scratch_size);
    if (!c->host_scratch)
      st = mrcnn_fail (err, MRCNN_ERR_NO_MEMORY,
          "cannot allocate host buffers");
  }
  if (st == MRCNN_OK)
    st = be->ops->queue_new (be, &c->q, err);
  if (st == MRCNN_OK)
    st = mrcnn_postproc_plan (e, &c->postproc, err);
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
    mrcnn_backend *be = e->be;
    mrcnn_body_free (e);
    mrcnn_fpn_free (e);
    mrcnn_rpn_free (e);
    mrcnn_roi_heads_free (e);
    be->ops->destroy (be);
  }
  g_mutex_clear (&e->lock);
  g_free (e);
}

mrcnn_status
mrcnn_engine_new (const mrcnn_model *model, const mrcnn_engine_config *cfg,
    mrcnn_engine **out, mrcnn_error *err)
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
  MRCNN_TRY (check_precision (cfg, err));

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
  e->arch = &model->arch;
  e->cfg = *cfg;
  e->th = cfg->thresholds;
  mrcnn_status st = make_backend (e, err);
  if (st == MRCNN_OK)
    st = mrcnn_sched_new (e, err);
  if (st == MRCNN_OK)
    st = e->be->ops->frame_reserve (e->be, cfg->max_width, cfg->max_height,
        err);
  if (st == MRCNN_OK)
    st = mrcnn_body_init (e, err);
  if (st == MRCNN_OK)
    st = mrcnn_fpn_init (e, err);
  if (st == MRCNN_OK)
    st = mrcnn_rpn_init (e, err);
  if (st == MRCNN_OK)
    st = mrcnn_roi_heads_init (e, err);
  if (st != MRCNN_OK) {
    mrcnn_engine_free (e);
    return st;
  }
  *out = e;
  return MRCNN_OK;
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
  if (img->width > e->cfg.max_width || img->height > e->cfg.max_height)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "frame of %dx%d pixels is larger than the %dx%d this engine was "
        "planned for; create the engine with a larger max_width/max_height",
        img->width, img->height, e->cfg.max_width, e->cfg.max_height);
  if (img->on_device && e->kind != MRCNN_BACKEND_CUDA)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "frame is in CUDA device memory but the engine runs on the CPU");
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

/* Downloads n floats of backend memory into dst (host). */
static mrcnn_status
fetch (const mrcnn_engine *e, const mrcnn_context *ctx, const float *src,
    size_t n, float *dst, mrcnn_error *err)
{
  if (n == 0)
    return MRCNN_OK;
  const float *p = e->be->ops->download (e->be, ctx->q, src, n,
      ctx->host_scratch, err);
  if (!p)
    return err ? err->status : MRCNN_ERR_BACKEND;
  memcpy (dst, p, n * sizeof (float));
  return MRCNN_OK;
}

/* Image i's detections and masks as a result in frame pixels. */
static mrcnn_status
make_result (const mrcnn_engine *e, const mrcnn_context *ctx,
    const mrcnn_batch *b, const mrcnn_detections *dets, const float *probs,
    int i, mrcnn_result **out, mrcnn_error *err)
{
  const mrcnn_frame_geometry *f = &b->frame[i];
  const int n = dets->rows.count[i], first = dets->rows.start[i];
  const int M = MRCNN_MASK_SIZE;
  mrcnn_result *r = g_new0 (mrcnn_result, 1);
  r->image_w = f->img_w;
  r->image_h = f->img_h;
  r->n = n;
  r->mask_size = M;
  r->det = g_new0 (mrcnn_detection, MAX (n, 1));
  r->mask_probs = g_new (float, (size_t) MAX (n, 1) * M * M);
  float *boxes = g_new (float, (size_t) MAX (n, 1) * 6);
  float *scores = boxes + (size_t) n * 4;
  int *labels = (int *) (scores + n);
  mrcnn_status st = fetch (e, ctx, dets->boxes + (size_t) first * 4,
      (size_t) n * 4, boxes, err);
  if (st == MRCNN_OK)
    st = fetch (e, ctx, dets->scores + first, n, scores, err);
  if (st == MRCNN_OK)
    st = fetch (e, ctx, (const float *) dets->labels + first, n,
        (float *) labels, err);
  if (st == MRCNN_OK)
    st = fetch (e, ctx, probs + (size_t) first * M * M, (size_t) n * M * M,
        r->mask_probs, err);
  /* GeneralizedRCNNTransform.postprocess: float32 ratio per axis */
  float rw = (float) f->img_w / (float) f->res_w;
  float rh = (float) f->img_h / (float) f->res_h;
  for (int k = 0; st == MRCNN_OK && k < n; k++) {
    mrcnn_detection *d = &r->det[k];
    d->x1 = boxes[4 * k] * rw;
    d->y1 = boxes[4 * k + 1] * rh;
    d->x2 = boxes[4 * k + 2] * rw;
    d->y2 = boxes[4 * k + 3] * rh;
    d->score = scores[k];
    d->class_id = labels[k];
    d->label = mrcnn_model_class_label (e->model, d->class_id);
  }
  g_free (boxes);
  if (st != MRCNN_OK) {
    mrcnn_result_free (r);
    return st;
  }
  *out = r;
  return MRCNN_OK;
}

/* One forward pass of a planned batch on ctx (taken by this call):
 * frames first .. first + b->n - 1 of the whole batch. */
static mrcnn_status
forward (const mrcnn_engine *e, mrcnn_context *ctx, const mrcnn_image *images,
    const mrcnn_thresholds *th, const mrcnn_batch *b, int first,
    mrcnn_result **results, mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  mrcnn_queue *q = ctx->q;
  mrcnn_fmap input, laterals[MRCNN_FPN_LEVELS], pyramid[MRCNN_LEVELS];
  mrcnn_proposals props;
  mrcnn_detections dets;
  float *probs;
  double t[8];
  /* a stage's time ends when the backend has finished its work (sync) */
  t[0] = now_ms ();
  MRCNN_TRY (mrcnn_preprocess_run (e, ctx, images, b, &input, err));
  MRCNN_TRY (be->ops->sync (be, q, err));
  t[1] = now_ms ();
  MRCNN_TRY (mrcnn_body_run (e, ctx, &input, laterals, err));
  MRCNN_TRY (be->ops->sync (be, q, err));
  t[2] = now_ms ();
  MRCNN_TRY (mrcnn_fpn_run (e, ctx, laterals, pyramid, err));
  MRCNN_TRY (be->ops->sync (be, q, err));
  t[3] = now_ms ();
  MRCNN_TRY (mrcnn_rpn_run (e, ctx, pyramid, b, &props, err));
  t[4] = now_ms ();
  MRCNN_TRY (mrcnn_box_head_run (e, ctx, pyramid, b, &props, th, &dets, err));
  t[5] = now_ms ();
  MRCNN_TRY (mrcnn_mask_head_run (e, ctx, pyramid, b, &dets, &probs, err));
  MRCNN_TRY (be->ops->sync (be, q, err));
  t[6] = now_ms ();
  for (int i = 0; i < b->n; i++) {
    mrcnn_status st = make_result (e, ctx, b, &dets, probs, i, &results[i],
        err);
    if (st != MRCNN_OK) {
      for (int k = 0; k < i; k++) {
        mrcnn_result_free (results[k]);
        results[k] = NULL;
      }
      return st;
    }
  }
  t[7] = now_ms ();
  for (int s = 0; s < MRCNN_STAGE_COUNT; s++)
    ctx->stage_ms[s] += t[s + 1] - t[s];
  ctx->input = input;
  memcpy (ctx->pyr, pyramid, sizeof pyramid);
  ctx->props = props;
  ctx->dets = dets;
  ctx->first_frame = first;
  ctx->have_run = 1;
  return MRCNN_OK;
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
    st = forward (e, ctx, images + f, th + f, &part, f, results + f, err);
  }
  return st;
}

mrcnn_status
mrcnn_engine_debug_tensor (const mrcnn_engine *e, const char *name,
    int frame, float **data, int shape[4], int *ndim, mrcnn_error *err)
{
  if (!e || !name || !data || !shape || !ndim)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_engine_debug_tensor: NULL argument");
  const mrcnn_context *ctx;
  MRCNN_TRY (mrcnn_sched_debug_context (e, frame, &ctx, err));
  frame -= ctx->first_frame;
  const float *src = NULL;
  size_t n = 0;
  int M = MRCNN_MASK_SIZE;
  mrcnn_fmap f = { 0 };
  int level;
  *ndim = 0;
  if (strcmp (name, "image") == 0) {
    e->be->ops->image_view (e->be, &ctx->input, frame, &f);
  } else if (sscanf (name, "fpn%d", &level) == 1 && level >= 0
      && level < MRCNN_LEVELS) {
    e->be->ops->image_view (e->be, &ctx->pyr[level], frame, &f);
  } else if (strcmp (name, "proposals") == 0) {
    n = (size_t) ctx->props.rows.count[frame] * 4;
    src = ctx->props.boxes + (size_t) ctx->props.rows.start[frame] * 4;
    *ndim = 2;
    shape[0] = ctx->props.rows.count[frame];
    shape[1] = 4;
  } else if (strcmp (name, "mask_probs") == 0) {
    n = (size_t) ctx->dets.rows.count[frame] * M * M;
    src = ctx->mask_probs + (size_t) ctx->dets.rows.start[frame] * M * M;
    *ndim = 3;
    shape[0] = ctx->dets.rows.count[frame];
    shape[1] = shape[2] = M;
  } else {
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "unknown debug tensor '%s'", name);
  }
  if (f.data) {
    n = mrcnn_fmap_numel (&f);
    *ndim = 4;
    shape[0] = f.n;
    shape[1] = f.c;
    shape[2] = f.h;
    shape[3] = f.w;
    float *copy = g_new (float, MAX (n, 1));
    float *plain = NULL;
    mrcnn_backend *be = e->be;
    mrcnn_fmap pf = { NULL, .layout = MRCNN_LAYOUT_NCHW };
    mrcnn_status st = be->ops->alloc (be, n, &plain, err);
    pf.data = plain;
    if (st == MRCNN_OK)
      st = be->ops->to_nchw (be, ctx->q, &f, &pf, err);
    /* the scratch may be smaller than a feature map: download per channel */
    for (size_t off = 0; st == MRCNN_OK && off < n; off += (size_t) f.h * f.w)
      st = fetch (e, ctx, plain + off, (size_t) f.h * f.w, copy + off, err);
    if (plain)
      be->ops->release (be, plain);
    if (st != MRCNN_OK) {
      g_free (copy);
      return st;
    }
    *data = copy;
    return MRCNN_OK;
  }
  float *copy = g_new (float, MAX (n, 1));
  mrcnn_status st = fetch (e, ctx, src, n, copy, err);
  if (st != MRCNN_OK) {
    g_free (copy);
    return st;
  }
  *data = copy;
  return MRCNN_OK;
}
