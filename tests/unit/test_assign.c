/* Unit tests of track/assign.h: the optimum against enumeration of every
 * partial matching in long double (small matrices), and against a long
 * double min-cost flow on the whole graph, without the split into groups
 * (large sparse ones, as a tracker sees them).
 *
 * The objective: sum of the matched costs plus limit / 2 per unmatched row
 * and column. Tolerance: the rounding of sums of at most rows + cols terms
 * of magnitude at most max(limit, cost), bounded by (rows + cols) *
 * DBL_EPSILON times their sum; where the enumeration's best and second
 * best objectives differ by more than that, the matching itself must be
 * the best one. */
#include <float.h>

#include "assign.h"
#include "unit_test.h"

static int
admissible (double c, double limit)
{
  return c < limit;
}

static long double
objective (const double *cost, int rows, int cols, double limit,
    const int *r2c)
{
  long double sum = 0;
  int r, matched = 0;

  for (r = 0; r < rows; r++)
    if (r2c[r] >= 0) {
      sum += cost[(size_t) r * cols + r2c[r]];
      matched++;
    }
  return sum + (long double) limit / 2 * (rows + cols - 2 * matched);
}

/* Enumeration: every row takes an admissible free column or none. */
typedef struct {
  const double *cost;
  int rows, cols;
  double limit;
  int cur[8], best[8];
  char used[8];
  long double best_obj, second_obj;
} enum_state;

static void
enumerate (enum_state * s, int r, long double acc, int matched)
{
  int c;

  if (r == s->rows) {
    long double obj = acc + (long double) s->limit / 2 *
        (s->rows + s->cols - 2 * matched);
    if (obj < s->best_obj) {
      s->second_obj = s->best_obj;
      s->best_obj = obj;
      memcpy (s->best, s->cur, sizeof (s->cur));
    } else if (obj < s->second_obj) {
      s->second_obj = obj;
    }
    return;
  }
  s->cur[r] = -1;
  enumerate (s, r + 1, acc, matched);
  for (c = 0; c < s->cols; c++) {
    double x = s->cost[(size_t) r * s->cols + c];

    if (s->used[c] || !admissible (x, s->limit))
      continue;
    s->used[c] = 1;
    s->cur[r] = c;
    enumerate (s, r + 1, acc + x, matched + 1);
    s->used[c] = 0;
  }
}

/* Reference for large matrices, by another method: a min-cost matching as
 * a min-cost flow, successive shortest paths (Bellman-Ford) in long double
 * on the whole bipartite graph, without the split into groups. The
 * objective is sum(c - limit) over the matched pairs plus the constant
 * (rows + cols) * limit / 2, so pairs are added while the cheapest
 * augmenting path lowers it (its cost is below 0); the path costs only
 * grow from one augmentation to the next. */
static void
ref_flow (const double *cost, int rows, int cols, double limit, int *r2c)
{
  int n = rows + cols, i, j, *c2r = malloc (sizeof (int) * cols);
  long double *dist = malloc (sizeof (long double) * n);
  int *prev = malloc (sizeof (int) * n);

  for (i = 0; i < rows; i++)
    r2c[i] = -1;
  for (j = 0; j < cols; j++)
    c2r[j] = -1;
  for (;;) {
    /* nodes: rows 0..rows-1, columns rows..n-1; a free row starts at 0;
     * forward edges row -> col (c - limit) where admissible and not
     * matched, backward edges col -> its row (limit - c) */
    int changed = 1, pass, best = -1;
    long double best_d = 0;

    for (i = 0; i < n; i++) {
      dist[i] = i < rows && r2c[i] < 0 ? 0 : INFINITY;
      prev[i] = -1;
    }
    for (pass = 0; pass < n && changed; pass++) {
      changed = 0;
      for (i = 0; i < rows; i++) {
        if (dist[i] == INFINITY)
          continue;
        for (j = 0; j < cols; j++) {
          double c = cost[(size_t) i * cols + j];
          long double d;
          if (!admissible (c, limit) || r2c[i] == j)
            continue;
          d = dist[i] + ((long double) c - limit);
          if (d < dist[rows + j]) {
            dist[rows + j] = d;
            prev[rows + j] = i;
            changed = 1;
          }
        }
      }
      for (j = 0; j < cols; j++) {
        int r = c2r[j];
        long double d;
        if (r < 0 || dist[rows + j] == INFINITY)
          continue;
        d = dist[rows + j] + ((long double) limit - cost[(size_t) r * cols + j]);
        if (d < dist[r]) {
          dist[r] = d;
          prev[r] = rows + j;
          changed = 1;
        }
      }
    }
    /* the cheapest path ends at a free column */
    for (j = 0; j < cols; j++)
      if (c2r[j] < 0 && dist[rows + j] < best_d) {
        best_d = dist[rows + j];
        best = j;
      }
    if (best < 0)
      break;
    for (j = best;;) {
      int r = prev[rows + j], back = prev[r];

      c2r[j] = r;
      r2c[r] = j;
      if (back < 0)
        break;
      j = back - rows;
    }
  }
  free (dist);
  free (prev);
  free (c2r);
}

