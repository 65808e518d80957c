/* gst-maskrcnn kernels: torch 1.13's CPU order of equal scores.
 *
 * Saturated scores tie exactly (a sigmoid of a logit above ~17 is 1.0f, a
 * confident softmax is 1.0f, and flat image regions give equal logits), and
 * among equal scores it is the order of torch's CPU sort and top-k that
 * decides which candidates survive the pre-NMS top-k, which proposals make
 * the post-NMS top-n and which detections make the first max_detections.
 * torchvision 0.14 on torch 1.13 uses:
 *
 *   topk (RPN, per level)   at::native::topk_impl_loop: pairs (value,
 *       index) in index order; std::partial_sort of the first k when
 *       k * 64 <= n, else std::nth_element at k - 1 then std::sort of the
 *       first k - 1. Comparator "x before y": x is NaN and y is not, or
 *       x > y.
 *   sort(descending=True)   (batched_nms' final order when it loops over the
 *       groups, above 1000 boxes): std::sort over (value, index) pairs with
 *       the same comparator (KeyValueCompDesc). Unstable: ties come out in
 *       introsort's order, which depends on n and on where the ties lie.
 *   nms's own sort          stable (sort(stable=True)): ties in index order.
 *
 * torch's build uses libstdc++'s algorithms (GCC 12), so the order is the
 * exact sequence of moves of its introsort, introselect and heap routines.
 * The functions below take the same steps on an array of (value, index)
 * items and therefore give the same permutation; they are iterative (an
 * explicit stack where introsort recurses) so that a single CUDA thread can
 * run them too. tests/unit/tv_check.py compares them with torch on
 * tie-heavy arrays of many sizes.
 */
#ifndef MRCNN_KERNELS_TOPK_H
#define MRCNN_KERNELS_TOPK_H

#include "mrcnn_hd.h"

typedef struct
{
  float v;
  int i;
} mrcnn_rank_item;

/* torch's comparator for descending order: a goes before b. */
MRCNN_HD int
mrcnn_rank_before (mrcnn_rank_item a, mrcnn_rank_item b)
{
  return (a.v != a.v && !(b.v != b.v)) || a.v > b.v;
}

/* libstdc++'s __push_heap: hole moves up while its parent goes before the
 * value (the heap's top is the item that goes last). */
MRCNN_HD void
mrcnn_rank_push_heap (mrcnn_rank_item *a, long hole, long top,
    mrcnn_rank_item value)
{
  long parent = (hole - 1) / 2;
  while (hole > top && mrcnn_rank_before (a[parent], value)) {
    a[hole] = a[parent];
    hole = parent;
    parent = (hole - 1) / 2;
  }
  a[hole] = value;
}

/* libstdc++'s __adjust_heap. */
MRCNN_HD void
mrcnn_rank_adjust_heap (mrcnn_rank_item *a, long hole, long len,
    mrcnn_rank_item value)
{
  const long top = hole;
  long child = hole;
  while (child < (len - 1) / 2) {
    child = 2 * (child + 1);
    if (mrcnn_rank_before (a[child], a[child - 1]))
      child--;
    a[hole] = a[child];
    hole = child;
  }
  if ((len & 1) == 0 && child == (len - 2) / 2) {
    child = 2 * (child + 1);
    a[hole] = a[child - 1];
    hole = child - 1;
  }
  mrcnn_rank_push_heap (a, hole, top, value);
}

MRCNN_HD void
mrcnn_rank_make_heap (mrcnn_rank_item *a, long len)
{
  if (len < 2)
    return;
  for (long parent = (len - 2) / 2;; parent--) {
    mrcnn_rank_adjust_heap (a, parent, len, a[parent]);
    if (parent == 0)
      return;
  }
}

/* libstdc++'s __pop_heap (first, first + len, result). */
MRCNN_HD void
mrcnn_rank_pop_heap (mrcnn_rank_item *a, long len, mrcnn_rank_item *result)
{
  mrcnn_rank_item value = *result;
  *result = a[0];
  mrcnn_rank_adjust_heap (a, 0, len, value);
}

