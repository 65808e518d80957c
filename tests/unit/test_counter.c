/* Unit tests of track/geometry.h and track/counter.h: hand-made paths
 * with known crossings and zone visits, jitter on the line, and random
 * paths whose crossings are counted independently from the exact
 * positions (a path that crosses the line segment from beyond the
 * hysteresis band on one side to beyond it on the other). */
#include "counter.h"
#include "unit_test.h"

static mrcnn_point
pt (double x, double y)
{
  mrcnn_point p = { x, y };
  return p;
}

static void
test_geometry (void)
{
  mrcnn_point sq[4] = { {0, 0}, {10, 0}, {10, 10}, {0, 10} };
  mrcnn_point bow[4] = { {0, 0}, {10, 10}, {10, 0}, {0, 10} };
  mrcnn_point fold[4] = { {0, 0}, {10, 0}, {5, 0}, {5, 5} };
  int ea = -1, eb = -1;

  ut_begin ("geometry");
  /* facing +x on the screen, up (smaller y) is on the left */
  ut_check (mrcnn_geom_side (pt (0, 0), pt (10, 0), pt (5, -3)) == 3.0,
      "above a rightward line is left");
  ut_check (mrcnn_geom_side (pt (0, 0), pt (10, 0), pt (5, 4)) == -4.0,
      "below is right");
  ut_check (mrcnn_geom_segments_intersect (pt (0, 0), pt (10, 10), pt (0, 10),
          pt (10, 0)), "X crosses");
  ut_check (!mrcnn_geom_segments_intersect (pt (0, 0), pt (4, 4), pt (0, 10),
          pt (10, 0)), "short of the other");
  ut_check (mrcnn_geom_segments_intersect (pt (0, 0), pt (5, 5), pt (0, 10),
          pt (10, 0)), "touching counts");
  ut_check (!mrcnn_geom_segments_intersect (pt (0, 0), pt (1, 0), pt (2, 0),
          pt (3, 0)), "collinear apart");
  ut_check (mrcnn_geom_point_in_polygon (sq, 4, pt (5, 5))
      && !mrcnn_geom_point_in_polygon (sq, 4, pt (11, 5)), "in and out");
  ut_check (ut_close (mrcnn_geom_polygon_distance (sq, 4, pt (13, 14)), 5.0,
          1e-12), "distance to a corner");
  ut_check (mrcnn_geom_polygon_check (sq, 4, NULL, NULL) == MRCNN_POLYGON_OK,
      "square is simple");
  ut_check (mrcnn_geom_polygon_check (bow, 4, &ea, &eb) ==
      MRCNN_POLYGON_CROSSES && ea == 0 && eb == 2, "bow tie crosses (%d %d)",
      ea, eb);
  ut_check (mrcnn_geom_polygon_check (fold, 4, NULL, NULL) ==
      MRCNN_POLYGON_CROSSES, "folded back edges");
  ut_check (mrcnn_geom_polygon_check (sq, 2, NULL, NULL) ==
      MRCNN_POLYGON_TOO_FEW, "two points");
  {
    mrcnn_point rep[3] = { {0, 0}, {0, 0}, {3, 4} };
    mrcnn_point flat[3] = { {0, 0}, {1, 1}, {3, 3} };
    ut_check (mrcnn_geom_polygon_check (rep, 3, NULL, NULL) ==
        MRCNN_POLYGON_REPEATED, "repeated point");
    ut_check (mrcnn_geom_polygon_check (flat, 3, NULL, NULL) !=
        MRCNN_POLYGON_OK, "flat triangle");
  }
  ut_end ();
}