static double
random_cost (double limit, double p_inadmissible)
{
  double u = ut_uniform (0, 1);

  if (u < p_inadmissible * 0.5)
    return NAN;
  if (u < p_inadmissible)
    return ut_uniform (limit, 2 * limit);
  /* a few exact ties too */
  if (ut_int (0, 9) == 0)
    return 0.25 * limit;
  return ut_uniform (0, limit);
}

static int
consistent (const int *r2c, const int *c2r, int rows, int cols,
    const double *cost, double limit)
{
  int r, c, n = 0;

  for (r = 0; r < rows; r++)
    if (r2c[r] >= 0) {
      if (r2c[r] >= cols || c2r[r2c[r]] != r
          || !admissible (cost[(size_t) r * cols + r2c[r]], limit))
        return -1;
      n++;
    }
  for (c = 0; c < cols; c++)
    if (c2r[c] >= 0 && (c2r[c] >= rows || r2c[c2r[c]] != c))
      return -1;
  return n;
}

static void
test_hand (void)
{
  mrcnn_assign *a = mrcnn_assign_new ();
  int r2c[3], c2r[3], n;

  ut_begin ("hand-computed assignments");
  {
    /* greedy would take (0,0) at 0.1 and leave row 1 with 0.9 */
    double cost[4] = { 0.1, 0.2, 0.15, 0.9 };
    n = mrcnn_assign_solve (a, cost, 2, 2, 2, 1.0, r2c, c2r);
    ut_check (n == 2 && r2c[0] == 1 && r2c[1] == 0, "optimal, not greedy");
  }
  {
    /* the pairs costing the limit (0.6) are never matched */
    double cost[4] = { 0.1, 0.6, 0.6, 0.6 };
    n = mrcnn_assign_solve (a, cost, 2, 2, 2, 0.6, r2c, c2r);
    ut_check (n == 1 && r2c[0] == 0 && r2c[1] == -1 && c2r[1] == -1,
        "limit is exclusive");
  }
  {
    /* rectangular, NaN inadmissible */
    double cost[6] = { NAN, 0.3, 0.2, 0.1, NAN, NAN };
    n = mrcnn_assign_solve (a, cost, 2, 3, 3, 0.8, r2c, c2r);
    ut_check (n == 2 && r2c[0] == 2 && r2c[1] == 0 && c2r[1] == -1,
        "rectangular with NaN");
  }
  {
    /* swapping two pairs gains less than leaving two alone costs */
    double cost[4] = { 0.7, 0.0, 0.0, 0.7 };
    n = mrcnn_assign_solve (a, cost, 2, 2, 2, 0.8, r2c, c2r);
    ut_check (n == 2 && r2c[0] == 1 && r2c[1] == 0, "cheapest pairs");
  }
  n = mrcnn_assign_solve (a, NULL, 0, 3, 3, 0.8, r2c, c2r);
  ut_check (n == 0 && c2r[0] == -1 && c2r[2] == -1, "no rows");
  mrcnn_assign_free (a);
  ut_end ();
}