/* __heap_select (a, a + mid, a + n). */
MRCNN_HD void
mrcnn_rank_heap_select (mrcnn_rank_item *a, long mid, long n)
{
  mrcnn_rank_make_heap (a, mid);
  for (long i = mid; i < n; i++)
    if (mrcnn_rank_before (a[i], a[0]))
      mrcnn_rank_pop_heap (a, mid, a + i);
}

MRCNN_HD void
mrcnn_rank_sort_heap (mrcnn_rank_item *a, long len)
{
  while (len > 1) {
    len--;
    mrcnn_rank_pop_heap (a, len, a + len);
  }
}

/* std::partial_sort (a, a + mid, a + n). */
MRCNN_HD void
mrcnn_rank_partial_sort (mrcnn_rank_item *a, long mid, long n)
{
  mrcnn_rank_heap_select (a, mid, n);
  mrcnn_rank_sort_heap (a, mid);
}

MRCNN_HD void
mrcnn_rank_swap (mrcnn_rank_item *a, mrcnn_rank_item *b)
{
  mrcnn_rank_item t = *a;
  *a = *b;
  *b = t;
}

/* __unguarded_linear_insert: moves a[i] down past the items it ranks
 * before; something in front of it must rank no later than it. */
MRCNN_HD void
mrcnn_rank_unguarded_linear_insert (mrcnn_rank_item *a, long i)
{
  mrcnn_rank_item val = a[i];
  long j = i;
  while (mrcnn_rank_before (val, a[j - 1])) {
    a[j] = a[j - 1];
    j--;
  }
  a[j] = val;
}

/* __insertion_sort over [lo, hi). */
MRCNN_HD void
mrcnn_rank_insertion_sort (mrcnn_rank_item *a, long lo, long hi)
{
  if (lo == hi)
    return;
  for (long i = lo + 1; i < hi; i++) {
    mrcnn_rank_item val = a[i];
    if (mrcnn_rank_before (val, a[lo])) {
      for (long j = i; j > lo; j--)
        a[j] = a[j - 1];
      a[lo] = val;
    } else {
      mrcnn_rank_unguarded_linear_insert (a, i);
    }
  }
}

/* __unguarded_insertion_sort over [lo, hi): an item never moves below lo
 * because a smaller-ranked sentinel lies in front of it. */
MRCNN_HD void
mrcnn_rank_unguarded_insertion_sort (mrcnn_rank_item *a, long lo, long hi)
{
  for (long i = lo; i < hi; i++)
    mrcnn_rank_unguarded_linear_insert (a, i);
}

/* __move_median_to_first (result, a, b, c). */
MRCNN_HD void
mrcnn_rank_median_to_first (mrcnn_rank_item *arr, long result, long a, long b,
    long c)
{
  long m;
  if (mrcnn_rank_before (arr[a], arr[b])) {
    if (mrcnn_rank_before (arr[b], arr[c]))
      m = b;
    else if (mrcnn_rank_before (arr[a], arr[c]))
      m = c;
    else
      m = a;
  } else if (mrcnn_rank_before (arr[a], arr[c]))
    m = a;
  else if (mrcnn_rank_before (arr[b], arr[c]))
    m = c;
  else
    m = b;
  mrcnn_rank_swap (arr + result, arr + m);
}

/* __unguarded_partition_pivot over [lo, hi): median of three to a[lo], then
 * Hoare's partition of [lo + 1, hi) around it. Returns the cut. */
MRCNN_HD long
mrcnn_rank_partition_pivot (mrcnn_rank_item *a, long lo, long hi)
{
  long mid = lo + (hi - lo) / 2;
  mrcnn_rank_median_to_first (a, lo, lo + 1, mid, hi - 1);
  long first = lo + 1, last = hi;
  for (;;) {
    while (mrcnn_rank_before (a[first], a[lo]))
      first++;
    last--;
    while (mrcnn_rank_before (a[lo], a[last]))
      last--;
    if (!(first < last))
      return first;
    mrcnn_rank_swap (a + first, a + last);
    first++;
  }
}

