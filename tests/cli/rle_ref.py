"""An independent COCO compressed-RLE decoder, written from the format's
definition (pycocotools' rleFrString and rleDecode), for the tests that
must run where pycocotools is not installed."""


def decode_counts(s):
    """pycocotools' rleFrString: 5-bit groups, 0x20 = more, 0x10 of the last
    group = sign, from the fourth count on a delta to the count two back."""
    counts = []
    p = 0
    while p < len(s):
        x = 0
        k = 0
        while True:
            c = ord(s[p]) - 48
            if c < 0 or c > 63:
                raise ValueError("character %r outside the RLE alphabet" % s[p])
            x |= (c & 0x1F) << (5 * k)
            p += 1
            k += 1
            if not c & 0x20:
                if c & 0x10:
                    x -= 1 << (5 * k)  # sign-extend
                break
            if p >= len(s):
                raise ValueError("string ends inside a count")
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def decode_own(s, h, w):
    """Row-major list of 0/1 from a column-major run list."""
    counts = decode_counts(s)
    if any(c < 0 for c in counts):
        raise ValueError("negative run length")
    if sum(counts) != h * w:
        raise ValueError("runs cover %d pixels, the mask has %d" % (sum(counts), h * w))
    col_major = []
    for i, c in enumerate(counts):
        col_major.extend([i & 1] * c)
    out = [0] * (h * w)
    for pos, v in enumerate(col_major):
        x, y = divmod(pos, h)
        out[y * w + x] = v
    return out
