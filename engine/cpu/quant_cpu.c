/* The CPU backend's int8 layers: scales from the calibration and the
 * weights, and the quantization of inputs, shared by the real path (oneDNN's
 * int8 kernels) and its float32 reference (emulate_precision), so that both
 * use the same levels. */
#include <math.h>
#include <string.h>

#include "backend_cpu.h"
#include "precision.h"

/* A scale that maps `range` to `levels`; 1 for a range of 0 (an input or
 * weight row that is all zeros, which any scale represents exactly). */
static float
scale_of (float range, float levels)
{
  float s = range / levels;
  return s > 1e-30f && isfinite (s) ? s : 1.0f;
}

void
mrcnn_cpu_q8_input_init (mrcnn_q8_layer *q, const mrcnn_quant *quant)
{
  memset (q, 0, sizeof *q);
  if (!quant || !quant->on)
    return;
  q->on = 1;
  q->u8 = quant->lo >= 0.0f;
  float range = q->u8 ? quant->hi : fmaxf (-quant->lo, quant->hi);
  q->lo = q->u8 ? 0.0f : -128.0f;
  q->hi = q->u8 ? MRCNN_U8_MAX : MRCNN_S8_MAX;
  q->scale = scale_of (range, q->hi);
  q->inv_scale = 1.0f / q->scale;
}

void
mrcnn_cpu_q8_init (mrcnn_q8_layer *q, const mrcnn_quant *quant, float *w,
    int rows, size_t cols, const float *bias)
{
  mrcnn_cpu_q8_input_init (q, quant);
  if (!q->on)
    return;
  q->wscale = g_new (float, rows);
  q->inv_wscale = g_new (float, rows);
  q->oscale = g_new (float, rows);
  q->bias_acc = g_new (float, rows);
  for (int r = 0; r < rows; r++) {
    float *row = w + (size_t) r * cols;
    float amax = 0.0f;
    for (size_t k = 0; k < cols; k++)
      amax = fmaxf (amax, fabsf (row[k]));
    float s = scale_of (amax, MRCNN_S8_MAX), inv = 1.0f / s;
    /* the weights the reference computes with; the real path packs their
     * levels (these values x inv, each within a few ulp of an integer) */
    for (size_t k = 0; k < cols; k++)
      row[k] = mrcnn_q8_round (row[k], s, inv, -MRCNN_S8_MAX, MRCNN_S8_MAX);
    q->wscale[r] = s;
    q->inv_wscale[r] = inv;
    q->oscale[r] = q->scale * s;
    /* oneDNN 2.x adds the bias to the int32 accumulator before it applies
     * the output scales: the bias in accumulator units */
    q->bias_acc[r] = bias[r] / q->oscale[r];
  }
}

void
mrcnn_cpu_q8_clear (mrcnn_q8_layer *q)
{
  g_free (q->wscale);
  g_free (q->inv_wscale);
  g_free (q->oscale);
  g_free (q->bias_acc);
  memset (q, 0, sizeof *q);
}

void
mrcnn_cpu_q8_round (const mrcnn_q8_layer *q, float *x, size_t n)
{
  const float s = q->scale, inv = q->inv_scale, lo = q->lo, hi = q->hi;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++)
    x[i] = mrcnn_q8_round (x[i], s, inv, lo, hi);
}

void
mrcnn_cpu_q8_quantize (const mrcnn_q8_layer *q, const float *x, void *dst,
    size_t n)
{
  const float inv = q->inv_scale, lo = q->lo, hi = q->hi;
  if (q->u8) {
    uint8_t *d = dst;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
      d[i] = (uint8_t) mrcnn_q8_level (x[i], inv, lo, hi);
  } else {
    int8_t *d = dst;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
      d[i] = (int8_t) mrcnn_q8_level (x[i], inv, lo, hi);
  }
}
