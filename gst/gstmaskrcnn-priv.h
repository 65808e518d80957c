/* gst-maskrcnn: the maskrcnn element's instance, for its source files
 * (gstmaskrcnn.c: streaming and properties; maskrcnn-start.c: the model and
 * the engine at start).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_PRIV_H__
#define __GST_MASK_RCNN_PRIV_H__

#include <gst/video/video.h>

#include "gstmaskrcnn.h"
#include "maskrcnn-shared.h"
#include "mrcnn/mrcnn.h"
#ifdef GST_MASK_RCNN_HAVE_CUDA
#include "maskrcnn-cuda.h"
#endif

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_maskrcnn_debug);

/* Posts an error whose domain and code are only known at run time; text
 * and debug are taken. */
#define POST_ERROR(self, domain, code, text, debug) \
  gst_element_message_full (GST_ELEMENT (self), GST_MESSAGE_ERROR, \
      domain, code, text, debug, __FILE__, GST_FUNCTION, __LINE__)

struct _GstMaskRcnn
{
  GstMaskRcnnBaseTransform parent;

  /* Properties, under the object lock. */
  gchar *model_path;
  GstMaskRcnnBackend backend;
  gint device_id;
  gint threads;                 /* CPU engine threads, 0 = all cores */
  GstMaskRcnnPrecision precision;
  mrcnn_thresholds thresholds;
  guint interval;
  gboolean post_messages;
  gchar *instance_id;
  gint batch_size;
  guint batch_timeout;          /* ms */
  /* From start() to stop(): the settings read at start are in use, so the
   * properties read only there are refused (see refuse_while_running()).
   * running_model is the model file in use, which the "model" getter
   * reports meanwhile. */
  gboolean running;
  gchar *running_model;

  /* Streaming state, from start() to stop(): the handle on the engine, an
   * engine of its own or the one shared under model-instance-id
   * (maskrcnn-shared.h). */
  GstMaskRcnnSharedUser *shared;
  GstVideoInfo info;
  gboolean have_info;
  guint64 frame_index;          /* frames since the caps were set */


  /* The last result, carried to the frames between runs. Labels point into
   * the model; masks are owned references. */
  GArray *last;                 /* of GstMaskRcnnInstanceInit */
  gboolean have_last;
  guint64 last_frame_index;
};

/* Makes or joins the element's engine from its properties
 * (gst_maskrcnn_shared_acquire). FALSE after posting an error. */
gboolean gst_maskrcnn_start_engine (GstMaskRcnn * self);

G_END_DECLS

#endif /* __GST_MASK_RCNN_PRIV_H__ */
