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

mrcnn_status
mrcnn_engine_set_thresholds (mrcnn_engine *e, const mrcnn_thresholds *t,
    mrcnn_error *err)
{
  if (!e || !t)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_engine_set_thresholds: NULL argument");
  MRCNN_TRY (check_thresholds (t, err));
  if (t->max_detections > e->cfg.thresholds.max_detections)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "max detections %d exceeds the %d this engine was created for; "
        "create a new engine", t->max_detections,
        e->cfg.thresholds.max_detections);
  e->th = *t;
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
  memcpy (ms, e->stage_ms, sizeof e->stage_ms);
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

static mrcnn_status
plan_buffers (mrcnn_engine *e, mrcnn_error *err)
{
  const mrcnn_model *m = e->model;
  const mrcnn_arch *a = e->arch;
  mrcnn_backend *be = e->be;
  int short_pad = round_up32 (m->min_size), long_pad = round_up32 (m->max_size);
  e->max_pad_w = e->max_pad_h = long_pad;
  e->max_area = (size_t) short_pad * long_pad;
  size_t area = e->max_area;

  MRCNN_TRY (be->ops->alloc (be, 3 * area, &e->image, err));
  e->act_size = mrcnn_body_max_activation (a, area);
  for (int i = 0; i < 4; i++)
    MRCNN_TRY (be->ops->alloc (be, e->act_size, &e->act[i], err));
  size_t total_anchor_locs = 0;
  for (int l = 0; l < MRCNN_LEVELS; l++) {
    int s = 4 << l;
    size_t lvl_area = (size_t) (short_pad / s + 1) * (long_pad / s + 1);
    if (l < MRCNN_FPN_LEVELS)
      MRCNN_TRY (be->ops->alloc (be, (size_t) mrcnn_ch_pad (a->fpn_ch) * lvl_area,
              &e->lateral[l], err));
    MRCNN_TRY (be->ops->alloc (be, (size_t) mrcnn_ch_pad (a->fpn_ch) * lvl_area,
            &e->pyramid[l], err));
    MRCNN_TRY (be->ops->alloc (be, (size_t) mrcnn_ch_pad (5 * a->num_anchors)
            * lvl_area, &e->rpn_raw[l], err));
    total_anchor_locs += lvl_area;
  }
  size_t p2_area = (size_t) (short_pad / 4 + 1) * (long_pad / 4 + 1);
  MRCNN_TRY (be->ops->alloc (be, (size_t) mrcnn_ch_pad (a->fpn_ch) * p2_area,
          &e->rpn_hidden, err));

  int R = m->rpn_post_nms_top_n;
  int D = e->cfg.thresholds.max_detections;
  int C = a->num_classes;
  MRCNN_TRY (be->ops->alloc (be, (size_t) R * a->box_in, &e->box_feat, err));
  MRCNN_TRY (be->ops->alloc (be, (size_t) R * a->representation, &e->fc6_out, err));
  MRCNN_TRY (be->ops->alloc (be, (size_t) R * a->representation, &e->fc7_out, err));
  MRCNN_TRY (be->ops->alloc (be, (size_t) R * 5 * C, &e->pred_out, err));
  MRCNN_TRY (be->ops->alloc (be, (size_t) R * 4, &e->proposals, err));
  MRCNN_TRY (be->ops->alloc (be, (size_t) D * 4, &e->det_boxes, err));
  MRCNN_TRY (be->ops->alloc (be, (size_t) D, &e->det_scores, err));
  float *labels;
  MRCNN_TRY (be->ops->alloc (be, (size_t) D, &labels, err));
  e->det_labels = (int *) labels;   /* ints of a float's size */
  int mc = mrcnn_ch_pad (MAX (a->mask_ch, a->fpn_ch));
  for (int i = 0; i < 2; i++)
    MRCNN_TRY (be->ops->alloc (be, (size_t) D * mc * MRCNN_MASK_POOL
            * MRCNN_MASK_POOL, &e->mask_feat[i], err));
  MRCNN_TRY (be->ops->alloc (be, (size_t) D * mrcnn_ch_pad (a->mask_deconv_ch) * 4
          * MRCNN_MASK_POOL * MRCNN_MASK_POOL, &e->mask_up, err));
  MRCNN_TRY (be->ops->alloc (be, (size_t) D * 4 * MRCNN_MASK_POOL
          * MRCNN_MASK_POOL, &e->mask_probs, err));

  MRCNN_TRY (be->ops->frame_reserve (be, e->cfg.max_width, e->cfg.max_height,
          err));

  /* host side: downloads of the results (proposals, detections, masks) and
   * of a debug feature map's channels */
  e->host_scratch_size = MAX (MAX ((size_t) R * 4, area),
      (size_t) D * 4 * MRCNN_MASK_POOL * MRCNN_MASK_POOL);
  e->host_scratch = g_try_new (float, e->host_scratch_size);
  if (!e->host_scratch)
    return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY, "cannot allocate host buffers");
  return MRCNN_OK;
}