static void
test_lines (void)
{
  mrcnn_count_line line = { {100, 0}, {100, 200} };     /* downward */
  mrcnn_counter *c = mrcnn_counter_new (&line, 1, NULL, 0, 4.0, 1.0);
  const mrcnn_count_event *ev;
  mrcnn_count_obs o = { 7, 1, {50, 100} };
  int f, n, total = 0;

  ut_begin ("lines: one count per crossing, jitter absorbed");
  /* facing down (+y), the left is +x: moving right crosses to the left */
  for (f = 0; f < 100; f++) {
    double x = 50 + f;
    /* +-3 px of jitter (inside the 4 px band) around the line */
    if (x > 95 && x < 105)
      x = 100 + (f % 2 ? 3 : -3);
    o.anchor = pt (x, 100);
    n = mrcnn_counter_update (c, &o, 1, f / 30.0, &ev);
    total += n;
    if (n == 1)
      ut_check (ev[0].kind == MRCNN_COUNT_EVENT_CROSS && ev[0].index == 0
          && ev[0].direction == MRCNN_COUNT_TO_LEFT && ev[0].track_id == 7,
          "the event");
  }
  ut_check (total == 1, "one crossing, %d events", total);
  ut_check (mrcnn_counter_line_count (c, 0, MRCNN_COUNT_TO_LEFT, 1) == 1
      && mrcnn_counter_line_count (c, 0, MRCNN_COUNT_TO_RIGHT, 1) == 0,
      "counted to the left");
  /* and back: one to the right */
  for (f = 0; f < 100; f++) {
    o.anchor = pt (150 - f, 100);
    mrcnn_counter_update (c, &o, 1, (100 + f) / 30.0, &ev);
  }
  ut_check (mrcnn_counter_line_count (c, 0, MRCNN_COUNT_TO_RIGHT, 1) == 1,
      "and back to the right");
  /* passing beyond the line's end is no crossing */
  o.track_id = 8;
  for (f = 0; f < 100; f++) {
    o.anchor = pt (50 + f, 250);
    mrcnn_counter_update (c, &o, 1, (200 + f) / 30.0, &ev);
  }
  ut_check (mrcnn_counter_line_count (c, 0, MRCNN_COUNT_TO_LEFT, 1) == 1,
      "around the end: not counted");
  /* a jump across the line in one frame counts */
  o.track_id = 9;
  o.class_id = 2;
  o.anchor = pt (60, 50);
  mrcnn_counter_update (c, &o, 1, 10.0, &ev);
  o.anchor = pt (140, 60);
  n = mrcnn_counter_update (c, &o, 1, 10.1, &ev);
  ut_check (n == 1 && mrcnn_counter_line_count (c, 0, MRCNN_COUNT_TO_LEFT,
          2) == 1, "a jump counts once, per class");
  {
    const int *classes;
    int k = mrcnn_counter_classes (c, &classes);
    ut_check (k == 2 && classes[0] == 1 && classes[1] == 2, "classes");
  }
  mrcnn_counter_free (c);
  ut_end ();
}

/* Random walks around a line: the counter's counts against crossings
 * found by following each walk with the same rule on exact positions. */
static void
test_random_walks (void)
{
  int t;

  ut_begin ("random walks: counts equal the rule's crossings");
  for (t = 0; t < 300; t++) {
    mrcnn_count_line line = { {ut_uniform (0, 200), ut_uniform (0, 200)},
    {ut_uniform (200, 400), ut_uniform (0, 400)}
    };
    double h = ut_uniform (0, 8);
    mrcnn_counter *c = mrcnn_counter_new (&line, 1, NULL, 0, h, 100.0);
    const mrcnn_count_event *ev;
    mrcnn_count_obs o = { 1, 1, {ut_uniform (0, 400), ut_uniform (0, 400)} };
    int f, side = 0;
    mrcnn_point clear = o.anchor;
    uint64_t want[2] = { 0, 0 };

    for (f = 0; f < 200; f++) {
      double d;

      o.anchor.x += ut_uniform (-15, 15);
      o.anchor.y += ut_uniform (-15, 15);
      mrcnn_counter_update (c, &o, 1, f, &ev);
      d = mrcnn_geom_side (line.a, line.b, o.anchor);
      if (fabs (d) > h) {
        int s = d > 0 ? 1 : -1;
        if (side && s != side && mrcnn_geom_segments_intersect (clear,
                o.anchor, line.a, line.b))
          want[s > 0 ? 0 : 1]++;
        side = s;
        clear = o.anchor;
      }
    }
    ut_check (mrcnn_counter_line_count (c, 0, MRCNN_COUNT_TO_LEFT, 1) ==
        want[0] && mrcnn_counter_line_count (c, 0, MRCNN_COUNT_TO_RIGHT,
            1) == want[1], "walk %d: %llu/%llu, expected %llu/%llu", t,
        (unsigned long long) mrcnn_counter_line_count (c, 0,
            MRCNN_COUNT_TO_LEFT, 1),
        (unsigned long long) mrcnn_counter_line_count (c, 0,
            MRCNN_COUNT_TO_RIGHT, 1), (unsigned long long) want[0],
        (unsigned long long) want[1]);
    mrcnn_counter_free (c);
  }
  ut_end ();
}