static void
test_enumeration (void)
{
  mrcnn_assign *a = mrcnn_assign_new ();
  int t, exact = 0;

  ut_begin ("random small matrices vs enumeration");
  for (t = 0; t < 4000; t++) {
    int rows = ut_int (0, 6), cols = ut_int (0, 6);
    double limit = ut_uniform (0.05, 2.0), cost[36], maxc = limit;
    int r2c[6], c2r[6], n, i;
    enum_state s;
    long double got, tol;

    for (i = 0; i < rows * cols; i++) {
      cost[i] = random_cost (limit, ut_uniform (0, 0.7));
      if (cost[i] == cost[i])
        maxc = fmax (maxc, cost[i]);
    }
    n = mrcnn_assign_solve (a, cost, rows, cols, (size_t) cols, limit, r2c,
        c2r);
    memset (&s, 0, sizeof (s));
    s.cost = cost;
    s.rows = rows;
    s.cols = cols;
    s.limit = limit;
    s.best_obj = s.second_obj = INFINITY;
    enumerate (&s, 0, 0, 0);
    if (!ut_check (consistent (r2c, c2r, rows, cols, cost, limit) == n,
            "case %d: matching inconsistent or inadmissible", t))
      continue;
    got = objective (cost, rows, cols, limit, r2c);
    tol = (long double) (rows + cols + 1) * DBL_EPSILON * maxc * (rows + cols
        + 1);
    ut_check (fabsl (got - s.best_obj) <= tol,
        "case %d (%dx%d, limit %g): objective %.17Lg, optimum %.17Lg", t,
        rows, cols, limit, got, s.best_obj);
    if (s.second_obj - s.best_obj > 2 * tol) {
      exact++;
      for (i = 0; i < rows; i++)
        ut_check (r2c[i] == s.best[i],
            "case %d: a clear optimum (gap %.3Lg) but row %d -> %d, not %d",
            t, s.second_obj - s.best_obj, i, r2c[i], s.best[i]);
    }
  }
  ut_check (exact > 1000, "only %d cases had a clear optimum", exact);
  mrcnn_assign_free (a);
  ut_end ();
}

static void
test_large (void)
{
  mrcnn_assign *a = mrcnn_assign_new ();
  int t;

  ut_begin ("random sparse 10..120 vs min-cost flow");
  for (t = 0; t < 40; t++) {
    int rows = ut_int (10, 120), cols = ut_int (10, 120), i, n;
    double limit = 0.8, maxc = limit;
    double *cost = malloc (sizeof (double) * rows * cols);
    int *r2c = malloc (sizeof (int) * rows), *c2r = malloc (sizeof (int) *
        cols), *ref = malloc (sizeof (int) * rows);
    long double got, want, tol;

    /* objects on a line: each row overlaps a few nearby columns */
    for (i = 0; i < rows * cols; i++) {
      int r = i / cols, c = i % cols;
      double d = fabs (r * (double) cols / rows - c);
      cost[i] = d < 3 ? ut_uniform (0, 1.2) : NAN;
      if (cost[i] == cost[i])
        maxc = fmax (maxc, cost[i]);
    }
    n = mrcnn_assign_solve (a, cost, rows, cols, (size_t) cols, limit, r2c,
        c2r);
    ref_flow (cost, rows, cols, limit, ref);
    ut_check (consistent (r2c, c2r, rows, cols, cost, limit) == n,
        "case %d inconsistent", t);
    got = objective (cost, rows, cols, limit, r2c);
    want = objective (cost, rows, cols, limit, ref);
    tol = (long double) (rows + cols) * (rows + cols) * DBL_EPSILON * maxc;
    ut_check (fabsl (got - want) <= tol,
        "case %d (%dx%d): objective %.17Lg, reference %.17Lg", t, rows, cols,
        got, want);
    free (cost);
    free (r2c);
    free (c2r);
    free (ref);
  }
  mrcnn_assign_free (a);
  ut_end ();
}

int
main (void)
{
  ut_init ("test_assign");
  test_hand ();
  test_enumeration ();
  test_large ();
  return ut_finish ();
}