void
mrcnn_engine_free (mrcnn_engine *e)
{
  if (!e)
    return;
  if (e->be) {
    mrcnn_backend *be = e->be;
    mrcnn_body_free (e);
    mrcnn_fpn_free (e);
    mrcnn_rpn_free (e);
    mrcnn_roi_heads_free (e);
    float **bufs[] = { &e->image, &e->act[0], &e->act[1], &e->act[2], &e->act[3],
      &e->rpn_hidden, &e->box_feat, &e->fc6_out, &e->fc7_out, &e->pred_out,
      &e->proposals, &e->det_boxes, &e->det_scores, (float **) &e->det_labels,
      &e->mask_feat[0], &e->mask_feat[1], &e->mask_up, &e->mask_probs };
    for (size_t i = 0; i < G_N_ELEMENTS (bufs); i++)
      if (*bufs[i])
        be->ops->release (be, *bufs[i]);
    for (int l = 0; l < MRCNN_LEVELS; l++) {
      if (l < MRCNN_FPN_LEVELS && e->lateral[l])
        be->ops->release (be, e->lateral[l]);
      if (e->pyramid[l])
        be->ops->release (be, e->pyramid[l]);
      if (e->rpn_raw[l])
        be->ops->release (be, e->rpn_raw[l]);
    }
    be->ops->destroy (be);
  }
  g_free (e->host_scratch);
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

  mrcnn_engine *e = g_new0 (mrcnn_engine, 1);
  e->model = model;
  e->arch = &model->arch;
  e->cfg = *cfg;
  e->th = cfg->thresholds;
  mrcnn_status st = make_backend (e, err);
  if (st == MRCNN_OK)
    st = plan_buffers (e, err);
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

static int
bytes_per_pixel (mrcnn_pixel_format f)
{
  switch (f) {
    case MRCNN_PIXEL_RGB: case MRCNN_PIXEL_BGR: return 3;
    case MRCNN_PIXEL_RGBA: case MRCNN_PIXEL_BGRA:
    case MRCNN_PIXEL_RGBX: case MRCNN_PIXEL_BGRX: return 4;
    case MRCNN_PIXEL_NV12: case MRCNN_PIXEL_I420: case MRCNN_PIXEL_GRAY8: return 1;
  }
  return 0;
}

static mrcnn_status
check_image (const mrcnn_engine *e, const mrcnn_image *img, mrcnn_error *err)
{
  int bpp = bytes_per_pixel (img->format);
  if (bpp == 0)
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
  int planes = img->format == MRCNN_PIXEL_I420 ? 3
      : img->format == MRCNN_PIXEL_NV12 ? 2 : 1;
  for (int p = 0; p < planes; p++) {
    int w = p == 0 ? img->width * bpp : img->format == MRCNN_PIXEL_NV12
        ? (img->width + 1) / 2 * 2 : (img->width + 1) / 2;
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

static double
now_ms (void)
{
  return (double) g_get_monotonic_time () / 1000.0;
}

static mrcnn_status
make_result (mrcnn_engine *e, mrcnn_result **out, mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  mrcnn_result *r = g_new0 (mrcnn_result, 1);
  int n = e->n_det, M = 2 * MRCNN_MASK_POOL;
  r->image_w = e->img_w;
  r->image_h = e->img_h;
  r->n = n;
  r->mask_size = M;
  r->det = g_new0 (mrcnn_detection, MAX (n, 1));
  r->mask_probs = g_new (float, (size_t) MAX (n, 1) * M * M);
  /* GeneralizedRCNNTransform.postprocess: float32 ratio per axis */
  float rw = (float) e->img_w / (float) e->res_w;
  float rh = (float) e->img_h / (float) e->res_h;
  /* the detections and their masks are what comes back from the backend */
  const float *p = n ? be->ops->download (be, e->det_boxes, (size_t) n * 4,
      e->host_scratch, err) : e->host_scratch;
  for (int i = 0; p && i < n; i++) {
    const float *b = p + 4 * i;
    mrcnn_detection *d = &r->det[i];
    d->x1 = b[0] * rw;
    d->y1 = b[1] * rh;
    d->x2 = b[2] * rw;
    d->y2 = b[3] * rh;
  }
  if (p && n)
    p = be->ops->download (be, e->det_scores, n, e->host_scratch, err);
  for (int i = 0; p && i < n; i++)
    r->det[i].score = p[i];
  if (p && n)
    p = be->ops->download (be, (const float *) e->det_labels, n,
        e->host_scratch, err);
  for (int i = 0; p && i < n; i++) {
    mrcnn_detection *d = &r->det[i];
    d->class_id = ((const int *) p)[i];
    d->label = mrcnn_model_class_label (e->model, d->class_id);
  }
  if (p && n)
    p = be->ops->download (be, e->mask_probs, (size_t) n * M * M,
        e->host_scratch, err);
  if (!p) {
    mrcnn_result_free (r);
    return err ? err->status : MRCNN_ERR_BACKEND;
  }
  if (n)
    memcpy (r->mask_probs, p, (size_t) n * M * M * sizeof (float));
  *out = r;
  return MRCNN_OK;
}

mrcnn_status
mrcnn_engine_run (mrcnn_engine *e, const mrcnn_image *img, mrcnn_result **out,
    mrcnn_error *err)
{
  if (!e || !img || !out)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_engine_run: NULL argument");
  *out = NULL;
  MRCNN_TRY (check_image (e, img, err));
  e->have_run = 0;
  memset (e->stage_ms, 0, sizeof e->stage_ms);

  /* a stage's time ends when the backend has finished its work (sync) */
  mrcnn_backend *be = e->be;
  double t0 = now_ms ();
  MRCNN_TRY (mrcnn_preprocess_run (e, img, err));
  MRCNN_TRY (be->ops->sync (be, err));
  double t1 = now_ms ();
  MRCNN_TRY (mrcnn_body_run (e, err));
  MRCNN_TRY (be->ops->sync (be, err));
  double t2 = now_ms ();
  MRCNN_TRY (mrcnn_fpn_run (e, err));
  MRCNN_TRY (be->ops->sync (be, err));
  double t3 = now_ms ();
  MRCNN_TRY (mrcnn_rpn_run (e, err));
  double t4 = now_ms ();
  MRCNN_TRY (mrcnn_box_head_run (e, err));
  double t5 = now_ms ();
  MRCNN_TRY (mrcnn_mask_head_run (e, err));
  MRCNN_TRY (be->ops->sync (be, err));
  double t6 = now_ms ();
  MRCNN_TRY (make_result (e, out, err));
  double t7 = now_ms ();
  e->stage_ms[MRCNN_STAGE_PREPROCESS] = t1 - t0;
  e->stage_ms[MRCNN_STAGE_BACKBONE] = t2 - t1;
  e->stage_ms[MRCNN_STAGE_FPN] = t3 - t2;
  e->stage_ms[MRCNN_STAGE_RPN] = t4 - t3;
  e->stage_ms[MRCNN_STAGE_BOX_HEAD] = t5 - t4;
  e->stage_ms[MRCNN_STAGE_MASK_HEAD] = t6 - t5;
  e->stage_ms[MRCNN_STAGE_PASTE] = t7 - t6;
  e->have_run = 1;
  return MRCNN_OK;
}

mrcnn_status
mrcnn_engine_debug_tensor (const mrcnn_engine *e, const char *name,
    float **data, int shape[4], int *ndim, mrcnn_error *err)
{
  if (!e || !name || !data || !shape || !ndim)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_engine_debug_tensor: NULL argument");
  if (!e->have_run)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_engine_debug_tensor: the engine has not run yet");
  const float *src = NULL;
  size_t n = 0;
  int M = 2 * MRCNN_MASK_POOL;
  mrcnn_fmap f = { 0 };
  int level;
  *ndim = 0;
  if (strcmp (name, "image") == 0) {
    f = e->in_map;
  } else if (sscanf (name, "fpn%d", &level) == 1 && level >= 0
      && level < MRCNN_LEVELS) {
    f = e->pyr[level];
  } else if (strcmp (name, "proposals") == 0) {
    n = (size_t) e->n_props * 4;
    src = n ? e->be->ops->download (e->be, e->proposals, n, e->host_scratch,
        err) : NULL;
    if (n && !src)
      return err ? err->status : MRCNN_ERR_BACKEND;
    *ndim = 2;
    shape[0] = e->n_props;
    shape[1] = 4;
  } else if (strcmp (name, "mask_probs") == 0) {
    n = (size_t) e->n_det * M * M;
    src = n ? e->be->ops->download (e->be, e->mask_probs, n, e->host_scratch,
        err) : NULL;
    if (n && !src)
      return err ? err->status : MRCNN_ERR_BACKEND;
    *ndim = 3;
    shape[0] = e->n_det;
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
      st = be->ops->to_nchw (be, &f, &pf, err);
    /* the scratch may be smaller than a feature map: download per channel */
    for (size_t off = 0; st == MRCNN_OK && off < n; off += (size_t) f.h * f.w) {
      size_t len = (size_t) f.h * f.w;
      const float *p = be->ops->download (be, plain + off, len,
          e->host_scratch, err);
      if (!p)
        st = err ? err->status : MRCNN_ERR_BACKEND;
      else
        memcpy (copy + off, p, len * sizeof (float));
    }
    if (plain)
      be->ops->release (be, plain);
    if (st != MRCNN_OK) {
      g_free (copy);
      return st;
    }
    *data = copy;
    return MRCNN_OK;
  }
  *data = g_new (float, MAX (n, 1));
  if (n)
    memcpy (*data, src, n * sizeof (float));
  return MRCNN_OK;
}
