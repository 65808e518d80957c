/* gst-maskrcnn: the maskrcnnpublish element (instances out as JSON, to a
 * file or an MQTT broker).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_PUBLISH_H__
#define __GST_MASK_RCNN_PUBLISH_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

/**
 * GstMaskRcnnPublishMethod:
 * @GST_MASK_RCNN_PUBLISH_METHOD_FILE: JSON lines appended to `location`
 * @GST_MASK_RCNN_PUBLISH_METHOD_MQTT: one MQTT message per frame on `topic`
 */
typedef enum {
  GST_MASK_RCNN_PUBLISH_METHOD_FILE,
  GST_MASK_RCNN_PUBLISH_METHOD_MQTT,
} GstMaskRcnnPublishMethod;

#define GST_TYPE_MASK_RCNN_PUBLISH_METHOD \
  (gst_maskrcnn_publish_method_get_type ())
GType gst_maskrcnn_publish_method_get_type (void);

#define GST_TYPE_MASK_RCNN_PUBLISH (gst_maskrcnn_publish_get_type ())
G_DECLARE_FINAL_TYPE (GstMaskRcnnPublish, gst_maskrcnn_publish, GST,
    MASK_RCNN_PUBLISH, GstBaseTransform);

GST_ELEMENT_REGISTER_DECLARE (maskrcnnpublish);

G_END_DECLS

#endif /* __GST_MASK_RCNN_PUBLISH_H__ */
