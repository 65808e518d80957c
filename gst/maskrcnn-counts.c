/* gst-maskrcnn: the counts meta and the parsing of maskrcnncount's lines
 * and zones (see the header).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-counts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geometry.h"

void
gst_maskrcnn_counts_meta_register (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    /* no tags: the counts are not image data, they stay through any
     * transform that copies metas (a copy keeps them, the default of
     * custom metas) */
    static const gchar *tags[] = { NULL };
    gst_meta_register_custom (GST_MASK_RCNN_COUNTS_META_NAME, tags, NULL,
        NULL, NULL);
    g_once_init_leave (&done, 1);
  }
}

void
gst_maskrcnn_buffer_set_counts (GstBuffer * buffer, GstStructure * counts)
{
  GstCustomMeta *meta;
  GstStructure *s;

  gst_maskrcnn_counts_meta_register ();
  meta = gst_buffer_get_custom_meta (buffer, GST_MASK_RCNN_COUNTS_META_NAME);
  if (!meta)
    meta = gst_buffer_add_custom_meta (buffer,
        GST_MASK_RCNN_COUNTS_META_NAME);
  if (!meta) {
    gst_structure_free (counts);
    return;
  }
  s = gst_custom_meta_get_structure (meta);
  /* the meta's structure is its own: replace its fields */
  gst_structure_remove_all_fields (s);
  gst_structure_set_name (s, gst_structure_get_name (counts));
  {
    gint i, n = gst_structure_n_fields (counts);

    for (i = 0; i < n; i++) {
      const gchar *field = gst_structure_nth_field_name (counts, i);
      gst_structure_set_value (s, field, gst_structure_get_value (counts,
              field));
    }
  }
  gst_structure_free (counts);
}

const GstStructure *
gst_maskrcnn_buffer_get_counts (GstBuffer * buffer)
{
  GstCustomMeta *meta;

  gst_maskrcnn_counts_meta_register ();
  meta = gst_buffer_get_custom_meta (buffer, GST_MASK_RCNN_COUNTS_META_NAME);
  return meta ? gst_custom_meta_get_structure (meta) : NULL;
}

/* ------------------------------------------------------------ parsing */

static void
shape_clear (gpointer data)
{
  GstMaskRcnnShape *s = data;

  g_free (s->name);
  g_free (s->xy);
}

void
gst_maskrcnn_shapes_free (GArray * shapes)
{
  if (shapes)
    g_array_free (shapes, TRUE);
}

