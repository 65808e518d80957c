/* gst-maskrcnn tracking: a multi-object tracker for instance segmentation
 * (what the maskrcnntrack element runs, with no GStreamer in it).
 *
 * Each track has a constant-velocity Kalman filter on its box (kalman.h)
 * and the mask of its last detection (masks.h). A frame's detections are
 * associated with the tracks in ByteTrack's stages, each an optimal
 * assignment (assign.h) on the similarity
 *
 *   (1 - mask_weight) * IoU(predicted box, detection box)
 *     + mask_weight * IoU(track mask on the predicted box, detection mask)
 *
 * (for a track that has missed frames, the better of that and the same on
 * its last seen box). A detection whose box overlaps a better scoring one
 * of another class by more than duplicate_iou is a duplicate (per-class
 * NMS lets one object through as two classes): it may continue a track of
 * its class, never start one.
 *
 * 1. confirmed tracks (including lost ones) with the confident detections
 *    (score >= high_threshold), similarity >= match_threshold;
 * 1b. confirmed tracks still unmatched with the confident detections left,
 *    similarity >= match_threshold, each detection that an occluder cuts
 *    completed behind it (below);
 * 2. confirmed tracks still unmatched and not lost with the low-score
 *    detections (low_threshold <= score < high_threshold), similarity >=
 *    MRCNN_TRACKER_LOW_MATCH: low-score detections continue tracks, they
 *    never start one;
 * 3. tentative tracks with the confident detections left, similarity >=
 *    MRCNN_TRACKER_TENTATIVE_MATCH;
 * 4. confident detections still left, scoring >= new_track_threshold,
 *    start tentative tracks.
 *
 * Occlusion: an occluder of a detection is another confident detection
 * whose box holds one of the detection's edges (and is not nearly the same
 * box). An object passing behind another shows only a part, and its
 * detection shrinks to that part; a track measures such a detection
 * restored to the size it had when last seen whole on that axis (where the
 * detection falls short of it by more than the 95 % gate of the size's
 * measurement noise), the cut side moved out behind the occluder. So the
 * track keeps the object's size and speed while it is hidden, and in stage
 * 1b a detection of the part that comes out again, completed behind the
 * occluder towards the track's box, is compared whole with it. The mask is
 * kept from the last detection nothing cut. Before stage 3, a confident
 * detection left that an occluder cuts and that lies mostly inside the
 * box of a matched track of its class is another visible piece of that
 * track's object, and one that holds most of two or more confirmed
 * tracks' boxes, which fill it, is the detector's merge of those objects:
 * neither starts a track.
 *
 * A track is tentative until it has been matched on min_hits frames (those
 * of the first frame are confirmed at once, as SORT and ByteTrack do); a
 * tentative track ends the first frame it is not matched, a confirmed one
 * after max_age frames without a match. With per_class, tracks and
 * detections of different classes never match.
 *
 * A track gets its id when it is confirmed, so that a detector's one-off
 * false detections (tentative tracks that end at once) never show one;
 * ids are 64-bit, start at 1 and are never reused by one tracker, not even
 * after mrcnn_tracker_reset().
 *
 * Frames whose detections are not new (the detector ran on an earlier
 * frame: maskrcnn's interval) go through mrcnn_tracker_advance(), which
 * only moves the tracks by their predicted motion; the caller then places
 * each carried instance on its track's predicted box.
 *
 * Plain C; not thread-safe (one tracker per stream).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef MRCNN_TRACK_TRACKER_H
#define MRCNN_TRACK_TRACKER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ByteTrack's second and third stages' thresholds, as similarities
 * (ByteTrack's costs 0.5 and 0.7). */
#define MRCNN_TRACKER_LOW_MATCH 0.5
#define MRCNN_TRACKER_TENTATIVE_MATCH 0.3

/* Two detections whose boxes overlap more than this are one object found
 * twice, not an object and its occluder. */
#define MRCNN_TRACKER_OCCLUDER_IOU 0.5

