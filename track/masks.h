/* gst-maskrcnn tracking: instance masks as small grids over their boxes,
 * and the IoU of two masks placed on any two boxes.
 *
 * A track keeps the mask of its last detection as a 32 x 32 grid relative
 * to the box (one bit per cell: the mask pixel at the cell's centre). Put
 * on the box the track predicts for the next frame, the grid is the mask
 * moved and scaled by the predicted motion; its IoU with a detection's mask
 * tells crossing objects apart where their boxes overlap.
 *
 * The IoU samples the two boxes' intersection on a grid as fine as the
 * finer of the two masks' cells (at most 32 x 32 samples), so its cost per
 * pair is bounded whatever the boxes' size.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef MRCNN_TRACK_MASKS_H
#define MRCNN_TRACK_MASKS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MRCNN_MASK_GRID 32

typedef struct {
  uint32_t rows[MRCNN_MASK_GRID];       /* bit j of rows[i]: cell (j, i) */
  double fill;                  /* fraction of the cells set, 0..1 */
  int valid;                    /* 0: no mask (IoU falls back to boxes) */
} mrcnn_mask_grid;

/* The grid of a box-relative GRAY8 mask (w x h bytes, `stride` per row,
 * >= 128 inside): cell (j, i) takes the pixel nearest its centre. A NULL
 * mask or an empty size gives an invalid grid. */
void mrcnn_mask_grid_from_gray8 (mrcnn_mask_grid * g, const uint8_t * mask,
    int w, int h, int stride);

/* Whether the grid's cell holding box-relative point (u, v), in units of
 * the box (0..1 across), is set. Points outside the box are not. */
int mrcnn_mask_grid_at (const mrcnn_mask_grid * g, double u, double v);

/* Box IoU of two (x, y, w, h) boxes. */
double mrcnn_box_iou (const double a[4], const double b[4]);

/* IoU of grid `ga` on box `a` and grid `gb` on box `b` (x, y, w, h in
 * frame pixels). Where either grid is invalid, the box IoU. */
double mrcnn_mask_grid_iou (const mrcnn_mask_grid * ga, const double a[4],
    const mrcnn_mask_grid * gb, const double b[4]);

/* The sampling mrcnn_mask_grid_iou() uses for two boxes whose intersection
 * is w x h pixels: samples across and down (for the unit tests' bound). */
void mrcnn_mask_iou_samples (const double a[4], const double b[4],
    int *nx, int *ny);

#ifdef __cplusplus
}
#endif

#endif /* MRCNN_TRACK_MASKS_H */
