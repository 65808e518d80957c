/* gst-maskrcnn: the maskrcnn element.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-maskrcnn
 * @title: maskrcnn
 *
 * Runs a Mask R-CNN model on every frame (or every `interval`-th frame) and
 * attaches each detected instance as a GstVideoRegionOfInterestMeta with a
 * "detection" and a "mask" parameter structure. Pixels pass through
 * unchanged. Read the instances with the gst-maskrcnn-meta library or draw
 * them with maskrcnnoverlay.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=30 ! videoconvert ! maskrcnn ! \
 *     maskrcnnoverlay ! videoconvert ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmaskrcnn-priv.h"

#include <stdlib.h>
#include <string.h>

#include <gst/video/video.h>

#include "maskrcnn-convert.h"
#include "maskrcnn-meta.h"
#include "maskrcnn-shared.h"
#include "mrcnn/mrcnn.h"
#ifdef GST_MASK_RCNN_HAVE_CUDA
#include "maskrcnn-cuda.h"
#endif

GST_DEBUG_CATEGORY (gst_maskrcnn_debug);
#define GST_CAT_DEFAULT gst_maskrcnn_debug

#define DEFAULT_BACKEND GST_MASK_RCNN_BACKEND_AUTO
#define DEFAULT_THREADS 0
#define DEFAULT_PRECISION GST_MASK_RCNN_PRECISION_FP32
#define DEFAULT_DEVICE_ID -1
#define DEFAULT_SCORE_THRESHOLD 0.5
#define DEFAULT_NMS_THRESHOLD 0.5
#define DEFAULT_MAX_DETECTIONS 100
#define DEFAULT_MASK_THRESHOLD 0.5
#define DEFAULT_INTERVAL 1
#define DEFAULT_POST_MESSAGES FALSE
#define DEFAULT_MODEL_INSTANCE_ID NULL
#define DEFAULT_BATCH_SIZE 1
#define DEFAULT_BATCH_TIMEOUT 0

/* Upper bound of max-detections: far above any useful count, low enough
 * that an engine planned for it stays small. */
#define MAX_MAX_DETECTIONS 1000

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_BACKEND,
  PROP_DEVICE_ID,
  PROP_THREADS,
  PROP_PRECISION,
  PROP_SCORE_THRESHOLD,
  PROP_NMS_THRESHOLD,
  PROP_MAX_DETECTIONS,
  PROP_MASK_THRESHOLD,
  PROP_INTERVAL,
  PROP_POST_MESSAGES,
  PROP_MODEL_INSTANCE_ID,
  PROP_BATCH_SIZE,
  PROP_BATCH_TIMEOUT,
};


