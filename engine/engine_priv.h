/* The engine (the network, made once and shared), its context (what one
 * forward pass of up to max_batch frames needs) and the stage entry points
 * (one file per stage). Each stage takes its inputs and returns its outputs
 * as arguments, in detectron2's order:
 *
 *   preprocess (frames)                 -> input          preprocess.c
 *   body (input)                        -> laterals       backbone.c
 *   fpn (laterals)                      -> pyramid        fpn.c
 *   rpn (pyramid)                       -> proposals      rpn.c
 *   box head (pyramid, proposals)       -> detections     roi_heads.c
 *   mask head (pyramid, detections)     -> mask probs     roi_heads.c
 *
 * Feature maps hold the whole batch (n frames); proposals and detections are
 * rows of backend arrays, image after image (mrcnn_rows). */
#ifndef MRCNN_ENGINE_PRIV_H
#define MRCNN_ENGINE_PRIV_H

#include "backend.h"

#define MRCNN_LEVELS 5  /* P2..P6 */
#define MRCNN_BOX_POOL 7
#define MRCNN_MASK_POOL 14
#define MRCNN_MASK_SIZE (2 * MRCNN_MASK_POOL)
#define MRCNN_BATCH_MAX MRCNN_MAX_BATCH  /* bound on max_batch */

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

/* The geometry of one batch, as GeneralizedRCNNTransform makes it: each
 * frame resized on its own, all padded to one size. */
typedef struct {
  int img_w, img_h;        /* the frame */
  int res_w, res_h;        /* resized, before padding */
} mrcnn_frame_geometry;

typedef struct {
  int n;                               /* frames */
  mrcnn_frame_geometry frame[MRCNN_BATCH_MAX];
  int pad_w, pad_h;                    /* the common padded input */
  int res_w_max, res_h_max;            /* MultiScaleRoIAlign's input shape:
                                        * the largest resized size */
} mrcnn_batch;

/* Per-image runs of rows in a backend array (proposals, detections):
 * image i owns rows start[i] .. start[i] + count[i] - 1. */
typedef struct {
  int start[MRCNN_BATCH_MAX], count[MRCNN_BATCH_MAX];
  int total;
} mrcnn_rows;

typedef struct {
  float *boxes;          /* backend, total x 4, resized-image pixels */
  mrcnn_rows rows;
} mrcnn_proposals;

typedef struct {
  float *boxes;          /* backend, total x 4, resized-image pixels */
  float *scores;         /* backend, total */
  int *labels;           /* backend, total */
  mrcnn_rows rows;
} mrcnn_detections;

/* What one forward pass needs: buffers planned once for max_batch frames of
 * the model's largest input, the backend queue its ops run on and the
 * post-processing's scratch. */
typedef struct {
  mrcnn_queue *q;
  mrcnn_postproc *postproc;       /* the RPN's and the box head's */
  int max_batch;
  int max_pad_w, max_pad_h;   /* per orientation bound, each a multiple of 32 */
  size_t max_area;            /* bound on pad_w * pad_h of one frame */

  float *image;
  float *act[4];
  size_t act_size;
  float *lateral[MRCNN_FPN_LEVELS];
  float *pyramid[MRCNN_LEVELS];
  float *rpn_hidden;
  float *rpn_raw[MRCNN_LEVELS];   /* native layout */
  float *proposals;               /* max_batch x post_nms_top_n x 4 */
  float *box_feat, *fc6_out, *fc7_out, *pred_out;
  float *det_boxes, *det_scores;  /* max_batch x max_detections (x 4) */
  int *det_labels;                /* (allocated as floats) */
  float *mask_feat[2], *mask_up, *mask_probs;

  float *host_scratch;            /* for backend downloads */
  size_t host_scratch_size;

  /* the last pass, for mrcnn_engine_debug_tensor: frames first_frame ..
   * first_frame + input.n - 1 of the batch of call `run` */
  int have_run, first_frame;
  guint64 run;
  double stage_ms[MRCNN_STAGE_COUNT];   /* summed over the call's passes */
  mrcnn_fmap input, pyr[MRCNN_LEVELS];
  mrcnn_proposals props;
  mrcnn_detections dets;
} mrcnn_context;

