/* gst-maskrcnn: the maskrcnn plugin (maskrcnn, maskrcnnoverlay and
 * maskrcnnpublish).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstmaskrcnn.h"
#include "gstmaskrcnnoverlay.h"
#include "gstmaskrcnnpublish.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (maskrcnn, plugin);
  ret |= GST_ELEMENT_REGISTER (maskrcnnoverlay, plugin);
  ret |= GST_ELEMENT_REGISTER (maskrcnnpublish, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, maskrcnn,
    "Mask R-CNN instance segmentation, drawing and publishing", plugin_init,
    PACKAGE_VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
