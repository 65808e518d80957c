/* The engine (the network, made once and shared), its context (what one
 * forward pass of up to max_batch frames needs) and the stages, one file
 * each. A stage owns its parts: its weights, made once from the model into
 * the engine, and its scratch, planned once per context for the sizes of an
 * mrcnn_plan. Both are structs of the stage's own file (opaque here), made
 * and freed by that file's life cycle (mrcnn_stage_parts: load / unload,
 * plan / scratch_free) and described at its top. Each stage's run takes its
 * weights and scratch and its inputs, and returns its outputs as arguments,
 * in detectron2's order:
 *
 *   preprocess (frames)                 -> input          preprocess.c
 *   body (input)                        -> laterals       backbone.c
 *   fpn (laterals)                      -> pyramid        fpn.c
 *   rpn (pyramid)                       -> proposals      rpn.c
 *   box head (pyramid, proposals)       -> detections     box_head.c
 *   mask head (pyramid, detections)     -> mask probs     mask_head.c
 *
 * Both heads pool with MultiScaleRoIAlign (roi_heads.c); the box
 * post-processing of the RPN and of the box head is one backend object per
 * context (postprocess.c). Feature maps hold the whole batch (n frames);
 * proposals and detections are rows of backend arrays, image after image
 * (mrcnn_rows). The engine is the list of the stages' weights, the context
 * the list of their scratch. */
#ifndef MRCNN_ENGINE_PRIV_H
#define MRCNN_ENGINE_PRIV_H

#include "backend.h"

#define MRCNN_LEVELS 5  /* P2..P6 */
#define MRCNN_BOX_POOL 7
#define MRCNN_MASK_POOL 14
#define MRCNN_MASK_SIZE (2 * MRCNN_MASK_POOL)
#define MRCNN_BATCH_MAX MRCNN_MAX_BATCH  /* bound on max_batch */

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

/* The sizes one context is planned for, worked out once (engine.c:
 * mrcnn_context_new) and handed to every stage's plan, which sizes its
 * scratch from them and from its own weights' widths. */
typedef struct {
  int frames;              /* frames of one pass: the context's max_batch */
  int short_side;          /* the model's min_size and max_size, each */
  int long_side;           /* padded to 32: one frame's input is at most
                            * short_side x long_side, either way round */
  size_t frame_area;       /* short_side x long_side: a pass holds frames
                            * of it (a batch of larger frames runs in parts
                            * that fit, mrcnn_batch_fit) */
  int frame_short_max;     /* with long_side, bounds one frame's input:
                            * padded to w x h (each at most long_side,
                            * w x h at most frames x frame_area), it has
                            * no more locations at any stride than one of
                            * frame_short_max x long_side. short_side for
                            * one frame; for more, up to long_side, since
                            * a batch that mixes orientations pads its
                            * frames towards a square */
  int max_detections;      /* per frame: the engine's max_detections */
  int post_nms_top_n;      /* per frame: the RPN's proposals */
} mrcnn_plan;

/* Locations of the level-l maps (stride 4 << l) of a whole pass: what a
 * level's buffers hold, per channel. */
static inline size_t
mrcnn_plan_level_area (const mrcnn_plan *p, int level)
{
  int s = 4 << level;
  return (size_t) p->frames * (p->short_side / s + 1) * (p->long_side / s + 1);
}

/* Each stage's weights (in the engine) and scratch (in a context). */
typedef struct mrcnn_preprocess mrcnn_preprocess;
typedef struct mrcnn_preprocess_scratch mrcnn_preprocess_scratch;
typedef struct mrcnn_body mrcnn_body;
typedef struct mrcnn_body_scratch mrcnn_body_scratch;
typedef struct mrcnn_fpn mrcnn_fpn;
typedef struct mrcnn_fpn_scratch mrcnn_fpn_scratch;
typedef struct mrcnn_rpn mrcnn_rpn;
typedef struct mrcnn_rpn_scratch mrcnn_rpn_scratch;
typedef struct mrcnn_box_head mrcnn_box_head;
typedef struct mrcnn_box_head_scratch mrcnn_box_head_scratch;
typedef struct mrcnn_mask_head mrcnn_mask_head;
typedef struct mrcnn_mask_head_scratch mrcnn_mask_head_scratch;

/* What one forward pass needs: each stage's scratch, planned once for
 * `plan`, the backend queue its ops run on and the host scratch its
 * results are read back through. */
