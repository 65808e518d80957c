/* maskrcnnoverlay: pixels change inside masks and stay as they were far
 * outside them, on every format; with synthetic instances (no model needed)
 * and behind a real maskrcnn (where a model is available). */
#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include <gst/maskrcnn-meta.h>

#include "gst-test-util.h"
/* the per-pixel math the overlay shares with its CUDA kernel */
#include "overlay.h"

#define W 96
#define H 64
/* The instance: a box in the lower left, its mask the box's left half. */
#define BX 8
#define BY 30
#define BW 32
#define BH 24
#define CLASS_ID 1

static GstBuffer *
grey_frame (const gchar * format, GstVideoInfo * info)
{
  guint8 *rgb = g_malloc (W * H * 3);
  GstBuffer *buf;

  memset (rgb, 128, W * H * 3);
  buf = test_buffer_from_rgb (rgb, W, H, format, info);
  g_free (rgb);
  return buf;
}

static void
add_instance (GstBuffer * buf)
{
  GstBuffer *mask = gst_buffer_new_allocate (NULL, BW * BH, NULL);
  GstMaskRcnnInstanceInit in = {.label = "circle",.class_id = CLASS_ID,
    .confidence = 0.87,.x = BX,.y = BY,.width = BW,.height = BH,
    .mask = mask,.mask_width = BW,.mask_height = BH
  };
  GstMapInfo map;
  gint x, y;

  gst_buffer_map (mask, &map, GST_MAP_WRITE);
  for (y = 0; y < BH; y++)
    for (x = 0; x < BW; x++)
      map.data[y * BW + x] = x < BW / 2 ? 255 : 0;
  gst_buffer_unmap (mask, &map);
  fail_unless (gst_maskrcnn_buffer_add_instances (buf, &in, 1));
  gst_buffer_unref (mask);
}

/* Runs maskrcnnoverlay with `props` on a grey frame with one instance;
 * returns the input (untouched copy) and output mapped frames' buffers. */
static GstBuffer *
overlay (const gchar * format, const gchar * props, gboolean with_instance,
    GstBuffer ** input, GstVideoInfo * info)
{
  gchar *launch = g_strdup_printf ("maskrcnnoverlay %s", props);
  gchar *caps = test_caps_string (format, W, H);
  GstHarness *h = gst_harness_new_parse (launch);
  GstBuffer *in = grey_frame (format, info), *out;

  gst_harness_set_src_caps_str (h, caps);
  if (with_instance)
    add_instance (in);
  *input = gst_buffer_copy_deep (in);
  out = gst_harness_push_and_pull (h, in);
  fail_unless (out != NULL);
  gst_harness_teardown (h);
  g_free (caps);
  g_free (launch);
  return out;
}

static gboolean
pixel_differs (GstVideoFrame * a, GstVideoFrame * b, gint x, gint y)
{
  guint8 ca[4], cb[4];
  guint i, n = test_frame_pixel (a, x, y, ca);

  test_frame_pixel (b, x, y, cb);
  for (i = 0; i < n; i++)
    if (ca[i] != cb[i])
      return TRUE;
  return FALSE;
}

static gboolean
buffers_equal (GstBuffer * a, GstBuffer * b)
{
  GstMapInfo ma, mb;
  gboolean eq;

  gst_buffer_map (a, &ma, GST_MAP_READ);
  gst_buffer_map (b, &mb, GST_MAP_READ);
  eq = ma.size == mb.size && memcmp (ma.data, mb.data, ma.size) == 0;
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  return eq;
}

/* The overlay's output for one instance at (0, 0) of box_w x box_h whose
 * stored mask is mask_w x mask_h bytes of 255 (the box is all mask). */
