/* Box post-processing, run by the backend where the predictions are
 * (engine/cpu/postproc_cpu.c, engine/cuda/postproc_cuda.cu): the RPN's
 * filter_proposals (rpn.c calls it) and the box head's
 * RoIHeads.postprocess_detections (softmax, per-class decode, clip, score
 * threshold, small-box removal, batched NMS per class and the best
 * max_detections, below).
 *
 * Weights: none of its own; the RPN's settings and cell anchors and the box
 * head's classes describe it.
 * Scratch: one backend mrcnn_postproc per context, which both use in turn
 * (the backend plans their sorting and NMS buffers together), sized from
 * what the RPN and the box head say of the plan
 * (mrcnn_rpn_postproc_desc, mrcnn_box_head_postproc_desc). */
#include "engine_priv.h"

static mrcnn_status
postprocess_plan (const mrcnn_engine *e, mrcnn_context *ctx, mrcnn_error *err)
{
  mrcnn_postproc_desc d = { 0 };
  mrcnn_rpn_postproc_desc (e->rpn, &ctx->plan, &d);
  mrcnn_box_head_postproc_desc (e->box_head, &ctx->plan, &d);
  /* where the backend keeps the counts: written by the RPN and the box
   * head, downloaded with the results (ints of a float's size) */
  if (ctx->device_counts)
    mrcnn_plan_buffer (ctx, (size_t) 2 * ctx->plan.frames, MRCNN_STAGE_RPN,
        MRCNN_STAGE_PASTE, 0, (float **) &ctx->counts);
  return e->be->ops->postproc_new (e->be, &d, &ctx->postproc, err);
}

static void
postprocess_scratch_free (const mrcnn_engine *e, mrcnn_context *ctx)
{
  if (ctx->postproc)
    e->be->ops->postproc_free (e->be, ctx->postproc);
  ctx->postproc = NULL;
}

const mrcnn_stage_parts mrcnn_postprocess_parts = {
  NULL, NULL, postprocess_plan, postprocess_scratch_free
};

mrcnn_status
mrcnn_box_postprocess (mrcnn_backend *be, mrcnn_queue *q, mrcnn_postproc *pp,
    const float *proposals, const int *props_count, const float *pred,
    int n_props, const mrcnn_frame_geometry *f, const mrcnn_thresholds *th,
    const mrcnn_detections *out, int first, int *count, int *rows,
    mrcnn_error *err)
{
  *rows = 0;
  if (count) {
    *rows = th->max_detections;
    return be->ops->detect_dev (be, q, pp, proposals, props_count, pred,
        n_props, th, f->res_w, f->res_h, out->boxes + (size_t) first * 4,
        out->scores + first, out->labels + first, count, err);
  }
  if (n_props == 0)
    return MRCNN_OK;
  return be->ops->detect (be, q, pp, proposals, pred, n_props, th, f->res_w,
      f->res_h, out->boxes + (size_t) first * 4, out->scores + first,
      out->labels + first, rows, err);
}
