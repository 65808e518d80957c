/* gst-maskrcnn tracking: counting tracks across lines and in zones (what
 * the maskrcnncount element runs, with no GStreamer in it).
 *
 * Each frame gives every track's anchor point (the caller picks it: the
 * box's bottom centre, or the mask's centroid).
 *
 * Lines. A track's side of a line changes only once its anchor is more
 * than `hysteresis` pixels from the line, so an anchor that jitters on the
 * line changes nothing. When the side changes, the crossing counts if the
 * path from the last point clearly on the old side to the first point
 * clearly on the new side meets the line segment itself (passing beyond an
 * end of the line is no crossing). Directions: to the line's left or to
 * its right (geometry.h). A track crossing once counts once.
 *
 * Zones. A track enters a zone when its anchor is inside the polygon and
 * leaves it when the anchor is outside by more than `hysteresis` pixels,
 * or when the track has not been seen for `forget_after` seconds. Its dwell
 * is the time since it entered.
 *
 * Plain C; not thread-safe (one counter per stream).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef MRCNN_TRACK_COUNTER_H
#define MRCNN_TRACK_COUNTER_H

#include <stdint.h>

#include "geometry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  mrcnn_point a, b;
} mrcnn_count_line;

typedef struct {
  const mrcnn_point *points;    /* copied by mrcnn_counter_new() */
  int n_points;
} mrcnn_count_zone;

typedef enum {
  MRCNN_COUNT_TO_LEFT = 0,
  MRCNN_COUNT_TO_RIGHT = 1
} mrcnn_count_direction;

typedef enum {
  MRCNN_COUNT_EVENT_CROSS,
  MRCNN_COUNT_EVENT_ENTER,
  MRCNN_COUNT_EVENT_EXIT
} mrcnn_count_event_kind;

typedef struct {
  mrcnn_count_event_kind kind;
  int index;                    /* the line or the zone */
  mrcnn_count_direction direction;      /* CROSS */
  uint64_t track_id;
  int class_id;
  double dwell;                 /* EXIT: seconds inside (until last seen) */
} mrcnn_count_event;

typedef struct {
  uint64_t track_id;            /* not 0 */
  int class_id;
  mrcnn_point anchor;
} mrcnn_count_obs;

typedef struct mrcnn_counter mrcnn_counter;

/* A counter for these lines and zones (copied); NULL when out of memory.
 * The caller has checked them (distinct line ends, simple polygons). */
mrcnn_counter *mrcnn_counter_new (const mrcnn_count_line * lines,
    int n_lines, const mrcnn_count_zone * zones, int n_zones,
    double hysteresis, double forget_after);
void mrcnn_counter_free (mrcnn_counter * c);

/* Forgets every track and zeroes every count. */
void mrcnn_counter_reset (mrcnn_counter * c);

/* One frame at time `now` (seconds, not decreasing) with the anchors of
 * the tracks it shows. Returns the number of events (crossings, entries,
 * exits) this frame caused and points *events at them (owned by the
 * counter, valid until the next call), or -1 when memory ran out. */
int mrcnn_counter_update (mrcnn_counter * c, const mrcnn_count_obs * obs,
    int n, double now, const mrcnn_count_event ** events);

/* Crossings of a line in a direction by tracks of a class so far. */
uint64_t mrcnn_counter_line_count (const mrcnn_counter * c, int line,
    mrcnn_count_direction direction, int class_id);

/* The class ids seen so far (in the order first seen): returns how many
 * there are and points *class_ids at them (owned by the counter). */
int mrcnn_counter_classes (const mrcnn_counter * c, const int **class_ids);

/* Tracks of a class inside a zone now. */
int mrcnn_counter_zone_occupancy (const mrcnn_counter * c, int zone,
    int class_id);

/* The tracks inside a zone now: returns how many; for the first `max`,
 * their ids, classes and dwell (seconds, at the last update's time). */
int mrcnn_counter_zone_tracks (const mrcnn_counter * c, int zone,
    uint64_t * ids, int *class_ids, double *dwell, int max);

#ifdef __cplusplus
}
#endif

#endif /* MRCNN_TRACK_COUNTER_H */