static GstBuffer *
overlay_full_mask_box (gint box_w, gint box_h, gint mask_w, gint mask_h)
{
  GstVideoInfo info;
  gchar *caps = test_caps_string ("RGBA", W, H);
  GstHarness *h = gst_harness_new_parse ("maskrcnnoverlay draw-labels=false");
  GstBuffer *in = grey_frame ("RGBA", &info), *out;
  GstBuffer *mask = gst_buffer_new_allocate (NULL, (gsize) mask_w * mask_h,
      NULL);
  GstMaskRcnnInstanceInit inst = {.label = "square",.class_id = CLASS_ID,
    .confidence = 0.9,.x = 0,.y = 0,.width = box_w,.height = box_h,
    .mask = mask,.mask_width = mask_w,.mask_height = mask_h
  };

  gst_buffer_memset (mask, 0, 255, (gsize) mask_w * mask_h);
  fail_unless (gst_maskrcnn_buffer_add_instances (in, &inst, 1));
  gst_buffer_unref (mask);
  gst_harness_set_src_caps_str (h, caps);
  out = gst_harness_push_and_pull (h, in);
  fail_unless (out != NULL);
  gst_harness_teardown (h);
  g_free (caps);
  return out;
}

/* A box far larger than the frame (as foreign metadata may carry: 10^6 x
 * 8 x 10^5 on a 96 x 64 frame) is drawn from the part the frame shows,
 * exactly as a box just larger than the frame is: same mask fill, same
 * contour along the left and top edges, nothing from the edges beyond the
 * frame. Rasterizing the whole box (2.4 TB of scratch memory here) failed and
 * drew nothing; 40000 x 30000 took 30 s and 3.6 GB. */
GST_START_TEST (test_huge_box)
{
  GstBuffer *huge = overlay_full_mask_box (1000000, 800000, 28, 28);
  GstBuffer *small = overlay_full_mask_box (W + 10, H + 10, W + 10, H + 10);
  GstVideoInfo info;
  GstBuffer *grey = grey_frame ("RGBA", &info);

  fail_unless (buffers_equal (huge, small),
      "a huge box is drawn differently from a box just larger than the frame");
  fail_if (buffers_equal (huge, grey), "nothing was drawn");
  gst_buffer_unref (huge);
  gst_buffer_unref (small);
  gst_buffer_unref (grey);
}

GST_END_TEST;


GST_START_TEST (test_every_format)
{
  guint f;

  for (f = 0; test_formats[f]; f++) {
    GstVideoInfo info;
    GstBuffer *in, *out = overlay (test_formats[f], "", TRUE, &in, &info);
    GstVideoFrame fi, fo;
    gint x, y, changed_inside = 0, inside = 0;

    fail_unless (gst_video_frame_map (&fi, &info, in, GST_MAP_READ));
    fail_unless (gst_video_frame_map (&fo, &info, out, GST_MAP_READ));
    for (y = 0; y < H; y++) {
      for (x = 0; x < W; x++) {
        /* Inside the mask, clear of the contour and box lines. */
        gboolean in_mask = x >= BX + 4 && x < BX + BW / 2 - 4 &&
            y >= BY + 4 && y < BY + BH - 4;
        /* Inside the box but in the half the mask leaves out. */
        gboolean in_box_not_mask = x >= BX + BW / 2 + 4 &&
            x < BX + BW - 4 && y >= BY + 4 && y < BY + BH - 4;
        /* Far from the box and from the caption above it. */
        gboolean far = (x >= BX + BW + 4 && y >= BY + 2) ||
            y >= BY + BH + 4 || x < BX - 2;

        if (in_mask) {
          inside++;
          changed_inside += pixel_differs (&fi, &fo, x, y);
        } else if (in_box_not_mask || far) {
          fail_if (pixel_differs (&fi, &fo, x, y),
              "%s: pixel (%d, %d) outside the mask changed",
              test_formats[f], x, y);
        }
      }
    }
    fail_unless_equals_int (changed_inside, inside);
    /* The caption sits above the box. */
    fail_unless (pixel_differs (&fi, &fo, BX + 3, BY - 4),
        "%s: no caption drawn", test_formats[f]);
    gst_video_frame_unmap (&fo);
    gst_video_frame_unmap (&fi);
    gst_buffer_unref (in);
    gst_buffer_unref (out);
  }
}

GST_END_TEST;

