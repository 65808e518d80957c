/* gst-maskrcnn: the maskrcnn plugin (maskrcnn, maskrcnntrack,
 * maskrcnncount, maskrcnnoverlay and maskrcnnpublish).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstmaskrcnn.h"
#include "gstmaskrcnncount.h"
#include "gstmaskrcnnoverlay.h"
#include "gstmaskrcnnpublish.h"
#include "gstmaskrcnntrack.h"
#include "maskrcnn-counts.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  gst_maskrcnn_counts_meta_register ();
  ret |= GST_ELEMENT_REGISTER (maskrcnn, plugin);
  ret |= GST_ELEMENT_REGISTER (maskrcnntrack, plugin);
  ret |= GST_ELEMENT_REGISTER (maskrcnncount, plugin);
  ret |= GST_ELEMENT_REGISTER (maskrcnnoverlay, plugin);
  ret |= GST_ELEMENT_REGISTER (maskrcnnpublish, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, maskrcnn,
    "Mask R-CNN instance segmentation, tracking, counting, drawing and publishing", plugin_init,
    PACKAGE_VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
