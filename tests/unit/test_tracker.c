/* Unit tests of track/tracker.h: scripted scenes with known identities.
 * Every check compares ids and states with what the scene dictates: the
 * same object keeps its id, a new object (or one gone too long) gets a
 * new one, never one used before. Random scenes repeat the crossing case
 * with fresh speeds and sizes (seeded). */
#include "kalman.h"
#include "masks.h"
#include "tracker.h"
#include "unit_test.h"

/* A disc mask for a w x h box. */
static uint8_t disc[64 * 64];

static void
make_disc (void)
{
  int x, y;

  for (y = 0; y < 64; y++)
    for (x = 0; x < 64; x++) {
      double u = (x + 0.5) / 64 - 0.5, v = (y + 0.5) / 64 - 0.5;
      disc[y * 64 + x] = u * u + v * v < 0.25 ? 255 : 0;
    }
}

static mrcnn_track_input
det (double cx, double cy, double size, double score, int class_id)
{
  mrcnn_track_input d;

  memset (&d, 0, sizeof (d));
  d.x = cx - size / 2;
  d.y = cy - size / 2;
  d.w = size;
  d.h = size;
  d.score = score;
  d.class_id = class_id;
  d.mask = disc;
  d.mask_width = d.mask_height = d.mask_stride = 64;
  return d;
}

static mrcnn_tracker *
new_tracker (int min_hits, int max_age, int per_class)
{
  mrcnn_tracker_params p;

  mrcnn_tracker_params_default (&p);
  p.min_hits = min_hits;
  p.max_age = max_age;
  p.per_class = per_class;
  return mrcnn_tracker_new (&p);
}

/* Two objects crossing each other head on (same class, same size, their
 * boxes overlapping for several frames): ids follow the objects. */
static int
crossing (double speed, double size, double mask_weight, int interval,
    int *switches)
{
  mrcnn_tracker_params p;
  mrcnn_tracker *t;
  uint64_t id_a = 0, id_b = 0;
  int f, ok = 1;

  mrcnn_tracker_params_default (&p);
  p.mask_weight = mask_weight;
  t = mrcnn_tracker_new (&p);
  *switches = 0;
  for (f = 0; f < 80; f++) {
    double xa = 100 + speed * f, xb = 100 + speed * 79 - speed * f;
    mrcnn_track_input d[2];
    mrcnn_track_output o[2];

    if (f % interval) {
      mrcnn_tracker_advance (t);
      continue;
    }
    /* listed in a varying order, as a detector's scores would */
    d[f % 3 == 0] = det (xa, 200 + 0.2 * size, size, 0.9, 1);
    d[f % 3 != 0] = det (xb, 200 - 0.2 * size, size, 0.9, 1);
    if (mrcnn_tracker_update (t, d, 2, o) < 0)
      ok = 0;
    {
      uint64_t a = o[f % 3 == 0].track_id, b = o[f % 3 != 0].track_id;

      if (f == 0) {
        id_a = a;
        id_b = b;
        ok &= a != 0 && b != 0 && a != b;
      } else {
        *switches += (a != id_a) + (b != id_b);
      }
    }
  }
  mrcnn_tracker_free (t);
  return ok;
}

/* The first stage's similarity of a disc on its square box and the same
 * disc moved along x by r of its size (0 <= r <= 1), as exact geometry:
 * box IoU (1 - r) / (1 + r); two discs of diameter 1 whose centres are r
 * apart share the lens (acos r - r sqrt (1 - r^2)) / 2 of their pi / 4. */
static double
stepped_disc_similarity (double r, double mask_weight)
{
  double lens = (acos (r) - r * sqrt (1.0 - r * r)) / 2.0;

  return (1.0 - mask_weight) * (1.0 - r) / (1.0 + r)
      + mask_weight * lens / (M_PI / 2.0 - lens);
}

/* The largest step, as a fraction of the size, at which that similarity
 * still reaches `threshold` (both terms fall as r grows: bisection). */