/* alpha=1 paints the class colour itself inside the mask. */
GST_START_TEST (test_opaque_colour)
{
  guint f;
  guint8 rgb[3];

  mrcnn_overlay_class_color (CLASS_ID, rgb);
  for (f = 0; test_formats[f]; f++) {
    GstVideoInfo info;
    GstBuffer *in, *out;
    GstVideoFrame fo;
    guint8 c[4];
    gint x = BX + 8, y = BY + 12, r, g, b;

    if (GST_VIDEO_FORMAT_INFO_IS_YUV (gst_video_format_get_info
            (gst_video_format_from_string (test_formats[f]))))
      continue;
    out = overlay (test_formats[f], "alpha=1 draw-contours=false "
        "draw-boxes=false draw-labels=false", TRUE, &in, &info);
    fail_unless (gst_video_frame_map (&fo, &info, out, GST_MAP_READ));
    test_frame_pixel (&fo, x, y, c);
    r = c[GST_VIDEO_COMP_R];
    g = c[GST_VIDEO_COMP_G];
    b = c[GST_VIDEO_COMP_B];
    fail_unless (r == rgb[0] && g == rgb[1] && b == rgb[2],
        "%s: (%d, %d, %d) != class colour (%d, %d, %d)", test_formats[f],
        r, g, b, rgb[0], rgb[1], rgb[2]);
    gst_video_frame_unmap (&fo);
    gst_buffer_unref (in);
    gst_buffer_unref (out);
  }
}

GST_END_TEST;

GST_START_TEST (test_nothing_to_draw)
{
  guint f;

  for (f = 0; test_formats[f]; f++) {
    GstVideoInfo info;
    GstBuffer *in, *out;

    /* No instances. */
    out = overlay (test_formats[f], "", FALSE, &in, &info);
    fail_unless (buffers_equal (in, out), "%s changed", test_formats[f]);
    gst_buffer_unref (in);
    gst_buffer_unref (out);

    /* Everything switched off. */
    out = overlay (test_formats[f], "draw-masks=false draw-contours=false "
        "draw-boxes=false draw-labels=false", TRUE, &in, &info);
    fail_unless (buffers_equal (in, out), "%s changed", test_formats[f]);
    gst_buffer_unref (in);
    gst_buffer_unref (out);
  }
}

GST_END_TEST;

/* Boxes only: the outline changes, the inside of the box does not. */
GST_START_TEST (test_boxes_only)
{
  GstVideoInfo info;
  GstBuffer *in, *out = overlay ("RGBA", "draw-masks=false "
      "draw-contours=false draw-labels=false line-width=3", TRUE, &in, &info);
  GstVideoFrame fi, fo;
  gint x, y;

  fail_unless (gst_video_frame_map (&fi, &info, in, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&fo, &info, out, GST_MAP_READ));
  for (y = 0; y < H; y++) {
    for (x = 0; x < W; x++) {
      gboolean in_box = x >= BX && x < BX + BW && y >= BY && y < BY + BH;
      gboolean on_line = in_box && (x < BX + 3 || x >= BX + BW - 3 ||
          y < BY + 3 || y >= BY + BH - 3);
      fail_unless_equals_int (pixel_differs (&fi, &fo, x, y), on_line);
    }
  }
  gst_video_frame_unmap (&fo);
  gst_video_frame_unmap (&fi);
  gst_buffer_unref (in);
  gst_buffer_unref (out);
}

GST_END_TEST;

/* On 4:2:0 YUV a box outline is blended in one pass: each chroma sample
 * takes the mean coverage of its four luma pixels, also where the top or
 * bottom side meets a vertical side (drawing the four sides one after the
 * other blended those samples twice, by partial coverages, and differed from
 * the GPU overlay by up to 50 levels there). Every chroma sample of the
 * frame is checked against that single blend; luma changes exactly on the
 * outline. */
