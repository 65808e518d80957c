/* gst-maskrcnn tracking: counting across lines and in zones (see the
 * header).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "counter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  signed char side;             /* -1 right, +1 left, 0 not clear yet */
  mrcnn_point clear;            /* last anchor clearly on that side */
} line_state;

typedef struct {
  int inside;
  double entered;
} zone_state;

typedef struct {
  uint64_t id;
  int class_id;
  double last_seen;
  line_state *lines;
  zone_state *zones;
} track_state;

typedef struct {
  int class_id;
  uint64_t *line_counts;        /* n_lines x 2 */
  int *occupancy;               /* n_zones */
} class_counts;

struct mrcnn_counter {
  mrcnn_count_line *lines;
  int n_lines;
  mrcnn_point **zone_points;
  int *zone_sizes;
  int n_zones;
  double hysteresis, forget_after, now;
  /* by increasing id (ids only grow, so new tracks go last) */
  track_state *tracks;
  int n_tracks, cap_tracks;
  class_counts *classes;
  int n_classes, cap_classes;
  int *class_ids;
  mrcnn_count_event *events;
  int n_events, cap_events;
};

mrcnn_counter *
mrcnn_counter_new (const mrcnn_count_line * lines, int n_lines,
    const mrcnn_count_zone * zones, int n_zones, double hysteresis,
    double forget_after)
{
  mrcnn_counter *c = calloc (1, sizeof (*c));
  int i;

  if (!c)
    return NULL;
  c->n_lines = n_lines;
  c->n_zones = n_zones;
  c->hysteresis = hysteresis;
  c->forget_after = forget_after;
  if (n_lines) {
    c->lines = malloc ((size_t) n_lines * sizeof (*c->lines));
    if (!c->lines)
      goto fail;
    memcpy (c->lines, lines, (size_t) n_lines * sizeof (*c->lines));
  }
  if (n_zones) {
    c->zone_points = calloc ((size_t) n_zones, sizeof (*c->zone_points));
    c->zone_sizes = calloc ((size_t) n_zones, sizeof (int));
    if (!c->zone_points || !c->zone_sizes)
      goto fail;
    for (i = 0; i < n_zones; i++) {
      c->zone_points[i] = malloc ((size_t) zones[i].n_points *
          sizeof (mrcnn_point));
      if (!c->zone_points[i])
        goto fail;
      memcpy (c->zone_points[i], zones[i].points,
          (size_t) zones[i].n_points * sizeof (mrcnn_point));
      c->zone_sizes[i] = zones[i].n_points;
    }
  }
  return c;

fail:
  mrcnn_counter_free (c);
  return NULL;
}

static void
track_clear (track_state * t)
{
  free (t->lines);
  free (t->zones);
}

static void
classes_clear (mrcnn_counter * c)
{
  int i;

  for (i = 0; i < c->n_classes; i++) {
    free (c->classes[i].line_counts);
    free (c->classes[i].occupancy);
  }
  c->n_classes = 0;
}

void
mrcnn_counter_reset (mrcnn_counter * c)
{
  int i;

  for (i = 0; i < c->n_tracks; i++)
    track_clear (&c->tracks[i]);
  c->n_tracks = 0;
  classes_clear (c);
  c->n_events = 0;
}

void
mrcnn_counter_free (mrcnn_counter * c)
{
  int i;

  if (!c)
    return;
  mrcnn_counter_reset (c);
  for (i = 0; i < c->n_zones && c->zone_points; i++)
    free (c->zone_points[i]);
  free (c->zone_points);
  free (c->zone_sizes);
  free (c->lines);
  free (c->tracks);
  free (c->classes);
  free (c->class_ids);
  free (c->events);
  free (c);
}

static class_counts *
find_class (const mrcnn_counter * c, int class_id)
{
  int i;

  for (i = 0; i < c->n_classes; i++)
    if (c->classes[i].class_id == class_id)
      return &c->classes[i];
  return NULL;
}

