/* gst-maskrcnn tracking: the multi-object tracker (see the header).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "tracker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "assign.h"
#include "kalman.h"
#include "masks.h"

typedef struct {
  uint64_t id;                  /* 0 while tentative */
  mrcnn_kalman kf;
  mrcnn_mask_grid mask;         /* of the last matched detection */
  double last_box[4];           /* that detection's box (x, y, w, h),
                                 * completed behind its occluders */
  double seen_box[4];           /* that detection's box as it was */
  double seen_kf[4];            /* the filter's box just after it */
  double size[2];               /* width and height when last seen whole
                                 * on that axis (no edge in an occluder);
                                 * until then, the first detection's */
  int seen_whole[2];            /* whether that axis has been seen whole */
  int class_id;
  int hits;                     /* frames matched */
  int since_update;             /* frames since the last match */
  int confirmed;
  int lost;                     /* missed on the last fresh frame */
} track;

struct mrcnn_tracker {
  mrcnn_tracker_params p;
  uint64_t next_id;
  long frames;                  /* fresh frames since the reset */
  track *tracks;
  int n_tracks, cap_tracks;
  mrcnn_assign *solver;
  /* per-frame scratch, grown as needed */
  mrcnn_mask_grid *grids;
  int *det_used, *dup, *rows, *cols, *r2c, *c2r;
  double *reach;                /* per detection, 4 edges: see occluders() */
  double *margin;               /* per detection, x and y: its edge gate */
  int cap_dets;
  double *cost;
  size_t cap_cost;
  int *tr_used;
  int cap_tr;
};

void
mrcnn_tracker_params_default (mrcnn_tracker_params * p)
{
  p->high_threshold = 0.5;
  p->low_threshold = 0.1;
  p->new_track_threshold = 0.6;
  p->match_threshold = 0.2;
  p->mask_weight = 0.5;
  p->min_hits = 3;
  p->max_age = 30;
  p->per_class = 1;
  p->duplicate_iou = 0.8;
}

mrcnn_tracker *
mrcnn_tracker_new (const mrcnn_tracker_params * params)
{
  mrcnn_tracker *t = calloc (1, sizeof (*t));

  if (!t)
    return NULL;
  t->p = *params;
  if (t->p.min_hits < 1)
    t->p.min_hits = 1;
  if (t->p.max_age < 0)
    t->p.max_age = 0;
  t->next_id = 1;
  t->solver = mrcnn_assign_new ();
  if (!t->solver) {
    free (t);
    return NULL;
  }
  return t;
}

void
mrcnn_tracker_free (mrcnn_tracker * t)
{
  if (!t)
    return;
  mrcnn_assign_free (t->solver);
  free (t->tracks);
  free (t->grids);
  free (t->det_used);
  free (t->dup);
  free (t->reach);
  free (t->margin);
  free (t->rows);
  free (t->cols);
  free (t->r2c);
  free (t->c2r);
  free (t->cost);
  free (t->tr_used);
  free (t);
}

void
mrcnn_tracker_reset (mrcnn_tracker * t)
{
  t->n_tracks = 0;
  t->frames = 0;
}

int
mrcnn_tracker_n_tracks (const mrcnn_tracker * t)
{
  return t->n_tracks;
}

uint64_t
mrcnn_tracker_next_id (const mrcnn_tracker * t)
{
  return t->next_id;
}

int
mrcnn_tracker_track_box (const mrcnn_tracker * t, uint64_t track_id,
    double xywh[4])
{
  int i;

  for (i = 0; i < t->n_tracks; i++)
    if (t->tracks[i].id == track_id) {
      mrcnn_kalman_box (&t->tracks[i].kf, xywh);
      return 1;
    }
  return 0;
}