GST_START_TEST (test_box_outline_chroma)
{
  static const gchar *formats[] = { "NV12", "I420" };
  const gint t = 3;
  guint f;
  guint8 rgb[3];

  mrcnn_overlay_class_color (CLASS_ID, rgb);
  for (f = 0; f < G_N_ELEMENTS (formats); f++) {
    GstVideoInfo info;
    GstBuffer *in, *out = overlay (formats[f], "draw-masks=false "
        "draw-contours=false draw-labels=false line-width=3", TRUE, &in,
        &info);
    GstVideoFrame fi, fo;
    gdouble kr, kb;
    guint8 yuv[3];
    gint cx, cy, x, y, corner_samples = 0;

    fail_unless (gst_video_color_matrix_get_Kr_Kb (info.colorimetry.matrix,
            &kr, &kb));
    mrcnn_overlay_rgb_to_yuv (kr, kb,
        info.colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255, rgb, yuv);
    fail_unless (gst_video_frame_map (&fi, &info, in, GST_MAP_READ));
    fail_unless (gst_video_frame_map (&fo, &info, out, GST_MAP_READ));
    for (cy = 0; cy < H / 2; cy++) {
      for (cx = 0; cx < W / 2; cx++) {
        guint8 a[4], b[4];
        guint on = 0, c;
        gint dx, dy;

        for (dy = 0; dy < 2; dy++)
          for (dx = 0; dx < 2; dx++)
            on += mrcnn_overlay_on_box_outline (2 * cx + dx - BX,
                2 * cy + dy - BY, BW, BH, t);
        /* samples whose luma pixels lie on the top or bottom side and on a
         * vertical side's rows below or above it */
        if (on > 0 && on < 4 && (2 * cy - BY == t - 1 ||
                2 * cy + 1 - BY == BH - t))
          corner_samples++;
        test_frame_pixel (&fi, 2 * cx, 2 * cy, a);
        test_frame_pixel (&fo, 2 * cx, 2 * cy, b);
        for (c = 1; c < 3; c++) {
          guint want = on ? mrcnn_overlay_chroma (on * 255 * yuv[c], a[c],
              on * 255, 4 * 255) : a[c];
          fail_unless (b[c] == want, "%s: chroma sample (%d, %d) "
              "component %u: %u, expected %u (%u of its 4 pixels on the "
              "outline)", formats[f], cx, cy, c, b[c], want, on);
        }
      }
    }
    /* the box at an even row, outline 3 wide: its sides meet inside chroma
     * rows, the case this test is about */
    fail_unless (corner_samples > 0);
    for (y = 0; y < H; y++)
      for (x = 0; x < W; x++) {
        guint8 a[4], b[4];

        test_frame_pixel (&fi, x, y, a);
        test_frame_pixel (&fo, x, y, b);
        fail_unless_equals_int (a[0] != b[0],
            mrcnn_overlay_on_box_outline (x - BX, y - BY, BW, BH, t));
      }
    gst_video_frame_unmap (&fo);
    gst_video_frame_unmap (&fi);
    gst_buffer_unref (in);
    gst_buffer_unref (out);
  }
}

GST_END_TEST;

/* Behind a real maskrcnn: pixels change inside the instances' masks and
 * not more than two pixels away from every box (the captions are off). */
/* Captions of instances whose boxes nearly coincide do not cover each
 * other: each caption shows whole (as many background pixels, its class
 * colour over the grey frame, as when drawn alone), and the rectangles
 * holding each one's background pixels are disjoint. Every caption would
 * naturally go just above its box, at nearly the same place. */
#define CW 320
#define CH 240

typedef struct
{
  const gchar *label;
  gint class_id;
  gdouble score;
  gint x, y, w, h;
} CaptionBox;

static const CaptionBox caption_boxes[] = {
  {"circle", 1, 0.9, 40, 100, 80, 60},
  {"square", 2, 0.8, 44, 104, 80, 60},
  {"triangle", 3, 0.7, 48, 100, 60, 40},
};

#define N_CAPTION_BOXES G_N_ELEMENTS (caption_boxes)

static gboolean
near_colour (const guint8 * p, const guint8 want[3])
{
  gint c;

  for (c = 0; c < 3; c++)
    if (ABS ((gint) p[c] - (gint) want[c]) > 3)
      return FALSE;
  return TRUE;
}

/* Draws the captions of the boxes whose bit is set in `which` on a grey
 * RGB frame; per box, the count and bounding rectangle of the pixels of
 * its caption's background colour. */
