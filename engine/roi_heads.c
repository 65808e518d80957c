/* RoI heads: MultiScaleRoIAlign, the two-FC box head and predictor, and the
 * mask head and predictor (torchvision's RoIHeads in eval mode). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_priv.h"
#include "roi_align.h"

static mrcnn_status
load_linear (mrcnn_engine *e, const char *const *names, int nparts, int relu,
    mrcnn_linear **out, mrcnn_error *err)
{
  /* concatenates the output rows of several layers that share an input */
  int rows = 0, in = 0;
  for (int i = 0; i < nparts; i++) {
    char w[128];
    snprintf (w, sizeof w, "%s.weight", names[i]);
    const mrcnn_tensor_entry *t = mrcnn_model_find (e->model, w);
    rows += (int) t->shape[0];
    in = (int) t->shape[1];
  }
  float *weight = g_new (float, (size_t) rows * in);
  float *bias = g_new (float, rows);
  for (int i = 0, r = 0; i < nparts; i++) {
    char w[128], b[128];
    snprintf (w, sizeof w, "%s.weight", names[i]);
    snprintf (b, sizeof b, "%s.bias", names[i]);
    const mrcnn_tensor_entry *tw = mrcnn_model_find (e->model, w);
    const mrcnn_tensor_entry *tb = mrcnn_model_find (e->model, b);
    mrcnn_tensor_to_f32 (tw, weight + (size_t) r * in);
    mrcnn_tensor_to_f32 (tb, bias + r);
    r += (int) tw->shape[0];
  }
  mrcnn_status st = e->be->ops->linear_new (e->be, weight, bias, rows, in,
      relu, out, err);
  g_free (weight);
  g_free (bias);
  return st;
}

static mrcnn_status
upload_tensor (mrcnn_engine *e, const char *name, float **out, mrcnn_error *err)
{
  const mrcnn_tensor_entry *t = mrcnn_model_find (e->model, name);
  float *host = g_new (float, t->numel);
  mrcnn_tensor_to_f32 (t, host);
  mrcnn_status st = e->be->ops->alloc (e->be, (size_t) t->numel, out, err);
  if (st == MRCNN_OK)
    st = e->be->ops->upload (e->be, *out, host, (size_t) t->numel, err);
  g_free (host);
  return st;
}

mrcnn_status
mrcnn_roi_heads_init (mrcnn_engine *e, mrcnn_error *err)
{
  static const char *fc6[] = { "roi_heads.box_head.fc6" };
  static const char *fc7[] = { "roi_heads.box_head.fc7" };
  static const char *pred[] = { "roi_heads.box_predictor.cls_score",
    "roi_heads.box_predictor.bbox_pred" };
  MRCNN_TRY (load_linear (e, fc6, 1, 1, &e->fc6, err));
  MRCNN_TRY (load_linear (e, fc7, 1, 1, &e->fc7, err));
  MRCNN_TRY (load_linear (e, pred, 2, 0, &e->predictor, err));
  for (int k = 0; k < MRCNN_MASK_CONVS; k++) {
    char name[64];
    mrcnn_folded_conv w;
    snprintf (name, sizeof name, "roi_heads.mask_head.%d.0", k);
    MRCNN_TRY (mrcnn_fold_conv (e->model, name, NULL, 1, &w, err));
    mrcnn_conv_desc d = { &w, 1, 1, 1 };
    mrcnn_status st = e->be->ops->conv_new (e->be, &d, &e->mask_conv[k], err);
    mrcnn_folded_conv_clear (&w);
    MRCNN_TRY (st);
  }
  /* ConvTranspose2d(k=2, s=2) never overlaps its outputs, so it is a 1x1
   * convolution to 4 * D channels (co * 4 + ky * 2 + kx) whose outputs
   * mask_probs scatters; its bias and ReLU are applied there. PyTorch stores
   * the weight as [in, out, 2, 2]. */
  const mrcnn_arch *a = e->arch;
  const int D = a->mask_deconv_ch, Ci = a->mask_ch;
  const mrcnn_tensor_entry *tw = mrcnn_model_find (e->model,
      "roi_heads.mask_predictor.conv5_mask.weight");
  float *wt = g_new (float, tw->numel);
  mrcnn_tensor_to_f32 (tw, wt);
  mrcnn_folded_conv dw = { .out_ch = 4 * D, .in_ch = Ci, .kh = 1, .kw = 1 };
  dw.weight = g_new (float, (size_t) 4 * D * Ci);
  dw.bias = g_new0 (float, 4 * D);
  for (int ci = 0; ci < Ci; ci++)
    for (int co = 0; co < D; co++)
      for (int k = 0; k < 4; k++)
        dw.weight[((size_t) co * 4 + k) * Ci + ci] = wt[((size_t) ci * D + co) * 4 + k];
  g_free (wt);
  mrcnn_conv_desc dd = { &dw, 1, 0, 0 };
  mrcnn_status st = e->be->ops->conv_new (e->be, &dd, &e->mask_deconv, err);
  mrcnn_folded_conv_clear (&dw);
  MRCNN_TRY (st);
  MRCNN_TRY (upload_tensor (e, "roi_heads.mask_predictor.conv5_mask.bias",
          &e->deconv_b, err));
  MRCNN_TRY (upload_tensor (e, "roi_heads.mask_predictor.mask_fcn_logits.weight",
          &e->logit_w, err));
  MRCNN_TRY (upload_tensor (e, "roi_heads.mask_predictor.mask_fcn_logits.bias",
          &e->logit_b, err));
  return MRCNN_OK;
}