int
mrcnn_tracker_visible_box (const mrcnn_tracker * t, uint64_t track_id,
    double xywh[4])
{
  int i;

  for (i = 0; i < t->n_tracks; i++)
    if (t->tracks[i].id == track_id) {
      const track *tr = &t->tracks[i];
      double p[4], sw, sh;

      mrcnn_kalman_box (&tr->kf, p);
      sw = tr->seen_kf[2] > 0.0 ? p[2] / tr->seen_kf[2] : 1.0;
      sh = tr->seen_kf[3] > 0.0 ? p[3] / tr->seen_kf[3] : 1.0;
      /* the seen box keeps its place in the filter's box, which moves
       * and scales as predicted */
      xywh[0] = p[0] + (tr->seen_box[0] - tr->seen_kf[0]) * sw;
      xywh[1] = p[1] + (tr->seen_box[1] - tr->seen_kf[1]) * sh;
      xywh[2] = tr->seen_box[2] * sw;
      xywh[3] = tr->seen_box[3] * sh;
      return 1;
    }
  return 0;
}

static void
predict_all (mrcnn_tracker * t)
{
  int i;

  for (i = 0; i < t->n_tracks; i++) {
    track *tr = &t->tracks[i];

    /* a track that missed a measurement keeps its size */
    mrcnn_kalman_predict (&tr->kf, tr->lost);
    tr->since_update++;
  }
}

void
mrcnn_tracker_advance (mrcnn_tracker * t)
{
  predict_all (t);
}

/* Grows an int array to `cap` entries; 0 when out of memory. */
static int
grow_ints (int **a, int cap)
{
  int *n = realloc (*a, (size_t) cap * sizeof (int));

  if (!n)
    return 0;
  *a = n;
  return 1;
}

/* Room for a frame of n_dets detections against the current tracks. */
static int
reserve (mrcnn_tracker * t, int n_dets)
{
  size_t need_cost = (size_t) t->n_tracks * (size_t) (n_dets ? n_dets : 1);

  if (n_dets > t->cap_dets) {
    int cap = n_dets * 2;
    void *g = realloc (t->grids, (size_t) cap * sizeof (*t->grids));

    if (!g)
      return 0;
    t->grids = g;
    g = realloc (t->reach, (size_t) cap * 4 * sizeof (double));
    if (!g)
      return 0;
    t->reach = g;
    g = realloc (t->margin, (size_t) cap * 2 * sizeof (double));
    if (!g)
      return 0;
    t->margin = g;
    if (!grow_ints (&t->det_used, cap) || !grow_ints (&t->dup, cap)
        || !grow_ints (&t->cols, cap)
        || !grow_ints (&t->c2r, cap))
      return 0;
    t->cap_dets = cap;
  }
  if (t->n_tracks + 1 > t->cap_tr) {
    int cap = (t->n_tracks + 1) * 2;

    if (!grow_ints (&t->tr_used, cap) || !grow_ints (&t->rows, cap)
        || !grow_ints (&t->r2c, cap))
      return 0;
    t->cap_tr = cap;
  }
  if (need_cost > t->cap_cost) {
    void *c = realloc (t->cost, need_cost * 2 * sizeof (double));

    if (!c)
      return 0;
    t->cost = c;
    t->cap_cost = need_cost * 2;
  }
  return 1;
}

static void
input_box (const mrcnn_track_input * d, double xywh[4])
{
  xywh[0] = d->x;
  xywh[1] = d->y;
  xywh[2] = d->w;
  xywh[3] = d->h;
}

/* A detection's box completed behind its occluders towards a track's box
 * tb: each edge of the detection that lies inside an occluder's box and
 * falls short of tb's by more than the track's gate[] (x edges, y edges)
 * is moved out as far as tb reaches, but no further than the occluder
 * (the part of the object hidden behind it), reach[] being how far the
 * occluders go on each side (see occluders()). Returns 1 when an edge
 * moved. Boxes are (x, y, w, h). */
