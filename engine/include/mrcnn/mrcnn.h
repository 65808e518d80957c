/* gst-maskrcnn engine: public C API.
 *
 * A Mask R-CNN inference engine with no GStreamer dependency. The life cycle:
 *
 *   mrcnn_model_open()      maps a .safetensors model and validates it
 *   mrcnn_engine_new()      plans memory for a backend and the largest frame
 *   mrcnn_engine_run()      runs one frame, returns an mrcnn_result
 *   mrcnn_result_*()        reads detections and masks
 *   mrcnn_result_free(), mrcnn_engine_free(), mrcnn_model_free()
 *
 * Every fallible call returns an mrcnn_status and, where the caller passes a
 * non-NULL mrcnn_error, writes a message a user can act on. The library never
 * aborts or exits.
 */
#ifndef MRCNN_MRCNN_H
#define MRCNN_MRCNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  MRCNN_OK = 0,
  MRCNN_ERR_INVALID_ARG,  /* a caller bug: NULL pointer, bad size, bad value */
  MRCNN_ERR_IO,           /* a file could not be opened, read or mapped */
  MRCNN_ERR_FORMAT,       /* a file is not a valid safetensors model / image */
  MRCNN_ERR_MODEL,        /* the model is well formed but unusable */
  MRCNN_ERR_UNSUPPORTED,  /* a valid request this build cannot serve */
  MRCNN_ERR_NO_MEMORY,    /* host or device allocation failed */
  MRCNN_ERR_BACKEND,      /* the compute backend (oneDNN, CUDA...) failed */
  MRCNN_ERR_CANCELLED     /* the stream was cancelled (mrcnn_stream_run) */
} mrcnn_status;

#define MRCNN_ERROR_MESSAGE_MAX 1024

typedef struct {
  mrcnn_status status;
  char message[MRCNN_ERROR_MESSAGE_MAX];
} mrcnn_error;

/* A short English name of a status code ("invalid argument", ...). Static. */
const char *mrcnn_status_name (mrcnn_status status);

/* ---------------------------------------------------------------- model */

typedef struct mrcnn_model mrcnn_model;

/* File name of the model shipped with gst-maskrcnn (the synthetic-shapes
 * Mask R-CNN), used when a program or element is given no model. */
#define MRCNN_DEFAULT_MODEL_FILE "shapes.safetensors"

/* Looks for MRCNN_DEFAULT_MODEL_FILE, in this order:
 *   1. the directory named by the environment variable MRCNN_MODEL_DIR;
 *   2. the source tree's models/ directory, only when this engine library
 *      runs from the project's build tree (uninstalled);
 *   3. the installed data directory (<prefix>/share/gst-maskrcnn).
 * Returns the first existing regular file as a new string the caller frees
 * with free(), or NULL when there is none. If `searched` is not NULL it
 * receives, in both cases, a new string (free with free()) listing every
 * place looked at, one per line, indented by two spaces: ready to append to
 * an error message. */
char *mrcnn_default_model_path (char **searched);

/* Opens and validates a model. On success *out owns the mapping; free it with
 * mrcnn_model_free() after every engine made from it is freed. */
mrcnn_status mrcnn_model_open (const char *path, mrcnn_model **out,
    mrcnn_error *err);
void mrcnn_model_free (mrcnn_model *model);

/* The file the model was opened from. Owned by the model. */
const char *mrcnn_model_path (const mrcnn_model *model);
/* Architecture name, e.g. "maskrcnn_resnet50_fpn". Owned by the model. */
const char *mrcnn_model_architecture (const mrcnn_model *model);
/* Number of classes including the background class 0. */
int mrcnn_model_num_classes (const mrcnn_model *model);
/* Label of a class id (valid UTF-8: bytes of the file that are not become
 * U+FFFD), or NULL when out of range. Owned by the model. */
const char *mrcnn_model_class_label (const mrcnn_model *model, int class_id);
/* The size the network sees a width x height frame at (resized to the
 * model's min/max size, before padding), in *out_w, *out_h (may be NULL).
 * Returns 1 when the model can run on such a frame; 0 when the frame is
 * smaller than 2x2 or so thin that a side resizes to 0 pixels (torchvision
 * cannot resize it either): the engine refuses such frames, and nothing can
 * be found in them. */
