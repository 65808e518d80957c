/* gst-maskrcnn: the maskrcnnoverlay element.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-maskrcnnoverlay
 * @title: maskrcnnoverlay
 *
 * Draws the instances that `maskrcnn` attached to each frame: translucent
 * masks in a colour per class, mask contours, boxes, and "label score"
 * captions rendered with Pango, with "#id" for instances `maskrcnntrack`
 * gave a track id, and optionally each track's recent path (trail-length).
 * After `maskrcnncount`, it also draws the lines, zones and counters of
 * its counts. Draws in place; frames with nothing to draw pass untouched. The instances may have been scaled or converted on the way
 * (videoscale, videoconvert): boxes are taken as they are now and masks are
 * resampled onto them.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=30 ! maskrcnn ! \
 *     maskrcnnoverlay alpha=0.4 draw-contours=false ! videoconvert ! \
 *     autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmaskrcnnoverlay.h"

#include <string.h>

#include <gst/video/video.h>
#include <pango/pangocairo.h>

#include "maskrcnn-annotations.h"
#include "maskrcnn-canvas.h"
#include "maskrcnn-captions.h"
#include "maskrcnn-counts.h"
#include "maskrcnn-meta.h"
#include "overlay.h"
#ifdef GST_MASK_RCNN_HAVE_CUDA
#include "maskrcnn-cuda.h"
#include "maskrcnn-overlay-cuda.h"
#endif

GST_DEBUG_CATEGORY_STATIC (gst_maskrcnn_overlay_debug);
#define GST_CAT_DEFAULT gst_maskrcnn_overlay_debug

#define DEFAULT_ALPHA 0.5
#define DEFAULT_DRAW_MASKS TRUE
#define DEFAULT_DRAW_CONTOURS TRUE
#define DEFAULT_DRAW_BOXES TRUE
#define DEFAULT_DRAW_LABELS TRUE
#define DEFAULT_LINE_WIDTH 2
#define DEFAULT_DRAW_TRACK_IDS TRUE
#define DEFAULT_TRAIL_LENGTH 0
#define DEFAULT_DRAW_COUNTS TRUE

/* Opacity of the caption's background box. */
#define LABEL_BACKGROUND_ALPHA 0.8

enum
{
  PROP_0,
  PROP_ALPHA,
  PROP_DRAW_MASKS,
  PROP_DRAW_CONTOURS,
  PROP_DRAW_BOXES,
  PROP_DRAW_LABELS,
  PROP_LINE_WIDTH,
  PROP_DRAW_TRACK_IDS,
  PROP_TRAIL_LENGTH,
  PROP_DRAW_COUNTS,
};

typedef struct
{
  gdouble alpha;
  gboolean draw_masks, draw_contours, draw_boxes, draw_labels;
  guint line_width;
  gboolean draw_track_ids, draw_counts;
  guint trail_length;
} DrawSettings;

/* A track's last anchor points (box bottom centres), a ring of
 * trail_length. */
typedef struct
{
  gdouble *xy;
  guint cap, n, head;           /* head: where the next point goes */
  guint64 last_frame;
  guint8 rgb[3];
} Trail;

struct _GstMaskRcnnOverlay
{
  GstMaskRcnnBaseTransform parent;

  DrawSettings settings;        /* under the object lock */

  GstVideoInfo info;
  gboolean have_info;

  /* Text rendering, from start() to stop(). */
  PangoFontMap *font_map;
  gboolean have_fonts;          /* "Sans Bold" has Latin letters and digits */
  gboolean warned_fonts;
  PangoContext *pango;
  PangoLayout *layout;
  gint font_px;                 /* size the layout's font is set to */

  /* Trails by track id (guint64 *), and the frame count they age by. */
  GHashTable *trails;
  guint64 frames;

  /* Scratch for one instance's coverage and contour distances. */
  guint8 *coverage;
  guint16 *distance;
  gsize scratch_size;

#ifdef GST_MASK_RCNN_HAVE_CUDA
  GstMaskRcnnOverlayCuda *cuda; /* from the first CUDA caps to stop() */
#endif
};