static int
complete_box (const double tb[4], const double db[4], const double reach[4],
    const double gate[2], double out[4])
{
  double x1 = db[0], y1 = db[1], x2 = db[0] + db[2], y2 = db[1] + db[3];
  double tx1 = tb[0], ty1 = tb[1], tx2 = tb[0] + tb[2], ty2 = tb[1] + tb[3];
  double nx1 = x1, ny1 = y1, nx2 = x2, ny2 = y2;

  if (reach[0] < x1 && tx1 < x1 - gate[0])
    nx1 = fmin (x1, fmax (tx1, reach[0]));
  if (reach[1] < y1 && ty1 < y1 - gate[1])
    ny1 = fmin (y1, fmax (ty1, reach[1]));
  if (reach[2] > x2 && tx2 > x2 + gate[0])
    nx2 = fmax (x2, fmin (tx2, reach[2]));
  if (reach[3] > y2 && ty2 > y2 + gate[1])
    ny2 = fmax (y2, fmin (ty2, reach[3]));
  out[0] = nx1;
  out[1] = ny1;
  out[2] = nx2 - nx1;
  out[3] = ny2 - ny1;
  return nx1 != x1 || ny1 != y1 || nx2 != x2 || ny2 != y2;
}

/* How far a detection's edge may fall short of a track's box before it is
 * taken as cut by an occluder: the 95 % two-sided gate (1.96 standard
 * deviations) of the edge's measurement noise, so that the detector's
 * jitter on an edge that touches another object is not taken for a cut. */
static void
edge_gate (const track * tr, double gate[2])
{
  mrcnn_kalman_edge_noise (tr->kf.x[2], tr->kf.x[3], gate);
  gate[0] *= MRCNN_TRACKER_EDGE_GATE;
  gate[1] *= MRCNN_TRACKER_EDGE_GATE;
}

/* Similarity of a track's mask on box tb and detection di. With
 * `complete`, a detection that an occluder cuts is taken as the visible
 * part of its object: its box is completed behind the occluder towards tb
 * before the boxes are compared, and the masks (the detection's shows
 * only the visible part) are left out. */
static double
similarity_at (const mrcnn_tracker * t, const track * tr, const double tb[4],
    const mrcnn_track_input * dets, int di, const mrcnn_mask_grid * g,
    int complete)
{
  double db[4], cb[4], gate[2], box_iou, mask_iou;

  input_box (&dets[di], db);
  if (complete) {
    edge_gate (tr, gate);
    if (complete_box (tb, db, &t->reach[4 * di], gate, cb))
      return mrcnn_box_iou (tb, cb);
  }
  box_iou = mrcnn_box_iou (tb, db);
  if (box_iou <= 0.0)
    return 0.0;
  if (t->p.mask_weight <= 0.0 || !tr->mask.valid || !g->valid)
    return box_iou;
  mask_iou = mrcnn_mask_grid_iou (&tr->mask, tb, g, db);
  return (1.0 - t->p.mask_weight) * box_iou + t->p.mask_weight * mask_iou;
}

/* Similarity of a track and a detection: on the track's predicted box,
 * and for a track that has missed frames also on its last seen box (the
 * better of the two), since a prediction carried through an occlusion
 * drifts from where an object that stopped or turned comes out again. */
static double
similarity (const mrcnn_tracker * t, const track * tr,
    const mrcnn_track_input * dets, int di, const mrcnn_mask_grid * g,
    int complete)
{
  double tb[4], s;

  mrcnn_kalman_box (&tr->kf, tb);
  s = similarity_at (t, tr, tb, dets, di, g, complete);
  if (tr->since_update > 1) {
    double l = similarity_at (t, tr, tr->last_box, dets, di, g, complete);
    if (l > s)
      s = l;
  }
  return s;
}

