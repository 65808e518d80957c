/* gst-maskrcnn tracking: a constant-velocity Kalman filter on a box.
 *
 * The state is the box centre, width and height and their velocities per
 * frame: (cx, cy, w, h, vcx, vcy, vw, vh). The motion (position += velocity,
 * velocity kept), the measurement (the box) and the noises act on each of the
 * four coordinates alone, so the 8 x 8 filter is four 2 x 2 filters: one
 * covariance [[p_pos, p_cross], [p_cross, p_vel]] per coordinate. The noise
 * standard deviations scale with the box, as ByteTrack's and BoT-SORT's do:
 * the x coordinates with the width, the y ones with the height, so that a
 * 20-pixel jump is large for a small object and small for a large one.
 *
 * Plain C, double precision, no allocation; tests/unit/test_kalman.c checks
 * it against the general 8 x 8 filter in long double.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef MRCNN_TRACK_KALMAN_H
#define MRCNN_TRACK_KALMAN_H

#ifdef __cplusplus
extern "C" {
#endif

/* Standard deviations as fractions of the box side (ByteTrack's weights):
 * of a measured position, of the process noise on positions, of the
 * process noise on velocities (per frame). */
#define MRCNN_KALMAN_STD_POSITION (1.0 / 20.0)
#define MRCNN_KALMAN_STD_VELOCITY (1.0 / 160.0)

typedef struct {
  double x[4];                  /* cx, cy, w, h */
  double v[4];                  /* their velocities, per frame */
  double p[4][3];               /* per coordinate: var(pos), cov, var(vel) */
} mrcnn_kalman;

/* Starts a filter at the measured box (cx, cy, w, h; w, h > 0) at rest,
 * with the uncertainty of a first sighting. */
void mrcnn_kalman_init (mrcnn_kalman * k, const double box[4]);

/* One frame of motion. `hold_size`: the size's velocity is set to zero
 * first (a track that missed its last measurement keeps its size rather
 * than shrinking or growing without evidence). Width and height never go
 * below 1 pixel. */
void mrcnn_kalman_predict (mrcnn_kalman * k, int hold_size);

/* Corrects the state with a measured box (cx, cy, w, h). */
void mrcnn_kalman_update (mrcnn_kalman * k, const double box[4]);

/* The state's box as (x, y, w, h) with (x, y) its top-left corner. */
void mrcnn_kalman_box (const mrcnn_kalman * k, double xywh[4]);

/* The standard deviation of the measurement noise of an edge of a box of
 * size (w, h): of a left or right edge (std[0]), of a top or bottom edge
 * (std[1]). An edge is a centre plus or minus half a size, each measured
 * with the noise the filter assumes, so its variance is var(centre) +
 * var(size) / 4. */
void mrcnn_kalman_edge_noise (double w, double h, double std[2]);

/* The noise standard deviations for a state of size (w, h), coordinate by
 * coordinate (the scale each coordinate's noise follows): exposed so that
 * the reference in the unit test uses the same model. */
void mrcnn_kalman_scales (const double x[4], double scale[4]);

#ifdef __cplusplus
}
#endif

#endif /* MRCNN_TRACK_KALMAN_H */