#define gst_maskrcnn_overlay_parent_class parent_class
G_DEFINE_TYPE (GstMaskRcnnOverlay, gst_maskrcnn_overlay,
    GST_TYPE_MASK_RCNN_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (maskrcnnoverlay, "maskrcnnoverlay",
    GST_RANK_NONE, GST_TYPE_MASK_RCNN_OVERLAY);

/* ------------------------------------------------------------ drawing */

static gboolean
ensure_scratch (GstMaskRcnnOverlay * self, gsize n)
{
  if (n <= self->scratch_size)
    return TRUE;
  g_free (self->coverage);
  g_free (self->distance);
  self->coverage = g_try_malloc (n);
  self->distance = g_try_malloc (n * sizeof (guint16));
  if (!self->coverage || !self->distance) {
    g_clear_pointer (&self->coverage, g_free);
    g_clear_pointer (&self->distance, g_free);
    self->scratch_size = 0;
    return FALSE;
  }
  self->scratch_size = n;
  return TRUE;
}

static inline guint
dist_at (const guint16 * d, gint w, gint h, gint x, gint y)
{
  /* Outside the box counts as outside the mask. */
  return (x < 0 || y < 0 || x >= w || y >= h) ? 0 : d[(gsize) y * w + x];
}

/* Chessboard distance from each mask pixel to the nearest pixel outside the
 * mask (two raster passes). A contour `t` pixels wide is where 1 <= d <= t. */
static void
distance_to_outside (const guint8 * mask, guint16 * d, gint w, gint h)
{
  gint x, y;

  for (y = 0; y < h; y++) {
    for (x = 0; x < w; x++) {
      guint m;
      gsize k = (gsize) y * w + x;

      if (mask[k] < 128) {
        d[k] = 0;
        continue;
      }
      m = dist_at (d, w, h, x - 1, y);
      m = MIN (m, dist_at (d, w, h, x - 1, y - 1));
      m = MIN (m, dist_at (d, w, h, x, y - 1));
      m = MIN (m, dist_at (d, w, h, x + 1, y - 1));
      d[k] = (guint16) MIN (m + 1, G_MAXUINT16);
    }
  }
  for (y = h - 1; y >= 0; y--) {
    for (x = w - 1; x >= 0; x--) {
      guint m;
      gsize k = (gsize) y * w + x;

      if (d[k] == 0)
        continue;
      m = dist_at (d, w, h, x + 1, y);
      m = MIN (m, dist_at (d, w, h, x + 1, y + 1));
      m = MIN (m, dist_at (d, w, h, x, y + 1));
      m = MIN (m, dist_at (d, w, h, x - 1, y + 1));
      d[k] = (guint16) MIN ((guint) d[k], m + 1);
    }
  }
}

/* The part of an instance's box (box-relative x, y, w, h) whose mask must be
 * rasterized on a canvas_w x canvas_h frame: what lies inside the frame, plus
 * the contour's reach around it (clamped to the box) so that the contour
 * distance of the pixels inside stays what it is on the whole mask (pixels
 * beyond the region count as outside, farther than the contour reaches).
 * FALSE when there is no mask to draw: none wanted, none attached, or no
 * pixel of the box in the frame. Boxes from foreign metadata can be far
 * larger than the frame: this keeps the work and memory to the frame's size. */
static gboolean
mask_region (const GstMaskRcnnInstance * inst, const DrawSettings * s,
    gint canvas_w, gint canvas_h, gint * rx, gint * ry, gint * rw, gint * rh)
{
  gint margin = s->draw_contours ? (gint) s->line_width + 1 : 0;
  gint64 vx0 = MAX (0, -(gint64) inst->x), vy0 = MAX (0, -(gint64) inst->y);
  gint64 vx1 = MIN ((gint64) inst->width, (gint64) canvas_w - inst->x);
  gint64 vy1 = MIN ((gint64) inst->height, (gint64) canvas_h - inst->y);

  if (!(s->draw_masks || s->draw_contours) || !inst->mask || vx1 <= vx0
      || vy1 <= vy0)
    return FALSE;
  vx0 = MAX (0, vx0 - margin);
  vy0 = MAX (0, vy0 - margin);
  vx1 = MIN ((gint64) inst->width, vx1 + margin);
  vy1 = MIN ((gint64) inst->height, vy1 + margin);
  *rx = (gint) vx0;
  *ry = (gint) vy0;
  *rw = (gint) (vx1 - vx0);
  *rh = (gint) (vy1 - vy0);
  return TRUE;
}

static void
draw_mask (GstMaskRcnnOverlay * self, GstMaskRcnnCanvas * canvas,
    const GstMaskRcnnInstance * inst, const DrawSettings * s,
    const guint8 rgb[3])
{
  gint rx, ry, w, h;
  gsize i, n;
  guint8 fill = (guint8) (s->alpha * 255.0 + 0.5);

  if (!mask_region (inst, s, canvas->width, canvas->height, &rx, &ry, &w,
          &h))
    return;
  n = (gsize) w * h;
  if (!ensure_scratch (self, n)) {
    GST_WARNING_OBJECT (self, "no memory for a %dx%d mask, not drawn", w, h);
    return;
  }
  if (!gst_maskrcnn_instance_read_mask_region (inst, inst->width,
          inst->height, rx, ry, w, h, self->coverage, w))
    return;

  if (s->draw_contours)
    distance_to_outside (self->coverage, self->distance, w, h);
  for (i = 0; i < n; i++)
    self->coverage[i] = mrcnn_overlay_mask_alpha (self->coverage[i],
        s->draw_contours ? self->distance[i] : 0, s->line_width,
        s->draw_masks, s->draw_contours, fill);
  gst_maskrcnn_canvas_blend_a8 (canvas, inst->x + rx, inst->y + ry, w, h,
      self->coverage, w, rgb);
}

static gchar *
caption_text (const GstMaskRcnnInstance * inst, gboolean track_ids)
{
  guint64 id = track_ids ? gst_maskrcnn_instance_get_track_id (inst) : 0;

  if (id)
    return g_strdup_printf ("%s %.2f #%" G_GUINT64_FORMAT,
        inst->label ? inst->label : "?", inst->confidence, id);
  return g_strdup_printf ("%s %.2f", inst->label ? inst->label : "?",
      inst->confidence);
}

/* The caption as a premultiplied ARGB32 image, or NULL. */
static cairo_surface_t *
render_caption (GstMaskRcnnOverlay * self, const gchar * text,
    const guint8 rgb[3])
{
  PangoRectangle ink, logical;
  cairo_surface_t *surface;
  cairo_t *cr;
  gint pad = MAX (1, self->font_px / 6), tw, th;
  gboolean dark_text;

  pango_layout_set_text (self->layout, text, -1);
  pango_layout_get_pixel_extents (self->layout, &ink, &logical);
  tw = logical.width + 2 * pad;
  th = logical.height + 2 * pad;

  surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, tw, th);
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS) {
    GST_WARNING_OBJECT (self, "could not make a %dx%d caption surface",
        tw, th);
    cairo_surface_destroy (surface);
    return NULL;
  }
  cr = cairo_create (surface);
  cairo_set_source_rgba (cr, rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0,
      LABEL_BACKGROUND_ALPHA);
  cairo_paint (cr);
  /* Black on light class colours, white on dark ones. */
  dark_text = (299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2]) > 150000;
  cairo_set_source_rgb (cr, dark_text ? 0 : 1, dark_text ? 0 : 1,
      dark_text ? 0 : 1);
  cairo_move_to (cr, pad - logical.x, pad - logical.y);
  pango_cairo_show_layout (cr, self->layout);
  cairo_destroy (cr);
  cairo_surface_flush (surface);
  return surface;
}