static class_counts *
get_class (mrcnn_counter * c, int class_id)
{
  class_counts *k = find_class (c, class_id);

  if (k)
    return k;
  if (c->n_classes == c->cap_classes) {
    int cap = c->cap_classes ? 2 * c->cap_classes : 8;
    void *a = realloc (c->classes, (size_t) cap * sizeof (*c->classes));
    void *b;

    if (!a)
      return NULL;
    c->classes = a;
    b = realloc (c->class_ids, (size_t) cap * sizeof (int));
    if (!b)
      return NULL;
    c->class_ids = b;
    c->cap_classes = cap;
  }
  k = &c->classes[c->n_classes];
  k->class_id = class_id;
  k->line_counts = calloc ((size_t) (c->n_lines ? c->n_lines : 1) * 2,
      sizeof (uint64_t));
  k->occupancy = calloc ((size_t) (c->n_zones ? c->n_zones : 1),
      sizeof (int));
  if (!k->line_counts || !k->occupancy) {
    free (k->line_counts);
    free (k->occupancy);
    return NULL;
  }
  c->class_ids[c->n_classes] = class_id;
  c->n_classes++;
  return k;
}

static int
add_event (mrcnn_counter * c, mrcnn_count_event_kind kind, int index,
    mrcnn_count_direction dir, const track_state * t, double dwell)
{
  mrcnn_count_event *e;

  if (c->n_events == c->cap_events) {
    int cap = c->cap_events ? 2 * c->cap_events : 16;
    void *a = realloc (c->events, (size_t) cap * sizeof (*c->events));
    if (!a)
      return -1;
    c->events = a;
    c->cap_events = cap;
  }
  e = &c->events[c->n_events++];
  e->kind = kind;
  e->index = index;
  e->direction = dir;
  e->track_id = t->id;
  e->class_id = t->class_id;
  e->dwell = dwell;
  return 0;
}