/* The network, made once from the model and only read by runs. */
struct mrcnn_engine {
  const mrcnn_model *model;
  const mrcnn_arch *arch;
  mrcnn_backend *be;
  mrcnn_backend_kind kind;
  mrcnn_engine_config cfg;
  mrcnn_thresholds th;            /* mrcnn_engine_set_thresholds */

  /* layers */
  mrcnn_conv *stem;
  mrcnn_block_layers *blocks;
  mrcnn_conv *fpn_inner[MRCNN_FPN_LEVELS], *fpn_layer[MRCNN_FPN_LEVELS];
  mrcnn_conv *rpn_conv, *rpn_out;     /* rpn_out: objectness + deltas fused */
  mrcnn_linear *fc6, *fc7, *predictor; /* predictor: cls_score + bbox_pred */
  mrcnn_conv *mask_conv[MRCNN_MASK_CONVS];
  mrcnn_conv *mask_deconv;
  float *deconv_b, *logit_w, *logit_b;  /* backend memory */

  /* lock guards th and stage_ms (the last call's stage times). */
  GMutex lock;
  struct mrcnn_scheduler *sched;  /* contexts and pass threads
                                   * (scheduler.c) */
  double stage_ms[MRCNN_STAGE_COUNT];
};

/* engine.c: contexts and the forward pass */
/* Plans the buffers of one forward pass of max_batch frames, each up to the
 * model's largest input (its min_size x max_size, padded), and its queue.
 * Free with mrcnn_context_free. */
mrcnn_status mrcnn_context_new (const mrcnn_engine *e, int max_batch,
    mrcnn_context **out, mrcnn_error *err);
void mrcnn_context_free (const mrcnn_engine *e, mrcnn_context *ctx);
/* Frames first .. first + count - 1 of the planned batch b, on ctx with
 * `workers` of the backend's workers, into results[first ..]; thresholds
 * th[first ..]. ctx->stage_ms accumulates the stage times. */
mrcnn_status mrcnn_context_run (const mrcnn_engine *e, mrcnn_context *ctx,
    int workers, const mrcnn_image *images, const mrcnn_thresholds *th,
    const mrcnn_batch *b, int first, int count, mrcnn_result **results,
    mrcnn_error *err);
/* A frame the engine can run, and thresholds (NULL: none to check) it can
 * run with; the frame's size against the planned one is the scheduler's to
 * check (mrcnn_engine_reserve grows it). */
mrcnn_status mrcnn_engine_check_frame (const mrcnn_engine *e,
    const mrcnn_image *img, const mrcnn_thresholds *th, mrcnn_error *err);

/* scheduler.c: the contexts, the pass threads and the calls' passes */
mrcnn_status mrcnn_sched_new (mrcnn_engine *e, mrcnn_error *err);
void mrcnn_sched_free (mrcnn_engine *e);
/* The context whose last pass ran frame `frame` of the last call. */
mrcnn_status mrcnn_sched_debug_context (const mrcnn_engine *e, int frame,
    const mrcnn_context **out, mrcnn_error *err);

/* preprocess.c */
void mrcnn_preprocess_geometry (const mrcnn_model *m, int in_w, int in_h,
    mrcnn_preprocess_desc *d);
/* Fills the batch geometry of n frames; fails when not one frame of the
 * common padded size fits the context. */
mrcnn_status mrcnn_batch_plan (const mrcnn_engine *e, const mrcnn_context *ctx,
    const mrcnn_image *images, int n, mrcnn_batch *b, mrcnn_error *err);
/* How many frames of b's common padded size one forward pass on ctx holds
 * (0: not one). */
int mrcnn_batch_fit (const mrcnn_context *ctx, const mrcnn_batch *b);
/* Frames first .. first + count - 1 of b, with b's common geometry: a part
 * of a batch runs exactly as it would inside the whole batch, since every
 * frame's computation depends on its own pixels and that geometry only. */
void mrcnn_batch_part (const mrcnn_batch *b, int first, int count,
    mrcnn_batch *part);
