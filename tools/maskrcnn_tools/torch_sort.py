"""torch 1.13's CPU sort(descending=True) step by step, for compare_dumps.

The same moves as libstdc++'s std::sort (GCC 12) with torch's descending
comparator, ported from kernels/topk.h (mrcnn_rank_sort): introsort with a
median-of-three Hoare partition, a heap sort past 2 lg n levels and an
insertion sort below 16 items. The order it gives equal values is the
sequence of its moves, which depends only on the outcomes of the
comparisons it makes; sort() reports whether any of those outcomes could
differ for values within given intervals, i.e. whether a sort of values
that differ by that much must order ties the same way.
"""

THRESHOLD = 16


def sort(values, lo=None, hi=None):
    """Indices of values (a list of floats) in torch's descending order.

    lo, hi (optional): per value, the interval the other side's value lies
    in. Returns (order, uncertain): uncertain is True when a comparison made
    on the way could come out otherwise for values inside their intervals
    (two values that are both certain and equal compare the same).
    """
    n = len(values)
    a = list(range(n))
    state = {"uncertain": False}

    def before(x, y):
        if lo is not None and not state["uncertain"]:
            certain_tie = lo[x] == hi[x] == lo[y] == hi[y]
            if not certain_tie and lo[x] <= hi[y] and lo[y] <= hi[x]:
                state["uncertain"] = True
        vx, vy = values[x], values[y]
        return (vx != vx and vy == vy) or vx > vy

    def push_heap(base, hole, top, value):
        parent = (hole - 1) // 2
        while hole > top and before(a[base + parent], value):
            a[base + hole] = a[base + parent]
            hole = parent
            parent = (hole - 1) // 2
        a[base + hole] = value

    def adjust_heap(base, hole, length, value):
        top = hole
        child = hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if before(a[base + child], a[base + child - 1]):
                child -= 1
            a[base + hole] = a[base + child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            a[base + hole] = a[base + child - 1]
            hole = child - 1
        push_heap(base, hole, top, value)

    def pop_heap(base, length, result):
        value = a[result]
        a[result] = a[base]
        adjust_heap(base, 0, length, value)

    def partial_sort(base, mid, length):
        if mid >= 2:  # make_heap
            parent = (mid - 2) // 2
            while True:
                adjust_heap(base, parent, mid, a[base + parent])
                if parent == 0:
                    break
                parent -= 1
        for i in range(mid, length):  # heap_select
            if before(a[base + i], a[base]):
                pop_heap(base, mid, base + i)
        while mid > 1:  # sort_heap
            mid -= 1
            pop_heap(base, mid, base + mid)

    def partition_pivot(first_, last_):
        mid = first_ + (last_ - first_) // 2
        x, y, z = first_ + 1, mid, last_ - 1
        if before(a[x], a[y]):
            m = y if before(a[y], a[z]) else (z if before(a[x], a[z]) else x)
        elif before(a[x], a[z]):
            m = x
        elif before(a[y], a[z]):
            m = z
        else:
            m = y
        a[first_], a[m] = a[m], a[first_]
        first, last = first_ + 1, last_
        while True:
            while before(a[first], a[first_]):
                first += 1
            last -= 1
            while before(a[first_], a[last]):
                last -= 1
            if not first < last:
                return first
            a[first], a[last] = a[last], a[first]
            first += 1

    def linear_insert(i):
        val = a[i]
        j = i
        while before(val, a[j - 1]):
            a[j] = a[j - 1]
            j -= 1
        a[j] = val

    def insertion_sort(first, last):
        for i in range(first + 1, last):
            val = a[i]
            if before(val, a[first]):
                a[first + 1:i + 1] = a[first:i]
                a[first] = val
            else:
                linear_insert(i)

    if n == 0:
        return a, False
    stack = [(0, n, 2 * (n.bit_length() - 1))]
    while stack:
        first, last, depth = stack.pop()
        while last - first > THRESHOLD:
            if depth == 0:
                partial_sort(first, last - first, last - first)
                break
            depth -= 1
            cut = partition_pivot(first, last)
            stack.append((first, cut, depth))
            first = cut
    if n > THRESHOLD:
        insertion_sort(0, THRESHOLD)
        for i in range(THRESHOLD, n):
            linear_insert(i)
    else:
        insertion_sort(0, n)
    return a, state["uncertain"]