/* The order captions are placed in: best score first, so that the best
 * instances get the natural places (above their boxes). Free with g_free. */
static guint *
caption_order (GArray * instances)
{
  guint i, n = instances->len;
  gdouble *scores = g_new (gdouble, n);
  guint *order = g_new (guint, n);

  for (i = 0; i < n; i++)
    scores[i] = g_array_index (instances, GstMaskRcnnInstance, i).confidence;
  gst_maskrcnn_caption_order (scores, n, order);
  g_free (scores);
  return order;
}

/* Places instance `in`'s tw x th caption clear of the `n_placed` captions
 * placed so far (gst_maskrcnn_caption_place()). */
static void
caption_position (const GstMaskRcnnInstance * in, gint tw, gint th,
    gint frame_w, gint frame_h, const GstMaskRcnnRect * placed,
    guint n_placed, GstMaskRcnnRect * out)
{
  GstMaskRcnnRect box = { in->x, in->y, in->width, in->height };

  gst_maskrcnn_caption_place (&box, tw, th, frame_w, frame_h, placed,
      n_placed, out);
}

/* Every caption, above every mask and box: placed best score first so that
 * none covers another, then drawn lowest score first (where the frame is
 * too crowded to keep them apart, the best stays readable on top). */
static void
draw_labels (GstMaskRcnnOverlay * self, GstMaskRcnnCanvas * canvas,
    GArray * instances, gboolean track_ids)
{
  guint n = instances->len, k, n_placed = 0;
  guint *order = caption_order (instances);
  cairo_surface_t **surfaces = g_new0 (cairo_surface_t *, n);
  GstMaskRcnnRect *rects = g_new0 (GstMaskRcnnRect, n);
  GstMaskRcnnRect *placed = g_new0 (GstMaskRcnnRect, n);

  for (k = 0; k < n; k++) {
    guint i = order[k];
    const GstMaskRcnnInstance *in =
        &g_array_index (instances, GstMaskRcnnInstance, i);
    guint8 rgb[3];
    gchar *text = caption_text (in, track_ids);

    mrcnn_overlay_class_color (in->class_id, rgb);
    surfaces[i] = render_caption (self, text, rgb);
    g_free (text);
    if (!surfaces[i])
      continue;
    caption_position (in, cairo_image_surface_get_width (surfaces[i]),
        cairo_image_surface_get_height (surfaces[i]), canvas->width,
        canvas->height, placed, n_placed, &rects[i]);
    placed[n_placed++] = rects[i];
  }
  for (k = n; k-- > 0;) {
    guint i = order[k];

    if (!surfaces[i])
      continue;
    gst_maskrcnn_canvas_blend_argb32 (canvas, rects[i].x, rects[i].y,
        rects[i].w, rects[i].h, cairo_image_surface_get_data (surfaces[i]),
        cairo_image_surface_get_stride (surfaces[i]));
    cairo_surface_destroy (surfaces[i]);
  }
  g_free (placed);
  g_free (rects);
  g_free (surfaces);
  g_free (order);
}

static void
set_font_size (GstMaskRcnnOverlay * self, gint frame_height)
{
  PangoFontDescription *desc;
  gint px = CLAMP (frame_height / 36, 8, 48);

  if (px == self->font_px)
    return;
  desc = pango_font_description_from_string ("Sans Bold");
  pango_font_description_set_absolute_size (desc, px * PANGO_SCALE);
  pango_layout_set_font_description (self->layout, desc);
  pango_font_description_free (desc);
  self->font_px = px;
}

/* TRUE when captions can be drawn; warns once when they are wanted but no
 * font is installed. */
static gboolean
captions_possible (GstMaskRcnnOverlay * self)
{
  if (self->have_fonts)
    return TRUE;
  if (!self->warned_fonts) {
    self->warned_fonts = TRUE;
    GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
        ("No fonts are installed: captions (draw-labels) are left out."),
        ("no installed font has Latin letters and digits; install one (Debian: "
            "fonts-dejavu-core) or set draw-labels=false"));
  }
  return FALSE;
}

#ifdef GST_MASK_RCNN_HAVE_CUDA
/* Caption sprite on the device: rendered and uploaded once per text,
 * colour and font size. */