#define gst_maskrcnn_parent_class parent_class
G_DEFINE_TYPE (GstMaskRcnn, gst_maskrcnn, GST_TYPE_MASK_RCNN_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (maskrcnn, "maskrcnn", GST_RANK_NONE,
    GST_TYPE_MASK_RCNN);

G_STATIC_ASSERT ((int) GST_MASK_RCNN_PRECISION_BF16 == (int) MRCNN_PRECISION_BF16);
G_STATIC_ASSERT ((int) GST_MASK_RCNN_PRECISION_FP16 == (int) MRCNN_PRECISION_FP16);
G_STATIC_ASSERT ((int) GST_MASK_RCNN_PRECISION_INT8 == (int) MRCNN_PRECISION_INT8);

/* Only the precisions a backend of this build computes in
 * (mrcnn_precision_available): the enum is registered once per process, so
 * what it lists cannot depend on the device or the CPU; bf16 is listed and
 * refused at start on a CPU without AVX512_BF16 or AMX (docs/elements.md). */
GType
gst_maskrcnn_precision_get_type (void)
{
  static GType type = 0;
  static const GEnumValue all[] = {
    {GST_MASK_RCNN_PRECISION_FP32, "float32 throughout", "fp32"},
    {GST_MASK_RCNN_PRECISION_TF32, "CUDA TF32 tensor cores", "tf32"},
    {GST_MASK_RCNN_PRECISION_FP16, "fp16 with fp32 accumulation", "fp16"},
    {GST_MASK_RCNN_PRECISION_BF16,
        "CPU bf16 with fp32 accumulation (AVX512_BF16 or AMX)", "bf16"},
    {GST_MASK_RCNN_PRECISION_INT8,
        "CPU int8 with int32 accumulation (a calibrated model; fastest with "
        "VNNI or AMX)", "int8"},
  };
  static GEnumValue values[G_N_ELEMENTS (all) + 1];

  if (g_once_init_enter (&type)) {
    guint n = 0;
    for (guint i = 0; i < G_N_ELEMENTS (all); i++)
      if (mrcnn_precision_available ((mrcnn_precision) all[i].value))
        values[n++] = all[i];
    GType t = g_enum_register_static ("GstMaskRcnnPrecision", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_maskrcnn_backend_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_MASK_RCNN_BACKEND_AUTO,
        "CUDA where built and a device exists, else CPU", "auto"},
    {GST_MASK_RCNN_BACKEND_CPU, "CPU", "cpu"},
    {GST_MASK_RCNN_BACKEND_CUDA, "CUDA (fails where unavailable)", "cuda"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstMaskRcnnBackend", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ------------------------------------------------------------ results */

static void
clear_last (GstMaskRcnn * self)
{
  if (self->last)
    g_array_set_size (self->last, 0);
  self->have_last = FALSE;
}

static gboolean
attach_last (GstMaskRcnn * self, GstBuffer * buf, guint age)
{
  GstMaskRcnnInstanceInit *items;
  guint i, n = self->last->len;
  gboolean ok;

  if (n == 0)
    return TRUE;
  /* Shallow copies: the meta takes its own references to the masks. */
  items = g_newa (GstMaskRcnnInstanceInit, n);
  memcpy (items, self->last->data, n * sizeof (*items));
  for (i = 0; i < n; i++) {
    items[i].stale = age > 0;
    items[i].age = age;
  }
  ok = gst_maskrcnn_buffer_add_instances (buf, items, n);
  if (!ok)
    GST_WARNING_OBJECT (self, "could not attach %u instances", n);
  return ok;
}

static void
post_detections (GstMaskRcnn * self, GstBuffer * buf, guint age)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);
  GstClockTime pts = GST_BUFFER_PTS (buf);
  GstClockTime stream_time = GST_CLOCK_TIME_NONE;
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
  GstStructure *s;

  if (GST_CLOCK_TIME_IS_VALID (pts) &&
      trans->segment.format == GST_FORMAT_TIME) {
    stream_time = gst_segment_to_stream_time (&trans->segment,
        GST_FORMAT_TIME, pts);
    running_time = gst_segment_to_running_time (&trans->segment,
        GST_FORMAT_TIME, pts);
  }
  s = gst_maskrcnn_instances_to_structure (self->last, pts, stream_time,
      running_time, GST_BUFFER_DURATION (buf), age);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* ------------------------------------------------------------ CUDA context */

/* GstMaskRcnnBaseTransform shares the context on the device-id property's
 * device, and offers no device frames with backend=cpu. */
static void
gst_maskrcnn_cuda_settings (GstMaskRcnnBaseTransform * base,
    gint * device_id, gboolean * wants_cuda)
{
  GstMaskRcnn *self = GST_MASK_RCNN (base);

  GST_OBJECT_LOCK (self);
  *device_id = self->device_id;
  *wants_cuda = self->backend != GST_MASK_RCNN_BACKEND_CPU;
  GST_OBJECT_UNLOCK (self);
}

/* ------------------------------------------------------------ streaming */

static gboolean
gst_maskrcnn_start (GstBaseTransform * trans)
{
  GstMaskRcnn *self = GST_MASK_RCNN (trans);

  if (gst_maskrcnn_start_engine (self))
    return TRUE;
  /* GstBaseTransform does not call stop() after a failed start(). */
  GST_OBJECT_LOCK (self);
  self->running = FALSE;
  g_clear_pointer (&self->running_model, g_free);
  GST_OBJECT_UNLOCK (self);
  return FALSE;
}

static gboolean
gst_maskrcnn_stop (GstBaseTransform * trans)
{
  GstMaskRcnn *self = GST_MASK_RCNN (trans);

  clear_last (self);
  /* The last element to leave frees the engine. */
  if (self->shared)
    gst_maskrcnn_shared_leave (self->shared);
  self->shared = NULL;
  self->have_info = FALSE;
  GST_OBJECT_LOCK (self);
  self->running = FALSE;
  g_clear_pointer (&self->running_model, g_free);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_maskrcnn_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstMaskRcnn *self = GST_MASK_RCNN (trans);
  GstVideoInfo info;
  mrcnn_backend_kind kind;
  mrcnn_error err = { 0, };
  gint w, h;
  gboolean cuda_frames;

  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->set_caps (trans, incaps,
          outcaps))
    return FALSE;
  if (!gst_video_info_from_caps (&info, incaps)) {
    GST_ERROR_OBJECT (self, "invalid caps %" GST_PTR_FORMAT, incaps);
    return FALSE;
  }
  w = GST_VIDEO_INFO_WIDTH (&info);
  h = GST_VIDEO_INFO_HEIGHT (&info);
  cuda_frames =
      gst_maskrcnn_base_transform_cuda_frames (GST_MASK_RCNN_BASE_TRANSFORM
      (self));

  if (!self->shared)
    return FALSE;
  kind = gst_maskrcnn_shared_backend (self->shared);
  if (cuda_frames && kind != MRCNN_BACKEND_CUDA) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        ("Frames arrive in CUDA memory but the engine runs on the CPU: %s. "
            "Run on a machine with an NVIDIA GPU and driver, or keep the "
            "frames in system memory (cudadownload before maskrcnn).",
            gst_maskrcnn_shared_no_cuda_reason (self->shared) ?
            gst_maskrcnn_shared_no_cuda_reason (self->shared) : "no CUDA"),
        ("caps %" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  if (!cuda_frames && kind == MRCNN_BACKEND_CUDA) {
    GstMaskRcnnBackend backend;

    GST_OBJECT_LOCK (self);
    backend = self->backend;
    GST_OBJECT_UNLOCK (self);
    if (backend == GST_MASK_RCNN_BACKEND_AUTO)
      GST_WARNING_OBJECT (self, "backend=auto: frames are in system memory "
          "but a CUDA device exists, so the CUDA engine runs and every frame "
          "is copied to the device; set backend=cpu to stay on the CPU, or "
          "give maskrcnn video/x-raw(memory:CUDAMemory) (cudaupload) to skip "
          "the copy");
  }

  /* Grow only: an engine planned for a larger frame serves smaller ones.
   * A shared engine grows for all its elements. */
  if (!gst_maskrcnn_shared_reserve (self->shared, w, h, &err)) {
    POST_ERROR (self, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_INIT,
        g_strdup_printf ("Could not set up the %s backend for model \"%s\" "
            "(frames up to %dx%d): %s", gst_maskrcnn_backend_name (kind),
            gst_maskrcnn_shared_model_path (self->shared), w, h,
            err.message), g_strdup_printf ("mrcnn_engine_reserve: %s",
            mrcnn_status_name (err.status)));
    return FALSE;
  }

  /* A carried result is in the old frame's coordinates. */
  clear_last (self);
  self->info = info;
  self->have_info = TRUE;
  self->frame_index = 0;
  return TRUE;
}

static gboolean
gst_maskrcnn_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstMaskRcnn *self = GST_MASK_RCNN (trans);

  /* After a seek or a new stream the carried result shows another scene. */
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      /* Not serialized: the streaming thread may be waiting for a batch. */
      if (self->shared)
        gst_maskrcnn_shared_set_flushing (self->shared, TRUE);
      break;
    case GST_EVENT_FLUSH_STOP:
      if (self->shared)
        gst_maskrcnn_shared_set_flushing (self->shared, FALSE);
      clear_last (self);
      self->frame_index = 0;
      break;
    case GST_EVENT_STREAM_START:
      clear_last (self);
      self->frame_index = 0;
      break;
    case GST_EVENT_EOS:
      /* No frame follows: the others' batches need not wait for one. */
      if (self->shared)
        gst_maskrcnn_shared_set_streaming (self->shared, FALSE);
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

#ifdef GST_MASK_RCNN_HAVE_CUDA
/* A frame in CUDA memory must be in the context the engine runs in. */
static gboolean
check_cuda_buffer (GstMaskRcnn * self, GstBuffer * buf)
{
  gchar *why = NULL;
  gint device = gst_maskrcnn_shared_device (self->shared);
  GstCudaContext *ctx =
      gst_maskrcnn_base_transform_get_cuda_context
      (GST_MASK_RCNN_BASE_TRANSFORM (self));

  /* -1: the engine took the runtime's current device, which is the one of
   * the context its elements share (check_shared_device()), else 0. */
  if (device < 0)
    device = ctx ? gst_maskrcnn_cuda_context_device (ctx) : 0;

  if (gst_maskrcnn_cuda_check_buffer (buf, device, &why))
    return TRUE;
  GST_ELEMENT_ERROR (self, STREAM, FAILED,
      ("Cannot read this frame in CUDA memory: %s.", why), (NULL));
  g_free (why);
  return FALSE;
}
#endif

/* Runs the engine on a frame and keeps the result in self->last. A frame in
 * CUDA memory is mapped with GST_MAP_CUDA and its device pointers go to the
 * engine (on_device = 1): it is never copied to the host. The shared
 * context is the device's primary context, the one the engine's worker
 * makes current (maskrcnn-cuda.h). */
static GstFlowReturn
run_engine (GstMaskRcnn * self, GstBuffer * buf,
    const mrcnn_thresholds * th)
{
  GstVideoFrame frame;
  mrcnn_image image;
  mrcnn_result *result = NULL;
  mrcnn_error err = { 0, };
  mrcnn_status st;
  GstMapFlags flags = GST_MAP_READ;
  GstMaskRcnnSharedReturn sret;
  guint timeout;
  const gchar *format =
      gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&self->info));
  gboolean cuda_frames =
      gst_maskrcnn_base_transform_cuda_frames (GST_MASK_RCNN_BASE_TRANSFORM
      (self));

#ifdef GST_MASK_RCNN_HAVE_CUDA
  if (cuda_frames) {
    if (!check_cuda_buffer (self, buf))
      return GST_FLOW_ERROR;
    flags |= GST_MAP_CUDA;
  }
#endif
  if (!gst_video_frame_map (&frame, &self->info, buf, flags)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Could not map a %dx%d video frame for reading.",
            GST_VIDEO_INFO_WIDTH (&self->info),
            GST_VIDEO_INFO_HEIGHT (&self->info)), (NULL));
    return GST_FLOW_ERROR;
  }
  if (!gst_maskrcnn_image_from_frame (&frame, cuda_frames, &image)) {
    gst_video_frame_unmap (&frame);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Unsupported video format %s.", format), (NULL));
    return GST_FLOW_NOT_NEGOTIATED;
  }

  GST_OBJECT_LOCK (self);
  timeout = self->batch_timeout;
  GST_OBJECT_UNLOCK (self);
  sret = gst_maskrcnn_shared_run (self->shared, &image, th, timeout, &result,
      &err);
  gst_video_frame_unmap (&frame);
  if (sret == GST_MASK_RCNN_SHARED_FLUSHING) {
    GST_DEBUG_OBJECT (self, "flushing: frame dropped");
    return GST_FLOW_FLUSHING;
  }
  st = err.status;
  if (sret == GST_MASK_RCNN_SHARED_OK) {
    gboolean ok = gst_maskrcnn_instances_from_result (self->last, result,
        image.width, image.height, th->mask_threshold, &err);
    mrcnn_result_free (result);
    if (ok) {
      self->have_last = TRUE;
      self->last_frame_index = self->frame_index;
      return GST_FLOW_OK;
    }
    st = err.status != MRCNN_OK ? err.status : MRCNN_ERR_BACKEND;
  }

  clear_last (self);
  POST_ERROR (self, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
      g_strdup_printf ("Mask R-CNN inference failed on a %dx%d %s frame: %s",
          image.width, image.height, format, err.message),
      g_strdup_printf ("%s (model \"%s\")", mrcnn_status_name (st),
          gst_maskrcnn_shared_model_path (self->shared)));
  return GST_FLOW_ERROR;
}