static void
draw_captions (guint which, gint count[], gint x0[], gint y0[], gint x1[],
    gint y1[])
{
  GstMaskRcnnInstanceInit init[N_CAPTION_BOXES];
  GstHarness *h = gst_harness_new_parse ("maskrcnnoverlay draw-masks=false "
      "draw-contours=false draw-boxes=false draw-labels=true");
  gchar *caps = test_caps_string ("RGB", CW, CH);
  guint8 *grey = g_malloc (CW * CH * 3);
  guint8 bg[N_CAPTION_BOXES][3];
  GstVideoInfo info;
  GstBuffer *in, *out;
  GstVideoFrame f;
  guint i, n = 0;
  gint x, y;

  memset (grey, 128, CW * CH * 3);
  in = test_buffer_from_rgb (grey, CW, CH, "RGB", &info);
  g_free (grey);
  for (i = 0; i < N_CAPTION_BOXES; i++) {
    const CaptionBox *b = &caption_boxes[i];
    guint8 rgb[3];
    gint c;

    /* The caption background: the class colour at 80 % over grey 128. */
    mrcnn_overlay_class_color (b->class_id, rgb);
    for (c = 0; c < 3; c++)
      bg[i][c] = (guint8) ((rgb[c] * 204 + 128 * 51 + 127) / 255);
    count[i] = 0;
    x0[i] = y0[i] = G_MAXINT;
    x1[i] = y1[i] = -1;
    if (which & (1u << i))
      init[n++] = (GstMaskRcnnInstanceInit) {.label = b->label,
        .class_id = b->class_id,.confidence = b->score,.x = b->x,.y = b->y,
        .width = b->w,.height = b->h};
  }
  fail_unless (gst_maskrcnn_buffer_add_instances (in, init, n));
  gst_harness_set_src_caps_str (h, caps);
  out = gst_harness_push_and_pull (h, in);
  fail_unless (out != NULL);

  fail_unless (gst_video_frame_map (&f, &info, out, GST_MAP_READ));
  for (y = 0; y < CH; y++) {
    const guint8 *row = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&f, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0);

    for (x = 0; x < CW; x++) {
      for (i = 0; i < N_CAPTION_BOXES; i++) {
        if (!near_colour (row + 3 * x, bg[i]))
          continue;
        count[i]++;
        x0[i] = MIN (x0[i], x);
        x1[i] = MAX (x1[i], x);
        y0[i] = MIN (y0[i], y);
        y1[i] = MAX (y1[i], y);
      }
    }
  }
  gst_video_frame_unmap (&f);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (caps);
}

GST_START_TEST (test_captions_apart)
{
  gint alone[N_CAPTION_BOXES], count[N_CAPTION_BOXES];
  gint x0[N_CAPTION_BOXES], y0[N_CAPTION_BOXES], x1[N_CAPTION_BOXES],
      y1[N_CAPTION_BOXES], unused[N_CAPTION_BOXES];
  guint i, j;

  for (i = 0; i < N_CAPTION_BOXES; i++) {
    gint c[N_CAPTION_BOXES];

    draw_captions (1u << i, c, unused, unused, unused, unused);
    alone[i] = c[i];
    fail_unless (alone[i] >= 40, "the %s caption alone shows %d background "
        "pixels", caption_boxes[i].label, alone[i]);
  }
  draw_captions ((1u << N_CAPTION_BOXES) - 1, count, x0, y0, x1, y1);

  for (i = 0; i < N_CAPTION_BOXES; i++) {
    GST_INFO ("%s caption: (%d, %d) - (%d, %d), %d pixels (%d alone)",
        caption_boxes[i].label, x0[i], y0[i], x1[i], y1[i], count[i],
        alone[i]);
    fail_unless_equals_int (count[i], alone[i]);
  }
  for (i = 0; i < N_CAPTION_BOXES; i++)
    for (j = i + 1; j < N_CAPTION_BOXES; j++)
      fail_unless (x1[i] < x0[j] || x1[j] < x0[i] || y1[i] < y0[j]
          || y1[j] < y0[i], "the %s caption (%d, %d) - (%d, %d) and the %s "
          "caption (%d, %d) - (%d, %d) overlap", caption_boxes[i].label,
          x0[i], y0[i], x1[i], y1[i], caption_boxes[j].label, x0[j], y0[j],
          x1[j], y1[j]);
  /* The best instance keeps the natural place: just above its box. */
  fail_unless (y1[0] < caption_boxes[0].y && y1[0] >= caption_boxes[0].y - 4,
      "the best caption is not just above its box: rows %d - %d", y0[0],
      y1[0]);
}

