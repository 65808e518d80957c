/* Region proposal network: shared 3x3 conv head (one conv in v1, two in
 * v2: RPNHead's conv_depth), then the backend's
 * rpn_proposals (anchors, per-level top-k, decoding, clipping, small-box
 * removal and per-level NMS, as torchvision's RegionProposalNetwork does in
 * eval mode; engine/cpu/postproc_cpu.c and engine/cuda/postproc_cuda.cu).
 *
 * Weights (mrcnn_rpn): the shared 3x3 convolutions (with ReLU) and the
 * objectness and box-delta 1x1 convolutions fused into one of 5A outputs
 * (A anchors per location); the cell anchors of each level (sizes x aspect
 * ratios, host memory) and filter_proposals' settings, which the
 * post-processing is described with (mrcnn_rpn_postproc_desc).
 * Scratch (mrcnn_rpn_scratch): hidden[2], the shared convs' outputs of one
 * level at a time (P2's size: fpn_ch x level-0 locations; the second only
 * with two convs); head[5], each
 * level's fused output (5A x that level's locations); `proposals`, frames x
 * post_nms_top_n boxes. The post-processing's own scratch, shared with the
 * box head, is the context's (postprocess.c); for it the RPN gives the most
 * anchors one frame may have per level. */
#include <stdio.h>
#include <string.h>

#include "engine_priv.h"
#include "anchors.h"

struct mrcnn_rpn {
  mrcnn_conv *conv[MRCNN_RPN_CONVS_MAX];
  int u8[MRCNN_RPN_CONVS_MAX];   /* their outputs stored U8 */
  int nconv;
  mrcnn_conv *head;              /* objectness + deltas fused */
  int channels;                  /* fpn_ch: the conv's width */
  int num_anchors;               /* A */
  float *cell_anchors;           /* MRCNN_LEVELS x A x 4 */
  int pre_nms_top_n, post_nms_top_n;
  double nms_thresh;             /* torchvision compares IoU with a double */
  float score_thresh;
};

struct mrcnn_rpn_scratch {
  float *hidden[2];
  float *head[MRCNN_LEVELS];     /* native layout */
  float *proposals;
};

/* The objectness and box-delta convolutions share their input: one 1x1
 * conv with A + 4A output channels. */
static mrcnn_status
load_fused_head (mrcnn_backend *be, const mrcnn_model *m, mrcnn_conv **out,
    mrcnn_error *err)
{
  mrcnn_folded_conv cls, box, fused;
  MRCNN_TRY (mrcnn_fold_conv (m, "rpn.head.cls_logits", NULL, 1, &cls, err));
  mrcnn_status st = mrcnn_fold_conv (m, "rpn.head.bbox_pred", NULL, 1, &box,
      err);
  if (st != MRCNN_OK) {
    mrcnn_folded_conv_clear (&cls);
    return st;
  }
  int A = m->arch.num_anchors, C = m->arch.fpn_ch;
  fused.out_ch = 5 * A;
  fused.in_ch = C;
  fused.kh = fused.kw = 1;
  fused.weight = g_new (float, (size_t) 5 * A * C);
  fused.bias = g_new (float, 5 * A);
  memcpy (fused.weight, cls.weight, (size_t) A * C * sizeof (float));
  memcpy (fused.weight + (size_t) A * C, box.weight, (size_t) 4 * A * C * sizeof (float));
  memcpy (fused.bias, cls.bias, A * sizeof (float));
  memcpy (fused.bias + A, box.bias, 4 * A * sizeof (float));
  mrcnn_folded_conv_clear (&cls);
  mrcnn_folded_conv_clear (&box);
  mrcnn_conv_desc d = { &fused, 1, 0, 0,
    mrcnn_model_layer_quant (m, "rpn.head.cls_logits") };
  st = be->ops->conv_new (be, &d, out, err);
  mrcnn_folded_conv_clear (&fused);
  return st;
}

static mrcnn_status
rpn_load (mrcnn_engine *e, mrcnn_error *err)
{
  const mrcnn_model *m = e->model;
  const int A = m->arch.num_anchors;
  mrcnn_rpn *w = e->rpn = g_new0 (mrcnn_rpn, 1);
  w->channels = m->arch.fpn_ch;
  w->num_anchors = A;
  w->pre_nms_top_n = m->rpn_pre_nms_top_n;
  w->post_nms_top_n = m->rpn_post_nms_top_n;
  w->nms_thresh = m->rpn_nms_thresh;
  w->score_thresh = m->rpn_score_thresh;
  w->cell_anchors = g_new (float, (size_t) MRCNN_LEVELS * A * 4);
  for (int l = 0; l < MRCNN_LEVELS; l++)
    for (int r = 0; r < A; r++)
      mrcnn_anchor_base (m->anchor_sizes[l], m->aspect_ratios[r],
          w->cell_anchors + ((size_t) l * A + r) * 4);
  w->nconv = m->arch.rpn_convs;
  /* the last's output is read by the fused head only, which goes by its
   * first part's name */
  MRCNN_TRY (mrcnn_conv_chain_load (e, "rpn.head.conv", w->nconv, 0,
          "rpn.head.cls_logits", w->conv, w->u8, err));
  return load_fused_head (e->be, m, &w->head, err);
}

