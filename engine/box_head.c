/* Box head: MultiScaleRoIAlign 7x7 of the proposals (roi_heads.c), the
 * two-FC head (TwoMLPHead) and the predictor, then the detections of each
 * image (postprocess.c), as torchvision's RoIHeads in eval mode.
 *
 * Weights (mrcnn_box_head): fc6 and fc7 (with ReLU) and the predictor, its
 * cls_score and bbox_pred fused into one layer of 5C outputs (C classes,
 * background included); the widths its scratch is sized from.
 * Scratch (mrcnn_box_head_scratch): for the plan's frames x post_nms_top_n
 * proposals, `feat` (pooled, fpn_ch x 7 x 7 each), fc6_out and fc7_out
 * (representation each) and `pred` (5C each); for frames x max_detections
 * detections, their boxes, scores and labels. For the post-processing's
 * scratch, shared with the RPN, the head gives its classes and the most
 * detections an image may ask for (mrcnn_box_head_postproc_desc). */
#include <stdio.h>

#include "engine_priv.h"

struct mrcnn_box_head {
  mrcnn_linear *fc6, *fc7, *predictor;
  int num_classes;
  int in, representation;        /* fc6's input, fc6 and fc7's width */
};

struct mrcnn_box_head_scratch {
  float *feat, *fc6_out, *fc7_out, *pred;
  float *det_boxes, *det_scores;
  int *det_labels;               /* (allocated as floats) */
};

/* One fully connected layer from the output rows of the layers `names`,
 * which share an input (the predictor's two). */
static mrcnn_status
load_linear (mrcnn_backend *be, const mrcnn_model *m,
    const char *const *names, int nparts, int relu, mrcnn_linear **out,
    mrcnn_error *err)
{
  int rows = 0, in = 0;
  for (int i = 0; i < nparts; i++) {
    char w[128];
    snprintf (w, sizeof w, "%s.weight", names[i]);
    const mrcnn_tensor_entry *t = mrcnn_model_find (m, w);
    rows += (int) t->shape[0];
    in = (int) t->shape[1];
  }
  float *weight = g_new (float, (size_t) rows * in);
  float *bias = g_new (float, rows);
  for (int i = 0, r = 0; i < nparts; i++) {
    char w[128], b[128];
    snprintf (w, sizeof w, "%s.weight", names[i]);
    snprintf (b, sizeof b, "%s.bias", names[i]);
    const mrcnn_tensor_entry *tw = mrcnn_model_find (m, w);
    const mrcnn_tensor_entry *tb = mrcnn_model_find (m, b);
    mrcnn_tensor_to_f32 (tw, weight + (size_t) r * in);
    mrcnn_tensor_to_f32 (tb, bias + r);
    r += (int) tw->shape[0];
  }
  const mrcnn_quant q = mrcnn_model_layer_quant (m, names[0]);
  mrcnn_status st = be->ops->linear_new (be, weight, bias, rows, in, relu,
      &q, out, err);
  g_free (weight);
  g_free (bias);
  return st;
}

static mrcnn_status
box_head_load (mrcnn_engine *e, mrcnn_error *err)
{
  static const char *fc6[] = { "roi_heads.box_head.fc6" };
  static const char *fc7[] = { "roi_heads.box_head.fc7" };
  static const char *pred[] = { "roi_heads.box_predictor.cls_score",
    "roi_heads.box_predictor.bbox_pred" };
  const mrcnn_model *m = e->model;
  mrcnn_box_head *w = e->box_head = g_new0 (mrcnn_box_head, 1);
  w->num_classes = m->arch.num_classes;
  w->in = m->arch.box_in;
  w->representation = m->arch.representation;
  MRCNN_TRY (load_linear (e->be, m, fc6, 1, 1, &w->fc6, err));
  MRCNN_TRY (load_linear (e->be, m, fc7, 1, 1, &w->fc7, err));
  return load_linear (e->be, m, pred, 2, 0, &w->predictor, err);
}

static void
box_head_unload (mrcnn_engine *e)
{
  mrcnn_box_head *w = e->box_head;
  if (!w)
    return;
  e->be->ops->linear_free (e->be, w->fc6);
  e->be->ops->linear_free (e->be, w->fc7);
  e->be->ops->linear_free (e->be, w->predictor);
  g_clear_pointer (&e->box_head, g_free);
}