static double
largest_step (double threshold, double mask_weight)
{
  double lo = 0.0, hi = 1.0;
  int i;

  for (i = 0; i < 60; i++) {
    double mid = 0.5 * (lo + hi);

    if (stepped_disc_similarity (mid, mask_weight) >= threshold)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

/* The same similarity as the tracker computes it: the test's disc on its
 * 32 x 32 grid, on a box of `size` and on that box moved by `step`. */
static double
tracker_step_similarity (double size, double step, double mask_weight)
{
  mrcnn_mask_grid g;
  double a[4] = { 0.0, 0.0, size, size }, b[4] = { step, 0.0, size, size };

  mrcnn_mask_grid_from_gray8 (&g, disc, 64, 64, 64);
  return (1.0 - mask_weight) * mrcnn_box_iou (a, b)
      + mask_weight * mrcnn_mask_grid_iou (&g, a, &g, b);
}

static void
test_crossing (void)
{
  mrcnn_tracker_params p;
  double r_max;
  int sw, k, ok;

  ut_begin ("crossing objects keep their ids");
  ok = crossing (6, 60, 0.5, 1, &sw);
  ut_check (ok && sw == 0, "head on at 6 px/frame: %d switches", sw);
  ok = crossing (6, 60, 0.0, 1, &sw);
  ut_check (ok && sw == 0, "boxes only: %d switches", sw);
  ok = crossing (5, 60, 0.5, 2, &sw);
  ut_check (ok && sw == 0, "detections every 2nd frame: %d switches", sw);
  /* The random scenes' domain. On the first fresh frame after frame 0 no
   * velocity is known yet (the filter starts at 0), so each track predicts
   * its frame 0 box and its object is speed * interval further on; the first
   * stage takes that detection only where their similarity reaches
   * match_threshold, which for the disc happens up to a step of r_max of its
   * size (0.611 at the defaults: 0.2, ByteTrack's first-stage IoU, and mask
   * weight 0.5). Beyond it neither object is followed at all: every
   * detection after frame 0 starts a tentative track that the next step
   * leaves the same way (the tentative stage asks for 0.3), every later id
   * differs (78 switches at interval 2), and the objects never cross as
   * tracks (seed 1514502687 drew speed 9.96, size 30.7 at interval 2: a step
   * of 0.649). That is the reach of a first match, not a crossing, so speeds
   * are drawn up to r_max * size / interval; it bounds only interval 2 below
   * size 2 * 10 / r_max = 32.7. The tracker samples the disc on its 32 x 32
   * grid, whose similarity falls below 0.2 a little later (r = 0.6146 for
   * sizes 30 to 120, measured every 0.05 px): each scene checks that premise
   * at its own step. */
  mrcnn_tracker_params_default (&p);
  r_max = largest_step (p.match_threshold, 0.5);
  for (k = 0; k < 50; k++) {
    double size = ut_uniform (30, 120);
    int interval = ut_int (1, 2);
    double speed = ut_uniform (1, fmin (10, r_max * size / interval));
    double first = tracker_step_similarity (size, speed * interval, 0.5);

    ut_check (first >= p.match_threshold, "speed %.2f size %.1f interval "
        "%d: the first step's similarity %.4f reaches %.2f", speed, size,
        interval, first, p.match_threshold);
    ok = crossing (speed, size, 0.5, interval, &sw);
    ut_check (ok && sw == 0, "speed %.2f size %.1f interval %d: %d "
        "switches", speed, size, interval, sw);
  }
  ut_end ();
}

static void
test_life (void)
{
  mrcnn_tracker *t = new_tracker (3, 5, 1);
  mrcnn_track_input d[2];
  mrcnn_track_output o[2];
  uint64_t first, second, seen_max = 0;
  int f;

  ut_begin ("track life: min-hits, max-age, ids never reused");
  /* frame 1: objects there from the start are confirmed at once */
  d[0] = det (100, 100, 40, 0.9, 1);
  mrcnn_tracker_update (t, d, 1, o);
  first = o[0].track_id;
  ut_check (first == 1 && o[0].state == MRCNN_TRACK_CONFIRMED,
      "first frame confirms (id %llu)", (unsigned long long) first);
  /* a new object later is tentative for min-hits - 1 frames, without an
   * id, and gets the next id when confirmed */
  for (f = 0; f < 3; f++) {
    d[0] = det (100 + 2 * (f + 1), 100, 40, 0.9, 1);
    d[1] = det (300, 300, 40, 0.9, 2);
    mrcnn_tracker_update (t, d, 2, o);
    ut_check (o[0].track_id == first, "object 1 keeps its id");
    ut_check (o[1].state == (f < 2 ? MRCNN_TRACK_TENTATIVE :
            MRCNN_TRACK_CONFIRMED), "frame %d: state %d", f, o[1].state);
    ut_check (o[1].track_id == (f < 2 ? 0 : first + 1),
        "frame %d: id %llu", f, (unsigned long long) o[1].track_id);
  }
  second = o[1].track_id;
  /* a tentative track ends at its first miss, and never had an id */
  d[1] = det (500, 100, 40, 0.9, 2);
  mrcnn_tracker_update (t, d, 2, o);
  ut_check (o[1].state == MRCNN_TRACK_TENTATIVE && o[1].track_id == 0,
      "a tentative track shows no id");
  ut_check (mrcnn_tracker_n_tracks (t) == 3, "three tracks");
  mrcnn_tracker_update (t, d, 1, o);
  ut_check (mrcnn_tracker_n_tracks (t) == 2,
      "the tentative track ended at its miss, object 2 is lost but kept "
      "(%d tracks)", mrcnn_tracker_n_tracks (t));
  ut_check (mrcnn_tracker_next_id (t) == second + 1,
      "tentative tracks take no ids");
  /* a confirmed track survives max-age frames without a match */
  mrcnn_tracker_reset (t);
  d[0] = det (100, 100, 40, 0.9, 1);
  mrcnn_tracker_update (t, d, 1, o);
  first = o[0].track_id;
  ut_check (first == second + 1, "ids go on after a reset (%llu)",
      (unsigned long long) first);
  for (f = 0; f < 5; f++)
    mrcnn_tracker_update (t, d, 0, o);
  mrcnn_tracker_update (t, d, 1, o);
  ut_check (o[0].track_id == first, "back after max-age frames: same id");
  for (f = 0; f < 6; f++)
    mrcnn_tracker_update (t, d, 0, o);
  for (f = 0; f < 3; f++)
    mrcnn_tracker_update (t, d, 1, o);
  ut_check (o[0].track_id != first && o[0].track_id > first,
      "back after max-age + 1 frames: a new track, a new id");
  seen_max = o[0].track_id;
  ut_check (mrcnn_tracker_next_id (t) == seen_max + 1, "next id");
  mrcnn_tracker_free (t);
  ut_end ();
}

static void
test_scores_and_classes (void)
{
  mrcnn_tracker *t = new_tracker (1, 30, 1);
  mrcnn_track_input d[2];
  mrcnn_track_output o[2];
  uint64_t id;
  int f;

  ut_begin ("two stages and classes");
  d[0] = det (100, 100, 40, 0.3, 1);
  mrcnn_tracker_update (t, d, 1, o);
  ut_check (o[0].track_id == 0 && o[0].state == MRCNN_TRACK_NONE,
      "a low-score detection starts no track");
  d[0] = det (100, 100, 40, 0.55, 1);
  mrcnn_tracker_update (t, d, 1, o);
  ut_check (o[0].track_id == 0, "below new-track-threshold: no track");
  d[0] = det (100, 100, 40, 0.9, 1);
  mrcnn_tracker_update (t, d, 1, o);
  id = o[0].track_id;
  ut_check (id != 0, "a confident detection starts one");
  for (f = 1; f <= 5; f++) {
    d[0] = det (100 + 3 * f, 100, 40, 0.2, 1);
    mrcnn_tracker_update (t, d, 1, o);
    ut_check (o[0].track_id == id, "frame %d: low-score continues", f);
  }
  d[0] = det (100 + 18, 100, 40, 0.05, 1);
  mrcnn_tracker_update (t, d, 1, o);
  ut_check (o[0].track_id == 0, "below low-threshold: ignored");
  /* per class: a detection of another class at the same place */
  d[0] = det (100 + 21, 100, 40, 0.9, 2);
  mrcnn_tracker_update (t, d, 1, o);
  ut_check (o[0].track_id != id && o[0].track_id != 0,
      "per class: another class starts its own track");
  mrcnn_tracker_free (t);

  t = new_tracker (1, 30, 0);
  d[0] = det (100, 100, 40, 0.9, 1);
  mrcnn_tracker_update (t, d, 1, o);
  id = o[0].track_id;
  d[0] = det (103, 100, 40, 0.9, 2);
  mrcnn_tracker_update (t, d, 1, o);
  ut_check (o[0].track_id == id, "across classes: the track goes on");
  mrcnn_tracker_free (t);
  ut_end ();
}

static void
test_duplicates_and_recovery (void)
{
  mrcnn_tracker *t = new_tracker (1, 30, 1);
  mrcnn_track_input d[2];
  mrcnn_track_output o[2];
  uint64_t id;
  int f;

  ut_begin ("duplicates of another class, recovery where a track stopped");
  mrcnn_tracker_reset (t);
  /* the same object as a square (0.9) and a circle (0.8): one track */
  d[0] = det (100, 100, 40, 0.9, 2);
  d[1] = det (101, 100, 40, 0.8, 1);
  mrcnn_tracker_update (t, d, 2, o);
  ut_check (o[0].track_id != 0 && o[1].track_id == 0
      && o[1].state == MRCNN_TRACK_NONE,
      "the weaker duplicate starts no track");
  /* a circle track goes on with the circle when a square shows up over it
   * and scores higher */
  d[0] = det (300, 100, 40, 0.9, 1);
  mrcnn_tracker_update (t, d, 1, o);
  id = o[0].track_id;
  d[0] = det (300, 100, 40, 0.6, 1);
  d[1] = det (301, 100, 40, 0.7, 2);
  mrcnn_tracker_update (t, d, 2, o);
  ut_check (o[0].track_id == id, "a duplicate continues its class's track");
  /* a circle well apart is its own object */
  d[1] = det (130, 100, 40, 0.8, 1);
  mrcnn_tracker_update (t, d, 2, o);
  ut_check (o[1].state != MRCNN_TRACK_NONE, "an overlapping other object "
      "is not a duplicate");
  mrcnn_tracker_free (t);

  /* an object moving right stops behind an occluder for 12 frames: its
   * prediction goes on, 60 px past it; it is found again where it stopped */
  t = new_tracker (1, 30, 1);
  for (f = 0; f < 20; f++) {
    d[0] = det (100 + 5 * f, 100, 40, 0.9, 1);
    mrcnn_tracker_update (t, d, 1, o);
  }
  id = o[0].track_id;
  for (f = 0; f < 12; f++)
    mrcnn_tracker_update (t, d, 0, o);
  d[0] = det (100 + 5 * 19, 100, 40, 0.9, 1);
  mrcnn_tracker_update (t, d, 1, o);
  ut_check (o[0].track_id == id, "recovered at its last box (%llu, %llu)",
      (unsigned long long) o[0].track_id, (unsigned long long) id);
  mrcnn_tracker_free (t);
  ut_end ();
}

/* A box with no mask: a piece of an object cut by an occluder. */
static mrcnn_track_input
piece (double x1, double x2, double cy, double h, double score,
    int class_id)
{
  mrcnn_track_input d;

  memset (&d, 0, sizeof (d));
  d.x = x1;
  d.y = cy - h / 2;
  d.w = x2 - x1;
  d.h = h;
  d.score = score;
  d.class_id = class_id;
  return d;
}

/* An object of `size` moving right at `speed` passes behind an occluder
 * (another class, standing, spanning it from top to bottom) from x = ox1
 * to x = ox2. Its detections are what shows: the whole box, the part left
 * of the occluder, nothing, the part right of it (or both parts, where the
 * object is wider than the occluder); a detector misses pieces narrower
 * than 6 px. Returns 1 when the object kept one id from start to end, no
 * other id was given, and no piece showed an id other than the object's;
 * *w_min is the least width of the track's box while the object was
 * behind, *gap the frames in which nothing of it showed. */
static int
behind_occluder (double speed, double size, double ox1, double ox2,
    int interval, double *w_min, int *gap)
{
  mrcnn_tracker_params p;
  mrcnn_tracker *t;
  uint64_t id = 0, occ_id = 0;
  int f, ok = 1, frames = (int) ((ox2 + size - 100) / speed) + 10;

  mrcnn_tracker_params_default (&p);
  t = mrcnn_tracker_new (&p);
  *w_min = 1e9;
  *gap = 0;
  for (f = 0; f < frames; f++) {
    double x1 = 100 + speed * f, x2 = x1 + size, box[4];
    mrcnn_track_input d[3];
    mrcnn_track_output o[3];
    int n = 0, k;

    if (f % interval) {
      mrcnn_tracker_advance (t);
      continue;
    }
    d[n++] = piece (ox1, ox2, 200, 1.6 * size, 0.95, 2);
    if (x2 <= ox1 || x1 >= ox2)
      d[n++] = det (x1 + size / 2, 200, size, 0.9, 1);
    else {
      if (ox1 - x1 >= 6)
        d[n++] = piece (x1, ox1, 200, size, 0.9, 1);
      if (x2 - ox2 >= 6)
        d[n++] = piece (ox2, x2, 200, size, 0.9, 1);
      if (n == 1)
        (*gap)++;
    }
    if (mrcnn_tracker_update (t, d, n, o) < 0)
      ok = 0;
    if (f == 0) {
      occ_id = o[0].track_id;
      id = o[1].track_id;
      ok &= id != 0 && occ_id != 0 && id != occ_id;
      continue;
    }
    ok &= o[0].track_id == occ_id;
    for (k = 1; k < n; k++)
      ok &= o[k].track_id == 0 || o[k].track_id == id;
    if (x1 < ox2 && x2 > ox1 && mrcnn_tracker_track_box (t, id, box)
        && box[2] < *w_min)
      *w_min = box[2];
    if (f == frames - 1)
      ok &= o[1].track_id == id;
  }
  ok &= mrcnn_tracker_next_id (t) == 3;
  mrcnn_tracker_free (t);
  return ok;
}

static void
test_occlusion (void)
{
  double w_min, gate;
  int k, gap, ok;

  ut_begin ("objects passing behind an occluder keep their ids and sizes");
  /* the track keeps the object's size while it is cut: by no more than the
   * size gate (1.96 noise deviations of a size, 1/20 of it, as measured) */
  gate = MRCNN_TRACKER_EDGE_GATE * MRCNN_KALMAN_STD_POSITION * 50;
  ok = behind_occluder (4, 50, 300, 380, 1, &w_min, &gap);
  ut_check (ok, "4 px/frame behind a wider occluder (%d frames unseen)",
      gap);
  ut_check (w_min > 50 - gate - 1, "its box was %.1f px wide at least, "
      "the object 50", w_min);
  ok = behind_occluder (4, 50, 300, 380, 2, &w_min, &gap);
  ut_check (ok, "detections every 2nd frame (%d unseen)", gap);
  ok = behind_occluder (3, 60, 300, 330, 1, &w_min, &gap);
  ut_check (ok, "behind a narrower occluder, seen as two pieces");
  for (k = 0; k < 40; k++) {
    double speed = ut_uniform (2, 6), size = ut_uniform (40, 80);
    /* from half the object's width to as wide as hides it (pieces under
     * 6 px included) for 25 frames, within max-age (30) */
    double width = ut_uniform (0.5 * size, size + 25 * speed - 12);

    ok = behind_occluder (speed, size, 300, 300 + width, ut_int (1, 2),
        &w_min, &gap);
    ut_check (ok, "speed %.2f size %.1f occluder %.1f: ids kept (%d "
        "frames unseen)", speed, size, width, gap);
    ut_check (w_min > size - MRCNN_TRACKER_EDGE_GATE *
        MRCNN_KALMAN_STD_POSITION * size - 1, "size %.1f kept: %.1f", size,
        w_min);
  }
  ut_end ();
}

/* An object whose right edge lies inside another's box, both standing,
 * the detector's edges jittering: the cut test leaves it measured as it is
 * (its box neither grows nor shrinks beyond the jitter). */
static void
test_touching (void)
{
  mrcnn_tracker_params p;
  mrcnn_tracker *t;
  mrcnn_track_input d[2];
  mrcnn_track_output o[2];
  double box[4], wmax = 0, wmin = 1e9;
  int f;

  ut_begin ("an edge inside another box, with jitter, is measured as it is");
  mrcnn_tracker_params_default (&p);
  t = mrcnn_tracker_new (&p);
  for (f = 0; f < 300; f++) {
    double j[4];
    int k;

    for (k = 0; k < 4; k++)
      j[k] = ut_uniform (-2, 2);
    d[0] = piece (200 + j[0], 250 + j[1], 200, 50, 0.9, 1);
    d[1] = piece (240 + j[2], 320 + j[3], 200, 80, 0.9, 2);
    mrcnn_tracker_update (t, d, 2, o);
    if (f >= 20 && mrcnn_tracker_track_box (t, o[0].track_id, box)) {
      wmax = fmax (wmax, box[2]);
      wmin = fmin (wmin, box[2]);
    }
  }
  /* the filter's width stays within the jitter of the width (each edge
   * +-2 px, the width +-4 px) */
  ut_check (wmin > 46 && wmax < 54, "width %.2f to %.2f, the object 50",
      wmin, wmax);
  ut_check (mrcnn_tracker_next_id (t) == 3, "two tracks");
  mrcnn_tracker_free (t);
  ut_end ();
}

/* Two objects, one in front of the other, that the detector also reports
 * as one detection of a third class over both: that detection starts no
 * track. A large object with two small ones in front of it, filling
 * little of its box, starts its own. */
static void
test_merges (void)
{
  mrcnn_tracker *t = new_tracker (1, 30, 1);
  mrcnn_track_input d[3];
  mrcnn_track_output o[3];
  int f;

  ut_begin ("a detection over two tracked objects starts no track");
  for (f = 0; f < 10; f++) {
    d[0] = det (200 + f, 200, 60, 0.95, 1);
    d[1] = det (240 + f, 210, 60, 0.9, 3);
    mrcnn_tracker_update (t, d, 2, o);
  }
  for (f = 10; f < 20; f++) {
    d[0] = det (200 + f, 200, 60, 0.95, 1);
    d[1] = det (240 + f, 210, 60, 0.9, 3);
    /* the union of the two, as a square */
    d[2] = piece (170 + f, 270 + f, 205, 70, 0.9, 2);
    mrcnn_tracker_update (t, d, 3, o);
    ut_check (o[0].track_id == 1 && o[1].track_id == 2,
        "frame %d: both objects keep their ids", f);
    ut_check (o[2].state == MRCNN_TRACK_NONE, "frame %d: the merge is "
        "no track (state %d)", f, o[2].state);
  }
  ut_check (mrcnn_tracker_next_id (t) == 3, "no id given to the merge");
  mrcnn_tracker_free (t);

  t = new_tracker (1, 30, 1);
  for (f = 0; f < 10; f++) {
    d[0] = det (120 + f, 150, 40, 0.95, 1);
    d[1] = det (400 - f, 300, 40, 0.9, 3);
    mrcnn_tracker_update (t, d, 2, o);
  }
  d[2] = piece (80, 480, 230, 220, 0.9, 2);
  mrcnn_tracker_update (t, d, 3, o);
  ut_check (o[0].track_id == 1 && o[1].track_id == 2 && o[2].track_id == 3,
      "a large object around two small ones gets a track (%llu)",
      (unsigned long long) o[2].track_id);
  mrcnn_tracker_free (t);
  ut_end ();
}

/* Carried to frames without detections, an instance goes where its track
 * predicts its detection: the visible part, moved with the object. */
static void
test_visible_box (void)
{
  mrcnn_tracker_params p;
  mrcnn_tracker *t;
  mrcnn_track_input d[2];
  mrcnn_track_output o[2];
  double vis[4], whole[4];
  int f;

  ut_begin ("the visible part of a cut object moves with its track");
  mrcnn_tracker_params_default (&p);
  t = mrcnn_tracker_new (&p);
  /* a 50 px object moving right at 4 px/frame, from x 100, goes behind an
   * occluder standing from x 400 to 480 */
  for (f = 0; f < 72; f++) {
    double x1 = 100 + 4 * f;

    d[0] = piece (400, 480, 200, 80, 0.95, 2);
    d[1] = x1 + 50 <= 400 ? det (x1 + 25, 200, 50, 0.9, 1) :
        piece (x1, 400, 200, 50, 0.9, 1);
    mrcnn_tracker_update (t, d, 2, o);
  }
  /* frame 71: the object at 384..434, its visible part 384..400 */
  mrcnn_tracker_advance (t);
  ut_check (mrcnn_tracker_visible_box (t, o[1].track_id, vis)
      && mrcnn_tracker_track_box (t, o[1].track_id, whole), "boxes");
  /* one frame on, the filter's velocity within a pixel of 4 px/frame */
  ut_check (ut_close (vis[0], 388, 1.0) && ut_close (vis[2], 16, 1.0),
      "the visible part moved on: x %.2f w %.2f (388, 16)", vis[0], vis[2]);
  ut_check (ut_close (whole[2], 50, MRCNN_TRACKER_EDGE_GATE *
          MRCNN_KALMAN_STD_POSITION * 50), "the whole box keeps its width: "
      "%.2f", whole[2]);
  ut_check (!mrcnn_tracker_visible_box (t, 9999, vis), "unknown id");
  mrcnn_tracker_free (t);
  ut_end ();
}

static void
test_advance (void)
{
  mrcnn_tracker *t = new_tracker (1, 30, 1);
  mrcnn_track_input d[1];
  mrcnn_track_output o[1];
  double box[4], before;
  int f;

  ut_begin ("frames without detections move the tracks");
  for (f = 0; f < 20; f++) {
    d[0] = det (100 + 4 * f, 100, 40, 0.9, 1);
    mrcnn_tracker_update (t, d, 1, o);
  }
  ut_check (mrcnn_tracker_track_box (t, o[0].track_id, box), "box");
  before = box[0] + box[2] / 2;
  mrcnn_tracker_advance (t);
  mrcnn_tracker_track_box (t, o[0].track_id, box);
  /* the velocity has converged to 4 px/frame within a pixel */
  ut_check (ut_close (box[0] + box[2] / 2 - before, 4.0, 1.0),
      "moved %.3f px", box[0] + box[2] / 2 - before);
  ut_check (!mrcnn_tracker_track_box (t, 9999, box), "unknown id");
  ut_check (mrcnn_tracker_n_tracks (t) == 1, "one track");
  mrcnn_tracker_free (t);
  ut_end ();
}

int
main (void)
{
  ut_init ("test_tracker");
  make_disc ();
  test_crossing ();
  test_life ();
  test_scores_and_classes ();
  test_duplicates_and_recovery ();
  test_advance ();
  test_occlusion ();
  test_touching ();
  test_merges ();
  test_visible_box ();
  return ut_finish ();
}
