/* gst-maskrcnn tracking: optimal assignment with a cost limit (see the
 * header).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "assign.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mrcnn_assign {
  /* union-find over rows (0..rows-1) and columns (rows..rows+cols-1), and
   * one group's rows and columns: n_cap entries each */
  int *parent, *grow, *gcol;
  size_t n_cap;
  /* one group's extended square matrix (m_cap doubles) and the solver's
   * vectors (vec_cap entries each) */
  double *m;
  size_t m_cap;
  double *u, *v, *minv;
  int *p, *way;
  char *used;
  size_t vec_cap;
};

mrcnn_assign *
mrcnn_assign_new (void)
{
  return calloc (1, sizeof (mrcnn_assign));
}

void
mrcnn_assign_free (mrcnn_assign * a)
{
  if (!a)
    return;
  free (a->parent);
  free (a->grow);
  free (a->gcol);
  free (a->m);
  free (a->u);
  free (a->v);
  free (a->minv);
  free (a->p);
  free (a->way);
  free (a->used);
  free (a);
}

/* Grows *ptr to hold `need` elements of `elem` bytes; 0 when out of
 * memory (*ptr is then unchanged). */
static int
grow_to (void **ptr, size_t need, size_t elem)
{
  void *n = realloc (*ptr, need * elem);

  if (!n)
    return 0;
  *ptr = n;
  return 1;
}

static int
reserve_nodes (mrcnn_assign * a, size_t n)
{
  if (n <= a->n_cap)
    return 1;
  if (!grow_to ((void **) &a->parent, n, sizeof (int))
      || !grow_to ((void **) &a->grow, n, sizeof (int))
      || !grow_to ((void **) &a->gcol, n, sizeof (int)))
    return 0;
  a->n_cap = n;
  return 1;
}

/* Room for an m x m group. */
static int
reserve_group (mrcnn_assign * a, size_t m)
{
  if (m * m > a->m_cap) {
    if (!grow_to ((void **) &a->m, m * m, sizeof (double)))
      return 0;
    a->m_cap = m * m;
  }
  if (m + 1 > a->vec_cap) {
    size_t need = m + 1;

    if (!grow_to ((void **) &a->u, need, sizeof (double))
        || !grow_to ((void **) &a->v, need, sizeof (double))
        || !grow_to ((void **) &a->minv, need, sizeof (double))
        || !grow_to ((void **) &a->p, need, sizeof (int))
        || !grow_to ((void **) &a->way, need, sizeof (int))
        || !grow_to ((void **) &a->used, need, 1))
      return 0;
    a->vec_cap = need;
  }
  return 1;
}

static int
find (int *parent, int i)
{
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

static int
admissible (double c, double limit)
{
  return c < limit;             /* false for NaN */
}

/* Minimum-cost perfect matching of the n x n matrix a->m (row-major) by
 * shortest augmenting paths with potentials; a->p[j] (1-based) receives the
 * row matched to column j. O(n^3). */
static void
solve_square (mrcnn_assign * a, int n)
{
  double *u = a->u, *v = a->v, *minv = a->minv;
  int *p = a->p, *way = a->way;
  char *used = a->used;
  int i, j;

  for (j = 0; j <= n; j++) {
    u[j] = v[j] = 0.0;
    p[j] = 0;
    way[j] = 0;
  }
  for (i = 1; i <= n; i++) {
    int j0 = 0;

    p[0] = i;
    for (j = 0; j <= n; j++) {
      minv[j] = INFINITY;
      used[j] = 0;
    }
    do {
      int i0 = p[j0], j1 = 0;
      double delta = INFINITY;

      used[j0] = 1;
      for (j = 1; j <= n; j++) {
        if (used[j])
          continue;
        {
          double cur = a->m[(size_t) (i0 - 1) * n + (j - 1)] - u[i0] - v[j];

          if (cur < minv[j]) {
            minv[j] = cur;
            way[j] = j0;
          }
          if (minv[j] < delta) {
            delta = minv[j];
            j1 = j;
          }
        }
      }
      for (j = 0; j <= n; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      int j1 = way[j0];

      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
}

int
mrcnn_assign_solve (mrcnn_assign * a, const double *cost, int rows, int cols,
    size_t stride, double limit, int *row_to_col, int *col_to_row)
{
  int n = rows + cols, r, c, root, matched = 0;

  for (r = 0; r < rows; r++)
    row_to_col[r] = -1;
  for (c = 0; c < cols; c++)
    col_to_row[c] = -1;
  if (rows == 0 || cols == 0)
    return 0;
  if (!reserve_nodes (a, (size_t) n))
    return -1;

  for (r = 0; r < n; r++)
    a->parent[r] = r;
  for (r = 0; r < rows; r++)
    for (c = 0; c < cols; c++)
      if (admissible (cost[(size_t) r * stride + c], limit)) {
        int x = find (a->parent, r), y = find (a->parent, rows + c);
        if (x != y)
          a->parent[x] = y;
      }

  for (root = 0; root < n; root++) {
    int nr = 0, nc = 0, i, j, m;

    if (find (a->parent, root) != root)
      continue;
    for (r = 0; r < rows; r++)
      if (find (a->parent, r) == root)
        a->grow[nr++] = r;
    for (c = 0; c < cols; c++)
      if (find (a->parent, rows + c) == root)
        a->gcol[nc++] = c;
    if (nr == 0 || nc == 0)
      continue;                 /* a lone row or column: unmatched */

    if (nr == 1 && nc == 1) {
      /* one admissible pair: matched, since cost < limit */
      row_to_col[a->grow[0]] = a->gcol[0];
      col_to_row[a->gcol[0]] = a->grow[0];
      matched++;
      continue;
    }

    /* The extended square matrix of lap's extend_cost: real rows x real
     * columns, real rows x one dummy column each, dummy rows x real
     * columns, and dummies x dummies at 0. A pair not admissible costs
     * more than leaving both unmatched, so it is never chosen. */
    m = nr + nc;
    if (!reserve_group (a, (size_t) m)) {
      for (r = 0; r < rows; r++)
        row_to_col[r] = -1;
      for (c = 0; c < cols; c++)
        col_to_row[c] = -1;
      return -1;
    }
    for (i = 0; i < m; i++) {
      for (j = 0; j < m; j++) {
        double v;

        if (i < nr && j < nc) {
          double x = cost[(size_t) a->grow[i] * stride + a->gcol[j]];
          v = admissible (x, limit) ? x : 2.0 * limit + 1.0;
        } else if (i < nr || j < nc) {
          v = 0.5 * limit;
        } else {
          v = 0.0;
        }
        a->m[(size_t) i * m + j] = v;
      }
    }
    solve_square (a, m);
    for (j = 1; j <= nc; j++) {
      int i0 = a->p[j] - 1;

      if (i0 >= 0 && i0 < nr) {
        double x = cost[(size_t) a->grow[i0] * stride + a->gcol[j - 1]];

        if (admissible (x, limit)) {
          row_to_col[a->grow[i0]] = a->gcol[j - 1];
          col_to_row[a->gcol[j - 1]] = a->grow[i0];
          matched++;
        }
      }
    }
  }
  return matched;
}
