/* CUDA kernels of the heads' element-wise ends: the bias and ReLU after a
 * cuBLAS GEMM (fully connected layers), and the mask predictor (transposed
 * convolution's bias and ReLU, the detected class's 1x1 logits, sigmoid from
 * kernels/activation.h). Sums run in the CPU backend's order, each product
 * and sum rounded on its own (MRCNN_FMUL / MRCNN_FADD). */
#include "cuda_common.cuh"
#include "activation.h"

__global__ void
mrcnn_bias_act_kernel (float *y, const float *bias, long long total, int cols,
    int relu)
{
  long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total)
    return;
  float v = MRCNN_FADD (y[i], bias[i % cols]);
  y[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
}

extern "C" cudaError_t
mrcnn_cuda_bias_act (float *y, const float *bias, int rows, int cols,
    int relu, cudaStream_t stream)
{
  if (cols < 1)
    return cudaErrorInvalidValue;
  long long total = (long long) rows * cols;
  MRCNN_CUDA_LAUNCH (mrcnn_bias_act_kernel, mrcnn_cuda_blocks (total, 256),
      256, 0, stream, y, bias, total, cols, relu);
  return cudaGetLastError ();
}

/* One thread per output pixel (roi n, oy, ox) of 2h x 2w: tap (ky, kx) =
 * (oy & 1, ox & 1) of input pixel (oy / 2, ox / 2), for every deconvolution
 * channel co: logit += w[cls][co] * relu (tap + deconv_bias[co]). */
__global__ void
mrcnn_mask_probs_kernel (const float *taps, long long total, int D, int h,
    int w, const float *deconv_bias, const float *weight, const float *bias,
    const int *classes, float *probs)
{
  long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total)
    return;
  const int OW = 2 * w, OH = 2 * h;
  int ox = (int) (i % OW);
  int oy = (int) ((i / OW) % OH);
  long long n = i / ((long long) OW * OH);
  const int cls = classes[n];
  const int k = (oy & 1) * 2 + (ox & 1);
  const size_t hw = (size_t) h * w;
  const float *t = taps + (size_t) n * 4 * D * hw + (size_t) k * hw
      + (size_t) (oy >> 1) * w + (ox >> 1);
  const float *wc = weight + (size_t) cls * D;
  float p = bias[cls];
  for (int co = 0; co < D; co++) {
    float v = MRCNN_FADD (t[(size_t) co * 4 * hw], deconv_bias[co]);
    p = MRCNN_FADD (p, MRCNN_FMUL (wc[co], v > 0.0f ? v : 0.0f));
  }
  probs[i] = mrcnn_sigmoid (p);
}

extern "C" cudaError_t
mrcnn_cuda_mask_probs (const float *taps, int n, int D, int h, int w,
    const float *deconv_bias, const float *weight, const float *bias,
    const int *classes, float *probs, cudaStream_t stream)
{
  if (D < 1 || h < 1 || w < 1)
    return cudaErrorInvalidValue;
  long long total = (long long) n * 4 * h * w;
  MRCNN_CUDA_LAUNCH (mrcnn_mask_probs_kernel, mrcnn_cuda_blocks (total, 128),
      128, 0, stream, taps, total, D, h, w, deconv_bias, weight, bias, classes,
      probs);
  return cudaGetLastError ();
}
