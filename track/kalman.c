/* gst-maskrcnn tracking: the constant-velocity Kalman filter (see the
 * header).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "kalman.h"

#include <math.h>
#include <string.h>

void
mrcnn_kalman_scales (const double x[4], double scale[4])
{
  /* x and width follow the width, y and height the height */
  scale[0] = x[2];
  scale[1] = x[3];
  scale[2] = x[2];
  scale[3] = x[3];
}

void
mrcnn_kalman_edge_noise (double w, double h, double std[2])
{
  double x[4] = { 0.0, 0.0, w, h }, s[4];
  int a;

  mrcnn_kalman_scales (x, s);
  for (a = 0; a < 2; a++) {
    double rc = MRCNN_KALMAN_STD_POSITION * s[a];
    double rs = MRCNN_KALMAN_STD_POSITION * s[a + 2];

    std[a] = sqrt (rc * rc + 0.25 * rs * rs);
  }
}

void
mrcnn_kalman_init (mrcnn_kalman * k, const double box[4])
{
  double s[4];
  int i;

  memset (k, 0, sizeof (*k));
  memcpy (k->x, box, sizeof (k->x));
  mrcnn_kalman_scales (box, s);
  for (i = 0; i < 4; i++) {
    double sp = 2.0 * MRCNN_KALMAN_STD_POSITION * s[i];
    double sv = 10.0 * MRCNN_KALMAN_STD_VELOCITY * s[i];

    k->p[i][0] = sp * sp;
    k->p[i][1] = 0.0;
    k->p[i][2] = sv * sv;
  }
}

void
mrcnn_kalman_predict (mrcnn_kalman * k, int hold_size)
{
  double s[4];
  int i;

  if (hold_size)
    k->v[2] = k->v[3] = 0.0;
  /* The noise follows the size before the step, as in ByteTrack. */
  mrcnn_kalman_scales (k->x, s);
  for (i = 0; i < 4; i++) {
    double *p = k->p[i];
    double qp = MRCNN_KALMAN_STD_POSITION * s[i];
    double qv = MRCNN_KALMAN_STD_VELOCITY * s[i];
    /* F P F^T with F = [[1, 1], [0, 1]], plus Q */
    double p00 = p[0] + 2.0 * p[1] + p[2] + qp * qp;
    double p01 = p[1] + p[2];
    double p11 = p[2] + qv * qv;

    k->x[i] += k->v[i];
    p[0] = p00;
    p[1] = p01;
    p[2] = p11;
  }
  if (k->x[2] < 1.0)
    k->x[2] = 1.0;
  if (k->x[3] < 1.0)
    k->x[3] = 1.0;
}

void
mrcnn_kalman_update (mrcnn_kalman * k, const double box[4])
{
  double s[4];
  int i;

  mrcnn_kalman_scales (k->x, s);
  for (i = 0; i < 4; i++) {
    double *p = k->p[i];
    double r = MRCNN_KALMAN_STD_POSITION * s[i];
    double innov = box[i] - k->x[i];
    double sv = p[0] + r * r;   /* H P H^T + R */
    double g0 = p[0] / sv, g1 = p[1] / sv;  /* the gain K = P H^T / S */
    /* (I - K H) P, written so that it stays symmetric */
    double p00 = p[0] - g0 * p[0];
    double p01 = p[1] - g0 * p[1];
    double p11 = p[2] - g1 * p[1];

    k->x[i] += g0 * innov;
    k->v[i] += g1 * innov;
    p[0] = p00;
    p[1] = p01;
    p[2] = p11;
  }
}

void
mrcnn_kalman_box (const mrcnn_kalman * k, double xywh[4])
{
  xywh[0] = k->x[0] - 0.5 * k->x[2];
  xywh[1] = k->x[1] - 0.5 * k->x[3];
  xywh[2] = k->x[2];
  xywh[3] = k->x[3];
}
