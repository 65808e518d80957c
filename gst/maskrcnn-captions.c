/* gst-maskrcnn: caption placement (see the header).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "maskrcnn-captions.h"

static gboolean
overlap (const GstMaskRcnnRect * a, const GstMaskRcnnRect * b)
{
  return a->x < b->x + b->w && b->x < a->x + a->w
      && a->y < b->y + b->h && b->y < a->y + a->h;
}

/* The first placed caption that `r` overlaps, or NULL. */
static const GstMaskRcnnRect *
first_hit (const GstMaskRcnnRect * r, const GstMaskRcnnRect * placed,
    guint n)
{
  guint i;

  for (i = 0; i < n; i++)
    if (overlap (r, &placed[i]))
      return &placed[i];
  return NULL;
}

/* Moves a span of `size` at v inside [0, limit) where it fits. */
static gint
clamp_into (gint v, gint size, gint limit)
{
  if (v + size > limit)
    v = limit - size;
  return MAX (v, 0);
}

void
gst_maskrcnn_caption_place (const GstMaskRcnnRect * box, gint tw, gint th,
    gint frame_w, gint frame_h, const GstMaskRcnnRect * placed,
    guint n_placed, GstMaskRcnnRect * out)
{
  gint above = box->y - th >= 0 ? box->y - th : box->y;
  gint candidates[4] = { above, box->y, box->y + box->h,
    box->y + box->h - th
  };
  const GstMaskRcnnRect *hit;
  GstMaskRcnnRect r = { clamp_into (box->x, tw, frame_w), 0, tw, th };
  guint k;

  for (k = 0; k < G_N_ELEMENTS (candidates); k++) {
    r.y = clamp_into (candidates[k], th, frame_h);
    if (!first_hit (&r, placed, n_placed)) {
      *out = r;
      return;
    }
  }

  /* Slide the first place down past each caption in the way; every step
   * moves strictly down, so this ends. */
  r.y = clamp_into (above, th, frame_h);
  while ((hit = first_hit (&r, placed, n_placed)) != NULL
      && hit->y + hit->h + th <= frame_h)
    r.y = hit->y + hit->h;
  if (!hit) {
    *out = r;
    return;
  }
  /* Else up. */
  r.y = clamp_into (above, th, frame_h);
  while ((hit = first_hit (&r, placed, n_placed)) != NULL && hit->y - th >= 0)
    r.y = hit->y - th;
  if (!hit) {
    *out = r;
    return;
  }
  r.y = clamp_into (above, th, frame_h);
  *out = r;
}

void
gst_maskrcnn_caption_order (const gdouble * scores, guint n, guint * order)
{
  guint i;

  for (i = 0; i < n; i++)
    order[i] = i;
  /* Insertion sort: qsort's comparator would need the scores through a
   * global, which two overlays drawing at once must not share; a frame
   * holds a handful of instances (at most max-detections, 1000). */
  for (i = 1; i < n; i++) {
    guint v = order[i], j = i;

    while (j > 0 && (scores[order[j - 1]] < scores[v]
            || (scores[order[j - 1]] == scores[v] && order[j - 1] > v))) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = v;
  }
}