static mrcnn_status
box_head_plan (const mrcnn_engine *e, mrcnn_context *ctx, mrcnn_error *err)
{
  const mrcnn_box_head *w = e->box_head;
  mrcnn_box_head_scratch *s = ctx->box_head =
      g_new0 (mrcnn_box_head_scratch, 1);
  const size_t R = (size_t) ctx->plan.frames * ctx->plan.post_nms_top_n;
  const size_t D = (size_t) ctx->plan.frames * ctx->plan.max_detections;
  mrcnn_status st = MRCNN_OK;
  mrcnn_alloc_step (e->be, R * w->in, &s->feat, &st, err);
  mrcnn_alloc_step (e->be, R * w->representation, &s->fc6_out, &st, err);
  mrcnn_alloc_step (e->be, R * w->representation, &s->fc7_out, &st, err);
  mrcnn_alloc_step (e->be, R * 5 * w->num_classes, &s->pred, &st, err);
  mrcnn_alloc_step (e->be, D * 4, &s->det_boxes, &st, err);
  mrcnn_alloc_step (e->be, D, &s->det_scores, &st, err);
  /* ints of a float's size */
  mrcnn_alloc_step (e->be, D, (float **) &s->det_labels, &st, err);
  return st;
}

static void
box_head_scratch_free (const mrcnn_engine *e, mrcnn_context *ctx)
{
  mrcnn_box_head_scratch *s = ctx->box_head;
  if (!s)
    return;
  float **bufs[] = { &s->feat, &s->fc6_out, &s->fc7_out, &s->pred,
    &s->det_boxes, &s->det_scores, (float **) &s->det_labels };
  for (size_t i = 0; i < G_N_ELEMENTS (bufs); i++)
    mrcnn_release_buf (e->be, bufs[i]);
  g_clear_pointer (&ctx->box_head, g_free);
}

const mrcnn_stage_parts mrcnn_box_head_parts = {
  box_head_load, box_head_unload, box_head_plan, box_head_scratch_free
};

void
mrcnn_box_head_postproc_desc (const mrcnn_box_head *w, const mrcnn_plan *plan,
    mrcnn_postproc_desc *d)
{
  d->box_min_size = 1e-2f;
  d->num_classes = w->num_classes;
  d->max_detections = plan->max_detections;
}

mrcnn_status
mrcnn_box_head_run (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_box_head *w, mrcnn_box_head_scratch *s, mrcnn_postproc *pp,
    const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    const mrcnn_proposals *props, const mrcnn_thresholds *th,
    mrcnn_detections *out, mrcnn_error *err)
{
  const int n = props->rows.total, C = w->num_classes;
  *out = (mrcnn_detections) { s->det_boxes, s->det_scores, s->det_labels };
  if (n > 0) {
    mrcnn_fmap feat;
    /* fc6 reads the pooled features flattened in NCHW order */
    MRCNN_TRY (mrcnn_roi_pool (be, q, pyramid, b, props->boxes, &props->rows,
            MRCNN_BOX_POOL, s->feat, MRCNN_LAYOUT_NCHW, &feat, err));
    MRCNN_TRY (be->ops->linear_run (be, q, w->fc6, s->feat, n, s->fc6_out,
            err));
    MRCNN_TRY (be->ops->linear_run (be, q, w->fc7, s->fc6_out, n, s->fc7_out,
            err));
    MRCNN_TRY (be->ops->linear_run (be, q, w->predictor, s->fc7_out, n,
            s->pred, err));
  }
  for (int i = 0; i < b->n; i++) {
    int first = props->rows.start[i], count = 0;
    MRCNN_TRY (mrcnn_box_postprocess (be, q, pp,
            props->boxes + (size_t) first * 4,
            s->pred + (size_t) first * 5 * C, props->rows.count[i],
            &b->frame[i], &th[i], out, out->rows.total, &count, err));
    out->rows.start[i] = out->rows.total;
    out->rows.count[i] = count;
    out->rows.total += count;
  }
  return MRCNN_OK;
}
