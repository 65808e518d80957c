/* Mask head: MultiScaleRoIAlign 14x14 of the detections (roi_heads.c),
 * four 3x3 convolutions, the ConvTranspose 2x2 and the 1x1 logits of each
 * detection's own class, then a sigmoid: M x M mask probabilities (M = 28),
 * as torchvision's MaskRCNNHeads and MaskRCNNPredictor in eval mode.
 *
 * Weights (mrcnn_mask_head): the four convolutions (with ReLU; with their
 * batch norms folded in, v2's MaskRCNNHeads(norm_layer)); the
 * transposed convolution as a 1x1 convolution to 4D channels (D: its
 * outputs), whose bias and ReLU the backend's mask_probs applies; the
 * logits' weight and bias (backend memory); the widths its scratch is sized
 * from.
 * Scratch (mrcnn_mask_head_scratch): for the plan's frames x max_detections
 * detections, feat[2], the pooled map and the convolutions' outputs in turn
 * (the wider of fpn_ch and the convs' width, x 14 x 14 each); `up`, the
 * transposed convolution's taps (4D x 14 x 14 each); `probs`, M x M each. */
#include <stdio.h>

#include "engine_priv.h"

struct mrcnn_mask_head {
  mrcnn_conv *conv[MRCNN_MASK_CONVS];
  int u8[MRCNN_MASK_CONVS];      /* their outputs stored U8 */
  mrcnn_conv *deconv;
  float *deconv_b, *logit_w, *logit_b;  /* backend memory */
  int in_ch, ch, deconv_ch;             /* fpn_ch, the convs', D */
};

struct mrcnn_mask_head_scratch {
  float *feat[2], *up, *probs;
  int rows;                             /* detections the buffers hold */
};

/* A tensor of the model as float32 in new backend memory. */
static mrcnn_status
upload_tensor (mrcnn_backend *be, const mrcnn_model *m, const char *name,
    float **out, mrcnn_error *err)
{
  const mrcnn_tensor_entry *t = mrcnn_model_find (m, name);
  float *host = g_new (float, t->numel);
  mrcnn_tensor_to_f32 (t, host);
  mrcnn_status st = be->ops->alloc (be, (size_t) t->numel, out, err);
  if (st == MRCNN_OK)
    st = be->ops->upload (be, *out, host, (size_t) t->numel, err);
  g_free (host);
  return st;
}

/* ConvTranspose2d(k=2, s=2) never overlaps its outputs, so it is a 1x1
 * convolution to 4 * D channels (co * 4 + ky * 2 + kx) whose outputs
 * mask_probs scatters; its bias and ReLU are applied there. PyTorch stores
 * the weight as [in, out, 2, 2]. */