static const guint8 *
cuda_caption (GstMaskRcnnOverlay * self, const GstMaskRcnnInstance * inst,
    gboolean track_ids, const guint8 rgb[3], gint * w, gint * h,
    gint * stride, gchar ** why)
{
  gchar *text = caption_text (inst, track_ids);
  gchar *key = g_strdup_printf ("%d|%u,%u,%u|%s", self->font_px, rgb[0],
      rgb[1], rgb[2], text);
  const guint8 *dev = gst_maskrcnn_overlay_cuda_sprite (self->cuda, key, w,
      h, stride);

  if (!dev) {
    cairo_surface_t *surface = render_caption (self, text, rgb);

    if (surface) {
      *w = cairo_image_surface_get_width (surface);
      *h = cairo_image_surface_get_height (surface);
      *stride = cairo_image_surface_get_stride (surface);
      dev = gst_maskrcnn_overlay_cuda_add_sprite (self->cuda, key,
          cairo_image_surface_get_data (surface), *w, *h, *stride, why);
      cairo_surface_destroy (surface);
    }
  }
  g_free (key);
  g_free (text);
  return dev;
}

/* Draws the instances on a frame in CUDA memory: masks staged on the host
 * and copied once, one kernel launch per layer in the CPU path's order,
 * captions from the sprite cache, then one synchronisation. */
static gboolean
draw_cuda (GstMaskRcnnOverlay * self, GstBuffer * buf, GArray * instances,
    cairo_surface_t * annotations, const DrawSettings * s, gchar ** why)
{
  GstVideoFrame frame;
  mrcnn_overlay_target target;
  const guint8 *dev_masks = NULL;
  guint8 *host = NULL;
  gsize total = 0, *offsets;
  gint *region;
  guint8 fill = (guint8) (s->alpha * 255.0 + 0.5);
  gboolean ok = TRUE, pushed;
  gint i, n = (gint) instances->len;
  GstCudaContext *ctx =
      gst_maskrcnn_base_transform_get_cuda_context
      (GST_MASK_RCNN_BASE_TRANSFORM (self));

  if (!gst_maskrcnn_cuda_check_buffer (buf,
          gst_maskrcnn_cuda_context_device (ctx), why))
    return FALSE;
  offsets = g_newa (gsize, n + 1);
  region = g_newa (gint, 4 * n);
  for (i = 0; i < n; i++) {
    const GstMaskRcnnInstance *in =
        &g_array_index (instances, GstMaskRcnnInstance, i);
    gint *r = region + 4 * i;
    offsets[i] = total;
    /* only the part of the box the frame shows (plus the contour's reach) */
    if (mask_region (in, s, GST_VIDEO_INFO_WIDTH (&self->info),
            GST_VIDEO_INFO_HEIGHT (&self->info), &r[0], &r[1], &r[2], &r[3]))
      total += (gsize) r[2] * r[3];
  }
  offsets[n] = total;

  pushed = gst_cuda_context_push (ctx);
  if (total > 0) {
    host = gst_maskrcnn_overlay_cuda_stage (self->cuda, total, why);
    if (!host) {
      ok = FALSE;
      goto out;
    }
    for (i = 0; i < n; i++) {
      const GstMaskRcnnInstance *in =
          &g_array_index (instances, GstMaskRcnnInstance, i);
      gsize size = offsets[i + 1] - offsets[i];
      const gint *r = region + 4 * i;
      /* An unreadable mask draws nothing, as on the CPU. */
      if (size && !gst_maskrcnn_instance_read_mask_region (in, in->width,
              in->height, r[0], r[1], r[2], r[3], host + offsets[i], r[2]))
        memset (host + offsets[i], 0, size);
    }
    dev_masks = gst_maskrcnn_overlay_cuda_upload (self->cuda, total, why);
    if (!dev_masks) {
      ok = FALSE;
      goto out;
    }
  }

  if (!gst_video_frame_map (&frame, &self->info, buf,
          GST_MAP_READWRITE | GST_MAP_CUDA)) {
    *why = g_strdup ("could not map the frame's CUDA memory for writing");
    ok = FALSE;
    goto out;
  }
  if (!gst_maskrcnn_overlay_cuda_target (&frame, &target)) {
    gst_video_frame_unmap (&frame);
    *why = g_strdup_printf ("cannot draw on %s frames in CUDA memory",
        gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&self->info)));
    ok = FALSE;
    goto out;
  }
  if (s->draw_labels)
    set_font_size (self, target.height);

  for (i = n - 1; ok && i >= 0; i--) {
    const GstMaskRcnnInstance *in =
        &g_array_index (instances, GstMaskRcnnInstance, i);
    mrcnn_overlay_layer l = { 0, };

    mrcnn_overlay_class_color (in->class_id, l.rgb);
    l.x = in->x;
    l.y = in->y;
    l.w = in->width;
    l.h = in->height;
    l.line_width = (gint) s->line_width;
    if (offsets[i + 1] > offsets[i]) {
      const gint *r = region + 4 * i;

      l.kind = MRCNN_OVERLAY_LAYER_MASK;
      l.data = dev_masks + offsets[i];
      l.x = in->x + r[0];
      l.y = in->y + r[1];
      l.w = r[2];
      l.h = r[3];
      l.stride = r[2];
      l.fill = fill;
      l.draw_masks = s->draw_masks;
      l.draw_contours = s->draw_contours;
      ok = gst_maskrcnn_overlay_cuda_draw (self->cuda, &target, &l, why);
    }
    if (ok && s->draw_boxes) {
      l.kind = MRCNN_OVERLAY_LAYER_BOX;
      l.data = NULL;
      l.x = in->x;
      l.y = in->y;
      l.w = in->width;
      l.h = in->height;
      ok = gst_maskrcnn_overlay_cuda_draw (self->cuda, &target, &l, why);
    }
  }
  if (ok && annotations) {
    /* one sprite for the whole frame, replaced every frame (the previous
     * frame's launches are finished by now) */
    mrcnn_overlay_layer l = { 0, };

    l.kind = MRCNN_OVERLAY_LAYER_SPRITE;
    l.w = cairo_image_surface_get_width (annotations);
    l.h = cairo_image_surface_get_height (annotations);
    l.stride = cairo_image_surface_get_stride (annotations);
    l.data = gst_maskrcnn_overlay_cuda_add_sprite (self->cuda,
        "maskrcnnoverlay-annotations",
        cairo_image_surface_get_data (annotations), l.w, l.h, l.stride, why);
    ok = l.data != NULL;
    if (ok)
      ok = gst_maskrcnn_overlay_cuda_draw (self->cuda, &target, &l, why);
  }
  if (ok && s->draw_labels) {
    /* As draw_labels () on the CPU: placed best first, drawn best last.
     * Each sprite is fetched again right before its launch: the cache may
     * be emptied by a later caption's upload, so pointers are not kept. */
    guint *order = caption_order (instances);
    GstMaskRcnnRect *rects = g_new0 (GstMaskRcnnRect, n);
    GstMaskRcnnRect *placed = g_new0 (GstMaskRcnnRect, n);
    gboolean *have = g_new0 (gboolean, n);
    guint n_placed = 0;
    gint k;

    for (k = 0; ok && k < n; k++) {
      const GstMaskRcnnInstance *in =
          &g_array_index (instances, GstMaskRcnnInstance, order[k]);
      guint8 rgb[3];
      gint w = 0, h = 0, stride = 0;

      mrcnn_overlay_class_color (in->class_id, rgb);
      if (!cuda_caption (self, in, s->draw_track_ids, rgb, &w, &h, &stride,
              why)) {
        ok = *why == NULL;      /* no surface: skipped, as on the CPU */
        continue;
      }
      caption_position (in, w, h, target.width, target.height, placed,
          n_placed, &rects[order[k]]);
      placed[n_placed++] = rects[order[k]];
      have[order[k]] = TRUE;
    }
    for (k = n - 1; ok && k >= 0; k--) {
      const GstMaskRcnnInstance *in =
          &g_array_index (instances, GstMaskRcnnInstance, order[k]);
      mrcnn_overlay_layer l = { 0, };

      if (!have[order[k]])
        continue;
      mrcnn_overlay_class_color (in->class_id, l.rgb);
      l.kind = MRCNN_OVERLAY_LAYER_SPRITE;
      l.data = cuda_caption (self, in, s->draw_track_ids, l.rgb, &l.w, &l.h,
          &l.stride, why);
      if (!l.data) {
        ok = *why == NULL;
        continue;
      }
      l.x = rects[order[k]].x;
      l.y = rects[order[k]].y;
      ok = gst_maskrcnn_overlay_cuda_draw (self->cuda, &target, &l, why);
    }
    g_free (have);
    g_free (placed);
    g_free (rects);
    g_free (order);
  }
  /* The frame may be read as soon as it is unmapped. */
  {
    gchar *fw = NULL;

    if (!gst_maskrcnn_overlay_cuda_finish (self->cuda, &fw)) {
      if (ok)
        *why = fw;
      else
        g_free (fw);
      ok = FALSE;
    }
  }
  gst_video_frame_unmap (&frame);