/* std::__lg: floor (log2 (n)) for n > 0. */
MRCNN_HD long
mrcnn_rank_lg (long n)
{
  long r = 0;
  while (n > 1) {
    n >>= 1;
    r++;
  }
  return r;
}

#define MRCNN_RANK_THRESHOLD 16
/* introsort's recursion depth is at most 2 * lg (n) < 64 for any long n */
#define MRCNN_RANK_STACK 64

/* std::sort (a, a + n) with torch's descending comparator. Introsort
 * recurses on the right part and loops on the left; each part's moves touch
 * only its own range, so deferring the left parts on a stack (with the depth
 * budget they had) takes the same steps. */
MRCNN_HD void
mrcnn_rank_sort (mrcnn_rank_item *a, long n)
{
  if (n <= 0)
    return;
  long st_lo[MRCNN_RANK_STACK], st_hi[MRCNN_RANK_STACK];
  long st_depth[MRCNN_RANK_STACK];
  int sp = 0;
  st_lo[0] = 0;
  st_hi[0] = n;
  st_depth[0] = 2 * mrcnn_rank_lg (n);
  sp = 1;
  while (sp > 0) {
    sp--;
    long lo = st_lo[sp], hi = st_hi[sp], depth = st_depth[sp];
    while (hi - lo > MRCNN_RANK_THRESHOLD) {
      if (depth == 0) {
        mrcnn_rank_partial_sort (a + lo, hi - lo, hi - lo);
        break;
      }
      depth--;
      long cut = mrcnn_rank_partition_pivot (a, lo, hi);
      /* the left part waits, the right part goes on now */
      st_lo[sp] = lo;
      st_hi[sp] = cut;
      st_depth[sp] = depth;
      sp++;
      lo = cut;
    }
  }
  if (n > MRCNN_RANK_THRESHOLD) {
    mrcnn_rank_insertion_sort (a, 0, MRCNN_RANK_THRESHOLD);
    mrcnn_rank_unguarded_insertion_sort (a, MRCNN_RANK_THRESHOLD, n);
  } else
    mrcnn_rank_insertion_sort (a, 0, n);
}

/* std::nth_element (a, a + nth, a + n): __introselect. */
MRCNN_HD void
mrcnn_rank_nth_element (mrcnn_rank_item *a, long nth, long n)
{
  if (n == 0 || nth == n)
    return;
  long lo = 0, hi = n, depth = 2 * mrcnn_rank_lg (n);
  while (hi - lo > 3) {
    if (depth == 0) {
      mrcnn_rank_heap_select (a + lo, nth + 1 - lo, hi - lo);
      mrcnn_rank_swap (a + lo, a + nth);
      return;
    }
    depth--;
    long cut = mrcnn_rank_partition_pivot (a, lo, hi);
    if (cut <= nth)
      lo = cut;
    else
      hi = cut;
  }
  mrcnn_rank_insertion_sort (a, lo, hi);
}

/* torch.topk (v, k, largest=True, sorted=True) on the CPU: items[0..n)
 * must hold (v[j], j) in index order; on return items[0..k) are the top k
 * in torch's order. Returns k, clamped to n. */
MRCNN_HD int
mrcnn_rank_topk (mrcnn_rank_item *items, int n, int k)
{
  if (k > n)
    k = n;
  if (k <= 0)
    return 0;
  if ((long) k * 64 <= (long) n)
    mrcnn_rank_partial_sort (items, k, n);
  else {
    mrcnn_rank_nth_element (items, k - 1, n);
    mrcnn_rank_sort (items, k - 1);
  }
  return k;
}

#endif /* MRCNN_KERNELS_TOPK_H */