typedef struct {
  mrcnn_plan plan;
  mrcnn_queue *q;
  mrcnn_preprocess_scratch *preprocess;
  mrcnn_body_scratch *body;
  mrcnn_fpn_scratch *fpn;
  mrcnn_rpn_scratch *rpn;
  mrcnn_box_head_scratch *box_head;
  mrcnn_mask_head_scratch *mask_head;
  mrcnn_postproc *postproc;       /* postprocess.c's: the RPN's and the
                                   * box head's */
  int *counts;                    /* postprocess.c's, where the backend
                                   * keeps counts (device_counts): each
                                   * image's proposals, then each image's
                                   * detections; NULL otherwise */
  int device_counts;              /* the backend leaves the counts in its
                                   * memory (rpn_proposals_dev,
                                   * detect_dev): the stages run on the
                                   * planned rows */
  GArray *buffers;                /* the stages' planned buffers
                                   * (mrcnn_buffer_req), which the context
                                   * gets and gives back at once */
  float *host_scratch;            /* the results' downloads (the queue's
                                   * where the backend reserves it) */
  size_t host_scratch_size;
  double stage_ms[MRCNN_STAGE_COUNT];   /* summed over a call's passes */
} mrcnn_context;

/* The network, made once from the model and only read by runs. */
struct mrcnn_engine {
  const mrcnn_model *model;
  mrcnn_backend *be;
  mrcnn_backend_kind kind;
  mrcnn_backend_caps caps;        /* be's, as set for cfg.precision */
  mrcnn_engine_config cfg;
  mrcnn_thresholds th;            /* mrcnn_engine_set_thresholds */

  /* the stages' weights, in the order they run */
  mrcnn_preprocess *preprocess;
  mrcnn_body *body;
  mrcnn_fpn *fpn;
  mrcnn_rpn *rpn;
  mrcnn_box_head *box_head;
  mrcnn_mask_head *mask_head;

  /* lock guards th and stage_ms (the last call's stage times). */
  GMutex lock;
  struct mrcnn_scheduler *sched;  /* the queue, the workers and their
                                   * contexts (scheduler.c) */
  double stage_ms[MRCNN_STAGE_COUNT];
  /* what the forward passes keep for mrcnn_engine_debug_tensor; NULL
   * unless mrcnn_engine_debug_keep asked (engine_debug.c) */
  struct mrcnn_debug *debug;
};

/* engine.c: an engine on the backend reg alone, instead of this build's
 * (mrcnn_backends), for tests of what the engine asks of a backend
 * (tests/engine/test_counting.c); otherwise as mrcnn_engine_new. */
mrcnn_status mrcnn_engine_new_on (const mrcnn_model *model,
    const mrcnn_engine_config *cfg, const mrcnn_backend_reg *reg,
    mrcnn_engine **out, mrcnn_error *err);

/* engine.c: contexts and the forward pass */
/* A stage's plan asks for a buffer of n floats, used by the stages first ..
 * last of a pass (reduced: it holds only maps stored REDUCED or U8); *slot
 * receives its address once every stage has planned, and the context
 * gives it back itself (mrcnn_context_free). */
void mrcnn_plan_buffer (mrcnn_context *ctx, size_t n, mrcnn_stage first,
    mrcnn_stage last, int reduced, float **slot);
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
/* Copies n floats of backend memory into dst (host) through ctx's queue
 * and host scratch. */
mrcnn_status mrcnn_context_download (const mrcnn_engine *e,
    const mrcnn_context *ctx, const float *src, size_t n, float *dst,
    mrcnn_error *err);

/* engine_debug.c: what a forward pass of frames first .. first + n - 1
 * (n = input->n) leaves for mrcnn_engine_debug_tensor, copied while ctx's
 * buffers hold it. */
typedef struct {
  int first;
  const mrcnn_fmap *input, *pyramid;
  const mrcnn_proposals *props;
  const mrcnn_detections *dets;
  const float *mask_probs;
} mrcnn_debug_pass;
mrcnn_status mrcnn_debug_keep_pass (const mrcnn_engine *e,
    const mrcnn_context *ctx, const mrcnn_debug_pass *pass, mrcnn_error *err);
void mrcnn_debug_free (struct mrcnn_debug *d);

/* scheduler.c: the contexts, the pass threads and the calls' passes */
mrcnn_status mrcnn_sched_new (mrcnn_engine *e, mrcnn_error *err);
void mrcnn_sched_free (mrcnn_engine *e);

