/* Intermediate tensors of an engine's forward passes, for parity tests and
 * tools. Not part of the installed API. */
#ifndef MRCNN_ENGINE_DEBUG_H
#define MRCNN_ENGINE_DEBUG_H

#include "mrcnn/mrcnn.h"

/* on != 0: from now on every forward pass copies its frames' intermediate
 * tensors (below) to host memory before its buffers are used again, which
 * costs time and memory; each frame index of a call keeps what the last
 * pass that ran a frame of that index left. Forgets what was kept; on = 0
 * stops keeping. Call it while no run is in progress, before each call
 * whose tensors are to be read (so that no frame of an earlier call is
 * left over). */
void mrcnn_engine_debug_keep (mrcnn_engine *engine, int on);

/* Copies the named intermediate tensor of frame `frame` of the runs since
 * mrcnn_engine_debug_keep into a new host buffer (*data, free with
 * g_free()). shape receives up to 4 dims, *ndim their count. Names:
 *   "image"      1 x 3 x Hp x Wp  normalised, resized, zero-padded input
 *   "fpn0".."fpn4"  1 x C x H x W  FPN outputs P2..P6 (torchvision keys
 *                '0','1','2','3','pool')
 *   "proposals"  N x 4  RPN proposals (resized-image coordinates), in the
 *                order torchvision returns them
 *   "mask_probs" N x M x M  per-detection mask probabilities
 * Returns MRCNN_ERR_INVALID_ARG for an unknown name, for a frame that has
 * not run since mrcnn_engine_debug_keep, and when the engine keeps no
 * tensors. */
mrcnn_status mrcnn_engine_debug_tensor (const mrcnn_engine *engine,
    const char *name, int frame, float **data, int shape[4], int *ndim,
    mrcnn_error *err);

#endif
