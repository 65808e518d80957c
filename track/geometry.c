/* gst-maskrcnn tracking: plane geometry (see the header).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "geometry.h"

#include <math.h>

static double
cross (mrcnn_point o, mrcnn_point a, mrcnn_point b)
{
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

double
mrcnn_geom_side (mrcnn_point a, mrcnn_point b, mrcnn_point p)
{
  /* With y down, a positive cross product turns clockwise on the screen:
   * the right-hand side. */
  return -cross (a, b, p) / hypot (b.x - a.x, b.y - a.y);
}

static int
sign (double v)
{
  return (v > 0) - (v < 0);
}

/* q lies within the bounding box of p0-p1 (for collinear points). */
static int
on_segment (mrcnn_point p0, mrcnn_point p1, mrcnn_point q)
{
  return fmin (p0.x, p1.x) <= q.x && q.x <= fmax (p0.x, p1.x)
      && fmin (p0.y, p1.y) <= q.y && q.y <= fmax (p0.y, p1.y);
}

int
mrcnn_geom_segments_intersect (mrcnn_point p0, mrcnn_point p1,
    mrcnn_point q0, mrcnn_point q1)
{
  int d1 = sign (cross (q0, q1, p0)), d2 = sign (cross (q0, q1, p1));
  int d3 = sign (cross (p0, p1, q0)), d4 = sign (cross (p0, p1, q1));

  if (d1 * d2 < 0 && d3 * d4 < 0)
    return 1;
  return (d1 == 0 && on_segment (q0, q1, p0))
      || (d2 == 0 && on_segment (q0, q1, p1))
      || (d3 == 0 && on_segment (p0, p1, q0))
      || (d4 == 0 && on_segment (p0, p1, q1));
}

int
mrcnn_geom_point_in_polygon (const mrcnn_point * poly, int n, mrcnn_point p)
{
  int i, j, inside = 0;

  for (i = 0, j = n - 1; i < n; j = i++) {
    const mrcnn_point *a = &poly[i], *b = &poly[j];

    if ((a->y > p.y) != (b->y > p.y)
        && p.x < (b->x - a->x) * (p.y - a->y) / (b->y - a->y) + a->x)
      inside = !inside;
  }
  return inside;
}

static double
segment_distance (mrcnn_point a, mrcnn_point b, mrcnn_point p)
{
  double dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy, t;

  if (len2 <= 0.0)
    return hypot (p.x - a.x, p.y - a.y);
  t = ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  return hypot (p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

double
mrcnn_geom_polygon_distance (const mrcnn_point * poly, int n, mrcnn_point p)
{
  double best = INFINITY;
  int i;

  for (i = 0; i < n; i++)
    best = fmin (best, segment_distance (poly[i], poly[(i + 1) % n], p));
  return best;
}

mrcnn_polygon_problem
mrcnn_geom_polygon_check (const mrcnn_point * poly, int n, int *edge_a,
    int *edge_b)
{
  double area = 0.0;
  int i, j;

  if (n < 3)
    return MRCNN_POLYGON_TOO_FEW;
  for (i = 0; i < n; i++) {
    mrcnn_point a = poly[i], b = poly[(i + 1) % n];

    if (a.x == b.x && a.y == b.y) {
      if (edge_a)
        *edge_a = i;
      if (edge_b)
        *edge_b = (i + 1) % n;
      return MRCNN_POLYGON_REPEATED;
    }
    area += a.x * b.y - b.x * a.y;
  }
  for (i = 0; i < n; i++) {
    for (j = i + 1; j < n; j++) {
      mrcnn_point a0 = poly[i], a1 = poly[(i + 1) % n];
      mrcnn_point b0 = poly[j], b1 = poly[(j + 1) % n];
      int adjacent = j == i + 1 || (i == 0 && j == n - 1);

      if (adjacent) {
        /* consecutive edges share one vertex; they must not fold back
         * over each other */
        mrcnn_point shared = j == i + 1 ? a1 : a0;
        mrcnn_point other_a = j == i + 1 ? a0 : a1;
        mrcnn_point other_b = j == i + 1 ? b1 : b0;

        if (cross (shared, other_a, other_b) == 0.0
            && (other_a.x - shared.x) * (other_b.x - shared.x)
            + (other_a.y - shared.y) * (other_b.y - shared.y) > 0.0) {
          if (edge_a)
            *edge_a = i;
          if (edge_b)
            *edge_b = j;
          return MRCNN_POLYGON_CROSSES;
        }
        continue;
      }
      if (mrcnn_geom_segments_intersect (a0, a1, b0, b1)) {
        if (edge_a)
          *edge_a = i;
        if (edge_b)
          *edge_b = j;
        return MRCNN_POLYGON_CROSSES;
      }
    }
  }
  if (area == 0.0)
    return MRCNN_POLYGON_FLAT;
  return MRCNN_POLYGON_OK;
}
