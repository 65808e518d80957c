/* gst-maskrcnn: the engines of maskrcnn elements, their own or shared.
 *
 * One function makes or finds the engine an element runs on:
 * gst_maskrcnn_shared_acquire() takes the element's settings (its
 * properties at start) and returns a handle on an engine of the element's
 * own (model-instance-id unset) or on the one registered process-wide under
 * the id, reference counted, so that elements with the same id use one model
 * mapping, one engine, its worker threads and buffers or its CUDA stream.
 *
 * The engine schedules (mrcnn.h, streams): each handle is one of its
 * streams. A streaming thread hands its frame over and waits for the
 * result (transform_ip stays synchronous); the engine's workers gather the
 * frames of the elements sharing it into batches of one size, up to each
 * worker's share of batch-size, run them side by side, and hand each result
 * back. This file only finds the engine, and turns the element's events
 * (flushing, EOS) into the stream's state.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_SHARED_H__
#define __GST_MASK_RCNN_SHARED_H__

#include <gst/gst.h>

#include "mrcnn/mrcnn.h"

G_BEGIN_DECLS

typedef struct _GstMaskRcnnShared GstMaskRcnnShared;
typedef struct _GstMaskRcnnSharedUser GstMaskRcnnSharedUser;

/* What defines an engine, from the element's properties at start: elements
 * sharing an id must agree on all of it but the thresholds, which go with
 * each frame. Strings are owned by the struct
 * (gst_maskrcnn_shared_settings_clear()). */
typedef struct
{
  gchar *model;                 /* the model property; NULL or "": the
                                 * shipped model */
  gint backend;                 /* GstMaskRcnnBackend */
  gint device_id;               /* the property */
  gint threads;
  gint precision;               /* GstMaskRcnnPrecision */
  gint batch_size;
  mrcnn_thresholds thresholds;  /* max_detections plans the engine */
} GstMaskRcnnSharedSettings;

void gst_maskrcnn_shared_settings_clear (GstMaskRcnnSharedSettings * s);

/* "cpu", "cuda" or "auto". Static. */
const gchar *gst_maskrcnn_backend_name (mrcnn_backend_kind kind);

/* Makes or finds the engine for `element`: opens the settings' model (the
 * shipped one when none is set) and makes an engine of the element's own
 * (id NULL), or joins the engine shared under `id`, making it when the
 * element is the first and else checking that the settings agree with the
 * ones it was made with. cuda_device is the device of the CUDA context the
 * element shares with its neighbours (-1: none): a CUDA engine is made on
 * it, and a shared CUDA engine must be on it. Returns a handle to release
 * with gst_maskrcnn_shared_leave(); NULL after filling *error (a GStreamer
 * error domain and code, and a message for the user) and *debug (details,
 * may be NULL; both to free). `element` is used for logs only (no
 * reference is taken); it must outlive the handle. */
GstMaskRcnnSharedUser *gst_maskrcnn_shared_acquire (GstElement * element,
    const gchar * id, const GstMaskRcnnSharedSettings * s, gint cuda_device,
    GError ** error, gchar ** debug);

/* Leaves: no gst_maskrcnn_shared_run() may be under way on the handle. The
 * last user to leave frees the engine, then the model. */
void gst_maskrcnn_shared_leave (GstMaskRcnnSharedUser * user);

/* Facts of the engine (valid while the user is joined). */
mrcnn_backend_kind gst_maskrcnn_shared_backend (GstMaskRcnnSharedUser * user);
/* Why the engine is not on CUDA (NULL if it is). */
const gchar *gst_maskrcnn_shared_no_cuda_reason (GstMaskRcnnSharedUser *
    user);
/* The CUDA device the engine was created on (-1: the runtime's current). */
gint gst_maskrcnn_shared_device (GstMaskRcnnSharedUser * user);
gint gst_maskrcnn_shared_max_detections (GstMaskRcnnSharedUser * user);
/* Whether the model can run on w x h frames (mrcnn_model_resized_size):
 * not on frames below 2x2 or so thin that a side resizes to 0 pixels. */
gboolean gst_maskrcnn_shared_can_run (GstMaskRcnnSharedUser * user, gint w,
    gint h);
/* The model file this element opened (its own spelling of the path). */
const gchar *gst_maskrcnn_shared_model_path (GstMaskRcnnSharedUser * user);

/* Makes sure the engine takes frames of w x h (mrcnn_engine_reserve: it
 * grows between passes, for all its elements). FALSE with *err filled. */
gboolean gst_maskrcnn_shared_reserve (GstMaskRcnnSharedUser * user, gint w,
    gint h, mrcnn_error * err);

/* The user's streaming state, which decides whether others wait for it
 * (streaming) and unblocks its waiting thread (flushing). */
void gst_maskrcnn_shared_set_flushing (GstMaskRcnnSharedUser * user,
    gboolean flushing);
void gst_maskrcnn_shared_set_streaming (GstMaskRcnnSharedUser * user,
    gboolean streaming);

typedef enum
{
  GST_MASK_RCNN_SHARED_OK,
  GST_MASK_RCNN_SHARED_FAILED,  /* *err says why */
  GST_MASK_RCNN_SHARED_FLUSHING /* the user was set flushing */
} GstMaskRcnnSharedReturn;

/* Runs `image` with thresholds `th` in the next batch it fits and waits for
 * its result (*result, a new result the caller frees); the frame waits at
 * most `timeout_ms` for its batch to fill (mrcnn_stream_run). A frame in
 * CUDA memory must be on the engine's device: the engine's threads make the
 * device's primary context current, which is the one the elements share
 * (maskrcnn-cuda.h). Returns FLUSHING as soon as the user is set flushing,
 * unless the frame's forward pass has begun: then when it ends (the frame's
 * memory is read until then). */
GstMaskRcnnSharedReturn gst_maskrcnn_shared_run (GstMaskRcnnSharedUser *
    user, const mrcnn_image * image, const mrcnn_thresholds * th,
    guint timeout_ms, mrcnn_result ** result, mrcnn_error * err);

G_END_DECLS

#endif /* __GST_MASK_RCNN_SHARED_H__ */
