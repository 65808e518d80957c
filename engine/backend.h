/* The backend interface: what differs between the CPU and CUDA engines.
 *
 * A backend is an opaque handle plus a table of functions (the shape of
 * ggml's backend interface). The stages call it and never test which backend
 * they run on. Feature maps, proposals and detections live in backend
 * memory; the stages read on the host only the counts the post-processing
 * ops return and, at the end, the results (through `download`). */
#ifndef MRCNN_BACKEND_H
#define MRCNN_BACKEND_H

#include <stddef.h>

#include "internal.h"
#include "preprocess.h"

/* Memory layouts of a feature map. NCHW is plain and what the host reads;
 * NATIVE is whatever the backend computes fastest in (the CPU backend's is
 * the one oneDNN picks for the CPU at hand: nhwc, or channel blocks of 8 or
 * 16, padded) and only the backend's own ops look inside it. */
typedef enum {
  MRCNN_LAYOUT_NCHW = 0,
  MRCNN_LAYOUT_NATIVE = 1
} mrcnn_layout;

/* A backend may pad channels to this multiple in its native layout: buffers
 * are planned with padded channel counts. */
#define MRCNN_CH_ALIGN 16

/* The number format a feature map is stored in. F32 is what the host and
 * the element-wise ops read. REDUCED is the precision's 16-bit storage
 * type (bf16 on the CPU at precision bf16) and float32 at fp32 and int8;
 * only convolutions and the stem's max pooling read or write it, so the
 * stages mark as REDUCED the maps that go from one of those to the next.
 * U8 is used at precision int8 only, by backends that have the quantize op:
 * the map holds u8 levels (0 .. 255) of the scale its readers' calibration
 * gives (their mrcnn_quant, never negative), so that one int8 convolution
 * writes what the next reads with no conversion between them; only
 * convolutions, quantize and max_pool read or write it, and every reader
 * of a U8 map has the same quant (the stages check). The float32 reference
 * (emulate_precision) stores U8 maps as float32, each value rounded to its
 * level x scale. */
typedef enum {
  MRCNN_STORE_F32 = 0,
  MRCNN_STORE_REDUCED = 1,
  MRCNN_STORE_U8 = 2
} mrcnn_storage;

static inline int
mrcnn_ch_pad (int c)
{
  return (c + MRCNN_CH_ALIGN - 1) / MRCNN_CH_ALIGN * MRCNN_CH_ALIGN;
}

/* A batch of feature maps in backend memory. The caller of an op that
 * produces a map sets data and layout; the op sets the dimensions. */
typedef struct {
  float *data;
  int n, c, h, w;
  mrcnn_layout layout;
  mrcnn_storage store;
} mrcnn_fmap;

static inline size_t
mrcnn_fmap_numel (const mrcnn_fmap *f)
{
  return (size_t) f->n * f->c * f->h * f->w;
}

typedef struct mrcnn_backend mrcnn_backend;
/* A queue: where the ops of one forward pass run, in order, with the
 * scratch they need (the CPU's oneDNN stream, converted inputs and
 * primitive scratchpads; CUDA's stream). Each context owns one. Ops on
 * different queues may run at the same time from different threads: what
 * the backend made once (convolutions, linear layers, their plans) is only
 * read by runs, or guarded where it is filled in. The ops of one queue come
 * from one thread at a time. */
typedef struct mrcnn_queue mrcnn_queue;
typedef struct mrcnn_conv mrcnn_conv;      /* a prepared convolution */
typedef struct mrcnn_linear mrcnn_linear;  /* a prepared fully connected layer */

typedef struct {
  const mrcnn_folded_conv *w;  /* weights are copied; the caller keeps w */
  int stride, pad;
  int relu;                    /* fuse ReLU after bias (and accumulation) */
  mrcnn_quant quant;           /* at precision int8: its input's range, or
                                * off (zeroed): float32 */
  mrcnn_quant out_quant;       /* when it writes a map stored U8: that
                                * map's quant (its readers'); else off */
  mrcnn_quant acc_quant;       /* when it accumulates into a map stored U8:
                                * that map's quant; else off */
} mrcnn_conv_desc;

