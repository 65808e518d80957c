/* Box head: MultiScaleRoIAlign 7x7 of the proposals (roi_heads.c), the
 * head - two FCs (TwoMLPHead, v1) or 3x3 convolutions with batch norm and
 * one FC (FastRCNNConvFCHead, v2's 4conv1fc) - and the predictor, then the
 * detections of each image (postprocess.c), as torchvision's RoIHeads in
 * eval mode.
 *
 * Weights (mrcnn_box_head): v2's convolutions (with ReLU, their batch norms
 * folded in); fc6 and fc7, or v2's one FC (with ReLU); the predictor, its
 * cls_score and bbox_pred fused into one layer of 5C outputs (C classes,
 * background included); the widths its scratch is sized from.
 * Scratch (mrcnn_box_head_scratch): for the plan's frames x post_nms_top_n
 * proposals, feat[0] (pooled, fpn_ch x 7 x 7 each) - in v2 feat[0] and
 * feat[1], the pooled map and the convolutions' outputs in turn (the widest
 * of them x 7 x 7 each), the one the last conv did not write then taking
 * the flattened features -, fc_out[] (representation each, per FC) and
 * `pred` (5C each); for frames x max_detections detections, their boxes,
 * scores and labels. For the post-processing's scratch, shared with the
 * RPN, the head gives its classes and the most detections an image may ask
 * for (mrcnn_box_head_postproc_desc). */
#include <stdio.h>

#include "engine_priv.h"

struct mrcnn_box_head {
  mrcnn_conv *conv[MRCNN_BOX_CONVS_MAX];  /* v2's, with batch norm folded */
  int u8[MRCNN_BOX_CONVS_MAX];            /* their outputs stored U8 */
  int nconv;
  mrcnn_linear *fc[2];           /* fc6, fc7 (v1); the one FC (v2) */
  int nfc;
  mrcnn_linear *predictor;
  int num_classes;
  int in, representation;        /* the first FC's input, the FCs' width */
  int conv_ch;                   /* the widest conv input or output (v2) */
};

struct mrcnn_box_head_scratch {
  float *feat[2], *fc_out[2], *pred;
  float *det_boxes, *det_scores;
  int *det_labels;               /* (allocated as floats) */
  int rows;                      /* proposals the buffers hold */
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
  const mrcnn_arch *a = &m->arch;
  mrcnn_box_head *w = e->box_head = g_new0 (mrcnn_box_head, 1);
  w->num_classes = a->num_classes;
  w->in = a->box_in;
  w->representation = a->representation;
  w->conv_ch = a->fpn_ch;
  /* the last's output is flattened for the fully connected layer (nconv
   * first: unload frees what a failed load made) */
  w->nconv = a->box_convs;
  MRCNN_TRY (mrcnn_conv_chain_load (e, "roi_heads.box_head", a->box_convs, 1,
          NULL, w->conv, w->u8, err));
  for (int k = 0; k < a->box_convs; k++)
    w->conv_ch = MAX (w->conv_ch, a->box_conv_ch[k]);
  if (a->v2) {
    /* FastRCNNConvFCHead: Flatten at index nconv, Linear at nconv + 1 */
    char name[64];
    const char *fc[] = { name };
    snprintf (name, sizeof name, "roi_heads.box_head.%d", a->box_convs + 1);
    MRCNN_TRY (load_linear (e->be, m, fc, 1, 1, &w->fc[0], err));
    w->nfc = 1;
  } else {
    MRCNN_TRY (load_linear (e->be, m, fc6, 1, 1, &w->fc[0], err));
    w->nfc = 1;
    MRCNN_TRY (load_linear (e->be, m, fc7, 1, 1, &w->fc[1], err));
    w->nfc = 2;
  }
  return load_linear (e->be, m, pred, 2, 0, &w->predictor, err);
}

static void
box_head_unload (mrcnn_engine *e)
{
  mrcnn_box_head *w = e->box_head;
  if (!w)
    return;
  for (int k = 0; k < w->nconv; k++)
    e->be->ops->conv_free (e->be, w->conv[k]);
  for (int k = 0; k < w->nfc; k++)
    e->be->ops->linear_free (e->be, w->fc[k]);
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
  const size_t pooled = MRCNN_BOX_POOL * MRCNN_BOX_POOL;
  const mrcnn_stage box = MRCNN_STAGE_BOX_HEAD, end = MRCNN_STAGE_PASTE;
  s->rows = (int) R;
  if (w->nconv > 0) {
    /* the pooled map and the convs' outputs in turn, native layout; the
     * buffer the last conv did not write takes the flattened float32
     * features, so neither is planned as reduced */
    for (int i = 0; i < 2; i++)
      mrcnn_plan_buffer (ctx, R * mrcnn_ch_pad (w->conv_ch) * pooled, box,
          box, 0, &s->feat[i]);
  } else {
    mrcnn_plan_buffer (ctx, R * w->in, box, box, 0, &s->feat[0]);
  }
  for (int k = 0; k < w->nfc; k++)
    mrcnn_plan_buffer (ctx, R * w->representation, box, box, 0,
        &s->fc_out[k]);
  mrcnn_plan_buffer (ctx, R * 5 * w->num_classes, box, box, 0, &s->pred);
  /* the detections: read by the mask head and downloaded at the end */
  mrcnn_plan_buffer (ctx, D * 4, box, end, 0, &s->det_boxes);
  mrcnn_plan_buffer (ctx, D, box, end, 0, &s->det_scores);
  /* ints of a float's size */
  mrcnn_plan_buffer (ctx, D, box, end, 0, (float **) &s->det_labels);
  return MRCNN_OK;
}