/* The detection's box restored to the track's size behind its occluders:
 * on each axis where an edge lies inside an occluder and the detection is
 * smaller than the size the track had when last seen whole on that axis
 * by more than the 95 % gate of the size's measurement noise, the cut
 * side is moved out to that size; where both edges lie inside occluders
 * the predicted centre places it. The size may reach past the occluder:
 * an object wider than its occluder shows on both sides of it, as two
 * detections (see fragments()).
 * Returns 1 when an edge moved; otherwise cb is the detection's box and
 * whole[a] says whether axis a (x, y) had no edge inside an occluder. */
static int
restore_size (const track * tr, const double tb[4], const double db[4],
    const double reach[4], double cb[4], int whole[2])
{
  int a, moved = 0;

  memcpy (cb, db, 4 * sizeof (double));
  for (a = 0; a < 2; a++) {
    double lo = db[a], hi = db[a] + db[a + 2], size = tr->size[a];
    int lo_in = reach[a] < lo, hi_in = reach[a + 2] > hi;
    double gate = MRCNN_TRACKER_EDGE_GATE * MRCNN_KALMAN_STD_POSITION * size;

    whole[a] = !lo_in && !hi_in;
    if (whole[a] || size - (hi - lo) <= gate)
      continue;
    /* an axis never seen whole has no size of the object: its first
     * extent, jitter included, still tells a deeper cut, but a cut
     * detection is restored no further than the filter's size, so that
     * a first extent the jitter inflated cannot hold the track above
     * what the detections show for as long as the axis stays cut */
    if (!tr->seen_whole[a])
      size = fmin (size, tb[a + 2]);
    if (hi_in && !lo_in)
      hi = lo + size;
    else if (lo_in && !hi_in)
      lo = hi - size;
    else {
      double c = tb[a] + 0.5 * tb[a + 2];

      lo = fmin (lo, c - 0.5 * size);
      hi = fmax (hi, c + 0.5 * size);
    }
    moved |= lo != cb[a] || hi != cb[a] + cb[a + 2];
    cb[a] = lo;
    cb[a + 2] = hi - lo;
  }
  return moved;
}

/* The track measures the detection's box, restored behind its occluders
 * to the size the object had when seen whole (restore_size()): a partly
 * hidden object keeps its size and its speed instead of shrinking into
 * its visible part, and is found again where it comes out. The mask is
 * kept from the last detection that nothing cut. */
static void
apply_match (mrcnn_tracker * t, track * tr, const mrcnn_track_input * dets,
    int di, const mrcnn_mask_grid * g)
{
  const mrcnn_track_input *d = &dets[di];
  double tb[4], db[4], cb[4], m[4];
  int whole[2], a;

  mrcnn_kalman_box (&tr->kf, tb);
  input_box (d, db);
  if (!restore_size (tr, tb, db, &t->reach[4 * di], cb, whole))
    tr->mask = *g;
  m[0] = cb[0] + 0.5 * cb[2];
  m[1] = cb[1] + 0.5 * cb[3];
  m[2] = cb[2];
  m[3] = cb[3];
  mrcnn_kalman_update (&tr->kf, m);
  for (a = 0; a < 2; a++)
    if (whole[a]) {
      tr->size[a] = tr->kf.x[a + 2];
      tr->seen_whole[a] = 1;
    }
  memcpy (tr->last_box, cb, sizeof (cb));
  memcpy (tr->seen_box, db, sizeof (db));
  mrcnn_kalman_box (&tr->kf, tr->seen_kf);
  tr->class_id = d->class_id;
  tr->hits++;
  tr->since_update = 0;
  tr->lost = 0;
  if (tr->hits >= t->p.min_hits && !tr->confirmed) {
    tr->confirmed = 1;
    tr->id = t->next_id++;
  }
}

/* One association stage between the listed tracks and detections.
 * Matched ones are marked used and written to out. Returns -1 when memory
 * ran out. */