/* Geometry of the resize + normalisation of a frame into the network input. */
typedef struct {
  mrcnn_pp_params pp;    /* frame size, resized size, scales, mean/std */
  int pad_w, pad_h;      /* resized size padded to a multiple of 32 */
} mrcnn_preprocess_desc;

/* One MultiScaleRoIAlign call: box i is pooled from features[l] with
 * scales[l], l = mrcnn_roi_level (box, k_min, k_max) (kernels/roi_align.h),
 * which the op computes per box. */
typedef struct {
  const mrcnn_fmap *features;  /* nlevels maps, n == 1 */
  const float *scales;         /* host: spatial scale per level */
  int nlevels;                 /* k_max - k_min + 1 */
  int k_min, k_max;            /* LevelMapper's level range */
  const float *boxes;          /* backend memory, nboxes x 4, image pixels */
  int nboxes;
  int pooled;                  /* output pooled x pooled */
  int sampling_ratio;
} mrcnn_roi_align_desc;

/* The box post-processing of the RPN and the box head, planned once per
 * context (its scratch belongs to one forward pass at a time): its limits,
 * and the torchvision settings that do not change between frames. */
typedef struct mrcnn_postproc mrcnn_postproc;

#define MRCNN_POSTPROC_MAX_LEVELS 8

typedef struct {
  int nlevels;                 /* RPN levels (P2..P6), at most
                                * MRCNN_POSTPROC_MAX_LEVELS */
  int num_anchors;             /* A: cell anchors per location */
  const float *cell_anchors;   /* host, nlevels x A x 4 (mrcnn_anchor_base);
                                * copied */
  size_t max_locations[MRCNN_POSTPROC_MAX_LEVELS];  /* bound on one
                                * image's h x w per level */
  int pre_nms_top_n;           /* per level, before NMS */
  int post_nms_top_n;          /* proposals after NMS (also the most the box
                                * head post-processing is given) */
  double rpn_nms_thresh;       /* compared with IoU as a double (nms.h) */
  float rpn_score_thresh;
  float rpn_min_size;          /* remove_small_boxes (1e-3) */
  float box_min_size;          /* the box head's (1e-2) */
  int num_classes;             /* including background */
  int max_detections;          /* the most detect() is ever asked for */
} mrcnn_postproc_desc;

/* A buffer of a context's plan (mrcnn_plan_buffer): n floats, used by the
 * stages first .. last of a pass (mrcnn_stage, inclusive), so that a backend
 * with an arena may let buffers that no stage uses together share memory.
 * A buffer that holds only maps stored REDUCED (or U8, whose elements are
 * smaller still) needs n elements of the precision's storage type (which
 * may be smaller than a float). */
typedef struct {
  size_t n;
  int first, last;
  int reduced;
  float **slot;                /* receives the address */
} mrcnn_buffer_req;

/* A range of backend memory a pass's results are read from, and where its
 * copy lands in host memory (download_async). */
typedef struct {
  const float *src;            /* backend memory */
  size_t n;                    /* floats */
  const float *host;           /* set by download_async */
} mrcnn_span;

/* What a backend can do, as ggml's supports_op tells it: the engine asks
 * this instead of testing which backend it has. */
#define MRCNN_PRECISION_BIT(p) (1u << (unsigned) (p))

typedef struct {
  unsigned precisions;   /* MRCNN_PRECISION_BIT of each precision its
                          * kernels compute in */
  unsigned emulated;     /* ... of each precision whose float32 reference
                          * (emulate_precision) it runs */
  int device_frames;     /* reads frames in CUDA device memory
                          * (mrcnn_image.on_device) */
  const char *layout;    /* its native layout (MRCNN_LAYOUT_NATIVE):
                          * "nhwc", "nChw8c", "nChw16c", "nchw" */
  const char *kernels;   /* what computes, for figures: "avx512_core_amx,
                          * nhwc"; "" where there is nothing to tell */
  const char *limits;    /* why this machine lacks precisions the backend
                          * has elsewhere (mrcnn_backend_reg), for messages;
                          * "" when it lacks none */
  int plans_ahead;       /* pass_begin takes plan-only passes: the engine
                          * runs one per planned size when it makes a
                          * context, so that no frame makes a plan */
  const char *note;      /* what a user should know of the precision set
                          * on this machine (mrcnn_engine_precision_note):
                          * "" or NULL when nothing */
} mrcnn_backend_caps;