/* Index of the track with this id, or where it would go (-(pos) - 1). */
static int
find_track (const mrcnn_counter * c, uint64_t id)
{
  int lo = 0, hi = c->n_tracks;

  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (c->tracks[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < c->n_tracks && c->tracks[lo].id == id)
    return lo;
  return -lo - 1;
}

static track_state *
add_track (mrcnn_counter * c, int pos, const mrcnn_count_obs * o)
{
  track_state t;

  memset (&t, 0, sizeof (t));
  t.id = o->track_id;
  t.class_id = o->class_id;
  t.lines = calloc ((size_t) (c->n_lines ? c->n_lines : 1),
      sizeof (line_state));
  t.zones = calloc ((size_t) (c->n_zones ? c->n_zones : 1),
      sizeof (zone_state));
  if (!t.lines || !t.zones) {
    track_clear (&t);
    return NULL;
  }
  if (c->n_tracks == c->cap_tracks) {
    int cap = c->cap_tracks ? 2 * c->cap_tracks : 32;
    void *a = realloc (c->tracks, (size_t) cap * sizeof (*c->tracks));
    if (!a) {
      track_clear (&t);
      return NULL;
    }
    c->tracks = a;
    c->cap_tracks = cap;
  }
  memmove (&c->tracks[pos + 1], &c->tracks[pos],
      (size_t) (c->n_tracks - pos) * sizeof (*c->tracks));
  c->tracks[pos] = t;
  c->n_tracks++;
  return &c->tracks[pos];
}

/* The track leaves zone z; it was last inside at `when`. */
static int
leave_zone (mrcnn_counter * c, track_state * t, int z, double when)
{
  class_counts *k = find_class (c, t->class_id);

  t->zones[z].inside = 0;
  if (k && k->occupancy[z] > 0)
    k->occupancy[z]--;
  return add_event (c, MRCNN_COUNT_EVENT_EXIT, z, MRCNN_COUNT_TO_LEFT, t,
      when - t->zones[z].entered);
}

static int
observe (mrcnn_counter * c, track_state * t, const mrcnn_count_obs * o)
{
  class_counts *k;
  int i;

  /* A track keeps the class it was counted with: a zone's occupancy by
   * class stays consistent when the detector changes its mind. */
  k = get_class (c, t->class_id);
  if (!k)
    return -1;
  t->last_seen = c->now;
  for (i = 0; i < c->n_lines; i++) {
    line_state *ls = &t->lines[i];
    const mrcnn_count_line *l = &c->lines[i];
    double d = mrcnn_geom_side (l->a, l->b, o->anchor);
    signed char s;

    if (fabs (d) <= c->hysteresis)
      continue;                 /* on the line: no side yet */
    s = d > 0 ? 1 : -1;
    if (ls->side != 0 && s != ls->side
        && mrcnn_geom_segments_intersect (ls->clear, o->anchor, l->a, l->b)) {
      mrcnn_count_direction dir = s > 0 ? MRCNN_COUNT_TO_LEFT :
          MRCNN_COUNT_TO_RIGHT;

      k->line_counts[2 * i + dir]++;
      if (add_event (c, MRCNN_COUNT_EVENT_CROSS, i, dir, t, 0.0) < 0)
        return -1;
    }
    ls->side = s;
    ls->clear = o->anchor;
  }
  for (i = 0; i < c->n_zones; i++) {
    zone_state *zs = &t->zones[i];
    int in = mrcnn_geom_point_in_polygon (c->zone_points[i],
        c->zone_sizes[i], o->anchor);

    if (!zs->inside && in) {
      zs->inside = 1;
      zs->entered = c->now;
      k->occupancy[i]++;
      if (add_event (c, MRCNN_COUNT_EVENT_ENTER, i, MRCNN_COUNT_TO_LEFT, t,
              0.0) < 0)
        return -1;
    } else if (zs->inside && !in
        && mrcnn_geom_polygon_distance (c->zone_points[i], c->zone_sizes[i],
            o->anchor) > c->hysteresis) {
      if (leave_zone (c, t, i, c->now) < 0)
        return -1;
    }
  }
  return 0;
}

int
mrcnn_counter_update (mrcnn_counter * c, const mrcnn_count_obs * obs, int n,
    double now, const mrcnn_count_event ** events)
{
  int i, w;

  c->n_events = 0;
  c->now = now;
  *events = NULL;
  for (i = 0; i < n; i++) {
    const mrcnn_count_obs *o = &obs[i];
    int pos;
    track_state *t;

    if (o->track_id == 0)
      continue;
    pos = find_track (c, o->track_id);
    if (pos >= 0) {
      t = &c->tracks[pos];
    } else {
      t = add_track (c, -pos - 1, o);
      if (!t)
        return -1;
    }
    if (observe (c, t, o) < 0)
      return -1;
  }
  /* tracks not seen for a while leave their zones and are forgotten */
  for (i = 0, w = 0; i < c->n_tracks; i++) {
    track_state *t = &c->tracks[i];

    if (now - t->last_seen > c->forget_after) {
      int z;

      for (z = 0; z < c->n_zones; z++)
        if (t->zones[z].inside && leave_zone (c, t, z, t->last_seen) < 0)
          return -1;
      track_clear (t);
      continue;
    }
    if (w != i)
      c->tracks[w] = *t;
    w++;
  }
  c->n_tracks = w;
  *events = c->events;
  return c->n_events;
}

uint64_t
mrcnn_counter_line_count (const mrcnn_counter * c, int line,
    mrcnn_count_direction direction, int class_id)
{
  const class_counts *k = find_class (c, class_id);

  if (!k || line < 0 || line >= c->n_lines)
    return 0;
  return k->line_counts[2 * line + direction];
}

int
mrcnn_counter_classes (const mrcnn_counter * c, const int **class_ids)
{
  *class_ids = c->class_ids;
  return c->n_classes;
}

int
mrcnn_counter_zone_occupancy (const mrcnn_counter * c, int zone,
    int class_id)
{
  const class_counts *k = find_class (c, class_id);

  if (!k || zone < 0 || zone >= c->n_zones)
    return 0;
  return k->occupancy[zone];
}

int
mrcnn_counter_zone_tracks (const mrcnn_counter * c, int zone, uint64_t * ids,
    int *class_ids, double *dwell, int max)
{
  int i, n = 0;

  if (zone < 0 || zone >= c->n_zones)
    return 0;
  for (i = 0; i < c->n_tracks; i++) {
    const track_state *t = &c->tracks[i];

    if (!t->zones[zone].inside)
      continue;
    if (n < max) {
      if (ids)
        ids[n] = t->id;
      if (class_ids)
        class_ids[n] = t->class_id;
      if (dwell)
        dwell[n] = c->now - t->zones[zone].entered;
    }
    n++;
  }
  return n;
}