static GstFlowReturn
gst_maskrcnn_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstMaskRcnn *self = GST_MASK_RCNN (trans);
  mrcnn_thresholds thresholds;
  gboolean post;
  guint interval, age = 0;
  gint w, h, max_detections;

  if (!self->have_info || !self->shared)
    return GST_FLOW_NOT_NEGOTIATED;

  GST_OBJECT_LOCK (self);
  thresholds = self->thresholds;
  interval = self->interval;
  post = self->post_messages;
  GST_OBJECT_UNLOCK (self);

  /* Thresholds go with each frame (elements sharing an engine may differ);
   * only the engine's planned detections bound them. */
  max_detections = gst_maskrcnn_shared_max_detections (self->shared);
  if (thresholds.max_detections > max_detections) {
    POST_ERROR (self, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
        g_strdup_printf ("Could not apply the thresholds (score %.3f, "
            "nms %.3f, max-detections %d, mask %.3f): max detections %d "
            "exceeds the %d this engine was created for; set max-detections "
            "before the element starts to raise it",
            thresholds.score_threshold, thresholds.nms_threshold,
            thresholds.max_detections, thresholds.mask_threshold,
            thresholds.max_detections, max_detections),
        g_strdup (mrcnn_status_name (MRCNN_ERR_INVALID_ARG)));
    gst_maskrcnn_shared_set_streaming (self->shared, FALSE);
    return GST_FLOW_ERROR;
  }

  w = GST_VIDEO_INFO_WIDTH (&self->info);
  h = GST_VIDEO_INFO_HEIGHT (&self->info);

  if (self->have_last && self->frame_index - self->last_frame_index < interval) {
    age = (guint) (self->frame_index - self->last_frame_index);
  } else if (!gst_maskrcnn_shared_can_run (self->shared, w, h)) {
    /* Below 2x2, or so thin that the model's resize leaves a side of 0
     * pixels: nothing can be found there. */
    GST_LOG_OBJECT (self, "%dx%d frame too small or thin to run on", w, h);
    clear_last (self);
    self->have_last = TRUE;
    self->last_frame_index = self->frame_index;
  } else {
    GstFlowReturn ret = run_engine (self, buf, &thresholds);
    if (ret != GST_FLOW_OK) {
      /* Upstream stops on an error: the others' batches must not wait for
       * this element's next frame. */
      if (ret != GST_FLOW_FLUSHING)
        gst_maskrcnn_shared_set_streaming (self->shared, FALSE);
      return ret;
    }
  }

  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT ": %u instances, age %u",
      self->frame_index, self->last->len, age);
  attach_last (self, buf, age);
  if (post)
    post_detections (self, buf, age);
  self->frame_index++;
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------ properties */

