/* Unit tests of kernels/precision.h: float32 -> bf16 and fp16 rounding.
 *
 * bf16 against a double-precision reference of round to nearest even at 8
 * significant bits (and float32's own exponent range); fp16 against the
 * compiler's _Float16 conversions (IEEE round to nearest even), every one of
 * the 65536 fp16 patterns back to float32, and random float32 values across
 * fp16's whole range: subnormals, normals, the overflow edge at 65520. */
#include <float.h>

#include "precision.h"
#include "unit_test.h"

static float
random_float (void)
{
  /* a random sign, exponent and mantissa: every binade equally often */
  uint32_t u = (uint32_t) ut_next ();
  uint32_t exp = (uint32_t) ut_int (0, 254);
  return mrcnn_f32_from_bits ((u & 0x807fffffu) | (exp << 23));
}

/* x rounded to nearest even at bf16's precision, computed in double. */
static float
bf16_reference (float x)
{
  double ax = fabs ((double) x);
  double q;                     /* the quantum of x's binade in bf16 */
  if (ax < ldexp (1.0, -126))
    q = ldexp (1.0, -133);      /* subnormal: float32's quantum x 2^16 */
  else {
    int e;
    frexp (ax, &e);             /* ax in [2^(e-1), 2^e) */
    q = ldexp (1.0, e - 8);
  }
  double r = nearbyint ((double) x / q) * q;   /* ties to even */
  return (float) r;             /* past bf16's largest: inf, as float */
}

static int
same_float (float a, float b)
{
  return mrcnn_f32_bits (a) == mrcnn_f32_bits (b) || (isnan (a) && isnan (b));
}

int
main (void)
{
  ut_init ("precision");

  ut_begin ("bf16 round: random float32 (2M)");
  for (int i = 0; i < 2000000; i++) {
    float x = random_float ();
    float got = mrcnn_bf16_round (x), want = bf16_reference (x);
    ut_check (same_float (got, want), "x %a: got %a, want %a", x, got, want);
  }
  ut_end ();

  ut_begin ("bf16 round: ties, edges, specials");
  {
    struct { float x, want; } cases[] = {
      { 1.0f + 0x1p-8f, 1.0f },                   /* tie, even below */
      { 1.0f + 0x3p-8f, 1.0f + 0x1p-6f },         /* tie, even above */
      { 1.0f + 0x1p-8f + 0x1p-20f, 1.0f + 0x1p-7f },
      { -(1.0f + 0x3p-8f), -(1.0f + 0x1p-6f) },
      { FLT_MAX, INFINITY },                      /* rounds past bf16's max */
      { 0x1.fep127f, 0x1.fep127f },               /* bf16's largest */
      { 0x1p-130f, 0x1p-130f },                   /* subnormal, exact */
      { 0x1p-140f, 0.0f },                        /* below half a quantum */
      { 0.0f, 0.0f }, { -0.0f, -0.0f }, { INFINITY, INFINITY },
      { -INFINITY, -INFINITY },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      float got = mrcnn_bf16_round (cases[i].x);
      ut_check (same_float (got, cases[i].want), "x %a: got %a, want %a",
          cases[i].x, got, cases[i].want);
    }
    ut_check (isnan (mrcnn_bf16_round (NAN)), "NaN stays NaN");
    ut_check (isnan (mrcnn_bf16_to_f32 (mrcnn_bf16_from_f32 (
                    mrcnn_f32_from_bits (0x7f800001u)))),
        "a NaN whose payload is in the low bits stays NaN");
  }
  ut_end ();

#if defined(__FLT16_MAX__)
  ut_begin ("fp16 -> float32: all 65536 patterns");
  for (uint32_t h = 0; h < 65536; h++) {
    _Float16 v;
    uint16_t bits = (uint16_t) h;
    memcpy (&v, &bits, 2);
    float want = (float) v, got = mrcnn_fp16_to_f32 (bits);
    ut_check (same_float (got, want), "pattern %04x: got %a, want %a", h, got,
        want);
  }
  ut_end ();

  ut_begin ("fp16 round: random float32 in fp16's range (4M)");
  for (int i = 0; i < 4000000; i++) {
    /* exponents from below fp16's subnormals to past its largest */
    float x = ldexpf ((float) ut_uniform (0.5, 1.0), ut_int (-27, 17));
    if (ut_next () & 1)
      x = -x;
    _Float16 v = (_Float16) x;
    uint16_t want;
    memcpy (&want, &v, 2);
    uint16_t got = mrcnn_fp16_from_f32 (x);
    ut_check (got == want, "x %a: got %04x, want %04x", x, got, want);
  }
  ut_end ();

  ut_begin ("fp16 round: overflow edge, ties, specials");
  {
    float xs[] = { 65504.0f, 65519.99f, 65520.0f, 65536.0f, 1e30f, -65520.0f,
      0x1p-24f, 0x1p-25f, 0x1.000002p-25f, 0x1.8p-24f, 0x1p-14f,
      0x1.ffcp-15f, 1.0f + 0x1p-11f, 1.0f + 0x3p-11f, 0.0f, -0.0f,
      INFINITY, -INFINITY };
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
      _Float16 v = (_Float16) xs[i];
      uint16_t want;
      memcpy (&want, &v, 2);
      uint16_t got = mrcnn_fp16_from_f32 (xs[i]);
      ut_check (got == want, "x %a: got %04x, want %04x", xs[i], got, want);
    }
    ut_check (isinf (mrcnn_fp16_round (65520.0f)), "65520 overflows");
    ut_check (mrcnn_fp16_round (65519.0f) == MRCNN_FP16_MAX,
        "65519 rounds to 65504");
    ut_check (isnan (mrcnn_fp16_round (NAN)), "NaN stays NaN");
  }
  ut_end ();
#else
  printf ("  skip  fp16 against _Float16: this compiler has no _Float16\n");
#endif
  return ut_finish ();
}