static int
stage (mrcnn_tracker * t, const int *rows, int nr, const int *cols, int nc,
    const mrcnn_track_input * dets, double min_similarity, int complete,
    mrcnn_track_output * out)
{
  int r, c, k;
  double limit = 1.0 - min_similarity;

  if (nr == 0 || nc == 0)
    return 0;
  for (r = 0; r < nr; r++) {
    const track *tr = &t->tracks[rows[r]];

    for (c = 0; c < nc; c++) {
      const mrcnn_track_input *d = &dets[cols[c]];
      double cost = NAN;        /* not admissible */

      if (!t->p.per_class || d->class_id == tr->class_id) {
        double s = similarity (t, tr, dets, cols[c], &t->grids[cols[c]],
            complete);
        if (s > 0.0)
          cost = 1.0 - s;
      }
      t->cost[(size_t) r * nc + c] = cost;
    }
  }
  if (mrcnn_assign_solve (t->solver, t->cost, nr, nc, (size_t) nc, limit,
          t->r2c, t->c2r) < 0)
    return -1;
  for (r = 0; r < nr; r++) {
    track *tr;
    int di;

    if ((k = t->r2c[r]) < 0)
      continue;
    tr = &t->tracks[rows[r]];
    di = cols[k];
    apply_match (t, tr, dets, di, &t->grids[di]);
    t->tr_used[rows[r]] = 1;
    t->det_used[di] = 1;
    out[di].track_id = tr->id;
    out[di].state = tr->confirmed ? MRCNN_TRACK_CONFIRMED :
        MRCNN_TRACK_TENTATIVE;
  }
  return 0;
}

static int
add_track (mrcnn_tracker * t, const mrcnn_track_input * d,
    const double reach[4], const mrcnn_mask_grid * g, mrcnn_track_output * o)
{
  double m[4] = { d->x + 0.5 * d->w, d->y + 0.5 * d->h, d->w, d->h };
  double db[4];
  track *tr;
  int a;

  if (t->n_tracks == t->cap_tr) {
    /* tr_used, rows and r2c stay as long as the track list */
    int cap = t->cap_tr ? t->cap_tr * 2 : 16;

    if (!grow_ints (&t->tr_used, cap) || !grow_ints (&t->rows, cap)
        || !grow_ints (&t->r2c, cap))
      return -1;
    t->cap_tr = cap;
  }
  if (t->n_tracks == t->cap_tracks) {
    int cap = t->cap_tracks ? t->cap_tracks * 2 : 16;
    void *a = realloc (t->tracks, (size_t) cap * sizeof (track));

    if (!a)
      return -1;
    t->tracks = a;
    t->cap_tracks = cap;
  }
  tr = &t->tracks[t->n_tracks];
  memset (tr, 0, sizeof (*tr));
  mrcnn_kalman_init (&tr->kf, m);
  tr->mask = *g;
  input_box (d, tr->last_box);
  input_box (d, tr->seen_box);
  mrcnn_kalman_box (&tr->kf, tr->seen_kf);
  /* On an axis that an occluder cuts from the start the first extent is
   * only a reference for cuts until the axis is seen whole (see
   * restore_size()). */
  input_box (d, db);
  for (a = 0; a < 2; a++) {
    tr->size[a] = db[a + 2];
    tr->seen_whole[a] = reach[a] >= db[a]
        && reach[a + 2] <= db[a] + db[a + 2];
  }
  tr->class_id = d->class_id;
  tr->hits = 1;
  /* objects there when the stream starts are not held back */
  tr->confirmed = t->frames == 1 || tr->hits >= t->p.min_hits;
  if (tr->confirmed)
    tr->id = t->next_id++;
  t->tr_used[t->n_tracks] = 1;
  t->n_tracks++;
  o->track_id = tr->id;
  o->state = tr->confirmed ? MRCNN_TRACK_CONFIRMED : MRCNN_TRACK_TENTATIVE;
  return 0;
}