void
mrcnn_roi_heads_free (mrcnn_engine *e)
{
  mrcnn_backend *be = e->be;
  be->ops->linear_free (be, e->fc6);
  be->ops->linear_free (be, e->fc7);
  be->ops->linear_free (be, e->predictor);
  e->fc6 = e->fc7 = e->predictor = NULL;
  for (int k = 0; k < MRCNN_MASK_CONVS; k++) {
    be->ops->conv_free (be, e->mask_conv[k]);
    e->mask_conv[k] = NULL;
  }
  be->ops->conv_free (be, e->mask_deconv);
  e->mask_deconv = NULL;
  float **w[] = { &e->deconv_b, &e->logit_w, &e->logit_b };
  for (size_t i = 0; i < G_N_ELEMENTS (w); i++) {
    if (*w[i])
      be->ops->release (be, *w[i]);
    *w[i] = NULL;
  }
}

/* MultiScaleRoIAlign infers each level's scale as 2^round(log2(feature
 * height / image height)) in float32, with the image height being the
 * largest resized (unpadded) height of the batch, and maps boxes to levels
 * k_min..k_max. */
void
mrcnn_roi_levels (const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    float scales[4], int *k_min, int *k_max)
{
  for (int l = 0; l < MRCNN_FPN_LEVELS; l++) {
    float approx = (float) ((double) pyramid[l].h / (double) b->res_h_max);
    scales[l] = exp2f (nearbyintf (log2f (approx)));
  }
  *k_min = (int) -log2f (scales[0]);
  *k_max = (int) -log2f (scales[MRCNN_FPN_LEVELS - 1]);
}

/* MultiScaleRoIAlign of every image's rows of `boxes` from that image's
 * features, into one map of rows->total ROIs (image after image). */
static mrcnn_status
pool (const mrcnn_engine *e, mrcnn_context *ctx,
    const mrcnn_fmap pyramid[MRCNN_LEVELS],
    const mrcnn_batch *b, const float *boxes, const mrcnn_rows *rows,
    int pooled, float *out_data, mrcnn_layout layout, mrcnn_fmap *out,
    mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  float scales[4];
  int k_min, k_max;
  mrcnn_roi_levels (pyramid, b, scales, &k_min, &k_max);
  *out = (mrcnn_fmap) { out_data, rows->total, pyramid[0].c, pooled, pooled,
    layout, MRCNN_STORE_F32 };
  for (int i = 0; i < b->n; i++) {
    if (rows->count[i] == 0)
      continue;
    mrcnn_fmap features[MRCNN_FPN_LEVELS], part;
    for (int l = 0; l < MRCNN_FPN_LEVELS; l++)
      be->ops->image_view (be, &pyramid[l], i, &features[l]);
    be->ops->image_view (be, out, rows->start[i], &part);
    mrcnn_roi_align_desc d = {
      .features = features, .scales = scales, .nlevels = MRCNN_FPN_LEVELS,
      .k_min = k_min, .k_max = k_max,
      .boxes = boxes + (size_t) rows->start[i] * 4, .nboxes = rows->count[i],
      .pooled = pooled, .sampling_ratio = 2,
    };
    MRCNN_TRY (be->ops->roi_align (be, ctx->q, &d, &part, err));
  }
  out->n = rows->total;
  return MRCNN_OK;
}

