/* COCO run-length encoding of binary masks, bit-compatible with pycocotools.
 *
 * The mask is scanned in column-major (Fortran) order; runs alternate between
 * outside and inside and always start with an outside run, which may be 0
 * long (pycocotools' rleEncode). The compressed string form is
 * pycocotools' rleToString: each count (from the fourth on, its difference
 * to the count two before) is written in 5-bit groups, low group first, with
 * bit 0x20 marking "more groups follow" and bit 0x10 of the last group
 * holding the sign, each group offset by 48 into printable ASCII. The result
 * is what COCO JSON stores as {"size": [h, w], "counts": "<string>"} and
 * what pycocotools.mask.decode() accepts.
 */
#ifndef MRCNN_COCO_RLE_H
#define MRCNN_COCO_RLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Run lengths of the w x h mask (row major, `stride` bytes per row, nonzero
 * means inside). Returns a new array of *n_counts run lengths that the caller
 * releases with free(), or NULL when an argument is invalid (NULL mask or
 * n_counts, negative sizes, stride < w) or memory runs out. An empty mask
 * (w or h 0) gives the single count 0, as pycocotools does. */
uint32_t *mrcnn_coco_rle_encode (const uint8_t *mask, int w, int h,
    int stride, size_t *n_counts);

/* The compressed string of n run lengths. Returns a new NUL-terminated
 * string the caller releases with free(), or NULL when counts is NULL with
 * n > 0 or memory runs out. */
char *mrcnn_coco_rle_to_string (const uint32_t *counts, size_t n);

/* Both steps at once: the compressed COCO string of the mask. Returns a new
 * string the caller releases with free(), or NULL as either step does. */
char *mrcnn_coco_rle_encode_string (const uint8_t *mask, int w, int h,
    int stride);

#ifdef __cplusplus
}
#endif
#endif /* MRCNN_COCO_RLE_H */