static gboolean
valid_name (const gchar * name)
{
  const gchar *p;

  if (!g_ascii_isalpha (name[0]))
    return FALSE;
  for (p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

static gchar *
point_text (const gdouble * xy, guint i)
{
  return g_strdup_printf ("(%g, %g)", xy[2 * i], xy[2 * i + 1]);
}

/* The reason one shape is not good, or NULL. */
static gchar *
check_shape (const GstMaskRcnnShape * s, const gchar * kind,
    gboolean normalized)
{
  gboolean line = g_str_equal (kind, "line");
  guint i;

  if (line && s->n_points != 2)
    return g_strdup_printf ("line \"%s\" has %u point%s; a line has two "
        "points (name:x1,y1,x2,y2)%s", s->name, s->n_points,
        s->n_points == 1 ? "" : "s",
        s->n_points > 2 ? "; for a polygon use the zones property" : "");
  if (!line && s->n_points < 3)
    return g_strdup_printf ("zone \"%s\" has %u point%s; a zone is a polygon "
        "of at least three points (name:x1,y1,x2,y2,x3,y3,...)", s->name,
        s->n_points, s->n_points == 1 ? "" : "s");
  for (i = 0; i < s->n_points && normalized; i++)
    if (s->xy[2 * i] < 0 || s->xy[2 * i] > 1 || s->xy[2 * i + 1] < 0
        || s->xy[2 * i + 1] > 1) {
      gchar *p = point_text (s->xy, i), *r;
      r = g_strdup_printf ("%s \"%s\": point %s is outside 0..1; with "
          "coordinates=normalized every coordinate is a fraction of the "
          "frame (or set coordinates=pixels)", kind, s->name, p);
      g_free (p);
      return r;
    }
  if (line) {
    if (s->xy[0] == s->xy[2] && s->xy[1] == s->xy[3])
      return g_strdup_printf ("line \"%s\" has both ends at the same point "
          "(%g, %g)", s->name, s->xy[0], s->xy[1]);
    return NULL;
  }
  {
    mrcnn_point *pts = g_new (mrcnn_point, s->n_points);
    int ea = -1, eb = -1;
    mrcnn_polygon_problem pr;
    gchar *r = NULL;

    for (i = 0; i < s->n_points; i++) {
      pts[i].x = s->xy[2 * i];
      pts[i].y = s->xy[2 * i + 1];
    }
    pr = mrcnn_geom_polygon_check (pts, (int) s->n_points, &ea, &eb);
    if (pr == MRCNN_POLYGON_CROSSES) {
      guint n = s->n_points;
      gchar *a0 = point_text (s->xy, (guint) ea);
      gchar *a1 = point_text (s->xy, ((guint) ea + 1) % n);
      gchar *b0 = point_text (s->xy, (guint) eb);
      gchar *b1 = point_text (s->xy, ((guint) eb + 1) % n);

      r = g_strdup_printf ("zone \"%s\" crosses itself: its edge %s-%s "
          "meets its edge %s-%s; list the points in order around the "
          "polygon", s->name, a0, a1, b0, b1);
      g_free (a0);
      g_free (a1);
      g_free (b0);
      g_free (b1);
    } else if (pr == MRCNN_POLYGON_REPEATED) {
      gchar *a = point_text (s->xy, (guint) ea);
      r = g_strdup_printf ("zone \"%s\" repeats the point %s", s->name, a);
      g_free (a);
    } else if (pr == MRCNN_POLYGON_FLAT) {
      r = g_strdup_printf ("zone \"%s\" has no area (its points are on one "
          "line)", s->name);
    }
    g_free (pts);
    return r;
  }
}

GArray *
gst_maskrcnn_shapes_parse (const gchar * text, const gchar * kind,
    gboolean normalized, gchar ** why)
{
  GArray *shapes = g_array_new (FALSE, TRUE, sizeof (GstMaskRcnnShape));
  gchar **items;
  guint i, j;

  g_array_set_clear_func (shapes, shape_clear);
  *why = NULL;
  if (!text)
    return shapes;
  items = g_strsplit (text, ";", -1);
  for (i = 0; items[i]; i++) {
    gchar *item = g_strstrip (items[i]), *colon, **nums;
    GstMaskRcnnShape s = { 0, };
    GArray *xy;

    if (!*item)
      continue;
    colon = strchr (item, ':');
    if (!colon) {
      *why = g_strdup_printf ("%s \"%s\" has no name: write name:x1,y1,...",
          kind, item);
      break;
    }
    *colon = '\0';
    s.name = g_strdup (g_strstrip (item));
    if (!valid_name (s.name)) {
      *why = g_strdup_printf ("%s name \"%s\" is not valid: a name starts "
          "with a letter and has letters, digits, '-' and '_'", kind, s.name);
      g_free (s.name);
      break;
    }
    for (j = 0; j < shapes->len; j++)
      if (g_str_equal (g_array_index (shapes, GstMaskRcnnShape, j).name,
              s.name))
        break;
    if (j < shapes->len) {
      *why = g_strdup_printf ("two %ss are named \"%s\"", kind, s.name);
      g_free (s.name);
      break;
    }
    xy = g_array_new (FALSE, FALSE, sizeof (gdouble));
    nums = g_strsplit_set (colon + 1, ", \t", -1);
    for (j = 0; nums[j] && !*why; j++) {
      gchar *end;
      gdouble v;

      if (!*nums[j])
        continue;
      v = g_ascii_strtod (nums[j], &end);
      if (*end || !isfinite (v))
        *why = g_strdup_printf ("%s \"%s\": \"%s\" is not a number", kind,
            s.name, nums[j]);
      else
        g_array_append_val (xy, v);
    }
    g_strfreev (nums);
    if (!*why && xy->len % 2)
      *why = g_strdup_printf ("%s \"%s\" has %u numbers; give x,y pairs",
          kind, s.name, xy->len);
    if (*why) {
      g_array_free (xy, TRUE);
      g_free (s.name);
      break;
    }
    s.n_points = xy->len / 2;
    s.xy = (gdouble *) g_array_free (xy, FALSE);
    *why = check_shape (&s, kind, normalized);
    g_array_append_val (shapes, s);
    if (*why)
      break;
  }
  g_strfreev (items);
  if (*why) {
    g_array_free (shapes, TRUE);
    return NULL;
  }
  return shapes;
}