int mrcnn_model_resized_size (const mrcnn_model *model, int width,
    int height, int *out_w, int *out_h);
/* The int8 calibration the model carries (docs/model-format.md): the
 * method that chose its activation ranges ("percentile 99.99", "minmax",
 * ...), owned by the model; NULL when it has none, and then precision int8
 * is refused. */
const char *mrcnn_model_calibration (const mrcnn_model *model);

/* ---------------------------------------------------------------- engine */

typedef enum {
  MRCNN_BACKEND_AUTO = 0,  /* CUDA where built and a device exists, else CPU */
  MRCNN_BACKEND_CPU,
  MRCNN_BACKEND_CUDA
} mrcnn_backend_kind;

/* The arithmetic of the convolutions and fully connected layers. Reduced
 * precisions store weights and activations in 16 bits and accumulate in
 * float32; every other op (pre-processing, RoIAlign, NMS, mask logits)
 * computes in float32 at every precision. */
typedef enum {
  MRCNN_PRECISION_FP32 = 0,  /* float32 throughout (default) */
  MRCNN_PRECISION_TF32,      /* CUDA: TF32 tensor-core inputs (not yet built) */
  MRCNN_PRECISION_FP16,      /* CUDA: fp16 storage (not yet built; its CPU
                              * reference runs with emulate_precision) */
  MRCNN_PRECISION_BF16,      /* CPU with AVX512_BF16 or AMX: bf16 storage */
  MRCNN_PRECISION_INT8       /* CPU: s8 weights (per output channel), u8/s8
                              * activations (per tensor, from the model's
                              * calibration), exact int32 accumulation;
                              * fastest with VNNI or AMX (docs/precision.md) */
} mrcnn_precision;

/* "fp32", "tf32", "fp16", "bf16", "int8"; "unknown" for other values.
 * Static. */
const char *mrcnn_precision_name (mrcnn_precision precision);
/* Parses one of the names above (case-insensitive). Returns 0 and leaves
 * *out unchanged for any other string. */
int mrcnn_precision_from_name (const char *name, mrcnn_precision *out);
/* 1 when a backend of this build computes in `precision` on some machine,
 * else 0: today fp32, and bf16 and int8 on the CPU backend (bf16 on a CPU
 * with AVX512_BF16 or AMX, int8 on one with AVX2 at least, which
 * mrcnn_engine_new checks); not tf32 or fp16,
 * which no backend computes in yet (fp16's float32 reference runs with
 * emulate_precision). For programs that list the precisions they offer. */
int mrcnn_precision_available (mrcnn_precision precision);

/* Run-time thresholds; mrcnn_engine_config_init() fills the model's defaults. */
typedef struct {
  float score_threshold;  /* box_score_thresh: keep detections scoring above */
  float nms_threshold;    /* box_nms_thresh: per-class IoU suppression */
  int max_detections;     /* box_detections_per_img */
  float mask_threshold;   /* binarisation of pasted mask probabilities */
} mrcnn_thresholds;

/* The most frames one forward pass, and so one batch, may hold. */
#define MRCNN_MAX_BATCH 64

typedef struct {
  mrcnn_backend_kind backend;
  int device_id;          /* CUDA device, -1 picks the current one */
  int num_threads;        /* CPU threads, 0 = all cores */
  int max_width;          /* largest frame the engine must accept; memory is */
  int max_height;         /* planned for it once, at creation (see also
                           * mrcnn_engine_reserve()) */
  mrcnn_thresholds thresholds;
  mrcnn_precision precision;  /* default FP32; a precision the backend or
                               * the CPU cannot run is refused by
                               * mrcnn_engine_new with MRCNN_ERR_UNSUPPORTED */
  int max_batch;          /* most frames one mrcnn_engine_run_batch() call
                           * runs (default 1, at most MRCNN_MAX_BATCH), and
                           * most frames of streams gathered into the passes
                           * running at once; memory is planned for that
                           * many frames at creation */
  int emulate_precision;  /* CPU reference of a reduced precision: computes
                           * in float32 on any CPU, rounding weights and
                           * activations to bf16 / fp16 wherever that
                           * precision stores them (int8: to the levels of
                           * each layer's scales). For tests; slower
                           * than fp32. Needs the CPU backend. */
  int passes;             /* most forward passes that run at once, the CPU
                           * threads shared out between them: 0 (default)
                           * = up to max_batch and num_threads (the CPU) or
                           * 1 (CUDA: one stream); 1 = one pass at a time
                           * with every thread. The engine has one worker
                           * thread and one set of buffers per pass; memory
                           * is planned for max_batch frames either way. */
} mrcnn_engine_config;

