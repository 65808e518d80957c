/* gst-maskrcnn: lines, zones, counters and trails (see the header).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-annotations.h"

#include <math.h>

/* Colours: lines in amber, zones in cyan, both readable on most scenes
 * and apart from the class colours' full saturation. */
static const double line_rgb[3] = { 1.0, 0.75, 0.1 };
static const double zone_rgb[3] = { 0.2, 0.85, 1.0 };

/* Sums the "count" of every class in an array field. */
static guint64
total (const GstStructure * s, const gchar * field)
{
  const GValue *a = gst_structure_get_value (s, field);
  guint64 sum = 0;
  guint i, n;

  if (!a || !GST_VALUE_HOLDS_ARRAY (a))
    return 0;
  n = gst_value_array_get_size (a);
  for (i = 0; i < n; i++) {
    const GValue *v = gst_value_array_get_value (a, i);
    guint64 c = 0;

    if (GST_VALUE_HOLDS_STRUCTURE (v)
        && gst_structure_get_uint64 (gst_value_get_structure (v), "count",
            &c))
      sum += c;
  }
  return sum;
}

/* Text on a dark rounded plate at (x, y) (its top-left corner), kept
 * inside the frame. */
static void
label (cairo_t * cr, PangoLayout * layout, const gchar * text, double x,
    double y, gint width, gint height, const double rgb[3])
{
  PangoRectangle logical;
  double pad = 3, w, h;

  if (!layout)
    return;
  pango_layout_set_text (layout, text, -1);
  pango_layout_get_pixel_extents (layout, NULL, &logical);
  w = logical.width + 2 * pad;
  h = logical.height + 2 * pad;
  x = CLAMP (x, 0, MAX (0, width - w));
  y = CLAMP (y, 0, MAX (0, height - h));
  cairo_set_source_rgba (cr, 0, 0, 0, 0.65);
  cairo_rectangle (cr, x, y, w, h);
  cairo_fill (cr);
  cairo_set_source_rgb (cr, rgb[0], rgb[1], rgb[2]);
  cairo_move_to (cr, x + pad - logical.x, y + pad - logical.y);
  pango_cairo_show_layout (cr, layout);
}

/* Strokes the current path in `rgb` over a dark edge, so that it stays
 * visible on light and dark scenes alike (and through a lossy encoder). */
static void
stroke_outlined (cairo_t * cr, const double rgb[3], double width)
{
  cairo_set_source_rgba (cr, 0, 0, 0, 0.6);
  cairo_set_line_width (cr, width + 2);
  cairo_stroke_preserve (cr);
  cairo_set_source_rgba (cr, rgb[0], rgb[1], rgb[2], 0.95);
  cairo_set_line_width (cr, width);
  cairo_stroke (cr);
}

/* An arrow of length len from (x, y) along unit (ux, uy). */
static void
arrow (cairo_t * cr, double x, double y, double ux, double uy, double len,
    double width, const double rgb[3])
{
  double tx = x + ux * len, ty = y + uy * len, hw = len * 0.35;

  cairo_move_to (cr, x, y);
  cairo_line_to (cr, tx - ux * hw * 0.5, ty - uy * hw * 0.5);
  stroke_outlined (cr, rgb, width);
  cairo_move_to (cr, tx, ty);
  cairo_line_to (cr, tx - ux * hw - uy * hw * 0.6, ty - uy * hw + ux * hw
      * 0.6);
  cairo_line_to (cr, tx - ux * hw + uy * hw * 0.6, ty - uy * hw - ux * hw
      * 0.6);
  cairo_close_path (cr);
  cairo_set_source_rgba (cr, 0, 0, 0, 0.6);
  cairo_set_line_width (cr, 2);
  cairo_stroke_preserve (cr);
  cairo_set_source_rgb (cr, rgb[0], rgb[1], rgb[2]);
  cairo_fill (cr);
}

static void
draw_line (cairo_t * cr, PangoLayout * layout, const GstStructure * s,
    gint width, gint height)
{
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0, len, ux, uy, lx, ly, mx, my;
  double arrow_len = MAX (16.0, height / 14.0);
  double stroke = MAX (3.0, height / 120.0);
  const gchar *name = gst_structure_get_string (s, "name");
  gchar *text;
  guint64 left = total (s, "to-left"), right = total (s, "to-right");

  gst_structure_get_double (s, "x1", &x1);
  gst_structure_get_double (s, "y1", &y1);
  gst_structure_get_double (s, "x2", &x2);
  gst_structure_get_double (s, "y2", &y2);
  len = hypot (x2 - x1, y2 - y1);
  if (len <= 0)
    return;
  ux = (x2 - x1) / len;
  uy = (y2 - y1) / len;
  /* the left of the line, as the picture shows it (y down) */
  lx = uy;
  ly = -ux;
  mx = (x1 + x2) / 2;
  my = (y1 + y2) / 2;

  cairo_move_to (cr, x1, y1);
  cairo_line_to (cr, x2, y2);
  stroke_outlined (cr, line_rgb, stroke);
  /* one arrow per direction of crossing, each with its count at its tip */
  arrow (cr, mx + ux * arrow_len * 0.6, my + uy * arrow_len * 0.6, lx, ly,
      arrow_len, stroke * 0.7, line_rgb);
  arrow (cr, mx - ux * arrow_len * 0.6, my - uy * arrow_len * 0.6, -lx, -ly,
      arrow_len, stroke * 0.7, line_rgb);
  text = g_strdup_printf ("%" G_GUINT64_FORMAT, left);
  label (cr, layout, text, mx + ux * arrow_len * 0.6 + lx * arrow_len * 1.3
      - 6, my + uy * arrow_len * 0.6 + ly * arrow_len * 1.3 - 8, width,
      height, line_rgb);
  g_free (text);
  text = g_strdup_printf ("%" G_GUINT64_FORMAT, right);
  label (cr, layout, text, mx - ux * arrow_len * 0.6 - lx * arrow_len * 1.3
      - 6, my - uy * arrow_len * 0.6 - ly * arrow_len * 1.3 - 8, width,
      height, line_rgb);
  g_free (text);
  text = g_strdup_printf ("%s: %" G_GUINT64_FORMAT, name ? name : "line",
      left + right);
  label (cr, layout, text, x1 + 4, y1 + 4, width, height, line_rgb);
  g_free (text);
}

