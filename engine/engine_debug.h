/* Intermediate tensors of an engine's last run, for parity tests and tools.
 * Not part of the installed API. */
#ifndef MRCNN_ENGINE_DEBUG_H
#define MRCNN_ENGINE_DEBUG_H

#include "mrcnn/mrcnn.h"

/* Copies the named intermediate tensor of frame `frame` of the last forward
 * pass (of a batch that ran in parts: its last part) into a new host buffer
 * (*data, free with g_free()). shape receives up to 4 dims, *ndim their
 * count. Names:
 *   "image"      1 x 3 x Hp x Wp  normalised, resized, zero-padded input
 *   "fpn0".."fpn4"  1 x C x H x W  FPN outputs P2..P6 (torchvision keys
 *                '0','1','2','3','pool')
 *   "proposals"  N x 4  RPN proposals (resized-image coordinates), in the
 *                order torchvision returns them
 *   "mask_probs" N x M x M  per-detection mask probabilities
 * Returns MRCNN_ERR_INVALID_ARG for an unknown name or frame, or before the
 * first run. */
mrcnn_status mrcnn_engine_debug_tensor (const mrcnn_engine *engine,
    const char *name, int frame, float **data, int shape[4], int *ndim,
    mrcnn_error *err);

#endif