/* layers.c: a model's layers into the backend, for the stages' loads */
/* The convolution `conv` (+ its bias when has_bias), with the frozen batch
 * norm `bn` folded in when bn is non-NULL. */
mrcnn_status mrcnn_conv_load (mrcnn_backend *be, const mrcnn_model *m,
    const char *conv, const char *bn, int has_bias, int stride, int pad,
    int relu, mrcnn_conv **out, mrcnn_error *err);
/* As mrcnn_conv_load with a batch norm and no bias, for a convolution
 * that writes a map stored U8 (out_quant on: that map's range) or
 * accumulates into one (acc_quant on); both off: mrcnn_conv_load. */
mrcnn_status mrcnn_conv_load_u8 (mrcnn_backend *be, const mrcnn_model *m,
    const char *conv, const char *bn, int stride, int pad, int relu,
    const mrcnn_quant *out_quant, const mrcnn_quant *acc_quant,
    mrcnn_conv **out, mrcnn_error *err);
/* torchvision's Conv2dNormActivation `block`: the convolution `<block>.0`
 * with the batch norm `<block>.1` folded in when norm (v2's FPN and heads),
 * else with its bias; out_quant as mrcnn_conv_load_u8's (NULL: off). */
mrcnn_status mrcnn_conv_block_load (mrcnn_backend *be, const mrcnn_model *m,
    const char *block, int norm, int stride, int pad, int relu,
    const mrcnn_quant *out_quant, mrcnn_conv **out, mrcnn_error *err);
/* Where a map read by n layers with these quants is stored U8
 * (MRCNN_STORE_U8): at precision int8 on a backend with the quantize op,
 * when every reader is int8 with one non-negative range. Returns that
 * range, the out_quant of the convolution that writes the map; off where
 * the map stays float32 (or REDUCED). */
mrcnn_quant mrcnn_u8_quant (const mrcnn_engine *e, const mrcnn_quant *readers,
    int n);
/* A chain of n 3x3 Conv2dNormActivation blocks `<prefix>.<k>` (stride 1,
 * padding 1, ReLU; norm as mrcnn_conv_block_load's), each read by the next
 * only and the last by the layer last_reader only (NULL: by float32 ops):
 * convs[k], and u8[k] whether block k writes its output U8
 * (mrcnn_u8_quant). */
mrcnn_status mrcnn_conv_chain_load (const mrcnn_engine *e, const char *prefix,
    int n, int norm, const char *last_reader, mrcnn_conv **convs, int *u8,
    mrcnn_error *err);

/* A stage's life cycle (each stage file defines one, mrcnn_<stage>_parts):
 * load makes the stage's weights from e->model into its own field of e,
 * plan its scratch for ctx->plan into its own field of ctx. Each sets its
 * field as soon as it has made the struct, so that after a failure unload
 * and scratch_free release what was made; both take a field never set
 * (NULL). A stage without weights has no load and unload. */
typedef struct {
  mrcnn_status (*load) (mrcnn_engine *e, mrcnn_error *err);
  void (*unload) (mrcnn_engine *e);
  mrcnn_status (*plan) (const mrcnn_engine *e, mrcnn_context *ctx,
      mrcnn_error *err);
  void (*scratch_free) (const mrcnn_engine *e, mrcnn_context *ctx);
} mrcnn_stage_parts;

extern const mrcnn_stage_parts mrcnn_preprocess_parts, mrcnn_body_parts,
    mrcnn_fpn_parts, mrcnn_rpn_parts, mrcnn_box_head_parts,
    mrcnn_mask_head_parts, mrcnn_postprocess_parts;

/* preprocess.c */
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
/* Frames -> input (n x 3 x pad_h x pad_w, in s). */
mrcnn_status mrcnn_preprocess_run (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_preprocess *w, mrcnn_preprocess_scratch *s,
    const mrcnn_image *images, const mrcnn_batch *b, mrcnn_fmap *input,
    mrcnn_error *err);

/* backbone.c */
/* Runs the ResNet body on input; the FPN's lateral 1x1 conv runs on each
 * stage output as soon as it exists (mrcnn_fpn_lateral), so that stage
 * outputs need no storage of their own: laterals[k] receives level k's. */
