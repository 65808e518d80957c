/* kernels/topk.h without torch: whatever order of ties torch's algorithms
 * give, the result must be a permutation in descending order, top-k must
 * hold the k largest values, small inputs (insertion sort only) must keep
 * ties in index order, and hand cases pin torch's order of all-equal inputs
 * (the exact order of every tie against torch is unit-torchvision-ops). */
#include "unit_test.h"
#include "topk.h"

static void
fill (mrcnn_rank_item *it, const float *v, int n)
{
  for (int j = 0; j < n; j++)
    it[j] = (mrcnn_rank_item) { v[j], j };
}

static int
check_desc_perm (const mrcnn_rank_item *it, int m, const float *v, int n,
    unsigned char *seen)
{
  memset (seen, 0, (size_t) n);
  for (int j = 0; j < m; j++) {
    if (it[j].i < 0 || it[j].i >= n || seen[it[j].i] || it[j].v != v[it[j].i])
      return 0;
    seen[it[j].i] = 1;
    if (j && it[j - 1].v < it[j].v)
      return 0;
  }
  return 1;
}

static void
test_hand (void)
{
  ut_begin ("hand cases (torch 1.13's order)");
  float ones[17];
  mrcnn_rank_item it[17];
  for (int j = 0; j < 17; j++)
    ones[j] = 1.0f;
  /* torch.ones(17).sort(descending=True) */
  static const int want17[17] = { 8, 16, 15, 14, 13, 12, 11, 10, 9, 0, 7, 6,
    5, 4, 3, 2, 1 };
  fill (it, ones, 17);
  mrcnn_rank_sort (it, 17);
  int ok = 1;
  for (int j = 0; j < 17; j++)
    ok &= it[j].i == want17[j];
  ut_check (ok, "sort of 17 equal values");
  /* up to 16 elements introsort is an insertion sort: stable */
  fill (it, ones, 16);
  mrcnn_rank_sort (it, 16);
  ok = 1;
  for (int j = 0; j < 16; j++)
    ok &= it[j].i == j;
  ut_check (ok, "sort of 16 equal values is stable");
  float v[5] = { 1.0f, NAN, 3.0f, 3.0f, -1.0f };
  fill (it, v, 5);
  mrcnn_rank_sort (it, 5);
  ut_check (it[0].i == 1 && it[1].i == 2 && it[2].i == 3 && it[3].i == 0
      && it[4].i == 4, "NaN first, then descending");
  ut_end ();
}

static void
test_random (void)
{
  ut_begin ("random tie-heavy arrays");
  const int max_n = 20000;
  float *v = malloc (sizeof *v * max_n);
  mrcnn_rank_item *it = malloc (sizeof *it * max_n);
  mrcnn_rank_item *ref = malloc (sizeof *ref * max_n);
  unsigned char *seen = malloc ((size_t) max_n);
  for (int t = 0; t < 200; t++) {
    int n = t < 40 ? t + 1 : ut_int (1, max_n - 1);
    int levels = ut_int (1, 6);
    for (int j = 0; j < n; j++)
      v[j] = (float) ut_int (0, levels);
    fill (it, v, n);
    mrcnn_rank_sort (it, n);
    ut_check (check_desc_perm (it, n, v, n, seen), "sort n %d", n);
    if (n <= 16) {
      int stable = 1;
      for (int j = 1; j < n; j++)
        stable &= it[j - 1].v != it[j].v || it[j - 1].i < it[j].i;
      ut_check (stable, "sort n %d stable", n);
    }
    memcpy (ref, it, sizeof *it * n);
    int k = ut_int (1, n);
    fill (it, v, n);
    int m = mrcnn_rank_topk (it, n, k);
    int ok = m == k && check_desc_perm (it, m, v, n, seen);
    for (int j = 0; ok && j < m; j++)
      ok = it[j].v == ref[j].v;
    ut_check (ok, "topk n %d k %d", n, k);
  }
  free (v);
  free (it);
  free (ref);
  free (seen);
  ut_end ();
}

int
main (void)
{
  ut_init ("test_topk");
  test_hand ();
  test_random ();
  return ut_finish ();
}