GST_END_TEST;

GST_START_TEST (test_behind_maskrcnn)
{
  const gchar *model = test_model_path ();
  guint f;

  if (!model) {
    GST_WARNING ("no test model: skipped");
    return;
  }
  for (f = 0; test_formats[f]; f++) {
    gchar *launch = g_strdup_printf ("maskrcnn model=\"%s\" backend=cpu "
        "score-threshold=0.0 max-detections=3 ! maskrcnnoverlay "
        "draw-labels=false alpha=0.6", model);
    gchar *caps = test_caps_string (test_formats[f], 160, 120);
    GstHarness *h = gst_harness_new_parse (launch);
    GstVideoInfo info;
    GstBuffer *in = test_scene_buffer (160, 120, test_formats[f], &info);
    GstBuffer *copy = gst_buffer_copy_deep (in), *out;
    GstVideoFrame fi, fo;
    GstMaskRcnnInstance inst;
    gpointer state = NULL;
    guint8 *inside = g_malloc0 (160 * 120), *near = g_malloc0 (160 * 120);
    gint x, y, n = 0, in_mask = 0, changed = 0;

    gst_harness_set_src_caps_str (h, caps);
    out = gst_harness_push_and_pull (h, in);
    fail_unless (out != NULL);
    while (gst_maskrcnn_buffer_iterate_instances (out, &state, &inst)) {
      gint bx, by;
      gst_maskrcnn_instance_rasterize (&inst, inside, 160, 120, 160, 1);
      for (by = inst.y - 2; by < inst.y + inst.height + 2; by++)
        for (bx = inst.x - 2; bx < inst.x + inst.width + 2; bx++)
          if (bx >= 0 && by >= 0 && bx < 160 && by < 120)
            near[by * 160 + bx] = 1;
      n++;
    }
    fail_unless (n > 0, "%s: the model found nothing at threshold 0",
        test_formats[f]);

    fail_unless (gst_video_frame_map (&fi, &info, copy, GST_MAP_READ));
    fail_unless (gst_video_frame_map (&fo, &info, out, GST_MAP_READ));
    for (y = 0; y < 120; y++) {
      for (x = 0; x < 160; x++) {
        if (inside[y * 160 + x]) {
          in_mask++;
          changed += pixel_differs (&fi, &fo, x, y);
        } else if (!near[y * 160 + x]) {
          fail_if (pixel_differs (&fi, &fo, x, y),
              "%s: pixel (%d, %d) far from every box changed",
              test_formats[f], x, y);
        }
      }
    }
    /* A mask pixel may keep its value only where the frame already had the
     * class colour; the scene has none of those. */
    if (in_mask > 0)
      fail_unless (changed > in_mask * 9 / 10, "%s: %d of %d changed",
          test_formats[f], changed, in_mask);
    gst_video_frame_unmap (&fo);
    gst_video_frame_unmap (&fi);
    gst_buffer_unref (out);
    gst_buffer_unref (copy);
    gst_harness_teardown (h);
    g_free (inside);
    g_free (near);
    g_free (caps);
    g_free (launch);
  }
}

GST_END_TEST;

static Suite *
overlay_suite (void)
{
  Suite *s = suite_create ("maskrcnnoverlay");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_every_format);
  tcase_add_test (tc, test_huge_box);
  tcase_add_test (tc, test_opaque_colour);
  tcase_add_test (tc, test_nothing_to_draw);
  tcase_add_test (tc, test_boxes_only);
  tcase_add_test (tc, test_box_outline_chroma);
  tcase_add_test (tc, test_captions_apart);
  tcase_add_test (tc, test_behind_maskrcnn);
  return s;
}

GST_CHECK_MAIN (overlay);