static void
rpn_unload (mrcnn_engine *e)
{
  if (!e->rpn)
    return;
  for (int k = 0; k < e->rpn->nconv; k++)
    e->be->ops->conv_free (e->be, e->rpn->conv[k]);
  e->be->ops->conv_free (e->be, e->rpn->head);
  g_free (e->rpn->cell_anchors);
  g_clear_pointer (&e->rpn, g_free);
}

static mrcnn_status
rpn_plan (const mrcnn_engine *e, mrcnn_context *ctx, mrcnn_error *err)
{
  const mrcnn_rpn *w = e->rpn;
  const mrcnn_plan *p = &ctx->plan;
  mrcnn_rpn_scratch *s = ctx->rpn = g_new0 (mrcnn_rpn_scratch, 1);
  for (int l = 0; l < MRCNN_LEVELS; l++)
    mrcnn_plan_buffer (ctx, (size_t) mrcnn_ch_pad (5 * w->num_anchors)
        * mrcnn_plan_level_area (p, l), MRCNN_STAGE_RPN, MRCNN_STAGE_RPN, 0,
        &s->head[l]);
  for (int k = 0; k < MIN (w->nconv, 2); k++)
    mrcnn_plan_buffer (ctx, (size_t) mrcnn_ch_pad (w->channels)
        * mrcnn_plan_level_area (p, 0), MRCNN_STAGE_RPN, MRCNN_STAGE_RPN, 1,
        &s->hidden[k]);
  /* read by the box head, and by the debug record */
  mrcnn_plan_buffer (ctx, (size_t) p->frames * p->post_nms_top_n * 4,
      MRCNN_STAGE_RPN, MRCNN_STAGE_PASTE, 0, &s->proposals);
  return MRCNN_OK;
}

static void
rpn_scratch_free (const mrcnn_engine *e, mrcnn_context *ctx)
{
  g_clear_pointer (&ctx->rpn, g_free);
}

const mrcnn_stage_parts mrcnn_rpn_parts = {
  rpn_load, rpn_unload, rpn_plan, rpn_scratch_free
};

void
mrcnn_rpn_postproc_desc (const mrcnn_rpn *w, const mrcnn_plan *plan,
    mrcnn_postproc_desc *d)
{
  d->nlevels = MRCNN_LEVELS;
  d->num_anchors = w->num_anchors;
  d->cell_anchors = w->cell_anchors;
  /* one frame's grid at each level, for the largest frame the context
   * holds */
  for (int l = 0; l < MRCNN_LEVELS; l++) {
    int s = 4 << l;
    d->max_locations[l] = (size_t) (plan->frame_short_max / s + 1)
        * (plan->long_side / s + 1);
  }
  d->pre_nms_top_n = w->pre_nms_top_n;
  d->post_nms_top_n = w->post_nms_top_n;
  d->rpn_nms_thresh = w->nms_thresh;
  d->rpn_score_thresh = w->score_thresh;
  d->rpn_min_size = 1e-3f;
}

mrcnn_status
mrcnn_rpn_run (mrcnn_backend *be, mrcnn_queue *q, const mrcnn_rpn *w,
    mrcnn_rpn_scratch *s, mrcnn_postproc *pp, int *counts,
    const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    mrcnn_proposals *out, mrcnn_error *err)
{
  mrcnn_fmap head[MRCNN_LEVELS];
  for (int l = 0; l < MRCNN_LEVELS; l++) {
    /* the shared 3x3 convs' outputs feed the next conv only */
    mrcnn_fmap x = pyramid[l], hidden;
    for (int k = 0; k < w->nconv; k++) {
      hidden = (mrcnn_fmap) { s->hidden[k % 2], .layout = MRCNN_LAYOUT_NATIVE,
        .store = w->u8[k] ? MRCNN_STORE_U8 : MRCNN_STORE_REDUCED };
      MRCNN_TRY (be->ops->conv_run (be, q, w->conv[k], &x, 0, &hidden, err));
      x = hidden;
    }
    head[l] = (mrcnn_fmap) { s->head[l], .layout = MRCNN_LAYOUT_NATIVE };
    MRCNN_TRY (be->ops->conv_run (be, q, w->head, &x, 0, &head[l], err));
  }
  /* filter_proposals per image: anchors on the batch's common grid, boxes
   * clipped to the image's own resized size */
  out->boxes = s->proposals;
  out->rows.total = 0;
  for (int i = 0; i < b->n; i++) {
    mrcnn_fmap one[MRCNN_LEVELS];
    for (int l = 0; l < MRCNN_LEVELS; l++)
      be->ops->image_view (be, &head[l], i, &one[l]);
    int n = 0;
    float *rows = out->boxes + (size_t) out->rows.total * 4;
    if (counts) {
      /* the count stays where the backend is; the image has the planned
       * rows, zero past it */
      n = w->post_nms_top_n;
      MRCNN_TRY (be->ops->rpn_proposals_dev (be, q, pp, one, b->pad_w,
              b->pad_h, b->frame[i].res_w, b->frame[i].res_h, rows,
              &counts[i], err));
    } else {
      MRCNN_TRY (be->ops->rpn_proposals (be, q, pp, one, b->pad_w, b->pad_h,
              b->frame[i].res_w, b->frame[i].res_h, rows, &n, err));
    }
    out->rows.start[i] = out->rows.total;
    out->rows.count[i] = n;
    out->rows.total += n;
  }
  return MRCNN_OK;
}