/* The properties read once at start() (GST_PARAM_MUTABLE_READY). */
static gboolean
read_at_start (guint prop_id)
{
  switch (prop_id) {
    case PROP_MODEL:
    case PROP_BACKEND:
    case PROP_DEVICE_ID:
    case PROP_THREADS:
    case PROP_PRECISION:
    case PROP_MODEL_INSTANCE_ID:
    case PROP_BATCH_SIZE:
      return TRUE;
    default:
      return FALSE;
  }
}

/* A property read only at start, set while the element runs (PAUSED or
 * PLAYING), would read back as set while the engine kept running with the
 * old value: it is refused instead, with a warning on the bus that says
 * what stays in use and how to change it. Called with the object lock held;
 * returns with it released when it refuses (the warning is posted without
 * it: posting takes the lock). */
static gboolean
refuse_while_running (GstMaskRcnn * self, GParamSpec * pspec,
    const GValue * value)
{
  gchar *wanted, *in_use;

  if (!self->running)
    return FALSE;
  wanted = g_strdup_value_contents (value);
  in_use = g_strdup (self->running_model ? self->running_model : "(none)");
  GST_OBJECT_UNLOCK (self);

  GST_ELEMENT_WARNING (self, LIBRARY, SETTINGS,
      ("Ignored %s=%s: \"%s\" cannot change while maskrcnn is running "
          "(PAUSED or PLAYING), so the element keeps running as it started, "
          "on model \"%s\". Set it before the pipeline starts, or set the "
          "pipeline to READY, set it, and play again.", pspec->name, wanted,
          pspec->name, in_use),
      ("\"%s\" is read only when the element starts", pspec->name));
  g_free (wanted);
  g_free (in_use);
  return TRUE;
}