/* Fills cfg with defaults: AUTO backend, device -1, all cores, 3840x2160
 * frames, batches of 1, and the model's default thresholds (model may be NULL: then
 * torchvision's defaults 0.05 / 0.5 / 100 / 0.5). */
void mrcnn_engine_config_init (mrcnn_engine_config *cfg,
    const mrcnn_model *model);

typedef struct mrcnn_engine mrcnn_engine;

/* Creates an engine. The model must outlive the engine. */
mrcnn_status mrcnn_engine_new (const mrcnn_model *model,
    const mrcnn_engine_config *cfg, mrcnn_engine **out, mrcnn_error *err);
void mrcnn_engine_free (mrcnn_engine *engine);

/* The backend actually in use (never AUTO). */
mrcnn_backend_kind mrcnn_engine_backend (const mrcnn_engine *engine);
/* The precision the engine runs at (the configured one). */
mrcnn_precision mrcnn_engine_precision (const mrcnn_engine *engine);
/* What a user should know of the precision on this machine, for a warning:
 * e.g. that int8 runs without VNNI here and may be slower than fp32. "" when
 * there is nothing to say. Owned by the engine. */
const char *mrcnn_engine_precision_note (const mrcnn_engine *engine);
/* What the CPU backend computes with: the instruction set oneDNN uses on
 * this CPU and the activation layout chosen for it, e.g.
 * "avx512_core_amx, nhwc". Owned by the engine; "" on other backends. */
const char *mrcnn_engine_cpu_kernels (const mrcnn_engine *engine);
/* With emulate_precision at fp16: how many finite values rounded past fp16's
 * largest (65504) to infinity so far, in the weights at creation and in every
 * run since. A model whose count is not 0 would overflow in fp16 on a GPU.
 * 0 for the other precisions and backends. */
long mrcnn_engine_reference_overflows (const mrcnn_engine *engine);
/* What an engine says of its work, for logs: DEBUG a few lines per engine,
 * TRACE a line per batch ("batch of 2 640x480 frames, 2 batches under way",
 * "batch of 2 frames ran in 75.1 ms"). */
typedef enum {
  MRCNN_LOG_DEBUG = 0,
  MRCNN_LOG_TRACE
} mrcnn_log_level;

typedef void (*mrcnn_log_func) (void *user_data, mrcnn_log_level level,
    const char *message);

/* Sends the engine's lines to func (NULL: nowhere, the default), called
 * from the engine's threads. Set it before the engine runs. */
void mrcnn_engine_set_log_func (mrcnn_engine *engine, mrcnn_log_func func,
    void *user_data);

/* Thresholds may change between runs. */
mrcnn_status mrcnn_engine_set_thresholds (mrcnn_engine *engine,
    const mrcnn_thresholds *t, mrcnn_error *err);

typedef enum {
  MRCNN_PIXEL_RGB = 0,  /* packed 24 bit */
  MRCNN_PIXEL_BGR,
  MRCNN_PIXEL_RGBA,     /* packed 32 bit, byte order as named */
  MRCNN_PIXEL_BGRA,
  MRCNN_PIXEL_RGBX,
  MRCNN_PIXEL_BGRX,
  MRCNN_PIXEL_NV12,     /* Y plane, interleaved UV plane at half resolution */
  MRCNN_PIXEL_I420,     /* Y, U, V planes, chroma at half resolution */
  MRCNN_PIXEL_GRAY8
} mrcnn_pixel_format;