static void
test_zones (void)
{
  mrcnn_point sq[4] = { {100, 100}, {200, 100}, {200, 200}, {100, 200} };
  mrcnn_count_zone zone = { sq, 4 };
  mrcnn_counter *c = mrcnn_counter_new (NULL, 0, &zone, 1, 5.0, 1.0);
  const mrcnn_count_event *ev;
  mrcnn_count_obs o[2] = { {1, 1, {50, 150}}, {2, 3, {150, 150}} };
  uint64_t ids[4];
  double dwell[4];
  int n, f, enters = 0, exits = 0;

  ut_begin ("zones: occupancy, dwell, exits");
  n = mrcnn_counter_update (c, o, 2, 0.0, &ev);
  ut_check (n == 1 && ev[0].kind == MRCNN_COUNT_EVENT_ENTER
      && ev[0].track_id == 2, "track 2 starts inside");
  ut_check (mrcnn_counter_zone_occupancy (c, 0, 3) == 1
      && mrcnn_counter_zone_occupancy (c, 0, 1) == 0, "occupancy by class");
  /* track 1 walks in, jitters on the edge, stays */
  for (f = 1; f <= 60; f++) {
    o[0].anchor.x = f < 50 ? 50 + 2 * f : 100 + (f % 2 ? 3 : -3);
    n = mrcnn_counter_update (c, o, 2, f / 10.0, &ev);
    while (n-- > 0) {
      enters += ev[n].kind == MRCNN_COUNT_EVENT_ENTER;
      exits += ev[n].kind == MRCNN_COUNT_EVENT_EXIT;
    }
  }
  ut_check (enters == 1 && exits == 0, "one entry despite jitter (%d %d)",
      enters, exits);
  n = mrcnn_counter_zone_tracks (c, 0, ids, NULL, dwell, 4);
  ut_check (n == 2 && ids[0] == 1 && ids[1] == 2 && ut_close (dwell[1], 6.0,
          1e-9), "tracks inside with dwell (%d, %g)", n, dwell[1]);
  /* track 2 disappears: after forget-after it leaves */
  n = mrcnn_counter_update (c, o, 1, 6.5, &ev);
  ut_check (n == 0, "not yet forgotten");
  n = mrcnn_counter_update (c, o, 1, 7.2, &ev);
  ut_check (n == 1 && ev[0].kind == MRCNN_COUNT_EVENT_EXIT
      && ev[0].track_id == 2 && ut_close (ev[0].dwell, 6.0, 1e-9),
      "forgotten: exits with its dwell");
  ut_check (mrcnn_counter_zone_occupancy (c, 0, 3) == 0, "occupancy drops");
  mrcnn_counter_free (c);
  ut_end ();
}

int
main (void)
{
  ut_init ("test_counter");
  test_geometry ();
  test_lines ();
  test_random_walks ();
  test_zones ();
  return ut_finish ();
}