/* Frames -> input (n x 3 x pad_h x pad_w in ctx->image). */
mrcnn_status mrcnn_preprocess_run (const mrcnn_engine *e, mrcnn_context *ctx,
    const mrcnn_image *images, const mrcnn_batch *b, mrcnn_fmap *input,
    mrcnn_error *err);

/* backbone.c */
mrcnn_status mrcnn_body_init (mrcnn_engine *e, mrcnn_error *err);
void mrcnn_body_free (mrcnn_engine *e);
size_t mrcnn_body_max_activation (const mrcnn_arch *a, size_t area);
/* Runs the ResNet body on input; the FPN's lateral 1x1 conv runs on each
 * stage output as soon as it exists (mrcnn_fpn_lateral), so that stage
 * outputs need no storage of their own: laterals[k] receives level k's. */
mrcnn_status mrcnn_body_run (const mrcnn_engine *e, mrcnn_context *ctx,
    const mrcnn_fmap *input, mrcnn_fmap laterals[MRCNN_FPN_LEVELS],
    mrcnn_error *err);

/* fpn.c */
mrcnn_status mrcnn_fpn_init (mrcnn_engine *e, mrcnn_error *err);
void mrcnn_fpn_free (mrcnn_engine *e);
mrcnn_status mrcnn_fpn_lateral (const mrcnn_engine *e, mrcnn_context *ctx,
    int level, const mrcnn_fmap *stage_out, mrcnn_fmap *lateral,
    mrcnn_error *err);
/* The top-down pathway (laterals are summed in place) -> P2..P6. */
mrcnn_status mrcnn_fpn_run (const mrcnn_engine *e, mrcnn_context *ctx,
    mrcnn_fmap laterals[MRCNN_FPN_LEVELS], mrcnn_fmap pyramid[MRCNN_LEVELS],
    mrcnn_error *err);

/* rpn.c */
mrcnn_status mrcnn_rpn_init (mrcnn_engine *e, mrcnn_error *err);
void mrcnn_rpn_free (mrcnn_engine *e);
/* The post-processing of the RPN and the box head, for one context. */
mrcnn_status mrcnn_postproc_plan (const mrcnn_engine *e,
    mrcnn_postproc **out, mrcnn_error *err);
/* Proposals of every image of the batch, image after image. */
mrcnn_status mrcnn_rpn_run (const mrcnn_engine *e, mrcnn_context *ctx,
    const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    mrcnn_proposals *out, mrcnn_error *err);

/* roi_heads.c */
mrcnn_status mrcnn_roi_heads_init (mrcnn_engine *e, mrcnn_error *err);
void mrcnn_roi_heads_free (mrcnn_engine *e);
/* MultiScaleRoIAlign's level mapping and spatial scales for this batch. */
void mrcnn_roi_levels (const mrcnn_fmap pyramid[MRCNN_LEVELS],
    const mrcnn_batch *b, float scales[4], int *k_min, int *k_max);
/* The box head over all images' proposals, then each image's detections
 * with its own thresholds th[i]. */
mrcnn_status mrcnn_box_head_run (const mrcnn_engine *e, mrcnn_context *ctx,
    const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    const mrcnn_proposals *props, const mrcnn_thresholds *th,
    mrcnn_detections *out, mrcnn_error *err);
/* The mask head over all images' detections: *probs receives backend
 * memory of dets->rows.total x M x M probabilities. */
mrcnn_status mrcnn_mask_head_run (const mrcnn_engine *e, mrcnn_context *ctx,
    const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    const mrcnn_detections *dets, float **probs, mrcnn_error *err);

/* postprocess.c */
/* RoIHeads.postprocess_detections of one image's box-head predictions
 * (pred: its rows, n_props x 5C) into detections written from row `first`
 * of out's arrays; *count receives how many. */
mrcnn_status mrcnn_box_postprocess (const mrcnn_engine *e,
    mrcnn_context *ctx, const float *proposals, const float *pred, int n_props,
    const mrcnn_frame_geometry *f, const mrcnn_thresholds *th,
    const mrcnn_detections *out, int first, int *count, mrcnn_error *err);

#endif