static void
box_head_scratch_free (const mrcnn_engine *e, mrcnn_context *ctx)
{
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

/* v2's convolutions over the pooled proposals, each ROI an image of 7 x 7;
 * *flat receives their output flattened in NCHW order, as the FC reads it
 * (Flatten after the last conv block). */
static mrcnn_status
conv_features (mrcnn_backend *be, mrcnn_queue *q, const mrcnn_box_head *w,
    mrcnn_box_head_scratch *s, const mrcnn_fmap pyramid[MRCNN_LEVELS],
    const mrcnn_batch *b, const mrcnn_proposals *props, const float **flat,
    mrcnn_error *err)
{
  const int n = props->rows.total;
  mrcnn_fmap x, y = { 0 };
  MRCNN_TRY (mrcnn_roi_pool (be, q, pyramid, b, props->boxes, &props->rows,
          MRCNN_BOX_POOL, s->feat[0], MRCNN_LAYOUT_NATIVE, &x, err));
  /* as in the mask head: a batch rounded up to a multiple of 8 (at most
   * what the buffers hold) meets a few prepared shapes; the rows past n
   * never touch the first n */
  x.n = MIN ((n + 7) / 8 * 8, s->rows);
  int cur = 0;
  for (int k = 0; k < w->nconv; k++) {
    cur = (k + 1) % 2;
    y.data = s->feat[cur];
    y.layout = MRCNN_LAYOUT_NATIVE;
    /* read by the next convolution only, but for the last */
    y.store = w->u8[k] ? MRCNN_STORE_U8 : k + 1 < w->nconv
        ? MRCNN_STORE_REDUCED : MRCNN_STORE_F32;
    MRCNN_TRY (be->ops->conv_run (be, q, w->conv[k], &x, 0, &y, err));
    x = y;
  }
  x.n = n;
  mrcnn_fmap out = { s->feat[1 - cur], .layout = MRCNN_LAYOUT_NCHW };
  MRCNN_TRY (be->ops->to_nchw (be, q, &x, &out, err));
  *flat = out.data;
  return MRCNN_OK;
}

mrcnn_status
mrcnn_box_head_run (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_box_head *w, mrcnn_box_head_scratch *s, mrcnn_postproc *pp,
    int *counts, const mrcnn_fmap pyramid[MRCNN_LEVELS],
    const mrcnn_batch *b, const mrcnn_proposals *props,
    const mrcnn_thresholds *th, mrcnn_detections *out, mrcnn_error *err)
{
  const int n = props->rows.total, C = w->num_classes;
  *out = (mrcnn_detections) { s->det_boxes, s->det_scores, s->det_labels };
  if (n > 0) {
    const float *x;
    if (w->nconv > 0)
      MRCNN_TRY (conv_features (be, q, w, s, pyramid, b, props, &x, err));
    else {
      mrcnn_fmap feat;
      /* fc6 reads the pooled features flattened in NCHW order */
      MRCNN_TRY (mrcnn_roi_pool (be, q, pyramid, b, props->boxes,
              &props->rows, MRCNN_BOX_POOL, s->feat[0], MRCNN_LAYOUT_NCHW,
              &feat, err));
      x = s->feat[0];
    }
    for (int k = 0; k < w->nfc; k++) {
      MRCNN_TRY (be->ops->linear_run (be, q, w->fc[k], x, n, s->fc_out[k],
              err));
      x = s->fc_out[k];
    }
    MRCNN_TRY (be->ops->linear_run (be, q, w->predictor, x, n, s->pred,
            err));
  }
  for (int i = 0; i < b->n; i++) {
    int first = props->rows.start[i], rows = 0;
    MRCNN_TRY (mrcnn_box_postprocess (be, q, pp,
            props->boxes + (size_t) first * 4, counts ? &counts[i] : NULL,
            s->pred + (size_t) first * 5 * C, props->rows.count[i],
            &b->frame[i], &th[i], out, out->rows.total,
            counts ? &counts[b->n + i] : NULL, &rows, err));
    out->rows.start[i] = out->rows.total;
    out->rows.count[i] = rows;
    out->rows.total += rows;
  }
  return MRCNN_OK;
}