mrcnn_status mrcnn_body_run (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_body *w, mrcnn_body_scratch *s, const mrcnn_fpn *fpn,
    mrcnn_fpn_scratch *fpn_s, const mrcnn_fmap *input,
    mrcnn_fmap laterals[MRCNN_FPN_LEVELS], mrcnn_error *err);

/* fpn.c */
/* The lateral 1x1 conv of one body stage's output into s's level buffer. */
mrcnn_status mrcnn_fpn_lateral (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fpn *w, mrcnn_fpn_scratch *s, int level,
    const mrcnn_fmap *stage_out, mrcnn_fmap *lateral, mrcnn_error *err);
/* The top-down pathway (laterals are summed in place) -> P2..P6. */
mrcnn_status mrcnn_fpn_run (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fpn *w, mrcnn_fpn_scratch *s,
    mrcnn_fmap laterals[MRCNN_FPN_LEVELS], mrcnn_fmap pyramid[MRCNN_LEVELS],
    mrcnn_error *err);

/* rpn.c */
/* The RPN's part of the post-processing's description (postprocess.c). */
void mrcnn_rpn_postproc_desc (const mrcnn_rpn *w, const mrcnn_plan *plan,
    mrcnn_postproc_desc *d);
/* Proposals of every image of the batch, image after image, with the
 * post-processing pp. With counts (backend memory: the backend keeps them,
 * mrcnn_context.counts), each image has post_nms_top_n rows and its count
 * goes to counts[i]. */
mrcnn_status mrcnn_rpn_run (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_rpn *w, mrcnn_rpn_scratch *s, mrcnn_postproc *pp,
    int *counts, const mrcnn_fmap pyramid[MRCNN_LEVELS],
    const mrcnn_batch *b, mrcnn_proposals *out, mrcnn_error *err);

/* roi_heads.c: MultiScaleRoIAlign, for both heads */
/* Its level mapping and spatial scales for this batch. */
void mrcnn_roi_levels (const mrcnn_fmap pyramid[MRCNN_LEVELS],
    const mrcnn_batch *b, float scales[4], int *k_min, int *k_max);
/* Every image's rows of `boxes` pooled from that image's features into one
 * map of rows->total ROIs (image after image) at out_data. */
mrcnn_status mrcnn_roi_pool (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    const float *boxes, const mrcnn_rows *rows, int pooled, float *out_data,
    mrcnn_layout layout, mrcnn_fmap *out, mrcnn_error *err);

/* box_head.c */
/* The box head's part of the post-processing's description. */
void mrcnn_box_head_postproc_desc (const mrcnn_box_head *w,
    const mrcnn_plan *plan, mrcnn_postproc_desc *d);
/* The box head over all images' proposals, then each image's detections
 * with its own thresholds th[i], with the post-processing pp. With counts
 * (as mrcnn_rpn_run's), image i reads its proposals' count at counts[i],
 * has th[i].max_detections rows and its count goes to counts[b->n + i]. */
mrcnn_status mrcnn_box_head_run (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_box_head *w, mrcnn_box_head_scratch *s, mrcnn_postproc *pp,
    int *counts, const mrcnn_fmap pyramid[MRCNN_LEVELS],
    const mrcnn_batch *b, const mrcnn_proposals *props,
    const mrcnn_thresholds *th, mrcnn_detections *out, mrcnn_error *err);

/* mask_head.c */
/* The mask head over all images' detections: *probs receives backend
 * memory (in s) of dets->rows.total x M x M probabilities. */
mrcnn_status mrcnn_mask_head_run (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_mask_head *w, mrcnn_mask_head_scratch *s,
    const mrcnn_fmap pyramid[MRCNN_LEVELS], const mrcnn_batch *b,
    const mrcnn_detections *dets, float **probs, mrcnn_error *err);

/* postprocess.c */
/* RoIHeads.postprocess_detections of one image's box-head predictions
 * (pred: its rows, n_props x 5C) into detections written from row `first`
 * of out's arrays; *rows receives how many rows they take. Where the
 * backend keeps the counts (props_count and count, backend memory, not
 * NULL), the proposals' count is read from *props_count, the rows are
 * th->max_detections and the detections' count goes to *count; else the
 * rows are the detections. */
mrcnn_status mrcnn_box_postprocess (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_postproc *pp, const float *proposals, const int *props_count,
    const float *pred, int n_props, const mrcnn_frame_geometry *f,
    const mrcnn_thresholds *th, const mrcnn_detections *out, int first,
    int *count, int *rows, mrcnn_error *err);

#endif