typedef struct {
  const char *name;
  void (*destroy) (mrcnn_backend *be);
  /* What it can do on this machine; layout and kernels as set for the
   * precision. The strings are the backend's. */
  void (*caps) (mrcnn_backend *be, mrcnn_backend_caps *out);
  /* The precision its layers and ops run at, and whether as the float32
   * reference: one its caps has, set before the first queue or layer is
   * made (a new backend runs fp32). */
  mrcnn_status (*set_precision) (mrcnn_backend *be, mrcnn_precision p,
      int emulate, mrcnn_error *err);
  /* The emulated fp16 reference's overflows so far
   * (mrcnn_engine_reference_overflows); 0 where nothing is emulated. */
  long (*overflows) (mrcnn_backend *be);

  /* Queues: at most be->workers at once. */
  mrcnn_status (*queue_new) (mrcnn_backend *be, mrcnn_queue **out,
      mrcnn_error *err);
  void (*queue_free) (mrcnn_backend *be, mrcnn_queue *q);
  /* Called by the thread that runs a forward pass on q before its first
   * op: the pass may use `workers` of the backend's be->workers (the CPU's
   * OpenMP threads, a setting of the calling thread; nothing on CUDA). */
  void (*queue_begin) (mrcnn_backend *be, mrcnn_queue *q, int workers);

  /* Backend memory for n floats; released with release(). */
  mrcnn_status (*alloc) (mrcnn_backend *be, size_t n, float **out,
      mrcnn_error *err);
  void (*release) (mrcnn_backend *be, float *p);
  /* Host view of backend memory: returns p itself on the CPU, or copies n
   * floats into host_scratch and returns it. */
  const float *(*download) (mrcnn_backend *be, mrcnn_queue *q,
      const float *p, size_t n, float *host_scratch, mrcnn_error *err);
  /* Copies n host floats into backend memory and waits for the copy (at
   * creation: the engine's weights). */
  mrcnn_status (*upload) (mrcnn_backend *be, float *dst, const float *src,
      size_t n, mrcnn_error *err);
  /* Waits until every op queued so far has finished (stage timings). */
  mrcnn_status (*sync) (mrcnn_backend *be, mrcnn_queue *q, mrcnn_error *err);
  /* Plans whatever preprocess() needs for frames up to max_width x
   * max_height (the CUDA backend's staging of frames in host memory);
   * called once, at engine creation. */
  mrcnn_status (*frame_reserve) (mrcnn_backend *be, int max_width,
      int max_height, mrcnn_error *err);

  mrcnn_status (*conv_new) (mrcnn_backend *be, const mrcnn_conv_desc *d,
      mrcnn_conv **out, mrcnn_error *err);
  void (*conv_free) (mrcnn_backend *be, mrcnn_conv *conv);
  /* out = act(conv(in) + bias [+ out when accumulate]). The caller sets
   * out->data and out->layout; the call sets out's dimensions. */
  mrcnn_status (*conv_run) (mrcnn_backend *be, mrcnn_queue *q, mrcnn_conv *conv,
      const mrcnn_fmap *in, int accumulate, mrcnn_fmap *out, mrcnn_error *err);

  /* y[n x out] = act(x[n x in] * W^T + b); W is out x in, row major.
   * quant: as mrcnn_conv_desc's (NULL: off). */
  mrcnn_status (*linear_new) (mrcnn_backend *be, const float *weight,
      const float *bias, int out_features, int in_features, int relu,
      const mrcnn_quant *quant, mrcnn_linear **out, mrcnn_error *err);
  void (*linear_free) (mrcnn_backend *be, mrcnn_linear *lin);
  mrcnn_status (*linear_run) (mrcnn_backend *be, mrcnn_queue *q,
      mrcnn_linear *lin, const float *x, int n, float *y, mrcnn_error *err);

  /* Frame -> normalised, resized, zero-padded 1 x 3 x pad_h x pad_w. */
  mrcnn_status (*preprocess) (mrcnn_backend *be, mrcnn_queue *q,
      const mrcnn_image *img,
      const mrcnn_preprocess_desc *d, mrcnn_fmap *out, mrcnn_error *err);
  /* Max pooling (kernel k, stride s, padding p, -inf padding); in and out
   * stored alike (F32, REDUCED or U8). */
  mrcnn_status (*max_pool) (mrcnn_backend *be, mrcnn_queue *q,
      const mrcnn_fmap *in, int k,
      int s, int p, mrcnn_fmap *out, mrcnn_error *err);
  /* lateral += nearest-upsample(top) to lateral's size, in place. */
  mrcnn_status (*upsample_add) (mrcnn_backend *be, mrcnn_queue *q,
      const mrcnn_fmap *top, mrcnn_fmap *lateral, mrcnn_error *err);
  /* out: nboxes x C x pooled x pooled, in out->layout. */
  mrcnn_status (*roi_align) (mrcnn_backend *be, mrcnn_queue *q,
      const mrcnn_roi_align_desc *d, mrcnn_fmap *out, mrcnn_error *err);
  /* Optional (NULL: the stages store no map U8): in (F32 or REDUCED) into
   * out (MRCNN_STORE_U8, in out->layout) as the u8 levels of quant. The
   * caller sets out->data and out->layout; the call sets out's
   * dimensions. */
  mrcnn_status (*quantize) (mrcnn_backend *be, mrcnn_queue *q,
      const mrcnn_quant *quant, const mrcnn_fmap *in, mrcnn_fmap *out,
      mrcnn_error *err);
  /* Image i of a batch of float32 maps (any layout), as a map of one image
   * that shares the batch's memory. */
  void (*image_view) (mrcnn_backend *be, const mrcnn_fmap *batch, int i,
      mrcnn_fmap *out);
  /* Copies in (any layout) into out->data as plain NCHW. */
  mrcnn_status (*to_nchw) (mrcnn_backend *be, mrcnn_queue *q,
      const mrcnn_fmap *in, mrcnn_fmap *out, mrcnn_error *err);
  /* The mask predictor after its transposed convolution's GEMM: `taps` is
   * the n x (4 * D) x h x w output of the ConvTranspose2d(k=2, s=2) written
   * as a 1x1 convolution (channel co * 4 + ky * 2 + kx holds output pixel
   * (2y + ky, 2x + kx) of channel co). Per ROI i this adds deconv_bias, applies
   * ReLU, scatters to 2h x 2w, computes the logits of class classes[i] only
   * (weight: num_classes x D, bias: num_classes) and a sigmoid:
   * probs[i] is 2h x 2w. */
  mrcnn_status (*mask_probs) (mrcnn_backend *be, mrcnn_queue *q,
      const mrcnn_fmap *taps,
      const float *deconv_bias, const float *weight, const float *bias,
      const int *classes, float *probs, mrcnn_error *err);

  /* Box post-processing. Integer arrays in backend memory (labels,
   * classes) are allocated with alloc() as floats of the same size. */
  mrcnn_status (*postproc_new) (mrcnn_backend *be,
      const mrcnn_postproc_desc *d, mrcnn_postproc **out, mrcnn_error *err);
  void (*postproc_free) (mrcnn_backend *be, mrcnn_postproc *pp);
  /* RegionProposalNetwork.filter_proposals in eval mode: per level the
   * pre_nms_top_n best objectness scores, decoded against the anchors
   * (strides pad / feature size), clipped to img_w x img_h, small and
   * low-scoring boxes dropped, NMS per level (batched_nms), and the
   * post_nms_top_n best overall. head[l] is level l's fused head output
   * (1 x 5A x h x w in any layout: A objectness channels, then the 4A box
   * deltas anchor-major). Writes the proposals by descending score into
   * `proposals` (backend memory, post_nms_top_n x 4) and their count to *n
   * (host). */
  mrcnn_status (*rpn_proposals) (mrcnn_backend *be, mrcnn_queue *q,
      mrcnn_postproc *pp,
      const mrcnn_fmap *head, int pad_w, int pad_h, int img_w, int img_h,
      float *proposals, int *n, mrcnn_error *err);
  /* RoIHeads.postprocess_detections: softmax over the class logits,
   * per-class decode (weights 10, 10, 5, 5) of the proposals, clip, score
   * threshold, small-box removal, NMS per class, the th->max_detections
   * best. pred (n_props x 5C: C logits, then 4C deltas) and proposals
   * (n_props x 4) are backend memory, as are the outputs (max_detections
   * boxes x 4, scores, labels); the count goes to *n (host). */
  mrcnn_status (*detect) (mrcnn_backend *be, mrcnn_queue *q, mrcnn_postproc *pp,
      const float *proposals, const float *pred, int n_props,
      const mrcnn_thresholds *th, int img_w, int img_h, float *boxes,
      float *scores, int *labels, int *n, mrcnn_error *err);

  /* ---- Optional: what makes a pass need no host synchronization but its
   * last, and no allocation. A NULL entry keeps the engine's plain way
   * (given with each). */

  /* Memory for all of a context's planned buffers at once, on its queue:
   * each request's *slot receives its address; they are given back
   * together by release_buffers (which sets the slots to NULL). NULL: each
   * is alloc()ed and release()d. */
  mrcnn_status (*alloc_buffers) (mrcnn_backend *be, mrcnn_queue *q,
      mrcnn_buffer_req *reqs, int n, mrcnn_error *err);
  void (*release_buffers) (mrcnn_backend *be, mrcnn_queue *q,
      mrcnn_buffer_req *reqs, int n);
  /* Records, without waiting, that stage `stage` (MRCNN_STAGE_*) of the
   * pass on q ends here (-1: the pass starts); stage_times adds each
   * stage's time, from the mark before it to its own, to ms[stage] once the
   * pass's sync has returned. NULL: the engine syncs and reads the clock
   * at each mark. */
  mrcnn_status (*mark) (mrcnn_backend *be, mrcnn_queue *q, int stage,
      mrcnn_error *err);
  void (*stage_times) (mrcnn_backend *be, mrcnn_queue *q, double *ms);
  /* A pass's work from the end of its preprocessing to its results'
   * download, on q: the key is everything that work depends on besides
   * the planned buffers' contents (the batch's geometry, the thresholds),
   * so that a backend may capture it once and replay it (CUDA graphs).
   * With plan_only, the ops only describe and plan what they would run
   * (caps.plans_ahead) and preprocessing is included. pass_end sets *ran to
   * 0 when nothing since pass_begin was executed (a capture failed): the
   * engine then issues the ops again, which run as they come. NULL:
   * nothing. */
  mrcnn_status (*pass_begin) (mrcnn_backend *be, mrcnn_queue *q,
      const void *key, size_t key_len, int plan_only, mrcnn_error *err);
  mrcnn_status (*pass_end) (mrcnn_backend *be, mrcnn_queue *q, int *ran,
      mrcnn_error *err);
  /* What download_async needs on q for spans of up to n floats in all,
   * reserved when the context is made (pinned host memory and a device
   * staging buffer on CUDA): *host receives q's host buffer (owned by q),
   * which also serves download(). NULL: the engine allocates host
   * memory. */
  mrcnn_status (*download_reserve) (mrcnn_backend *be, mrcnn_queue *q,
      size_t n, float **host, mrcnn_error *err);
  /* Queues the copies of the spans into q's host buffer, packed, setting
   * each span's host; they hold the data once the next sync() returns.
   * NULL: the engine download()s each span. */
  mrcnn_status (*download_async) (mrcnn_backend *be, mrcnn_queue *q,
      mrcnn_span *spans, int n, mrcnn_error *err);
  /* rpn_proposals and detect that leave their counts in backend memory
   * (both or neither): the stages then run on the planned rows and the
   * counts come back with the results. rpn_proposals_dev writes
   * post_nms_top_n rows of proposals, those past the count zero, and the
   * count to *count (backend memory). detect_dev reads the first *n_valid
   * (backend memory) of n_props rows and writes th->max_detections rows,
   * those past the count with zero boxes and scores and label 0, and the
   * count to *count. */
  mrcnn_status (*rpn_proposals_dev) (mrcnn_backend *be, mrcnn_queue *q,
      mrcnn_postproc *pp, const mrcnn_fmap *head, int pad_w, int pad_h,
      int img_w, int img_h, float *proposals, int *count, mrcnn_error *err);
  mrcnn_status (*detect_dev) (mrcnn_backend *be, mrcnn_queue *q,
      mrcnn_postproc *pp, const float *proposals, const int *n_valid,
      const float *pred, int n_props, const mrcnn_thresholds *th, int img_w,
      int img_h, float *boxes, float *scores, int *labels, int *count,
      mrcnn_error *err);
} mrcnn_backend_ops;