out:
  if (pushed)
    gst_cuda_context_pop (NULL);
  return ok;
}
#endif

/* ------------------------------------------------------------ trails */

static void
trail_free (gpointer data)
{
  Trail *t = data;

  g_free (t->xy);
  g_free (t);
}

/* Adds each tracked instance's anchor to its trail and forgets the trails
 * of tracks gone for trail_length frames. */
static void
update_trails (GstMaskRcnnOverlay * self, GArray * instances, guint length)
{
  GHashTableIter it;
  gpointer key, value;
  guint i;

  self->frames++;
  if (length == 0) {
    g_hash_table_remove_all (self->trails);
    return;
  }
  for (i = 0; i < instances->len; i++) {
    const GstMaskRcnnInstance *in =
        &g_array_index (instances, GstMaskRcnnInstance, i);
    guint64 id = gst_maskrcnn_instance_get_track_id (in);
    Trail *t;

    if (!id)
      continue;
    t = g_hash_table_lookup (self->trails, &id);
    if (!t) {
      t = g_new0 (Trail, 1);
      g_hash_table_insert (self->trails, g_memdup2 (&id, sizeof (id)), t);
    }
    if (t->cap != length) {
      g_free (t->xy);
      t->xy = g_new (gdouble, 2 * length);
      t->cap = length;
      t->n = t->head = 0;
    }
    t->xy[2 * t->head] = in->x + 0.5 * in->width;
    t->xy[2 * t->head + 1] = (gdouble) in->y + in->height;
    t->head = (t->head + 1) % t->cap;
    t->n = MIN (t->n + 1, t->cap);
    t->last_frame = self->frames;
    mrcnn_overlay_class_color (in->class_id, t->rgb);
  }
  g_hash_table_iter_init (&it, self->trails);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (self->frames - ((Trail *) value)->last_frame >= length)
      g_hash_table_iter_remove (&it);
}

