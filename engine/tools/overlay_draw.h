/* Minimal CPU drawing on packed RGB images for mrcnn-infer --overlay:
 * translucent instance masks and box outlines. The maskrcnnoverlay
 * GStreamer element has its own drawing; this is only for still images.
 * Class colours: mrcnn_overlay_class_color () in kernels/overlay.h, shared
 * with the element. */
#ifndef MRCNN_TOOLS_OVERLAY_DRAW_H
#define MRCNN_TOOLS_OVERLAY_DRAW_H

#include <stdint.h>

#include "overlay.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Blends `color` with weight `alpha` (clamped to 0..1) into the pixels of
 * the w x h RGB image where the w x h mask (row major, mask_stride bytes per
 * row) is nonzero. Neither buffer is kept. */
void mrcnn_overlay_draw_mask (uint8_t *rgb, int w, int h, int stride,
    const uint8_t *mask, int mask_stride, const uint8_t color[3],
    float alpha);

/* Draws the outline of the box [x1, x2] x [y1, y2] (frame pixels, as
 * mrcnn_detection gives them), `thickness` pixels wide inwards from the
 * box edge, clipped to the image. Boxes wholly outside draw nothing. */
void mrcnn_overlay_draw_box (uint8_t *rgb, int w, int h, int stride,
    float x1, float y1, float x2, float y2, const uint8_t color[3],
    int thickness);

#ifdef __cplusplus
}
#endif
#endif /* MRCNN_TOOLS_OVERLAY_DRAW_H */
