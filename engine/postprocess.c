/* Box post-processing (RoIHeads.postprocess_detections): softmax, per-class
 * decode, clip, score threshold, small-box removal, batched NMS per class
 * and the best max_detections, run by the backend where the predictions
 * are (engine/cpu/postproc_cpu.c, engine/cuda/postproc_cuda.cu). */
#include "engine_priv.h"

mrcnn_status
mrcnn_box_postprocess (mrcnn_engine *e, mrcnn_error *err)
{
  e->n_det = 0;
  if (e->n_props == 0)
    return MRCNN_OK;
  return e->be->ops->detect (e->be, e->postproc, e->proposals, e->pred_out,
      e->n_props, &e->th, e->res_w, e->res_h, e->det_boxes, e->det_scores,
      e->det_labels, &e->n_det, err);
}
