/* Region proposal network: shared 3x3 conv head, then the backend's
 * rpn_proposals (anchors, per-level top-k, decoding, clipping, small-box
 * removal and per-level NMS, as torchvision's RegionProposalNetwork does in
 * eval mode; engine/cpu/postproc_cpu.c and engine/cuda/postproc_cuda.cu). */
#include <string.h>

#include "engine_priv.h"
#include "anchors.h"

mrcnn_status
mrcnn_rpn_init (mrcnn_engine *e, mrcnn_error *err)
{
  const mrcnn_arch *a = e->arch;
  const mrcnn_model *m = e->model;
  mrcnn_folded_conv hidden, cls, box, fused;
  MRCNN_TRY (mrcnn_fold_conv (m, "rpn.head.conv.0.0", NULL, 1, &hidden, err));
  mrcnn_conv_desc d = { &hidden, 1, 1, 1 };
  mrcnn_status st = e->be->ops->conv_new (e->be, &d, &e->rpn_conv, err);
  mrcnn_folded_conv_clear (&hidden);
  MRCNN_TRY (st);

  /* objectness and box deltas share their input: one 1x1 conv with
   * A + 4A output channels */
  MRCNN_TRY (mrcnn_fold_conv (m, "rpn.head.cls_logits", NULL, 1, &cls, err));
  st = mrcnn_fold_conv (m, "rpn.head.bbox_pred", NULL, 1, &box, err);
  if (st != MRCNN_OK) {
    mrcnn_folded_conv_clear (&cls);
    return st;
  }
  int A = a->num_anchors, C = a->fpn_ch;
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
  d.w = &fused;
  d.pad = 0;
  d.relu = 0;
  st = e->be->ops->conv_new (e->be, &d, &e->rpn_out, err);
  mrcnn_folded_conv_clear (&fused);
  return st;
}

/* The post-processing of both the RPN and the box head, planned for the
 * largest input and max_detections: one per context. */
mrcnn_status
mrcnn_postproc_plan (const mrcnn_engine *e, mrcnn_postproc **out,
    mrcnn_error *err)
{
  const mrcnn_model *m = e->model;
  const mrcnn_arch *a = e->arch;
  const int A = a->num_anchors;
  float *cell = g_new (float, (size_t) MRCNN_LEVELS * A * 4);
  for (int l = 0; l < MRCNN_LEVELS; l++)
    for (int r = 0; r < A; r++)
      mrcnn_anchor_base (m->anchor_sizes[l], m->aspect_ratios[r],
          cell + ((size_t) l * A + r) * 4);
  size_t locs[MRCNN_LEVELS];
  int long_pad = (m->max_size + 31) / 32 * 32;
  /* a batch that mixes orientations pads every frame to a square */
  int short_pad = e->cfg.max_batch > 1 ? long_pad
      : (m->min_size + 31) / 32 * 32;
  for (int l = 0; l < MRCNN_LEVELS; l++) {
    int s = 4 << l;
    locs[l] = (size_t) (short_pad / s + 1) * (long_pad / s + 1);
  }
  mrcnn_postproc_desc pd = {
    .nlevels = MRCNN_LEVELS, .num_anchors = A, .cell_anchors = cell,
    .max_locations = locs, .pre_nms_top_n = m->rpn_pre_nms_top_n,
    .post_nms_top_n = m->rpn_post_nms_top_n,
    .rpn_nms_thresh = m->rpn_nms_thresh,
    .rpn_score_thresh = m->rpn_score_thresh, .rpn_min_size = 1e-3f,
    .box_min_size = 1e-2f, .num_classes = a->num_classes,
    .max_detections = e->cfg.thresholds.max_detections,
  };
  mrcnn_status st = e->be->ops->postproc_new (e->be, &pd, out, err);
  g_free (cell);
  return st;
}

void
mrcnn_rpn_free (mrcnn_engine *e)
{
  e->be->ops->conv_free (e->be, e->rpn_conv);
  e->be->ops->conv_free (e->be, e->rpn_out);
  e->rpn_conv = e->rpn_out = NULL;
}

mrcnn_status
mrcnn_rpn_run (const mrcnn_engine *e, mrcnn_context *ctx,
    const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    mrcnn_proposals *out, mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  mrcnn_fmap head[MRCNN_LEVELS];
  for (int l = 0; l < MRCNN_LEVELS; l++) {
    /* the shared 3x3 conv's output feeds the fused 1x1 head only */
    mrcnn_fmap hidden = { ctx->rpn_hidden, .layout = MRCNN_LAYOUT_NATIVE,
      .store = MRCNN_STORE_REDUCED };
    head[l] = (mrcnn_fmap) { ctx->rpn_raw[l], .layout = MRCNN_LAYOUT_NATIVE };
    MRCNN_TRY (be->ops->conv_run (be, ctx->q, e->rpn_conv, &pyramid[l], 0,
            &hidden, err));
    MRCNN_TRY (be->ops->conv_run (be, ctx->q, e->rpn_out, &hidden, 0,
        &head[l], err));
  }
  /* filter_proposals per image: anchors on the batch's common grid, boxes
   * clipped to the image's own resized size */
  out->boxes = ctx->proposals;
  out->rows.total = 0;
  for (int i = 0; i < b->n; i++) {
    mrcnn_fmap one[MRCNN_LEVELS];
    for (int l = 0; l < MRCNN_LEVELS; l++)
      be->ops->image_view (be, &head[l], i, &one[l]);
    int n = 0;
    MRCNN_TRY (be->ops->rpn_proposals (be, ctx->q, ctx->postproc, one, b->pad_w,
            b->pad_h, b->frame[i].res_w, b->frame[i].res_h,
            out->boxes + (size_t) out->rows.total * 4, &n, err));
    out->rows.start[i] = out->rows.total;
    out->rows.count[i] = n;
    out->rows.total += n;
  }
  return MRCNN_OK;
}
