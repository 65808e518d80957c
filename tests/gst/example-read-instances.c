/* Reading Mask R-CNN instances from buffers: the example of
 * docs/elements.md, built and run by the test suite.
 *
 *   example-read-instances [MODEL]
 *
 * Build an application like it with
 *   cc app.c $(pkg-config --cflags --libs gst-maskrcnn-meta)
 */
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/maskrcnn-meta.h>

static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GstVideoInfo vinfo;
  GstMaskRcnnInstance inst;
  gpointer state = NULL;
  guint8 *label_map;
  guint index = 0;

  if (!caps || !gst_video_info_from_caps (&vinfo, caps)) {
    g_printerr ("no video caps on %s\n", GST_PAD_NAME (pad));
    gst_clear_caps (&caps);
    return GST_PAD_PROBE_OK;
  }
  gst_caps_unref (caps);

  /* A full-frame map: 0 for the background, i + 1 for instance i. */
  label_map = g_malloc0 ((gsize) vinfo.width * vinfo.height);

  g_print ("frame %" GST_TIME_FORMAT ": %u instances\n",
      GST_TIME_ARGS (GST_BUFFER_PTS (buffer)),
      gst_maskrcnn_buffer_get_n_instances (buffer));
  while (gst_maskrcnn_buffer_iterate_instances (buffer, &state, &inst)) {
    guint8 *mask = g_malloc ((gsize) inst.width * inst.height);
    gsize i, area = 0;

    /* The mask at the box's current size, 255 inside the instance. */
    if (gst_maskrcnn_instance_read_mask (&inst, mask, inst.width,
            inst.height, inst.width)) {
      for (i = 0; i < (gsize) inst.width * inst.height; i++)
        area += mask[i] != 0;
    }
    g_print ("  %-12s class %d  score %.3f  box %d,%d %dx%d  mask %"
        G_GSIZE_FORMAT " px%s\n", inst.label, inst.class_id,
        inst.confidence, inst.x, inst.y, inst.width, inst.height, area,
        inst.stale ? "  (carried from an earlier frame)" : "");
    g_free (mask);

    gst_maskrcnn_instance_rasterize (&inst, label_map, vinfo.width,
        vinfo.height, vinfo.width, (guint8) MIN (index + 1, 255));
    index++;
  }
  g_free (label_map);
  return GST_PAD_PROBE_OK;
}

int
main (int argc, char **argv)
{
  GstElement *pipeline, *maskrcnn;
  GstPad *pad;
  GstBus *bus;
  GstMessage *msg;
  GError *error = NULL;
  int status = 0;

  gst_init (&argc, &argv);
  pipeline = gst_parse_launch ("videotestsrc num-buffers=3 pattern=ball ! "
      "video/x-raw,width=320,height=240 ! videoconvert ! "
      "maskrcnn name=m score-threshold=0.3 ! fakesink", &error);
  if (!pipeline) {
    g_printerr ("could not build the pipeline: %s\n", error->message);
    g_clear_error (&error);
    return 1;
  }
  maskrcnn = gst_bin_get_by_name (GST_BIN (pipeline), "m");
  if (argc > 1)
    g_object_set (maskrcnn, "model", argv[1], NULL);

  /* Downstream of maskrcnn: every buffer carries its instances. */
  pad = gst_element_get_static_pad (maskrcnn, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, NULL, NULL);
  gst_object_unref (pad);
  gst_object_unref (maskrcnn);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (msg, &error, NULL);
    g_printerr ("error: %s\n", error->message);
    g_clear_error (&error);
    status = 1;
  }
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  return status;
}