/* The lines, zones, counters and trails to draw on this frame, or NULL. */
static cairo_surface_t *
render_annotations (GstMaskRcnnOverlay * self, GstBuffer * buf,
    const DrawSettings * s, gint width, gint height)
{
  const GstStructure *counts = s->draw_counts ?
      gst_maskrcnn_buffer_get_counts (buf) : NULL;
  guint n = g_hash_table_size (self->trails), k = 0;
  GstMaskRcnnTrail *trails = g_new0 (GstMaskRcnnTrail, MAX (n, 1));
  gdouble *xy = g_new (gdouble, 2 * MAX (n, 1) * MAX (s->trail_length, 1));
  GHashTableIter it;
  gpointer value;
  cairo_surface_t *surface;

  g_hash_table_iter_init (&it, self->trails);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    Trail *t = value;
    gdouble *dst = xy + (gsize) 2 * k * s->trail_length;
    guint j;

    /* only tracks seen on this frame: a trail ends where its object is */
    if (t->last_frame != self->frames)
      continue;
    for (j = 0; j < t->n; j++) {
      guint src = (t->head + t->cap - t->n + j) % t->cap;
      dst[2 * j] = t->xy[2 * src];
      dst[2 * j + 1] = t->xy[2 * src + 1];
    }
    trails[k].n = t->n;
    trails[k].xy = dst;
    memcpy (trails[k].rgb, t->rgb, 3);
    k++;
  }
  if (counts && self->have_fonts)
    set_font_size (self, height);
  surface = gst_maskrcnn_annotations_render (counts, trails, k, width, height,
      self->have_fonts ? self->layout : NULL);
  g_free (xy);
  g_free (trails);
  return surface;
}

static GstFlowReturn
gst_maskrcnn_overlay_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstMaskRcnnOverlay *self = GST_MASK_RCNN_OVERLAY (trans);
  GstMaskRcnnInstance inst;
  GArray *instances;
  GstVideoFrame frame;
  GstMaskRcnnCanvas canvas;
  DrawSettings s;
  cairo_surface_t *annotations;
  gpointer state = NULL;
  gint i;

  if (!self->have_info)
    return GST_FLOW_NOT_NEGOTIATED;

  GST_OBJECT_LOCK (self);
  s = self->settings;
  GST_OBJECT_UNLOCK (self);
  if (s.draw_labels && !captions_possible (self))
    s.draw_labels = FALSE;

  instances = g_array_new (FALSE, FALSE, sizeof (GstMaskRcnnInstance));
  while (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst))
    g_array_append_val (instances, inst);
  update_trails (self, instances, s.trail_length);
  annotations = render_annotations (self, buf, &s,
      GST_VIDEO_INFO_WIDTH (&self->info),
      GST_VIDEO_INFO_HEIGHT (&self->info));
  if (instances->len == 0 && !annotations) {
    g_array_free (instances, TRUE);
    return GST_FLOW_OK;
  }
#ifdef GST_MASK_RCNN_HAVE_CUDA
  if (gst_maskrcnn_base_transform_cuda_frames (GST_MASK_RCNN_BASE_TRANSFORM
          (self))) {
    gchar *why = NULL;
    gboolean ok = draw_cuda (self, buf, instances, annotations, &s, &why);

    g_array_free (instances, TRUE);
    if (annotations)
      cairo_surface_destroy (annotations);
    if (ok)
      return GST_FLOW_OK;
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Could not draw on a frame in CUDA memory: %s.",
            why ? why : "unknown error"), (NULL));
    g_free (why);
    return GST_FLOW_ERROR;
  }
#endif

  if (!gst_video_frame_map (&frame, &self->info, buf, GST_MAP_READWRITE)) {
    g_array_free (instances, TRUE);
    if (annotations)
      cairo_surface_destroy (annotations);
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Could not map a %dx%d video frame for drawing.",
            GST_VIDEO_INFO_WIDTH (&self->info),
            GST_VIDEO_INFO_HEIGHT (&self->info)), (NULL));
    return GST_FLOW_ERROR;
  }
  if (!gst_maskrcnn_canvas_init (&canvas, &frame)) {
    gst_video_frame_unmap (&frame);
    g_array_free (instances, TRUE);
    if (annotations)
      cairo_surface_destroy (annotations);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Cannot draw on %s frames.",
            gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&self->info))),
        (NULL));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (s.draw_labels)
    set_font_size (self, canvas.height);

  /* Lowest score first, so that the best instances end up on top. */
  for (i = (gint) instances->len - 1; i >= 0; i--) {
    const GstMaskRcnnInstance *in =
        &g_array_index (instances, GstMaskRcnnInstance, i);
    guint8 rgb[3];

    mrcnn_overlay_class_color (in->class_id, rgb);
    if (s.draw_masks || s.draw_contours)
      draw_mask (self, &canvas, in, &s, rgb);
    if (s.draw_boxes)
      gst_maskrcnn_canvas_box_outline (&canvas, in->x, in->y, in->width,
          in->height, (gint) s.line_width, rgb);
  }
  /* lines, zones, counters and trails over the instances, under the
   * captions */
  if (annotations) {
    gst_maskrcnn_canvas_blend_argb32 (&canvas, 0, 0,
        cairo_image_surface_get_width (annotations),
        cairo_image_surface_get_height (annotations),
        cairo_image_surface_get_data (annotations),
        cairo_image_surface_get_stride (annotations));
    cairo_surface_destroy (annotations);
  }
  if (s.draw_labels && instances->len > 0)
    draw_labels (self, &canvas, instances, s.draw_track_ids);

  gst_video_frame_unmap (&frame);
  g_array_free (instances, TRUE);
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------ life cycle */