/* A detection's edge (or size) that falls short of its track's by more
 * than this many standard deviations of its measurement noise, while the
 * edge lies inside an occluder, is taken as cut by the occluder: 1.96, the
 * two-sided 95 % gate. */
#define MRCNN_TRACKER_EDGE_GATE 1.96

/* "Most of" a box: more than half of its area (a detection that lies
 * mostly inside a track's box, a track's box mostly inside a detection). */
#define MRCNN_TRACKER_MOSTLY_INSIDE 0.5

typedef struct {
  double high_threshold;        /* confident detections: score >= this */
  double low_threshold;         /* detections below are ignored */
  double new_track_threshold;   /* a detection starts a track from here */
  double match_threshold;       /* least similarity of the first stage */
  double mask_weight;           /* 0: boxes only, 1: masks only */
  int min_hits;                 /* matched frames until confirmed, >= 1 */
  int max_age;                  /* frames a confirmed track may miss */
  int per_class;                /* classes never mix */
  double duplicate_iou;         /* a detection whose box overlaps a better
                                 * one of another class more than this
                                 * starts no track (1: all may) */
} mrcnn_tracker_params;

/* The defaults of the maskrcnntrack element's properties. */
void mrcnn_tracker_params_default (mrcnn_tracker_params * p);

typedef struct {
  double x, y, w, h;            /* box in frame pixels, w, h > 0 */
  double score;
  int class_id;
  const uint8_t *mask;          /* box-relative GRAY8, or NULL */
  int mask_width, mask_height, mask_stride;
} mrcnn_track_input;

typedef enum {
  MRCNN_TRACK_NONE = 0,         /* neither starts nor continues a track */
  MRCNN_TRACK_TENTATIVE,        /* starts or continues a tentative one */
  MRCNN_TRACK_CONFIRMED
} mrcnn_track_state;

typedef struct {
  uint64_t track_id;            /* 0 unless MRCNN_TRACK_CONFIRMED */
  mrcnn_track_state state;
} mrcnn_track_output;

typedef struct mrcnn_tracker mrcnn_tracker;

/* A tracker with copied parameters; NULL when out of memory. Free with
 * mrcnn_tracker_free(). */
mrcnn_tracker *mrcnn_tracker_new (const mrcnn_tracker_params * params);
void mrcnn_tracker_free (mrcnn_tracker * t);

/* Ends every track (a new stream, new caps); ids go on from where they
 * were. */
void mrcnn_tracker_reset (mrcnn_tracker * t);

/* One frame with fresh detections: predicts the tracks, associates, and
 * writes out[i] for each of the n detections. Returns 0, or -1 when memory
 * ran out (out[] then says NONE for every detection, and the tracks may
 * have taken part of the frame's matches). */
int mrcnn_tracker_update (mrcnn_tracker * t, const mrcnn_track_input * dets,
    int n, mrcnn_track_output * out);

/* One frame without fresh detections: the tracks move by their predicted
 * motion, nothing is matched, none ends. */
void mrcnn_tracker_advance (mrcnn_tracker * t);

/* The predicted box (x, y, w, h) of a live track: the whole object,
 * hidden parts included; 0 when no track has that id. */
int mrcnn_tracker_track_box (const mrcnn_tracker * t, uint64_t track_id,
    double xywh[4]);

/* Where a live track's last detection is now: that detection's box (the
 * visible part of the object, where an occluder cut it) moved and scaled
 * with the track's predicted box since. This is where maskrcnntrack puts
 * an instance it carries to a frame without fresh detections. 0 when no
 * track has that id. */
int mrcnn_tracker_visible_box (const mrcnn_tracker * t, uint64_t track_id,
    double xywh[4]);

/* Live tracks (tentative and confirmed). */
int mrcnn_tracker_n_tracks (const mrcnn_tracker * t);

/* The id the next new track gets. */
uint64_t mrcnn_tracker_next_id (const mrcnn_tracker * t);

#ifdef __cplusplus
}
#endif

#endif /* MRCNN_TRACK_TRACKER_H */