static mrcnn_status
load_deconv (mrcnn_backend *be, const mrcnn_model *m, mrcnn_conv **out,
    mrcnn_error *err)
{
  const int D = m->arch.mask_deconv_ch, Ci = m->arch.mask_ch;
  const mrcnn_tensor_entry *tw = mrcnn_model_find (m,
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
  mrcnn_conv_desc dd = { &dw, 1, 0, 0,
    mrcnn_model_layer_quant (m, "roi_heads.mask_predictor.conv5_mask") };
  mrcnn_status st = be->ops->conv_new (be, &dd, out, err);
  mrcnn_folded_conv_clear (&dw);
  return st;
}

static mrcnn_status
mask_head_load (mrcnn_engine *e, mrcnn_error *err)
{
  static const char *const tensors[] = {
    "roi_heads.mask_predictor.conv5_mask.bias",
    "roi_heads.mask_predictor.mask_fcn_logits.weight",
    "roi_heads.mask_predictor.mask_fcn_logits.bias" };
  const mrcnn_model *m = e->model;
  mrcnn_mask_head *w = e->mask_head = g_new0 (mrcnn_mask_head, 1);
  float **dst[] = { &w->deconv_b, &w->logit_w, &w->logit_b };
  w->in_ch = m->arch.fpn_ch;
  w->ch = m->arch.mask_ch;
  w->deconv_ch = m->arch.mask_deconv_ch;
  /* the last's output is read by the transposed convolution only */
  MRCNN_TRY (mrcnn_conv_chain_load (e, "roi_heads.mask_head",
          MRCNN_MASK_CONVS, m->arch.v2, "roi_heads.mask_predictor.conv5_mask",
          w->conv, w->u8, err));
  MRCNN_TRY (load_deconv (e->be, m, &w->deconv, err));
  for (size_t i = 0; i < G_N_ELEMENTS (tensors); i++)
    MRCNN_TRY (upload_tensor (e->be, m, tensors[i], dst[i], err));
  return MRCNN_OK;
}

static void
mask_head_unload (mrcnn_engine *e)
{
  mrcnn_mask_head *w = e->mask_head;
  if (!w)
    return;
  for (int k = 0; k < MRCNN_MASK_CONVS; k++)
    e->be->ops->conv_free (e->be, w->conv[k]);
  e->be->ops->conv_free (e->be, w->deconv);
  mrcnn_release_buf (e->be, &w->deconv_b);
  mrcnn_release_buf (e->be, &w->logit_w);
  mrcnn_release_buf (e->be, &w->logit_b);
  g_clear_pointer (&e->mask_head, g_free);
}

static mrcnn_status
mask_head_plan (const mrcnn_engine *e, mrcnn_context *ctx, mrcnn_error *err)
{
  const mrcnn_mask_head *w = e->mask_head;
  mrcnn_mask_head_scratch *s = ctx->mask_head =
      g_new0 (mrcnn_mask_head_scratch, 1);
  const size_t M = MRCNN_MASK_POOL;
  s->rows = ctx->plan.frames * ctx->plan.max_detections;
  const size_t D = (size_t) s->rows;
  const size_t mc = mrcnn_ch_pad (MAX (w->ch, w->in_ch));
  const mrcnn_stage mask = MRCNN_STAGE_MASK_HEAD;
  /* feat[0] holds the pooled float32 map first, then REDUCED conv outputs;
   * feat[1] conv outputs only (mrcnn_mask_head_run) */
  mrcnn_plan_buffer (ctx, D * mc * M * M, mask, mask, 0, &s->feat[0]);
  mrcnn_plan_buffer (ctx, D * mc * M * M, mask, mask, 1, &s->feat[1]);
  mrcnn_plan_buffer (ctx, D * mrcnn_ch_pad (w->deconv_ch) * 4 * M * M, mask,
      mask, 0, &s->up);
  /* downloaded at the end, and read by the debug record */
  mrcnn_plan_buffer (ctx, D * 4 * M * M, mask, MRCNN_STAGE_PASTE, 0,
      &s->probs);
  return MRCNN_OK;
}

static void
mask_head_scratch_free (const mrcnn_engine *e, mrcnn_context *ctx)
{
  g_clear_pointer (&ctx->mask_head, g_free);
}

const mrcnn_stage_parts mrcnn_mask_head_parts = {
  mask_head_load, mask_head_unload, mask_head_plan, mask_head_scratch_free
};

mrcnn_status
mrcnn_mask_head_run (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_mask_head *w, mrcnn_mask_head_scratch *s,
    const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    const mrcnn_detections *dets, float **probs, mrcnn_error *err)
{
  const int n = dets->rows.total;
  *probs = s->probs;
  if (n == 0)
    return MRCNN_OK;
  mrcnn_fmap x, y = { 0 };
  MRCNN_TRY (mrcnn_roi_pool (be, q, pyramid, b, dets->boxes, &dets->rows,
          MRCNN_MASK_POOL, s->feat[0], MRCNN_LAYOUT_NATIVE, &x, err));
  /* The convolutions run on a batch rounded up to a multiple of 8 (at most
   * what the buffers hold), so that a video's changing detection counts meet
   * a few prepared shapes instead of a new one each frame. Each ROI is its
   * own image: the rows past n never touch the first n, whose results
   * mask_probs alone reads. */
  x.n = MIN ((n + 7) / 8 * 8, s->rows);
  for (int k = 0; k < MRCNN_MASK_CONVS; k++) {
    y.data = s->feat[(k + 1) % 2];
    y.layout = MRCNN_LAYOUT_NATIVE;
    /* read by the next convolution only */
    y.store = w->u8[k] ? MRCNN_STORE_U8 : MRCNN_STORE_REDUCED;
    MRCNN_TRY (be->ops->conv_run (be, q, w->conv[k], &x, 0, &y, err));
    x = y;
  }
  mrcnn_fmap up = { s->up, .layout = MRCNN_LAYOUT_NATIVE };
  MRCNN_TRY (be->ops->conv_run (be, q, w->deconv, &x, 0, &up, err));
  up.n = n;
  return be->ops->mask_probs (be, q, &up, w->deconv_b, w->logit_w,
      w->logit_b, dets->labels, s->probs, err);
}