static void
gst_maskrcnn_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMaskRcnn *self = GST_MASK_RCNN (object);

  GST_OBJECT_LOCK (self);
  if (read_at_start (prop_id) && refuse_while_running (self, pspec, value))
    return;
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_BACKEND:
      self->backend = g_value_get_enum (value);
      break;
    case PROP_DEVICE_ID:
      self->device_id = g_value_get_int (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_PRECISION:
      self->precision = g_value_get_enum (value);
      break;
    case PROP_SCORE_THRESHOLD:
      self->thresholds.score_threshold = g_value_get_float (value);
      break;
    case PROP_NMS_THRESHOLD:
      self->thresholds.nms_threshold = g_value_get_float (value);
      break;
    case PROP_MAX_DETECTIONS:
      self->thresholds.max_detections = g_value_get_int (value);
      break;
    case PROP_MASK_THRESHOLD:
      self->thresholds.mask_threshold = g_value_get_float (value);
      break;
    case PROP_INTERVAL:
      self->interval = g_value_get_uint (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_MODEL_INSTANCE_ID:
      g_free (self->instance_id);
      self->instance_id = g_value_dup_string (value);
      break;
    case PROP_BATCH_SIZE:
      self->batch_size = g_value_get_int (value);
      break;
    case PROP_BATCH_TIMEOUT:
      self->batch_timeout = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_maskrcnn_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstMaskRcnn *self = GST_MASK_RCNN (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      /* While running: the file in use, also when the property names none
       * (the shipped model). */
      g_value_set_string (value, self->running_model ?
          self->running_model : self->model_path);
      break;
    case PROP_BACKEND:
      g_value_set_enum (value, self->backend);
      break;
    case PROP_DEVICE_ID:
      g_value_set_int (value, self->device_id);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_PRECISION:
      g_value_set_enum (value, self->precision);
      break;
    case PROP_SCORE_THRESHOLD:
      g_value_set_float (value, self->thresholds.score_threshold);
      break;
    case PROP_NMS_THRESHOLD:
      g_value_set_float (value, self->thresholds.nms_threshold);
      break;
    case PROP_MAX_DETECTIONS:
      g_value_set_int (value, self->thresholds.max_detections);
      break;
    case PROP_MASK_THRESHOLD:
      g_value_set_float (value, self->thresholds.mask_threshold);
      break;
    case PROP_INTERVAL:
      g_value_set_uint (value, self->interval);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_MODEL_INSTANCE_ID:
      g_value_set_string (value, self->instance_id);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_int (value, self->batch_size);
      break;
    case PROP_BATCH_TIMEOUT:
      g_value_set_uint (value, self->batch_timeout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_maskrcnn_finalize (GObject * object)
{
  GstMaskRcnn *self = GST_MASK_RCNN (object);

  g_array_unref (self->last);
  g_free (self->model_path);
  g_free (self->running_model);
  g_free (self->instance_id);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* A frame may wait batch-timeout for its batch: downstream must know. */
static gboolean
gst_maskrcnn_query (GstBaseTransform * trans, GstPadDirection direction,
    GstQuery * query)
{
  GstMaskRcnn *self = GST_MASK_RCNN (trans);
  GstClockTime min, max, extra;
  gboolean live;

  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction,
          query))
    return FALSE;
  if (direction != GST_PAD_SRC || GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return TRUE;
  /* A batch of one is always full: its frame never waits. */
  GST_OBJECT_LOCK (self);
  extra = self->batch_size > 1 ? self->batch_timeout * GST_MSECOND : 0;
  GST_OBJECT_UNLOCK (self);
  gst_query_parse_latency (query, &live, &min, &max);
  min += extra;
  if (GST_CLOCK_TIME_IS_VALID (max))
    max += extra;
  GST_DEBUG_OBJECT (self, "latency: %" GST_TIME_FORMAT " with a batch "
      "timeout of %" GST_TIME_FORMAT, GST_TIME_ARGS (min),
      GST_TIME_ARGS (extra));
  gst_query_set_latency (query, live, min, max);
  return TRUE;
}

/* Going to READY deactivates the pads, which waits for the streaming
 * thread: a frame waiting for its batch must give up first. */
static GstStateChangeReturn
gst_maskrcnn_change_state (GstElement * element, GstStateChange transition)
{
  GstMaskRcnn *self = GST_MASK_RCNN (element);

  /* self->shared is set and cleared by start() and stop(), which run in
   * the state changes of this thread. */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY && self->shared)
    gst_maskrcnn_shared_set_flushing (self->shared, TRUE);
  return GST_ELEMENT_CLASS (parent_class)->change_state (element,
      transition);
}

/* The shipped model's path, looked up once for the property's default. */
static gchar *default_model;

static void
gst_maskrcnn_class_init (GstMaskRcnnClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstMaskRcnnBaseTransformClass *base_class =
      GST_MASK_RCNN_BASE_TRANSFORM_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags runtime = flags | GST_PARAM_MUTABLE_PLAYING;
  const GParamFlags ready = flags | GST_PARAM_MUTABLE_READY;

  GST_DEBUG_CATEGORY_INIT (gst_maskrcnn_debug, "maskrcnn", 0,
      "Mask R-CNN instance segmentation");

  {
    /* g_strdup: the engine hands out malloc() memory. */
    char *found = mrcnn_default_model_path (NULL);
    default_model = g_strdup (found);
    free (found);
  }

  gobject_class->set_property = gst_maskrcnn_set_property;
  gobject_class->get_property = gst_maskrcnn_get_property;
  gobject_class->finalize = gst_maskrcnn_finalize;

  /**
   * GstMaskRcnn:model:
   *
   * The model file. Read when the element starts (READY to PAUSED). Set
   * while the element runs, it is refused with a warning message (the
   * engine keeps running the model it started with, and the property reads
   * back the file in use).
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Path of a gst-maskrcnn .safetensors model; empty or NULL for the "
          "shipped model " MRCNN_DEFAULT_MODEL_FILE " (looked up in "
          "$MRCNN_MODEL_DIR, then the installed data directory). Read at "
          "start; refused with a warning while running. Reads back the file "
          "in use while running", default_model, ready));

  g_object_class_install_property (gobject_class, PROP_BACKEND,
      g_param_spec_enum ("backend", "Backend",
          "Compute backend; read at start, refused with a warning while "
          "running",
          GST_TYPE_MASK_RCNN_BACKEND, DEFAULT_BACKEND, ready));

  g_object_class_install_property (gobject_class, PROP_DEVICE_ID,
      g_param_spec_int ("device-id", "Device ID",
          "CUDA device for the cuda backend and the CUDA context shared with "
          "the neighbours, -1 for the current one; read at start, refused "
          "with a warning while running", -1, G_MAXINT, DEFAULT_DEVICE_ID, ready));

  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads",
          "CPU threads of the engine, 0 for all cores (OpenMP's default, "
          "which OMP_NUM_THREADS sets); fewer leave cores to the rest of the "
          "pipeline. CPU backend only; read at start, refused with a warning "
          "while running", 0, 1024,
          DEFAULT_THREADS, ready));

  g_object_class_install_property (gobject_class, PROP_PRECISION,
      g_param_spec_enum ("precision", "Precision",
          "Arithmetic of the convolutions and fully connected layers: fp32, "
          "or bf16 on a CPU with AVX512_BF16 or AMX (faster than fp32 on "
          "both: with AMX 1.5 to 2 times the frame rate; detections within "
          "the bounds of "
          "docs/precision.md); a "
          "precision the backend or CPU cannot run is an error at start. "
          "int8 needs a calibrated model (the shipped one is) and is fastest "
          "on CPUs with VNNI or AMX. "
          "Read at start, refused with a warning while running",
          GST_TYPE_MASK_RCNN_PRECISION, DEFAULT_PRECISION, ready));

  g_object_class_install_property (gobject_class, PROP_SCORE_THRESHOLD,
      g_param_spec_float ("score-threshold", "Score threshold",
          "Keep detections scoring above this (torchvision's "
          "box_score_thresh; 0.05 for COCO evaluation)", 0.0, 1.0,
          DEFAULT_SCORE_THRESHOLD, runtime));

  g_object_class_install_property (gobject_class, PROP_NMS_THRESHOLD,
      g_param_spec_float ("nms-threshold", "NMS threshold",
          "Per-class non-maximum suppression IoU (box_nms_thresh)", 0.0, 1.0,
          DEFAULT_NMS_THRESHOLD, runtime));

  g_object_class_install_property (gobject_class, PROP_MAX_DETECTIONS,
      g_param_spec_int ("max-detections", "Maximum detections",
          "Most instances kept per frame, best scores first "
          "(box_detections_per_img)", 1, MAX_MAX_DETECTIONS,
          DEFAULT_MAX_DETECTIONS, runtime));

  g_object_class_install_property (gobject_class, PROP_MASK_THRESHOLD,
      g_param_spec_float ("mask-threshold", "Mask threshold",
          "Mask probability above which a pixel belongs to the instance",
          0.0, 1.0, DEFAULT_MASK_THRESHOLD, runtime));

  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint ("interval", "Interval",
          "Run the network on every N-th frame; the frames between carry the "
          "last result with stale=TRUE and its age in frames", 1, G_MAXUINT,
          DEFAULT_INTERVAL, runtime));

  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post an element message named \"maskrcnn\" per frame with its "
          "instances (label, class-id, score, x, y, width, height)",
          DEFAULT_POST_MESSAGES, runtime));

  /**
   * GstMaskRcnn:model-instance-id:
   *
   * Elements of one process with the same id share one engine (one model
   * mapping, one set of weights, one CPU thread pool or CUDA stream) and
   * their frames are batched together. They must agree on model, backend,
   * device-id, threads, precision, batch-size and max-detections; an
   * element that differs fails to start with an error naming the setting.
   */
  g_object_class_install_property (gobject_class, PROP_MODEL_INSTANCE_ID,
      g_param_spec_string ("model-instance-id", "Model instance ID",
          "Elements with the same id share one engine and batch their "
          "frames together; they must agree on model, backend, device-id, "
          "threads, precision, batch-size and max-detections (else the "
          "later one fails at start), thresholds may differ. NULL or empty: "
          "an engine of the element's own. Read at start",
          DEFAULT_MODEL_INSTANCE_ID, ready));

  /**
   * GstMaskRcnn:batch-size:
   *
   * Most frames the engine runs at once: on CUDA in one forward pass, on
   * the CPU shared out between up to `threads` passes side by side, each
   * taking its next frames as soon as it ends. Each element waits for its
   * frame's result before it takes the next, so an element adds at most
   * one frame to a batch: batches of several frames come from several
   * elements that share an engine (model-instance-id).
   */
  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_int ("batch-size", "Batch size",
          "Most frames the engine runs at once, of one size per forward pass "
          "(so every frame gets the detections it gets alone); on the CPU "
          "shared out between up to 'threads' passes side by side. An "
          "element contributes one "
          "frame per batch (it waits for its result), so batches of several "
          "frames need several elements sharing an engine "
          "(model-instance-id). Memory is planned for this many frames. "
          "Read at start", 1, MRCNN_MAX_BATCH, DEFAULT_BATCH_SIZE, ready));

  g_object_class_install_property (gobject_class, PROP_BATCH_TIMEOUT,
      g_param_spec_uint ("batch-timeout", "Batch timeout",
          "Milliseconds a frame may wait for its batch to fill before the "
          "batch runs with what it has; it adds to the latency (reported in "
          "the latency query when batch-size is above 1). A batch runs at "
          "once when full or when every streaming element sharing the engine "
          "has a frame waiting or under way",
          0, 10000, DEFAULT_BATCH_TIMEOUT, runtime));

  gst_element_class_set_static_metadata (element_class,
      "Mask R-CNN instance segmentation", "Filter/Analyzer/Video",
      "Detects and segments object instances with a Mask R-CNN model and "
      "attaches them as region-of-interest metadata with masks",
      "gst-maskrcnn developers");
  gst_maskrcnn_base_transform_class_add_pad_templates (element_class);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_maskrcnn_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_maskrcnn_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_maskrcnn_set_caps);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_maskrcnn_transform_ip);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_maskrcnn_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_maskrcnn_query);
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_maskrcnn_change_state);
  base_class->cuda_settings = gst_maskrcnn_cuda_settings;
  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->transform_ip_on_passthrough = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_MASK_RCNN_BACKEND, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_MASK_RCNN_PRECISION, 0);
}

static void
gst_maskrcnn_init (GstMaskRcnn * self)
{
  self->model_path = g_strdup (default_model);
  self->backend = DEFAULT_BACKEND;
  self->device_id = DEFAULT_DEVICE_ID;
  self->threads = DEFAULT_THREADS;
  self->precision = DEFAULT_PRECISION;
  self->thresholds.score_threshold = DEFAULT_SCORE_THRESHOLD;
  self->thresholds.nms_threshold = DEFAULT_NMS_THRESHOLD;
  self->thresholds.max_detections = DEFAULT_MAX_DETECTIONS;
  self->thresholds.mask_threshold = DEFAULT_MASK_THRESHOLD;
  self->interval = DEFAULT_INTERVAL;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->instance_id = g_strdup (DEFAULT_MODEL_INSTANCE_ID);
  self->batch_size = DEFAULT_BATCH_SIZE;
  self->batch_timeout = DEFAULT_BATCH_TIMEOUT;
  self->last = gst_maskrcnn_instances_new ();

  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), FALSE);
}