static gboolean
gst_maskrcnn_overlay_start (GstBaseTransform * trans)
{
  GstMaskRcnnOverlay *self = GST_MASK_RCNN_OVERLAY (trans);

  /* A font map of our own: the default one is per thread, and streaming
   * threads come and go. */
  self->font_map = pango_cairo_font_map_new ();
  self->pango = pango_font_map_create_context (self->font_map);
  self->layout = pango_layout_new (self->pango);
  self->font_px = 0;
  /* Without any font, pango's output is not even stable from one element to
   * the next: captions are then left out, with a warning (below). Loading
   * the caption font here also waits for fontconfig to finish its set-up,
   * so that the first frames get the same font as the later ones. */
  {
    PangoFontDescription *desc =
        pango_font_description_from_string ("Sans Bold");
    PangoFont *font = pango_font_map_load_font (self->font_map, self->pango,
        desc);

    self->have_fonts = font && pango_font_has_char (font, 'A')
        && pango_font_has_char (font, '0');
    g_clear_object (&font);
    pango_font_description_free (desc);
  }
  self->warned_fonts = FALSE;
  self->trails = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
      trail_free);
  self->frames = 0;
  return TRUE;
}

static gboolean
gst_maskrcnn_overlay_stop (GstBaseTransform * trans)
{
  GstMaskRcnnOverlay *self = GST_MASK_RCNN_OVERLAY (trans);

  g_clear_object (&self->layout);
  g_clear_object (&self->pango);
  g_clear_object (&self->font_map);
  g_clear_pointer (&self->coverage, g_free);
  g_clear_pointer (&self->distance, g_free);
  g_clear_pointer (&self->trails, g_hash_table_unref);
  self->scratch_size = 0;
  self->have_info = FALSE;
#ifdef GST_MASK_RCNN_HAVE_CUDA
  g_clear_pointer (&self->cuda, gst_maskrcnn_overlay_cuda_free);
#endif
  return TRUE;
}

#ifdef GST_MASK_RCNN_HAVE_CUDA
/* The device state for frames in CUDA memory, in the shared context. */
static gboolean
ensure_cuda (GstMaskRcnnOverlay * self)
{
  GstMaskRcnnBaseTransform *base = GST_MASK_RCNN_BASE_TRANSFORM (self);
  gchar *why = NULL;

  if (self->cuda)
    return TRUE;
  if (gst_maskrcnn_base_transform_ensure_cuda_context (base, &why))
    self->cuda = gst_maskrcnn_overlay_cuda_new
        (gst_maskrcnn_cuda_context_device
        (gst_maskrcnn_base_transform_get_cuda_context (base)), &why);
  if (self->cuda)
    return TRUE;
  GST_ELEMENT_ERROR (self, LIBRARY, INIT,
      ("Frames arrive in CUDA memory but CUDA cannot be used: %s. Run on a "
          "machine with an NVIDIA GPU and driver, or draw on system memory "
          "(cudadownload before maskrcnnoverlay).", why), (NULL));
  g_free (why);
  return FALSE;
}
#endif

static gboolean
gst_maskrcnn_overlay_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstMaskRcnnOverlay *self = GST_MASK_RCNN_OVERLAY (trans);

  self->have_info = FALSE;
  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->set_caps (trans, incaps,
          outcaps))
    return FALSE;
  if (!gst_video_info_from_caps (&self->info, incaps)) {
    GST_ERROR_OBJECT (self, "invalid caps %" GST_PTR_FORMAT, incaps);
    return FALSE;
  }
#ifdef GST_MASK_RCNN_HAVE_CUDA
  if (gst_maskrcnn_base_transform_cuda_frames (GST_MASK_RCNN_BASE_TRANSFORM
          (self)) && !ensure_cuda (self))
    return FALSE;
#endif
  self->have_info = TRUE;
  return TRUE;
}

/* ------------------------------------------------------------ properties */

