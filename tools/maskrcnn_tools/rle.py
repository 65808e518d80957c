"""COCO compressed RLE, the mask encoding of the engine's JSON (mrcnn-infer
--json, maskrcnnpublish) and of the shapes data's ground truth.

Written from the format's definition (pycocotools' rleToString, rleFrString
and rleDecode): column-major runs starting with a run of zeros, each count in
5-bit groups (0x20 = another group follows, 0x10 of the last group = sign),
from the third count on stored as the difference to the count two back,
characters offset by 48.

The decoder is plain Python, so that the tests that check the engine's
strings run where neither numpy nor pycocotools is installed; it refuses a
string that is not a valid encoding of an h x w mask (ValueError). encode()
and decode_array() use numpy.
"""


def decode_counts(s):
    """The run lengths of a compressed RLE string (pycocotools' rleFrString)."""
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


def decode(s, h, w):
    """The h x w mask of a compressed RLE string, row-major, as bytes of 0
    and 1 (``list(decode(...))`` is a list of ints)."""
    counts = decode_counts(s)
    if any(c < 0 for c in counts):
        raise ValueError("negative run length")
    if sum(counts) != h * w:
        raise ValueError("runs cover %d pixels, the mask has %d" % (sum(counts), h * w))
    col_major = bytearray(h * w)
    pos = 0
    for i, c in enumerate(counts):
        if i & 1:
            col_major[pos:pos + c] = b"\x01" * c
        pos += c
    # column-major index x * h + y: row y is every h-th byte from y
    return b"".join(bytes(col_major[y::h]) for y in range(h))


def decode_array(rle):
    """A COCO RLE object ({"size": [h, w], "counts": str}) as an HxW numpy
    bool array."""
    import numpy as np

    h, w = rle["size"]
    return np.frombuffer(decode(rle["counts"], h, w), np.uint8).reshape(h, w).astype(bool)


def encode(mask):
    """COCO compressed RLE ({"size": [h, w], "counts": str}) of an HxW bool
    mask: the same string pycocotools.mask.encode gives."""
    import numpy as np

    h, w = mask.shape
    flat = np.asarray(mask, dtype=np.uint8).reshape(-1, order="F")
    if flat.size == 0:
        counts = []
    else:
        change = np.flatnonzero(np.diff(flat)) + 1
        bounds = np.concatenate([[0], change, [flat.size]])
        counts = list(np.diff(bounds))
        if flat[0] == 1:
            counts = [0] + counts
    out = []
    for i, c in enumerate(counts):
        x = int(c)
        if i > 2:
            x -= int(counts[i - 2])
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5
            more = (x != -1) if (ch & 0x10) else (x != 0)
            if more:
                ch |= 0x20
            out.append(chr(ch + 48))
    return {"size": [int(h), int(w)], "counts": "".join(out)}
