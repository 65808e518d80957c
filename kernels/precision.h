/* gst-maskrcnn kernels: the reduced-precision number formats.
 *
 * bf16 (the CPU's reduced precision: AVX512_BF16, AMX) and IEEE fp16 (the
 * GPU's) as 16-bit patterns, converted from float32 with round to nearest,
 * ties to even, as oneDNN's reorders and convolution outputs, the CPU's
 * VCVTNEPS2BF16, CUDA's __float2half_rn and torch's .to() round. The CPU
 * reference of a reduced precision (the engine's emulate_precision) rounds
 * with these functions wherever the device stores the reduced type, so that
 * the error a precision brings is measured on every machine.
 *
 * Written on the bits, so that the CPU build (C11) and nvcc (C++) compute the
 * same patterns without either's half types.
 */
#ifndef MRCNN_KERNELS_PRECISION_H
#define MRCNN_KERNELS_PRECISION_H

#include "mrcnn_hd.h"

/* The largest finite fp16 value: anything that rounds above it overflows
 * to infinity. */
#define MRCNN_FP16_MAX 65504.0f

MRCNN_HD uint32_t
mrcnn_f32_bits (float f)
{
  union { float f; uint32_t u; } v;
  v.f = f;
  return v.u;
}

MRCNN_HD float
mrcnn_f32_from_bits (uint32_t u)
{
  union { float f; uint32_t u; } v;
  v.u = u;
  return v.f;
}

/* float32 -> bf16 bits, round to nearest even; NaN stays a (quiet) NaN. */
MRCNN_HD uint16_t
mrcnn_bf16_from_f32 (float f)
{
  uint32_t u = mrcnn_f32_bits (f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (uint16_t) ((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t) (u >> 16);
}

MRCNN_HD float
mrcnn_bf16_to_f32 (uint16_t h)
{
  return mrcnn_f32_from_bits ((uint32_t) h << 16);
}

/* f rounded to the nearest bf16 value, as a float. */
MRCNN_HD float
mrcnn_bf16_round (float f)
{
  return mrcnn_bf16_to_f32 (mrcnn_bf16_from_f32 (f));
}

/* float32 -> IEEE binary16 bits, round to nearest even, subnormals kept,
 * values that round past 65504 become infinity. */
MRCNN_HD uint16_t
mrcnn_fp16_from_f32 (float f)
{
  uint32_t u = mrcnn_f32_bits (f);
  uint16_t sign = (uint16_t) ((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u)                       /* NaN */
    return (uint16_t) (sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  if (a >= 0x477ff000u)                      /* rounds to >= 65536: inf */
    return (uint16_t) (sign | 0x7c00u);
  if (a < 0x38800000u) {                     /* below 2^-14: subnormal */
    if (a < 0x33000000u)                     /* below 2^-25: rounds to 0 */
      return sign;
    uint32_t e = a >> 23;                    /* 102 .. 112 */
    uint32_t m = (a & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e;               /* 14 .. 24 */
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u)))
      q++;
    return (uint16_t) (sign | q);
  }
  /* normal: rebias the exponent (127 -> 15) and round the mantissa */
  uint32_t r = a - 0x38000000u;
  r += 0xfffu + ((r >> 13) & 1u);
  return (uint16_t) (sign | (r >> 13));
}

MRCNN_HD float
mrcnn_fp16_to_f32 (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1fu)                            /* inf, NaN */
    return mrcnn_f32_from_bits (sign | 0x7f800000u | (m << 13));
  if (e == 0) {
    /* subnormal (or zero): m x 2^-24, exact in float32 */
    float v = (float) m * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return mrcnn_f32_from_bits (sign | ((e + 112u) << 23) | (m << 13));
}

/* f rounded to the nearest fp16 value, as a float (infinity past 65504). */
MRCNN_HD float
mrcnn_fp16_round (float f)
{
  return mrcnn_fp16_to_f32 (mrcnn_fp16_from_f32 (f));
}


/* ---------------------------------------------------------------- int8
 *
 * int8 (the CPU's integer path: AVX512_VNNI, AVX-VNNI, AMX-INT8 through
 * oneDNN) quantizes symmetrically, with no zero point: a value x with scale s
 * is stored as q = saturate (rne (x * (1 / s))), read back as q * s. The
 * multiplication by the reciprocal, not a division, and round to nearest,
 * ties to even, then saturation, are what oneDNN's reorders do with an
 * output scale of 1 / s (its CPU reorders multiply and convert with the
 * default MXCSR rounding); the reference computes the same q. Activations
 * that are never negative (ReLU outputs) are u8, 0 .. 255; others s8,
 * -128 .. 127; weights s8 with the symmetric range -127 .. 127 (their scale
 * maps the largest magnitude to 127). */

#define MRCNN_U8_MAX 255.0f
#define MRCNN_S8_MAX 127.0f

/* rne (v): rintf rounds in the current mode, round to nearest even unless
 * a program changed it (nothing here does); CUDA's rintf is RNE always. */
MRCNN_HD float
mrcnn_rne (float v)
{
  return rintf (v);
}

/* The quantized level of x: rne (x * inv_scale) saturated to lo .. hi (0 ..
 * 255 for u8, -128 .. 127 for s8). A NaN (which no calibrated network
 * produces) becomes 0. */
MRCNN_HD float
mrcnn_q8_level (float x, float inv_scale, float lo, float hi)
{
  float v = x * inv_scale;
  if (v != v)
    return 0.0f;
  v = v < lo ? lo : v > hi ? hi : v;
  return mrcnn_rne (v);
}

/* x quantized and read back: mrcnn_q8_level (...) * scale. */
MRCNN_HD float
mrcnn_q8_round (float x, float scale, float inv_scale, float lo, float hi)
{
  return mrcnn_q8_level (x, inv_scale, lo, hi) * scale;
}

#endif /* MRCNN_KERNELS_PRECISION_H */
