/* gst-maskrcnn tracking: the plane geometry of counting (line sides,
 * segment crossings, polygons).
 *
 * Coordinates are frame pixels with y pointing down, as on the screen.
 * "Left of a line" is the side on one's left hand standing on its first
 * point and facing its second, as the picture shows it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef MRCNN_TRACK_GEOMETRY_H
#define MRCNN_TRACK_GEOMETRY_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  double x, y;
} mrcnn_point;

/* Signed distance of p from the line through a and b (a != b): positive
 * on its left, negative on its right. */
double mrcnn_geom_side (mrcnn_point a, mrcnn_point b, mrcnn_point p);

/* Whether the closed segments p0-p1 and q0-q1 share a point. */
int mrcnn_geom_segments_intersect (mrcnn_point p0, mrcnn_point p1,
    mrcnn_point q0, mrcnn_point q1);

/* Whether p lies inside the polygon of n vertices (even-odd rule; a point
 * on the boundary may go either way). */
int mrcnn_geom_point_in_polygon (const mrcnn_point * poly, int n,
    mrcnn_point p);

/* Distance from p to the polygon's boundary. */
double mrcnn_geom_polygon_distance (const mrcnn_point * poly, int n,
    mrcnn_point p);

typedef enum {
  MRCNN_POLYGON_OK = 0,
  MRCNN_POLYGON_TOO_FEW,        /* fewer than 3 points */
  MRCNN_POLYGON_REPEATED,       /* two consecutive points are the same */
  MRCNN_POLYGON_CROSSES,        /* two edges cross or overlap */
  MRCNN_POLYGON_FLAT            /* no area */
} mrcnn_polygon_problem;

/* Whether the polygon is simple (its edges meet only where consecutive
 * edges share a vertex). Where two edges cross, *edge_a and *edge_b (may
 * be NULL) get their indexes (edge i runs from point i to point i + 1). */
mrcnn_polygon_problem mrcnn_geom_polygon_check (const mrcnn_point * poly,
    int n, int *edge_a, int *edge_b);

#ifdef __cplusplus
}
#endif

#endif /* MRCNN_TRACK_GEOMETRY_H */
