/* gst-maskrcnn: engines shared by maskrcnn elements, and the batcher that
 * gathers their frames into forward passes.
 *
 * Every maskrcnn element runs its frames through a GstMaskRcnnShared: its
 * own (model-instance-id NULL) or one found in a process-wide registry by
 * id, reference counted, so that elements with the same id use one model
 * mapping, one engine and its thread pool or CUDA stream.
 *
 * Batching. A streaming thread submits its frame and waits for its result
 * (transform_ip stays synchronous), so one element has at most one frame
 * waiting and batches of more than one frame need several elements sharing
 * an engine. An engine shared under an id runs its batches in worker
 * threads of its own, one per forward pass the engine runs at once
 * (mrcnn_engine_passes: on the CPU min(batch-size, threads), on CUDA one,
 * on the device's one stream); each worker takes up to its share of
 * batch-size frames (batch-size / workers, rounded up) and runs them as one
 * pass, with the CPU threads the other workers' passes leave, and takes
 * the next batch as soon as its own pass ends, never waiting for another
 * worker's frames. An element's own engine has no worker: its streaming
 * thread runs its frames itself, with no thread hop. A batch is ready when
 * it is full (a worker's share of frames of one size), when every element
 * that is streaming has a frame waiting or under way (nobody else can add
 * one), or when its oldest frame has waited batch-timeout. A batch holds
 * frames of one size only, the size of the oldest waiting frame, so that
 * each frame's detections are exactly those it gets alone; frames of other
 * sizes wait for the next batch. A failed batch of several frames is run
 * again one frame at a time, so that only the bad frame's element sees the
 * error.
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

/* What defines an engine: elements sharing an id must agree on all of it.
 * Strings are owned by the struct (gst_maskrcnn_shared_settings_clear()). */
typedef struct
{
  gchar *model;                 /* the file opened, after the default
                                 * lookup, as an absolute path */
  gint backend;                 /* GstMaskRcnnBackend (the property) */
  gint device_id;               /* the property */
  gint threads;
  gint precision;               /* GstMaskRcnnPrecision */
  gint batch_size;
  gint max_detections;          /* what the engine is planned for */
} GstMaskRcnnSharedSettings;

void gst_maskrcnn_shared_settings_clear (GstMaskRcnnSharedSettings * s);

/* Joins the engine shared under `id` (NULL: a new engine of the caller's
 * own, never found by others), making an empty entry when there is none.
 * Returns a user handle; leave with gst_maskrcnn_shared_leave(). The
 * handle's engine may not be set up yet: call
 * gst_maskrcnn_shared_lock_setup() next. `element` is used for logs and
 * messages only (no reference is taken); it must outlive the handle. */
GstMaskRcnnSharedUser *gst_maskrcnn_shared_join (const gchar * id,
    GstElement * element);

/* Leaves: the user's frames must all be done (its streaming thread has
 * stopped). The last user to leave frees the engine, then the model. */
void gst_maskrcnn_shared_leave (GstMaskRcnnSharedUser * user);

/* Serializes setting up an entry: between lock_setup and unlock_setup the
 * caller either finds the engine there (has_engine) and checks its settings
 * with gst_maskrcnn_shared_mismatch(), or makes the engine and hands it over
 * with gst_maskrcnn_shared_set_engine(). Posting messages while holding it
 * is fine. */
void gst_maskrcnn_shared_lock_setup (GstMaskRcnnSharedUser * user);
void gst_maskrcnn_shared_unlock_setup (GstMaskRcnnSharedUser * user);
gboolean gst_maskrcnn_shared_has_engine (GstMaskRcnnSharedUser * user);

/* The first setting in which `s` differs from the engine's, as a new
 * message naming the setting, both values and the element that made the
 * engine (caller frees); NULL when they agree. */
gchar *gst_maskrcnn_shared_mismatch (GstMaskRcnnSharedUser * user,
    const GstMaskRcnnSharedSettings * s);

/* Hands a new engine (and the model it was made from, and the config it was
 * made with) to the entry, which owns and frees them from now on.
 * no_cuda_reason: why the engine is not on CUDA (NULL if it is); copied. */
void gst_maskrcnn_shared_set_engine (GstMaskRcnnSharedUser * user,
    mrcnn_model * model, mrcnn_engine * engine,
    const mrcnn_engine_config * cfg, const GstMaskRcnnSharedSettings * s,
    const gchar * no_cuda_reason);

/* Facts of the shared engine (valid while the user is joined). */
mrcnn_backend_kind gst_maskrcnn_shared_backend (GstMaskRcnnSharedUser * user);
const gchar *gst_maskrcnn_shared_no_cuda_reason (GstMaskRcnnSharedUser *
    user);
/* The CUDA device the engine was created on (-1: the runtime's current). */
gint gst_maskrcnn_shared_device (GstMaskRcnnSharedUser * user);
gint gst_maskrcnn_shared_max_detections (GstMaskRcnnSharedUser * user);

/* Makes sure the engine takes frames of w x h: replaces it, between
 * batches, by one planned for the larger size when it does not. On failure
 * returns FALSE with *err filled and *planned_w, *planned_h the size that
 * was asked of the engine; the old engine stays. */
gboolean gst_maskrcnn_shared_reserve (GstMaskRcnnSharedUser * user, gint w,
    gint h, gint * planned_w, gint * planned_h, mrcnn_error * err);

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
 * its result (*result, a new result the caller frees). The frame waits at
 * most `timeout_ms` for its batch to fill (then the batch runs with the
 * frames it has), plus the forward passes of batches before it. `cuda_ctx`: a
 * GstCudaContext to make current around the forward pass when the frame
 * is in CUDA memory (NULL otherwise); it must wrap the primary context of
 * the engine's device. Returns FLUSHING as soon as the user is set
 * flushing, unless the frame's forward pass has begun: then when it ends
 * (the frame's memory is read until then). */
GstMaskRcnnSharedReturn gst_maskrcnn_shared_run (GstMaskRcnnSharedUser *
    user, const mrcnn_image * image, const mrcnn_thresholds * th,
    guint timeout_ms, gpointer cuda_ctx, mrcnn_result ** result, mrcnn_error * err);

G_END_DECLS

#endif /* __GST_MASK_RCNN_SHARED_H__ */