/* For each detection, how far the occluders that may hide part of its
 * object reach on each side: an occluder of detection i is a confident
 * detection j (score >= high_threshold) whose box holds one of i's edges
 * (the edge's line crosses j's box, i and j overlapping) without being
 * nearly the same box as i (box IoU <= MRCNN_TRACKER_OCCLUDER_IOU: that
 * is one object found twice). Where an occluder cuts an object, the cut
 * edge is the occluder's own edge, which the detector places with some
 * jitter: j's box is taken grown by the gate of its edges' measurement
 * noise (MRCNN_TRACKER_EDGE_GATE deviations). reach[4i..4i+3] are the
 * least x1, least y1, greatest x2 and greatest y2 of the occluders holding
 * i's left, top, right and bottom edge: i's own edge where none does. */
static void
occluders (mrcnn_tracker * t, const mrcnn_track_input * dets, int n)
{
  int i, j;

  for (j = 0; j < n; j++) {
    double *m = &t->margin[2 * j];

    mrcnn_kalman_edge_noise (dets[j].w, dets[j].h, m);
    m[0] *= MRCNN_TRACKER_EDGE_GATE;
    m[1] *= MRCNN_TRACKER_EDGE_GATE;
  }
  for (i = 0; i < n; i++) {
    double *r = &t->reach[4 * i];
    double bi[4];
    double x1, y1, x2, y2;

    input_box (&dets[i], bi);
    x1 = bi[0];
    y1 = bi[1];
    x2 = bi[0] + bi[2];
    y2 = bi[1] + bi[3];
    r[0] = x1;
    r[1] = y1;
    r[2] = x2;
    r[3] = y2;
    if (t->det_used[i])
      continue;
    for (j = 0; j < n; j++) {
      const mrcnn_track_input *o = &dets[j];
      const double *m = &t->margin[2 * j];
      double bo[4], ox1, oy1, ox2, oy2;

      if (j == i || t->det_used[j] || o->score < t->p.high_threshold)
        continue;
      input_box (o, bo);
      ox1 = bo[0] - m[0];
      oy1 = bo[1] - m[1];
      ox2 = bo[0] + bo[2] + m[0];
      oy2 = bo[1] + bo[3] + m[1];
      if (ox2 <= x1 || ox1 >= x2 || oy2 <= y1 || oy1 >= y2
          || mrcnn_box_iou (bi, bo) > MRCNN_TRACKER_OCCLUDER_IOU)
        continue;
      if (ox1 < x1 && x1 < ox2)
        r[0] = fmin (r[0], bo[0]);
      if (oy1 < y1 && y1 < oy2)
        r[1] = fmin (r[1], bo[1]);
      if (ox1 < x2 && x2 < ox2)
        r[2] = fmax (r[2], bo[0] + bo[2]);
      if (oy1 < y2 && y2 < oy2)
        r[3] = fmax (r[3], bo[1] + bo[3]);
    }
  }
}

/* An object behind another can come out as several detections, one per
 * visible piece. Once the tracks have taken their detections, a confident
 * detection left that an occluder cuts (an edge inside another's box) and
 * that lies mostly (more than MRCNN_TRACKER_MOSTLY_INSIDE of its area)
 * inside the box of a confirmed track of its class matched on this frame
 * is another piece of that track's object: it neither continues nor
 * starts a track, so that the piece that grows as the object comes out
 * again is found by the object's track rather than by a new one. */
static void
fragments (mrcnn_tracker * t, const mrcnn_track_input * dets, int n)
{
  int i, k;

  for (i = 0; i < n; i++) {
    const double *r = &t->reach[4 * i];
    double b[4], area;

    if (t->det_used[i] || dets[i].score < t->p.high_threshold)
      continue;
    input_box (&dets[i], b);
    if (!(r[0] < b[0] || r[1] < b[1] || r[2] > b[0] + b[2]
            || r[3] > b[1] + b[3]))
      continue;
    area = b[2] * b[3];
    for (k = 0; k < t->n_tracks; k++) {
      const track *tr = &t->tracks[k];
      double tb[4], iw, ih;

      if (!t->tr_used[k] || !tr->confirmed
          || (t->p.per_class && tr->class_id != dets[i].class_id))
        continue;
      mrcnn_kalman_box (&tr->kf, tb);
      iw = fmin (b[0] + b[2], tb[0] + tb[2]) - fmax (b[0], tb[0]);
      ih = fmin (b[1] + b[3], tb[1] + tb[3]) - fmax (b[1], tb[1]);
      if (iw > 0.0 && ih > 0.0
          && iw * ih > MRCNN_TRACKER_MOSTLY_INSIDE * area) {
        t->det_used[i] = 1;
        break;
      }
    }
  }
}