mrcnn_status
mrcnn_box_head_run (const mrcnn_engine *e, mrcnn_context *ctx,
    const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    const mrcnn_proposals *props, const mrcnn_thresholds *th,
    mrcnn_detections *out, mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  const int n = props->rows.total, C = e->arch->num_classes;
  *out = (mrcnn_detections) { ctx->det_boxes, ctx->det_scores,
    ctx->det_labels };
  if (n > 0) {
    mrcnn_fmap feat;
    /* fc6 reads the pooled features flattened in NCHW order */
    MRCNN_TRY (pool (e, ctx, pyramid, b, props->boxes, &props->rows,
            MRCNN_BOX_POOL, ctx->box_feat, MRCNN_LAYOUT_NCHW, &feat, err));
    MRCNN_TRY (be->ops->linear_run (be, ctx->q, e->fc6, ctx->box_feat, n,
            ctx->fc6_out, err));
    MRCNN_TRY (be->ops->linear_run (be, ctx->q, e->fc7, ctx->fc6_out, n,
            ctx->fc7_out, err));
    MRCNN_TRY (be->ops->linear_run (be, ctx->q, e->predictor, ctx->fc7_out, n,
            ctx->pred_out, err));
  }
  for (int i = 0; i < b->n; i++) {
    int first = props->rows.start[i], count = 0;
    MRCNN_TRY (mrcnn_box_postprocess (e, ctx, props->boxes + (size_t) first * 4,
            ctx->pred_out + (size_t) first * 5 * C, props->rows.count[i],
            &b->frame[i], &th[i], out, out->rows.total, &count, err));
    out->rows.start[i] = out->rows.total;
    out->rows.count[i] = count;
    out->rows.total += count;
  }
  return MRCNN_OK;
}

mrcnn_status
mrcnn_mask_head_run (const mrcnn_engine *e, mrcnn_context *ctx,
    const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    const mrcnn_detections *dets, float **probs, mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  const int n = dets->rows.total;
  *probs = ctx->mask_probs;
  if (n == 0)
    return MRCNN_OK;
  mrcnn_fmap x, y = { 0 };
  MRCNN_TRY (pool (e, ctx, pyramid, b, dets->boxes, &dets->rows, MRCNN_MASK_POOL,
          ctx->mask_feat[0], MRCNN_LAYOUT_NATIVE, &x, err));
  /* The convolutions run on a batch rounded up to a multiple of 8 (at most
   * what the buffers hold), so that a video's changing detection counts meet
   * a few prepared shapes instead of a new one each frame. Each ROI is its
   * own image: the rows past n never touch the first n, whose results
   * mask_probs alone reads. */
  x.n = MIN ((n + 7) / 8 * 8,
      ctx->max_batch * e->cfg.thresholds.max_detections);
  for (int k = 0; k < MRCNN_MASK_CONVS; k++) {
    y.data = ctx->mask_feat[(k + 1) % 2];
    y.layout = MRCNN_LAYOUT_NATIVE;
    y.store = MRCNN_STORE_REDUCED;  /* read by the next convolution only */
    MRCNN_TRY (be->ops->conv_run (be, ctx->q, e->mask_conv[k], &x, 0, &y, err));
    x = y;
  }
  mrcnn_fmap up = { ctx->mask_up, .layout = MRCNN_LAYOUT_NATIVE };
  MRCNN_TRY (be->ops->conv_run (be, ctx->q, e->mask_deconv, &x, 0, &up, err));
  up.n = n;
  return be->ops->mask_probs (be, ctx->q, &up, e->deconv_b, e->logit_w,
      e->logit_b, dets->labels, ctx->mask_probs, err);
}
