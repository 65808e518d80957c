/* Unit tests of track/tracker.h: scripted scenes with known identities.
 * Every check compares ids and states with what the scene dictates: the
 * same object keeps its id, a new object (or one gone too long) gets a
 * new one, never one used before. Random scenes repeat the crossing case
 * with fresh speeds and sizes (seeded). */
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

static void
test_crossing (void)
{
  int sw, k, ok;

  ut_begin ("crossing objects keep their ids");
  ok = crossing (6, 60, 0.5, 1, &sw);
  ut_check (ok && sw == 0, "head on at 6 px/frame: %d switches", sw);
  ok = crossing (6, 60, 0.0, 1, &sw);
  ut_check (ok && sw == 0, "boxes only: %d switches", sw);
  ok = crossing (5, 60, 0.5, 2, &sw);
  ut_check (ok && sw == 0, "detections every 2nd frame: %d switches", sw);
  for (k = 0; k < 50; k++) {
    double speed = ut_uniform (1, 10), size = ut_uniform (30, 120);

    ok = crossing (speed, size, 0.5, ut_int (1, 2), &sw);
    ut_check (ok && sw == 0, "speed %.2f size %.1f: %d switches", speed,
        size, sw);
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
  return ut_finish ();
}