/* A view of a frame; the engine never keeps a pointer to it past the call.
 * YUV is BT.601 limited range, converted as GStreamer's videoconvert does. */
typedef struct {
  mrcnn_pixel_format format;
  int width, height;
  const uint8_t *planes[3];
  int strides[3];           /* bytes per row of each plane */
  int on_device;            /* planes are CUDA device pointers */
} mrcnn_image;

/* Optional per-stage wall-clock timings of the last run, in milliseconds. */
typedef enum {
  MRCNN_STAGE_PREPROCESS = 0,
  MRCNN_STAGE_BACKBONE,
  MRCNN_STAGE_FPN,
  MRCNN_STAGE_RPN,
  MRCNN_STAGE_BOX_HEAD,
  MRCNN_STAGE_MASK_HEAD,
  MRCNN_STAGE_PASTE,
  MRCNN_STAGE_COUNT
} mrcnn_stage;

const char *mrcnn_stage_name (mrcnn_stage stage);

typedef struct {
  float x1, y1, x2, y2;  /* box in frame pixels (torchvision convention) */
  float score;
  int class_id;
  const char *label;     /* owned by the model */
} mrcnn_detection;

typedef struct mrcnn_result mrcnn_result;

/* Runs the network on one frame (a batch of one). *out is a new result the
 * caller frees with mrcnn_result_free(). The frame may be any size from 2x2 up to the engine's
 * max_width x max_height. */
mrcnn_status mrcnn_engine_run (mrcnn_engine *engine, const mrcnn_image *image,
    mrcnn_result **out, mrcnn_error *err);

/* Runs the network on n frames (1 <= n <= the engine's max_batch) as one
 * batch, as torchvision's batched forward does: the frames are
 * resized one by one and zero-padded to a common size (the largest resized
 * width and height, each rounded up to 32), so that a frame's results depend
 * on its own pixels and on that common size only. Frames of one size give
 * each exactly the results mrcnn_engine_run() gives it alone; frames of
 * different sizes give what torchvision's model([img0, img1, ...]) gives.
 * thresholds is NULL (every frame uses the engine's, as
 * mrcnn_engine_set_thresholds() set them) or holds n entries, one per frame
 * (each with no more max_detections than the engine was created with).
 * results must hold n pointers; each receives a new result (free each with
 * mrcnn_result_free()). On failure no result is returned (all are NULL).
 *
 * The engine schedules: the frames of a batch run as up to
 * mrcnn_engine_passes() forward passes at once on the engine's worker
 * threads, each on its own share of the CPU threads and its own buffers (a
 * pass holds several frames when the batch has more frames than passes);
 * each frame's results are the same either way. Calls from several threads
 * (and the streams' frames, below) wait in one queue, oldest first, and run
 * as workers become free (on CUDA there is one worker: passes run one
 * after the other on the engine's stream). */
mrcnn_status mrcnn_engine_run_batch (mrcnn_engine *engine,
    const mrcnn_image *images, const mrcnn_thresholds *thresholds, int n,
    mrcnn_result **results, mrcnn_error *err);

/* As mrcnn_engine_run_batch(), with the same results, but the n frames run
 * as one forward pass (in parts, when one pass cannot hold them all) on one
 * set of buffers with `threads` CPU threads (0: the engine's choice). */
mrcnn_status mrcnn_engine_run_pass (mrcnn_engine *engine,
    const mrcnn_image *images, const mrcnn_thresholds *thresholds, int n,
    int threads, mrcnn_result **results, mrcnn_error *err);

/* Makes the engine take frames up to max_width x max_height (it only
 * grows): waits for the passes under way to end, keeps new ones from
 * starting meanwhile, and plans what frames of that size need (the CUDA
 * backend's staging). On failure the engine keeps its sizes. Safe to call
 * while other threads run frames. */
mrcnn_status mrcnn_engine_reserve (mrcnn_engine *engine, int max_width,
    int max_height, mrcnn_error *err);

/* ---------------------------------------------------------------- streams */