G_STATIC_ASSERT (sizeof (int) == sizeof (float));

struct mrcnn_backend {
  const mrcnn_backend_ops *ops;
  int workers;      /* what the passes running at once share, at least
                     * one each, so also the most queues and passes at
                     * once: the CPU backend's threads; 1 on CUDA (one
                     * stream per engine) */
};

/* Releases *p when it was allocated and forgets it. */
static inline void
mrcnn_release_buf (mrcnn_backend *be, float **p)
{
  if (*p)
    be->ops->release (be, *p);
  *p = NULL;
}

/* A backend this build has: what it can do on some machine (an instance's
 * caps say what it does on this one), and how to make one. Making one
 * touches its device; asking this does not. */
typedef struct {
  mrcnn_backend_kind kind;
  const char *name;
  unsigned precisions, emulated;  /* as in mrcnn_backend_caps */
  /* cfg's device_id or num_threads; the backend runs fp32 */
  mrcnn_status (*create) (const mrcnn_engine_config *cfg,
      mrcnn_backend **out, mrcnn_error *err);
  /* Precisions whose code the backend has but which have not yet been
   * verified on its device: refused like precisions it lacks, with
   * "<precision> <unverified_why>", unless unlocked() (the environment of
   * the device check that verifies them) lifts the gate for them. */
  unsigned unverified;
  const char *unverified_why;
  unsigned (*unlocked) (void);
} mrcnn_backend_reg;

/* The precisions r computes in here: its own, and the unverified ones the
 * environment unlocks. */
unsigned mrcnn_backend_reg_precisions (const mrcnn_backend_reg *r);

/* The backends of this build, in the order MRCNN_BACKEND_AUTO tries them
 * (backend.c); *n receives their count. */
const mrcnn_backend_reg *const *mrcnn_backends (int *n);
/* The backend of this build of `kind`, or an error saying how to build
 * one. */
mrcnn_status mrcnn_backend_find (mrcnn_backend_kind kind,
    const mrcnn_backend_reg **out, mrcnn_error *err);

extern const mrcnn_backend_reg mrcnn_backend_cpu_reg;
/* The CPU backend with num_threads (0: OpenMP's default). */
mrcnn_status mrcnn_backend_cpu_new (int num_threads, mrcnn_backend **out,
    mrcnn_error *err);
/* Builds with the CUDA backend (-Dcuda=enabled) only: */
extern const mrcnn_backend_reg mrcnn_backend_cuda_reg;
/* The CUDA backend on device_id (-1: the current device). */
mrcnn_status mrcnn_backend_cuda_new (int device_id, mrcnn_backend **out,
    mrcnn_error *err);

#endif