static void
draw_zone (cairo_t * cr, PangoLayout * layout, const GstStructure * s,
    gint width, gint height)
{
  const GValue *pts = gst_structure_get_value (s, "points");
  const gchar *name = gst_structure_get_string (s, "name");
  const GValue *tracks = gst_structure_get_value (s, "tracks");
  guint i, n;
  double x0 = 0, y0 = 0;
  gchar *text;

  if (!pts || !GST_VALUE_HOLDS_ARRAY (pts))
    return;
  n = gst_value_array_get_size (pts) / 2;
  if (n < 3)
    return;
  for (i = 0; i < n; i++) {
    double x = g_value_get_double (gst_value_array_get_value (pts, 2 * i));
    double y = g_value_get_double (gst_value_array_get_value (pts,
            2 * i + 1));
    if (i == 0) {
      cairo_move_to (cr, x, y);
      x0 = x;
      y0 = y;
    } else {
      cairo_line_to (cr, x, y);
    }
  }
  cairo_close_path (cr);
  cairo_set_source_rgba (cr, zone_rgb[0], zone_rgb[1], zone_rgb[2], 0.12);
  cairo_fill_preserve (cr);
  stroke_outlined (cr, zone_rgb, MAX (2.0, height / 180.0));
  text = g_strdup_printf ("%s: %" G_GUINT64_FORMAT " inside",
      name ? name : "zone", total (s, "occupancy"));
  label (cr, layout, text, x0 + 4, y0 + 4, width, height, zone_rgb);
  g_free (text);
  /* the longest stay in the zone, if any */
  if (tracks && GST_VALUE_HOLDS_ARRAY (tracks)) {
    double longest = -1;
    guint64 id = 0;

    for (i = 0; i < gst_value_array_get_size (tracks); i++) {
      const GstStructure *t =
          gst_value_get_structure (gst_value_array_get_value (tracks, i));
      double d = 0;
      guint64 tid = 0;

      gst_structure_get_double (t, "dwell", &d);
      gst_structure_get_uint64 (t, "track-id", &tid);
      if (d > longest) {
        longest = d;
        id = tid;
      }
    }
    if (longest >= 0) {
      PangoRectangle logical = { 0, };

      if (layout)
        pango_layout_get_pixel_extents (layout, NULL, &logical);
      text = g_strdup_printf ("#%" G_GUINT64_FORMAT " %.1f s", id, longest);
      label (cr, layout, text, x0 + 4, y0 + 10 + logical.height, width,
          height, zone_rgb);
      g_free (text);
    }
  }
}

static void
draw_shapes (cairo_t * cr, PangoLayout * layout, const GstStructure * counts,
    const gchar * field, gint width, gint height, gboolean lines)
{
  const GValue *a = gst_structure_get_value (counts, field);
  guint i;

  if (!a || !GST_VALUE_HOLDS_ARRAY (a))
    return;
  for (i = 0; i < gst_value_array_get_size (a); i++) {
    const GValue *v = gst_value_array_get_value (a, i);

    if (!GST_VALUE_HOLDS_STRUCTURE (v))
      continue;
    if (lines)
      draw_line (cr, layout, gst_value_get_structure (v), width, height);
    else
      draw_zone (cr, layout, gst_value_get_structure (v), width, height);
  }
}

cairo_surface_t *
gst_maskrcnn_annotations_render (const GstStructure * counts,
    const GstMaskRcnnTrail * trails, guint n_trails, gint width, gint height,
    PangoLayout * layout)
{
  cairo_surface_t *surface;
  cairo_t *cr;
  guint i, j;
  gboolean any = counts != NULL;

  for (i = 0; i < n_trails && !any; i++)
    any = trails[i].n >= 2;
  if (!any || width <= 0 || height <= 0)
    return NULL;
  surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy (surface);
    return NULL;
  }
  cr = cairo_create (surface);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  if (counts) {
    /* zones under lines: a line across a zone stays visible */
    draw_shapes (cr, layout, counts, "zones", width, height, FALSE);
    draw_shapes (cr, layout, counts, "lines", width, height, TRUE);
  }
  cairo_set_line_width (cr, MAX (2.0, height / 240.0));
  for (i = 0; i < n_trails; i++) {
    const GstMaskRcnnTrail *t = &trails[i];

    if (t->n < 2)
      continue;
    cairo_set_source_rgba (cr, t->rgb[0] / 255.0, t->rgb[1] / 255.0,
        t->rgb[2] / 255.0, 0.9);
    cairo_move_to (cr, t->xy[0], t->xy[1]);
    for (j = 1; j < t->n; j++)
      cairo_line_to (cr, t->xy[2 * j], t->xy[2 * j + 1]);
    cairo_stroke (cr);
  }
  cairo_destroy (cr);
  cairo_surface_flush (surface);
  return surface;
}
