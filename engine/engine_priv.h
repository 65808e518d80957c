/* The engine object and the stage entry points (one file per stage). */
#ifndef MRCNN_ENGINE_PRIV_H
#define MRCNN_ENGINE_PRIV_H

#include "backend.h"

#define MRCNN_LEVELS 5  /* P2..P6 */
#define MRCNN_BOX_POOL 7
#define MRCNN_MASK_POOL 14

typedef struct {
  mrcnn_conv *conv1, *conv2, *conv3, *down;
} mrcnn_block_layers;

struct mrcnn_result {
  int image_w, image_h;
  int n;
  mrcnn_detection *det;
  int mask_size;
  float *mask_probs;   /* n x M x M */
};

struct mrcnn_engine {
  const mrcnn_model *model;
  const mrcnn_arch *arch;
  mrcnn_backend *be;
  mrcnn_backend_kind kind;
  mrcnn_engine_config cfg;
  mrcnn_thresholds th;

  /* planned sizes */
  int max_pad_w, max_pad_h;   /* per orientation bound, each a multiple of 32 */
  size_t max_area;            /* bound on pad_w * pad_h */

  /* layers */
  mrcnn_conv *stem;
  mrcnn_block_layers *blocks;
  mrcnn_conv *fpn_inner[MRCNN_FPN_LEVELS], *fpn_layer[MRCNN_FPN_LEVELS];
  mrcnn_conv *rpn_conv, *rpn_out;     /* rpn_out: objectness + deltas fused */
  mrcnn_linear *fc6, *fc7, *predictor; /* predictor: cls_score + bbox_pred */
  mrcnn_conv *mask_conv[MRCNN_MASK_CONVS];
  mrcnn_conv *mask_deconv;
  float *deconv_b, *logit_w, *logit_b;  /* backend memory */

  /* backend buffers, planned once */
  float *image;
  float *act[4];
  size_t act_size;
  float *lateral[MRCNN_FPN_LEVELS];
  float *pyramid[MRCNN_LEVELS];
  float *rpn_hidden;
  float *rpn_raw[MRCNN_LEVELS];   /* native layout */
  float *proposals;               /* post_nms_top_n x 4 */
  float *box_feat, *fc6_out, *fc7_out, *pred_out;
  float *det_boxes, *det_scores;  /* max_detections (x 4), resized image */
  int *det_labels;                /* max_detections (allocated as floats) */
  float *mask_feat[2], *mask_up, *mask_probs;
  mrcnn_postproc *postproc;       /* the RPN's and the box head's */

  /* host scratch, planned once */
  float *host_scratch;      /* for backend downloads */
  size_t host_scratch_size;
  int n_props, n_det;       /* counts of the last run */

  /* last run */
  mrcnn_fmap in_map, pyr[MRCNN_LEVELS];
  int img_w, img_h, res_w, res_h;
  int have_run;
  double stage_ms[MRCNN_STAGE_COUNT];
};

/* preprocess.c */
void mrcnn_preprocess_geometry (const mrcnn_model *m, int in_w, int in_h,
    mrcnn_preprocess_desc *d);
mrcnn_status mrcnn_preprocess_run (mrcnn_engine *e, const mrcnn_image *img,
    mrcnn_error *err);

/* backbone.c */
mrcnn_status mrcnn_body_init (mrcnn_engine *e, mrcnn_error *err);
void mrcnn_body_free (mrcnn_engine *e);
size_t mrcnn_body_max_activation (const mrcnn_arch *a, size_t area);
/* Runs the ResNet body; calls the FPN's lateral 1x1 conv on each stage output
 * as soon as it exists so stage outputs need no storage of their own. */
mrcnn_status mrcnn_body_run (mrcnn_engine *e, mrcnn_error *err);

/* fpn.c */
mrcnn_status mrcnn_fpn_init (mrcnn_engine *e, mrcnn_error *err);
void mrcnn_fpn_free (mrcnn_engine *e);
mrcnn_status mrcnn_fpn_lateral (mrcnn_engine *e, int level,
    const mrcnn_fmap *stage_out, mrcnn_error *err);
mrcnn_status mrcnn_fpn_run (mrcnn_engine *e, mrcnn_error *err);

/* rpn.c */
mrcnn_status mrcnn_rpn_init (mrcnn_engine *e, mrcnn_error *err);
void mrcnn_rpn_free (mrcnn_engine *e);
mrcnn_status mrcnn_rpn_run (mrcnn_engine *e, mrcnn_error *err);

/* roi_heads.c */
mrcnn_status mrcnn_roi_heads_init (mrcnn_engine *e, mrcnn_error *err);
void mrcnn_roi_heads_free (mrcnn_engine *e);
/* MultiScaleRoIAlign's level mapping and spatial scales for this input. */
void mrcnn_roi_levels (const mrcnn_engine *e, float scales[4], int *k_min,
    int *k_max);
mrcnn_status mrcnn_box_head_run (mrcnn_engine *e, mrcnn_error *err);
mrcnn_status mrcnn_mask_head_run (mrcnn_engine *e, mrcnn_error *err);

/* postprocess.c */
/* RoIHeads.postprocess_detections of the box head's predictions (pred_out)
 * into det_boxes / det_scores / det_labels and n_det, through the backend. */
mrcnn_status mrcnn_box_postprocess (mrcnn_engine *e, mrcnn_error *err);

#endif
