/* Box post-processing (RoIHeads.postprocess_detections): softmax, per-class
 * decode, clip, score threshold, small-box removal, batched NMS per class
 * and the best max_detections, run by the backend where the predictions
 * are (engine/cpu/postproc_cpu.c, engine/cuda/postproc_cuda.cu). */
#include "engine_priv.h"

mrcnn_status
mrcnn_box_postprocess (const mrcnn_engine *e, mrcnn_context *ctx,
    const float *proposals,
    const float *pred, int n_props, const mrcnn_frame_geometry *f,
    const mrcnn_thresholds *th, const mrcnn_detections *out, int first,
    int *count, mrcnn_error *err)
{
  *count = 0;
  if (n_props == 0)
    return MRCNN_OK;
  return e->be->ops->detect (e->be, ctx->q, ctx->postproc, proposals, pred,
      n_props, th,
      f->res_w, f->res_h, out->boxes + (size_t) first * 4, out->scores + first,
      out->labels + first, count, err);
}