static void
gst_maskrcnn_overlay_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMaskRcnnOverlay *self = GST_MASK_RCNN_OVERLAY (object);
  DrawSettings *s = &self->settings;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ALPHA:
      s->alpha = g_value_get_double (value);
      break;
    case PROP_DRAW_MASKS:
      s->draw_masks = g_value_get_boolean (value);
      break;
    case PROP_DRAW_CONTOURS:
      s->draw_contours = g_value_get_boolean (value);
      break;
    case PROP_DRAW_BOXES:
      s->draw_boxes = g_value_get_boolean (value);
      break;
    case PROP_DRAW_LABELS:
      s->draw_labels = g_value_get_boolean (value);
      break;
    case PROP_LINE_WIDTH:
      s->line_width = g_value_get_uint (value);
      break;
    case PROP_DRAW_TRACK_IDS:
      s->draw_track_ids = g_value_get_boolean (value);
      break;
    case PROP_TRAIL_LENGTH:
      s->trail_length = g_value_get_uint (value);
      break;
    case PROP_DRAW_COUNTS:
      s->draw_counts = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_maskrcnn_overlay_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstMaskRcnnOverlay *self = GST_MASK_RCNN_OVERLAY (object);
  DrawSettings *s = &self->settings;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ALPHA:
      g_value_set_double (value, s->alpha);
      break;
    case PROP_DRAW_MASKS:
      g_value_set_boolean (value, s->draw_masks);
      break;
    case PROP_DRAW_CONTOURS:
      g_value_set_boolean (value, s->draw_contours);
      break;
    case PROP_DRAW_BOXES:
      g_value_set_boolean (value, s->draw_boxes);
      break;
    case PROP_DRAW_LABELS:
      g_value_set_boolean (value, s->draw_labels);
      break;
    case PROP_LINE_WIDTH:
      g_value_set_uint (value, s->line_width);
      break;
    case PROP_DRAW_TRACK_IDS:
      g_value_set_boolean (value, s->draw_track_ids);
      break;
    case PROP_TRAIL_LENGTH:
      g_value_set_uint (value, s->trail_length);
      break;
    case PROP_DRAW_COUNTS:
      g_value_set_boolean (value, s->draw_counts);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_maskrcnn_overlay_finalize (GObject * object)
{
  GstMaskRcnnOverlay *self = GST_MASK_RCNN_OVERLAY (object);

  g_clear_object (&self->layout);
  g_clear_object (&self->pango);
  g_clear_object (&self->font_map);
  g_free (self->coverage);
  g_free (self->distance);
  if (self->trails)
    g_hash_table_unref (self->trails);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_maskrcnn_overlay_class_init (GstMaskRcnnOverlayClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_PLAYING;

  GST_DEBUG_CATEGORY_INIT (gst_maskrcnn_overlay_debug, "maskrcnnoverlay", 0,
      "Mask R-CNN instance drawing");

  gobject_class->set_property = gst_maskrcnn_overlay_set_property;
  gobject_class->get_property = gst_maskrcnn_overlay_get_property;
  gobject_class->finalize = gst_maskrcnn_overlay_finalize;

  g_object_class_install_property (gobject_class, PROP_ALPHA,
      g_param_spec_double ("alpha", "Alpha",
          "Opacity of the mask fill (0 transparent, 1 opaque)", 0.0, 1.0,
          DEFAULT_ALPHA, flags));
  g_object_class_install_property (gobject_class, PROP_DRAW_MASKS,
      g_param_spec_boolean ("draw-masks", "Draw masks",
          "Fill each instance's mask with its class colour",
          DEFAULT_DRAW_MASKS, flags));
  g_object_class_install_property (gobject_class, PROP_DRAW_CONTOURS,
      g_param_spec_boolean ("draw-contours", "Draw contours",
          "Outline each mask, line-width pixels wide, opaque",
          DEFAULT_DRAW_CONTOURS, flags));
  g_object_class_install_property (gobject_class, PROP_DRAW_BOXES,
      g_param_spec_boolean ("draw-boxes", "Draw boxes",
          "Outline each instance's box, line-width pixels wide",
          DEFAULT_DRAW_BOXES, flags));
  g_object_class_install_property (gobject_class, PROP_DRAW_LABELS,
      g_param_spec_boolean ("draw-labels", "Draw labels",
          "Write \"label score\" above each box", DEFAULT_DRAW_LABELS,
          flags));
  g_object_class_install_property (gobject_class, PROP_LINE_WIDTH,
      g_param_spec_uint ("line-width", "Line width",
          "Width in pixels of box outlines and mask contours", 1, 64,
          DEFAULT_LINE_WIDTH, flags));
  g_object_class_install_property (gobject_class, PROP_DRAW_TRACK_IDS,
      g_param_spec_boolean ("draw-track-ids", "Draw track ids",
          "Add \"#id\" to the captions of instances maskrcnntrack gave a "
          "track id", DEFAULT_DRAW_TRACK_IDS, flags));
  g_object_class_install_property (gobject_class, PROP_TRAIL_LENGTH,
      g_param_spec_uint ("trail-length", "Trail length",
          "Frames of each track's path to draw behind it, through its box's "
          "bottom centre (0: none)", 0, 1000, DEFAULT_TRAIL_LENGTH, flags));
  g_object_class_install_property (gobject_class, PROP_DRAW_COUNTS,
      g_param_spec_boolean ("draw-counts", "Draw counts",
          "Draw maskrcnncount's lines, zones and counters",
          DEFAULT_DRAW_COUNTS, flags));

  gst_element_class_set_static_metadata (element_class,
      "Mask R-CNN overlay", "Filter/Effect/Video",
      "Draws the instance masks, boxes and labels found by maskrcnn",
      "gst-maskrcnn developers");
  gst_maskrcnn_base_transform_class_add_pad_templates (element_class);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_maskrcnn_overlay_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_maskrcnn_overlay_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_maskrcnn_overlay_set_caps);
  trans_class->transform_ip =
      GST_DEBUG_FUNCPTR (gst_maskrcnn_overlay_transform_ip);
  trans_class->passthrough_on_same_caps = FALSE;
}

static void
gst_maskrcnn_overlay_init (GstMaskRcnnOverlay * self)
{
  self->settings.alpha = DEFAULT_ALPHA;
  self->settings.draw_masks = DEFAULT_DRAW_MASKS;
  self->settings.draw_contours = DEFAULT_DRAW_CONTOURS;
  self->settings.draw_boxes = DEFAULT_DRAW_BOXES;
  self->settings.draw_labels = DEFAULT_DRAW_LABELS;
  self->settings.line_width = DEFAULT_LINE_WIDTH;
  self->settings.draw_track_ids = DEFAULT_DRAW_TRACK_IDS;
  self->settings.trail_length = DEFAULT_TRAIL_LENGTH;
  self->settings.draw_counts = DEFAULT_DRAW_COUNTS;

  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), FALSE);
}