/* A detector can report two objects, one in front of the other, as one
 * detection of a third class over both. A confident detection left that
 * holds most (more than MRCNN_TRACKER_MOSTLY_INSIDE) of the boxes of two
 * or more confirmed tracks, and that those boxes fill (their parts inside
 * it, added up, cover most of it), is taken as such a merge: it starts no
 * track. A large object with smaller ones in front of it still starts its
 * track: the smaller ones fill little of its box. */
static void
merges (mrcnn_tracker * t, const mrcnn_track_input * dets, int n)
{
  int i, k;

  for (i = 0; i < n; i++) {
    double b[4], filled = 0.0;
    int held = 0;

    if (t->det_used[i] || dets[i].score < t->p.high_threshold)
      continue;
    input_box (&dets[i], b);
    for (k = 0; k < t->n_tracks; k++) {
      const track *tr = &t->tracks[k];
      double tb[4], iw, ih;

      if (!tr->confirmed)
        continue;
      mrcnn_kalman_box (&tr->kf, tb);
      iw = fmin (b[0] + b[2], tb[0] + tb[2]) - fmax (b[0], tb[0]);
      ih = fmin (b[1] + b[3], tb[1] + tb[3]) - fmax (b[1], tb[1]);
      if (iw > 0.0 && ih > 0.0
          && iw * ih > MRCNN_TRACKER_MOSTLY_INSIDE * tb[2] * tb[3]) {
        held++;
        filled += iw * ih;
      }
    }
    if (held >= 2 && filled > MRCNN_TRACKER_MOSTLY_INSIDE * b[2] * b[3])
      t->det_used[i] = 1;
  }
}

