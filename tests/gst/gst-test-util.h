/* Helpers shared by the plugin's gst-check tests. */
#ifndef GST_MASKRCNN_TEST_UTIL_H
#define GST_MASKRCNN_TEST_UTIL_H

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/* The formats both elements accept, NULL-terminated. */
extern const gchar *const test_formats[];

/* The model for tests that run the network: $MRCNN_TEST_MODEL, else the one
 * the build generated ($GST_MASKRCNN_GENERATED_MODEL). NULL when neither
 * names an existing file. Static string. */
const gchar *test_model_path (void);

/* A synthetic scene in packed RGB (w x h, stride 3 * w, caller frees with
 * g_free): a gradient background with a filled circle, a rectangle and a
 * triangle, the kind of picture the shipped shapes model is trained on. */
guint8 *test_scene_rgb (gint w, gint h);

/* A new buffer holding `rgb` (packed, 3 * w stride) converted to `format`
 * (BT.601 for YUV) with GStreamer's own converter; *info receives the
 * frame's layout. */
GstBuffer *test_buffer_from_rgb (const guint8 * rgb, gint w, gint h,
    const gchar * format, GstVideoInfo * info);

/* Convenience: test_scene_rgb() converted to `format`. */
GstBuffer *test_scene_buffer (gint w, gint h, const gchar * format,
    GstVideoInfo * info);

/* Caps string for `format` at w x h, 30 fps. Caller frees. */
gchar *test_caps_string (const gchar * format, gint w, gint h);

/* Reads the components of pixel (x, y) of a mapped frame into c[0..n-1]
 * (chroma of subsampled formats from the sample covering the pixel) and
 * returns n. */
guint test_frame_pixel (const GstVideoFrame * frame, gint x, gint y,
    guint8 c[4]);

/* Sets a fresh bus on `element` (messages are queued on it). Returns the
 * bus (unref when done). */
GstBus *test_attach_bus (GstElement * element);

/* Sets `element` (no parent) to PAUSED, expects the state change to fail
 * and returns the error message posted on its bus (free with
 * gst_message_unref()), or fails the test. */
GstMessage *test_expect_start_error (GstElement * element);

/* A new s x s box-relative GRAY8 mask of the disc inscribed in it (255
 * inside, 0 outside), as maskrcnn attaches for a round object. */
GstBuffer *test_disc_mask (gint s);

G_END_DECLS

#endif