/* A source of frames, one video stream, whose frames the engine gathers
 * with other streams' frames into batches: the way a server runs many
 * streams on one engine. The engine's worker threads take the oldest
 * waiting frame and the next ones of its size, up to each worker's share of
 * max_batch (max_batch / mrcnn_engine_passes(), rounded up), as soon as the
 * batch is full, every active stream has a frame waiting or under way
 * (none can come), or the oldest frame has waited its wait_ms. A batch
 * holds frames of one size only, so that each frame's results are exactly
 * those it gets alone. A failed batch is run again frame by frame, so that
 * only the bad frame fails. */
typedef struct mrcnn_stream mrcnn_stream;

/* Opens a stream on the engine, active. Free it with mrcnn_stream_free()
 * before the engine. */
mrcnn_status mrcnn_stream_new (mrcnn_engine *engine, mrcnn_stream **out,
    mrcnn_error *err);
/* No call of mrcnn_stream_run() may be under way on the stream. */
void mrcnn_stream_free (mrcnn_stream *stream);
/* Whether the stream will send frames (others' batches wait for them): a
 * stream at its end, or paused, is set inactive. mrcnn_stream_run() sets
 * it active again. */
void mrcnn_stream_set_active (mrcnn_stream *stream, int active);
/* Cancels the stream's waiting frames (their mrcnn_stream_run() returns
 * MRCNN_ERR_CANCELLED at once, unless its forward pass has begun: then when
 * it ends) and refuses new ones until called with 0. */
void mrcnn_stream_set_cancelled (mrcnn_stream *stream, int cancelled);
/* Runs `image` with thresholds th (NULL: the engine's) in the next batch
 * it fits and waits for its result (*out, a new result the caller frees).
 * The frame waits at most wait_ms for its batch to fill, plus the passes
 * of the work before it. A frame the engine refuses (its size, format or
 * strides, or thresholds) fails alone, when its batch runs. Any thread may
 * call it; the frame's memory is read until it returns. */
mrcnn_status mrcnn_stream_run (mrcnn_stream *stream, const mrcnn_image *image,
    const mrcnn_thresholds *th, int wait_ms, mrcnn_result **out,
    mrcnn_error *err);

/* The most frames one mrcnn_engine_run_batch() call takes. */
int mrcnn_engine_max_batch (const mrcnn_engine *engine);

/* The most forward passes that run at once (see mrcnn_engine_config.passes):
 * the engine's worker threads and sets of buffers. */
int mrcnn_engine_passes (const mrcnn_engine *engine);

/* The CPU threads the engine's passes share out (num_threads, or the
 * cores for 0); 1 on CUDA. */
int mrcnn_engine_threads (const mrcnn_engine *engine);

/* Stage timings of the last run (ms), MRCNN_STAGE_COUNT entries. */
void mrcnn_engine_stage_times (const mrcnn_engine *engine, double *ms);

void mrcnn_result_free (mrcnn_result *result);
int mrcnn_result_count (const mrcnn_result *result);
int mrcnn_result_image_width (const mrcnn_result *result);
int mrcnn_result_image_height (const mrcnn_result *result);
/* Detections are sorted by descending score. Owned by the result. */
const mrcnn_detection *mrcnn_result_get (const mrcnn_result *result, int i);
/* The M x M mask probabilities of detection i (row major, box-relative, as
 * the mask head predicts them). *size receives M. Owned by the result. */
const float *mrcnn_result_mask_probs (const mrcnn_result *result, int i,
    int *size);

/* Pastes detection i's mask into the frame as torchvision's
 * paste_masks_in_image does, binarised at `threshold`, and writes the window
 * [x0, x0 + w) x [y0, y0 + h) of that full-frame mask into dst (w x h bytes,
 * `stride` bytes per row, 255 inside, 0 outside). Pass the whole frame for a
 * full-frame mask, or the detection's box for a box-relative one. */
mrcnn_status mrcnn_result_paste_mask (const mrcnn_result *result, int i,
    float threshold, int x0, int y0, int w, int h, uint8_t *dst, int stride,
    mrcnn_error *err);

#ifdef __cplusplus
}
#endif
#endif /* MRCNN_MRCNN_H */
