/* gst-maskrcnn kernels: host/device qualifiers and rounding helpers.
 *
 * Every op's per-element math lives in a header of this directory as
 * MRCNN_HD functions, so that the CPU backend (gcc, C11) and the CUDA kernels
 * (nvcc, C++) run the same code. The headers include only <math.h>,
 * <stdint.h>, <stddef.h> (and mrcnn.h for the pixel format enum) and must
 * compile as C11 and as CUDA C++.
 *
 * Float contraction. torchvision's reference kernels round every product and
 * every sum separately (they are built without FMA), but nvcc fuses a * b + c
 * into one fused multiply-add by default, and so do C compilers in GNU mode on
 * FMA hardware. Where the order of rounding matters for parity, the headers
 * spell the operation with MRCNN_FMUL / MRCNN_FADD / MRCNN_FSUB, which round
 * each step on the device (the __f*_rn intrinsics are never contracted) and
 * are plain operators on the host. Host code must be built with
 * -ffp-contract=off, which is gcc's default for ISO C (-std=c11, as meson's
 * c_std=c11 gives); clang honours the pragma below.
 */
#ifndef MRCNN_KERNELS_HD_H
#define MRCNN_KERNELS_HD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define MRCNN_HD __host__ __device__ __forceinline__
#else
#define MRCNN_HD static inline
#endif

#if defined(__clang__) && !defined(__CUDACC__)
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__CUDA_ARCH__)
#define MRCNN_FMUL(a, b) __fmul_rn ((a), (b))
#define MRCNN_FADD(a, b) __fadd_rn ((a), (b))
#define MRCNN_FSUB(a, b) __fsub_rn ((a), (b))
#else
#define MRCNN_FMUL(a, b) ((a) * (b))
#define MRCNN_FADD(a, b) ((a) + (b))
#define MRCNN_FSUB(a, b) ((a) - (b))
#endif

#endif /* MRCNN_KERNELS_HD_H */