int
mrcnn_tracker_update (mrcnn_tracker * t, const mrcnn_track_input * dets,
    int n, mrcnn_track_output * out)
{
  int i, nr, nc, w;

  for (i = 0; i < n; i++) {
    out[i].track_id = 0;
    out[i].state = MRCNN_TRACK_NONE;
  }
  predict_all (t);
  t->frames++;
  if (!reserve (t, n))
    return -1;
  for (i = 0; i < t->n_tracks; i++)
    t->tr_used[i] = 0;
  for (i = 0; i < n; i++) {
    const mrcnn_track_input *d = &dets[i];

    t->det_used[i] = !(d->score >= t->p.low_threshold && d->w > 0
        && d->h > 0);
  }
  /* A detector with per-class NMS may report one object twice, as two
   * classes on nearly the same box: the weaker one may continue a track
   * of its class (the detector may be right about it rather than about
   * the stronger one) but never starts one. */
  for (i = 0; i < n; i++) {
    double bi[4];
    int j;

    t->dup[i] = 0;
    if (t->det_used[i] || t->p.duplicate_iou >= 1.0)
      continue;
    input_box (&dets[i], bi);
    for (j = 0; j < n && !t->dup[i]; j++) {
      double bj[4];

      if (j == i || t->det_used[j] || dets[j].class_id == dets[i].class_id
          || dets[j].score < dets[i].score || (dets[j].score == dets[i].score
              && j > i))
        continue;
      input_box (&dets[j], bj);
      t->dup[i] = mrcnn_box_iou (bi, bj) > t->p.duplicate_iou;
    }
  }
  occluders (t, dets, n);
  for (i = 0; i < n; i++)
    if (!t->det_used[i])
      mrcnn_mask_grid_from_gray8 (&t->grids[i], dets[i].mask,
          dets[i].mask_width, dets[i].mask_height, dets[i].mask_stride);

  /* 1: confirmed tracks with the confident detections */
  for (i = 0, nr = 0; i < t->n_tracks; i++)
    if (t->tracks[i].confirmed)
      t->rows[nr++] = i;
  for (i = 0, nc = 0; i < n; i++)
    if (!t->det_used[i] && dets[i].score >= t->p.high_threshold)
      t->cols[nc++] = i;
  if (stage (t, t->rows, nr, t->cols, nc, dets, t->p.match_threshold, 0,
          out) < 0)
    goto oom;

  /* 1b: confirmed tracks still unmatched with the confident detections
   * left, those cut by an occluder completed behind it: an object coming
   * out from behind another (or going behind it) shows only a part. After
   * stage 1, so that a detection that a track explains as it is never goes
   * to another track that needs a hidden part to explain it. */
  for (i = 0, nr = 0; i < t->n_tracks; i++)
    if (t->tracks[i].confirmed && !t->tr_used[i])
      t->rows[nr++] = i;
  for (i = 0, nc = 0; i < n; i++)
    if (!t->det_used[i] && dets[i].score >= t->p.high_threshold)
      t->cols[nc++] = i;
  if (stage (t, t->rows, nr, t->cols, nc, dets, t->p.match_threshold, 1,
          out) < 0)
    goto oom;

  /* 2: confirmed tracks seen on the last fresh frame, still unmatched,
   * with the low-score detections */
  for (i = 0, nr = 0; i < t->n_tracks; i++)
    if (t->tracks[i].confirmed && !t->tr_used[i] && !t->tracks[i].lost)
      t->rows[nr++] = i;
  for (i = 0, nc = 0; i < n; i++)
    if (!t->det_used[i] && dets[i].score < t->p.high_threshold)
      t->cols[nc++] = i;
  if (stage (t, t->rows, nr, t->cols, nc, dets, MRCNN_TRACKER_LOW_MATCH, 0,
          out) < 0)
    goto oom;

  fragments (t, dets, n);
  merges (t, dets, n);

  /* 3: tentative tracks with the confident detections left */
  for (i = 0, nr = 0; i < t->n_tracks; i++)
    if (!t->tracks[i].confirmed)
      t->rows[nr++] = i;
  for (i = 0, nc = 0; i < n; i++)
    if (!t->det_used[i] && dets[i].score >= t->p.high_threshold)
      t->cols[nc++] = i;
  if (stage (t, t->rows, nr, t->cols, nc, dets,
          MRCNN_TRACKER_TENTATIVE_MATCH, 0, out) < 0)
    goto oom;

  /* track life: unmatched tentative tracks end, confirmed ones are lost
   * and end after max_age frames */
  for (i = 0, w = 0; i < t->n_tracks; i++) {
    track *tr = &t->tracks[i];

    if (!t->tr_used[i]) {
      tr->lost = 1;
      if (!tr->confirmed || tr->since_update > t->p.max_age)
        continue;
    }
    if (w != i) {
      t->tracks[w] = *tr;
      t->tr_used[w] = t->tr_used[i];
    }
    w++;
  }
  t->n_tracks = w;

  /* 4: new tracks from confident detections left */
  for (i = 0; i < n; i++)
    if (!t->det_used[i] && !t->dup[i] && dets[i].score >= t->p.high_threshold
        && dets[i].score >= t->p.new_track_threshold) {
      if (add_track (t, &dets[i], &t->reach[4 * i], &t->grids[i],
              &out[i]) < 0)
        goto oom;
      t->det_used[i] = 1;
    }
  return 0;

oom:
  for (i = 0; i < n; i++) {
    out[i].track_id = 0;
    out[i].state = MRCNN_TRACK_NONE;
  }
  return -1;
}
