/* gst-maskrcnn tracking: optimal assignment of rows (tracks) to columns
 * (detections) with a cost limit.
 *
 * Minimises the sum of the matched pairs' costs plus limit / 2 for every
 * row and every column left unmatched, as lap.lapjv(extend_cost=True,
 * cost_limit=limit) does for ByteTrack: a pair is matched only where that
 * beats leaving both alone, so no matched pair costs limit or more. Pairs
 * whose cost is not below the limit are left out before solving; the rows
 * and columns then fall apart into independent groups (objects far from
 * each other share no admissible pair), and each group is solved alone by
 * the shortest augmenting path method (Jonker-Volgenant) on its extended
 * square matrix. Exact: the objective is a sum over the groups.
 *
 * Plain C, double precision. tests/unit/test_assign.c checks the optimum
 * against enumeration in long double.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef MRCNN_TRACK_ASSIGN_H
#define MRCNN_TRACK_ASSIGN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrcnn_assign mrcnn_assign;

/* A solver with scratch space that grows as needed and is reused: keep one
 * per tracker. NULL when out of memory. */
mrcnn_assign *mrcnn_assign_new (void);
void mrcnn_assign_free (mrcnn_assign * a);

/* Solves for the rows x cols matrix `cost` (row-major, `stride` doubles per
 * row; NaN or anything >= limit: not admissible). Writes row_to_col[r] (the
 * matched column or -1) and col_to_row[c] likewise. Returns the number of
 * matched pairs, or -1 when memory ran out (the outputs then say nothing is
 * matched). */
int mrcnn_assign_solve (mrcnn_assign * a, const double *cost, int rows,
    int cols, size_t stride, double limit, int *row_to_col, int *col_to_row);

#ifdef __cplusplus
}
#endif

#endif /* MRCNN_TRACK_ASSIGN_H */
