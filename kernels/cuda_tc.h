/* gst-maskrcnn kernels: launchers of the CUDA backend's tensor-core path
 * (kernels/nhwc.cu), whose feature maps are NHWC with their channels
 * rounded up (cp: a multiple of 8, the padding channels zero) and stored in
 * float32 or fp16.
 *
 * Plain C prototypes, as in cuda_launch.h: each queues its kernel on
 * `stream` and returns the launch's status; an argument the kernel cannot
 * take returns cudaErrorInvalidValue before anything is queued. fp16 values
 * are IEEE binary16 bit patterns (uint16_t), converted with the shared
 * functions of kernels/precision.h (round to nearest even, as the CPU
 * reference of fp16 rounds), so that the values the GPU stores are the ones
 * the reference stores. Each kernel calls the shared per-element math of the
 * header its NCHW twin calls (pool.h, interp.h, roi_align.h,
 * activation.h). */
#ifndef MRCNN_KERNELS_CUDA_TC_H
#define MRCNN_KERNELS_CUDA_TC_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "cuda_launch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* NCHW float32 (n x c x h x w) -> NHWC of cp >= c channels, zero in the
 * padding ones, float32 (f16 = 0) or fp16 (f16 = 1). The network's image
 * into what the stem's convolution reads. */
cudaError_t mrcnn_cuda_nchw_to_nhwc (const float *in, int n, int c, int h,
    int w, int cp, void *out, int f16, cudaStream_t stream);

/* NHWC (cp channels, float32 or fp16) -> NCHW float32 of the first c
 * channels. */
cudaError_t mrcnn_cuda_nhwc_to_nchw (const void *in, int in_f16, int n,
    int c, int h, int w, int cp, float *out, cudaStream_t stream);

/* count float32 values -> fp16, rounded as the fp16 reference rounds a
 * convolution's or a matmul's input. */
cudaError_t mrcnn_cuda_to_f16 (const float *in, size_t count, uint16_t *out,
    cudaStream_t stream);

/* Max pooling of NHWC maps (n images, cp channels, float32 or fp16 in and
 * out alike): kernel k, stride s, padding p (-inf). The maximum of fp16
 * values is an fp16 value: storing it back is exact. */
cudaError_t mrcnn_cuda_max_pool_nhwc (const void *in, int f16, int n, int cp,
    int H, int W, int k, int s, int p, void *out, int OH, int OW,
    cudaStream_t stream);

/* lateral (n x H x W x cp, float32) += nearest-upsample (top, n x TH x TW x
 * cp). */
cudaError_t mrcnn_cuda_upsample_add_nhwc (const float *top, int n, int cp,
    int TH, int TW, float *lateral, int H, int W, cudaStream_t stream);

/* MultiScaleRoIAlign of NHWC float32 levels (the fields of
 * mrcnn_cuda_roi_params, data NHWC with cp channels): out NCHW (nboxes x
 * channels x P x P) when out_cp is 0, else NHWC (nboxes x P x P x out_cp,
 * the padding channels zero). */
cudaError_t mrcnn_cuda_roi_align_nhwc (const mrcnn_cuda_roi_params *p,
    int cp, const float *boxes, int nboxes, float *out, int out_cp,
    cudaStream_t stream);

/* The mask predictor's end (mrcnn_cuda_mask_probs) on NHWC taps: n x h x w
 * x cp, channel co * 4 + ky * 2 + kx of D deconvolution channels. */
cudaError_t mrcnn_cuda_mask_probs_nhwc (const float *taps, int n, int D,
    int h, int w, int cp, const float *deconv_bias, const float *weight,
    const float *bias, const int *classes, float *probs, cudaStream_t stream);

/* out = act (acc + bias[c] [+ out]) on NHWC maps of cp channels (total
 * values): a convolution's epilogue where cuDNN runs no fused graph. acc is
 * float32; out float32 or fp16, read first when residual. */
cudaError_t mrcnn_cuda_nhwc_epilogue (const float *acc, const float *bias,
    size_t total, int cp, void *out, int out_f16, int residual, int relu,
    cudaStream_t stream);

/* Ranges of device memory packed one after the other into dst: the
 * results' one download. */
#define MRCNN_CUDA_MAX_SPANS 8
typedef struct {
  const float *src[MRCNN_CUDA_MAX_SPANS];
  size_t n[MRCNN_CUDA_MAX_SPANS], off[MRCNN_CUDA_MAX_SPANS];
  int count;
} mrcnn_cuda_spans;

cudaError_t mrcnn_cuda_gather_spans (const mrcnn_cuda_spans *s, float *dst,
    cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif /* MRCNN_KERNELS_CUDA_TC_H */
