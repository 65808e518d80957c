/* Unit tests of engine/cuda/tc_desc.c: the descriptors the CUDA backend's
 * tensor-core path hands cuDNN's graph API and cuBLASLt, checked on every
 * machine. Hand-worked cases from ResNet-50-FPN's layers, then fresh random
 * layers and sizes against independent derivations (brute-force output
 * sizes, NHWC strides from first principles, alignments by trying every
 * column). */
#include <glib.h>

#include "tc_desc.h"
#include "unit_test.h"

static int
tensor_is (const mrcnn_tc_tensor *t, int64_t d0, int64_t d1, int64_t d2,
    int64_t d3, int64_t s0, int64_t s1, int64_t s2, int64_t s3)
{
  return t->dim[0] == d0 && t->dim[1] == d1 && t->dim[2] == d2
      && t->dim[3] == d3 && t->stride[0] == s0 && t->stride[1] == s1
      && t->stride[2] == s2 && t->stride[3] == s3;
}

/* Element (n, c, h, w) of an NHWC map of C channels sits at
 * ((n * H + h) * W + w) * C + c: the strides must give that offset for
 * every element, which this checks at the corners and a random point. */
static int
nhwc_packed (const mrcnn_tc_tensor *t)
{
  const int64_t N = t->dim[0], C = t->dim[1], H = t->dim[2], W = t->dim[3];
  for (int k = 0; k < 8; k++) {
    int64_t n = k & 1 ? N - 1 : 0, c = k & 2 ? C - 1 : 0;
    int64_t h = k & 4 ? H - 1 : 0, w = (k * 7919) % W;
    int64_t want = ((n * H + h) * W + w) * C + c;
    int64_t got = n * t->stride[0] + c * t->stride[1] + h * t->stride[2]
        + w * t->stride[3];
    if (got != want)
      return 0;
  }
  return 1;
}

/* Output positions of one axis by counting windows that fit. */
static int
brute_out (int in, int k, int s, int p)
{
  int n = 0;
  for (int start = -p; start + k <= in + p; start += s)
    n++;
  return n;
}

static int64_t
brute_align (int64_t base, int64_t step, int n)
{
  /* the largest power of two <= 256 dividing every column's address */
  for (int64_t a = 256; a > 1; a /= 2) {
    int ok = 1;
    for (int k = 0; k < n && ok; k++)
      ok = (base + k * step) % a == 0;
    if (ok)
      return a;
  }
  return 1;
}

static void
test_math (void)
{
  mrcnn_tc_math m;
  mrcnn_error err = { 0 };
  ut_begin ("precision -> math");
  ut_check (mrcnn_tc_math_for (MRCNN_PRECISION_FP32, &m, &err) == MRCNN_OK
      && m.weights == MRCNN_TC_F32 && m.reduced == MRCNN_TC_F32
      && !m.tensor_cores && !m.tf32, "fp32: float32, no tensor cores");
  ut_check (mrcnn_tc_math_for (MRCNN_PRECISION_TF32, &m, &err) == MRCNN_OK
      && m.weights == MRCNN_TC_F32 && m.reduced == MRCNN_TC_F32
      && m.tensor_cores && m.tf32, "tf32: float32 storage, TF32 inputs");
  ut_check (mrcnn_tc_math_for (MRCNN_PRECISION_FP16, &m, &err) == MRCNN_OK
      && m.weights == MRCNN_TC_F16 && m.reduced == MRCNN_TC_F16
      && m.tensor_cores && !m.tf32, "fp16: fp16 weights and maps");
  ut_check (mrcnn_tc_math_for (MRCNN_PRECISION_BF16, &m, &err)
      == MRCNN_ERR_UNSUPPORTED && strstr (err.message, "bf16")
      && strstr (err.message, "CPU"), "bf16 refused: %s", err.message);
  ut_end ();
}

static mrcnn_tc_math
math (mrcnn_precision p)
{
  mrcnn_tc_math m;
  mrcnn_tc_math_for (p, &m, NULL);
  return m;
}

/* ResNet-50-FPN at a 1280x720 frame (input 1344x768 padded). */
static void
test_conv_r50 (void)
{
  mrcnn_tc_conv_desc d;
  mrcnn_error err = { 0 };
  const mrcnn_tc_math h = math (MRCNN_PRECISION_FP16);
  const mrcnn_tc_math f = math (MRCNN_PRECISION_FP32);
  const size_t ws = 64u << 20;

  ut_begin ("conv: R50 stem (NCHW image, 7x7/2)");
  {
    mrcnn_tc_conv_layer l = { 3, 64, 7, 7, 2, 3, 1 };
    mrcnn_tc_conv_io io = { 1, 768, 1344, 0, 1, MRCNN_TC_F32, MRCNN_TC_F16,
      256, 256 };
    ut_check (mrcnn_tc_conv_describe (&l, &io, &h, ws, &d, &err) == MRCNN_OK,
        "%s", err.message);
    ut_check (d.convert_input, "the NCHW image is converted");
    ut_check (tensor_is (&d.x, 1, 8, 768, 1344, 768 * 1344 * 8, 1, 1344 * 8,
            8), "x: 3 channels padded to 8, NHWC");
    ut_check (d.x.type == MRCNN_TC_F16, "x read as fp16");
    ut_check (tensor_is (&d.w, 64, 8, 7, 7, 7 * 7 * 8, 1, 7 * 8, 8),
        "w: KRSC with C padded");
    ut_check (d.out_h == 384 && d.out_w == 672, "out %dx%d", d.out_h,
        d.out_w);
    ut_check (tensor_is (&d.y, 1, 64, 384, 672, 384 * 672 * 64, 1, 672 * 64,
            64), "y NHWC");
    ut_check (d.cvt_bytes == (size_t) 768 * 1344 * 8 * 2, "conversion %zu",
        d.cvt_bytes);
    ut_check (d.in_bytes == (size_t) 3 * 768 * 1344 * 4, "in bytes");
    ut_check (d.pre_pad[0] == 3 && d.post_pad[1] == 3 && d.stride[0] == 2
        && d.dilation[1] == 1, "padding, stride, dilation");
    ut_check (d.relu && !d.residual && d.tensor_cores, "fused ReLU, tensor "
        "cores");
  }
  ut_end ();

  ut_begin ("conv: R50 layer1 3x3 and conv3 with residual");
  {
    mrcnn_tc_conv_layer l = { 64, 64, 3, 3, 1, 1, 1 };
    mrcnn_tc_conv_io io = { 2, 192, 336, 0, 0, MRCNN_TC_F16, MRCNN_TC_F16,
      256, 256 };
    ut_check (mrcnn_tc_conv_describe (&l, &io, &h, ws, &d, &err) == MRCNN_OK,
        "%s", err.message);
    ut_check (!d.convert_input && d.cvt_bytes == 0, "fp16 map read as it is");
    ut_check (tensor_is (&d.x, 2, 64, 192, 336, 192 * 336 * 64, 1, 336 * 64,
            64), "x");
    ut_check (d.x.align == 16 && d.y.align == 16, "16-byte aligned");
    ut_check (tensor_is (&d.w, 64, 64, 3, 3, 576, 1, 192, 64), "w KRSC");
    ut_check (d.out_h == 192 && d.out_w == 336, "same size");
    uint64_t k3 = d.key;
    mrcnn_tc_conv_layer l3 = { 64, 256, 1, 1, 1, 0, 1 };
    io.residual = 1;
    ut_check (mrcnn_tc_conv_describe (&l3, &io, &h, ws, &d, &err)
        == MRCNN_OK, "%s", err.message);
    ut_check (d.residual && tensor_is (&d.z, 2, 256, 192, 336,
            192 * 336 * 256, 1, 336 * 256, 256) && d.z.type == MRCNN_TC_F16,
        "the residual is the output's own fp16 map");
    ut_check (d.acc.type == MRCNN_TC_F32, "intermediates in float32");
    ut_check (d.key != k3, "another layer, another plan");
  }
  ut_end ();

  ut_begin ("conv: F32 maps at fp16 are converted, plans shared");
  {
    /* the FPN's output conv reads a float32 lateral: at fp16 it is
     * converted, and the plan is the one an fp16 map of that shape takes */
    mrcnn_tc_conv_layer l = { 256, 256, 3, 3, 1, 1, 0 };
    mrcnn_tc_conv_io io = { 1, 96, 168, 0, 0, MRCNN_TC_F32, MRCNN_TC_F32,
      256, 256 };
    ut_check (mrcnn_tc_conv_describe (&l, &io, &h, ws, &d, &err) == MRCNN_OK,
        "%s", err.message);
    ut_check (d.convert_input && d.x.type == MRCNN_TC_F16
        && d.cvt_bytes == (size_t) 96 * 168 * 256 * 2, "converted to fp16");
    ut_check (d.y.type == MRCNN_TC_F32, "the output stays float32");
    uint64_t k = d.key;
    io.in_type = MRCNN_TC_F16;
    mrcnn_tc_conv_describe (&l, &io, &h, ws, &d, &err);
    ut_check (!d.convert_input && d.key == k, "same plan without the "
        "conversion");
    ut_check (mrcnn_tc_conv_describe (&l, &io, &f, ws, &d, &err) == MRCNN_OK
        && d.key != k && !d.tensor_cores && d.x.type == MRCNN_TC_F32,
        "fp32: float32 input, no tensor cores, another plan");
    io.in_type = MRCNN_TC_F32;
    mrcnn_tc_conv_describe (&l, &io, &f, ws, &d, &err);
    ut_check (!d.convert_input, "fp32 reads float32 maps as they are");
  }
  ut_end ();

  ut_begin ("conv: RPN head 256 -> 15 (K padded to 16)");
  {
    mrcnn_tc_conv_layer l = { 256, 15, 1, 1, 1, 0, 0 };
    mrcnn_tc_conv_io io = { 1, 24, 42, 0, 0, MRCNN_TC_F16, MRCNN_TC_F32,
      256, 256 };
    ut_check (mrcnn_tc_conv_describe (&l, &io, &h, ws, &d, &err) == MRCNN_OK,
        "%s", err.message);
    ut_check (d.w.dim[0] == 16 && d.y.dim[1] == 16 && d.b.dim[1] == 16,
        "15 outputs padded to 16");
    ut_check (tensor_is (&d.b, 1, 16, 1, 1, 16, 1, 16, 16)
        && d.b.type == MRCNN_TC_F32, "bias float32, 1 x K x 1 x 1");
    ut_check (d.out_bytes == (size_t) 24 * 42 * 16 * 4, "out bytes %zu",
        d.out_bytes);
  }
  ut_end ();

  ut_begin ("conv: refusals name the problem");
  {
    mrcnn_tc_conv_layer l = { 64, 64, 7, 7, 1, 0, 0 };
    mrcnn_tc_conv_io io = { 1, 5, 5, 0, 0, MRCNN_TC_F16, MRCNN_TC_F16, 256,
      256 };
    ut_check (mrcnn_tc_conv_describe (&l, &io, &h, ws, &d, &err)
        == MRCNN_ERR_BACKEND && strstr (err.message, "does not fit"),
        "kernel larger than the input: %s", err.message);
    mrcnn_tc_conv_layer big = { 256, 256, 3, 3, 1, 1, 1 };
    mrcnn_tc_conv_io bio = { 64, 800, 1344, 0, 0, MRCNN_TC_F16,
      MRCNN_TC_F16, 256, 256 };
    ut_check (mrcnn_tc_conv_describe (&big, &bio, &h, ws, &d, &err)
        == MRCNN_ERR_BACKEND && strstr (err.message, "2^31"),
        "beyond 2^31 elements: %s", err.message);
    mrcnn_tc_conv_layer ok = { 64, 64, 3, 3, 1, 1, 1 };
    mrcnn_tc_conv_io odd = { 1, 8, 8, 0, 0, MRCNN_TC_F16, MRCNN_TC_F16, 1,
      256 };
    ut_check (mrcnn_tc_conv_describe (&ok, &odd, &h, ws, &d, &err)
        == MRCNN_ERR_BACKEND && strstr (err.message, "aligned"),
        "an odd address: %s", err.message);
  }
  ut_end ();
}

static void
test_conv_random (void)
{
  const mrcnn_precision precs[] = { MRCNN_PRECISION_FP32,
    MRCNN_PRECISION_TF32, MRCNN_PRECISION_FP16 };
  ut_begin ("conv: random layers and sizes");
  for (int it = 0; it < 20000; it++) {
    const mrcnn_tc_math m = math (precs[ut_int (0, 2)]);
    mrcnn_tc_conv_layer l = { ut_int (1, 300), ut_int (1, 300), ut_int (1, 7),
      ut_int (1, 7), ut_int (1, 3), ut_int (0, 3), ut_int (0, 1) };
    mrcnn_tc_conv_io io = { ut_int (1, 8), ut_int (1, 90), ut_int (1, 90),
      ut_int (0, 1), ut_int (0, 1), ut_int (0, 1) ? MRCNN_TC_F16
          : MRCNN_TC_F32, ut_int (0, 1) ? MRCNN_TC_F16 : MRCNN_TC_F32,
      (int64_t) 16 << ut_int (0, 4), (int64_t) 16 << ut_int (0, 4) };
    mrcnn_tc_conv_desc d, d2;
    mrcnn_error err = { 0 };
    const int oh = brute_out (io.h, l.kh, l.stride, l.pad);
    const int ow = brute_out (io.w, l.kw, l.stride, l.pad);
    mrcnn_status st = mrcnn_tc_conv_describe (&l, &io, &m, 1 << 20, &d, &err);
    if (oh < 1 || ow < 1) {
      ut_check (st == MRCNN_ERR_BACKEND, "%dx%d kernel on %dx%d (pad %d) "
          "accepted", l.kh, l.kw, io.h, io.w, l.pad);
      continue;
    }
    if (!ut_check (st == MRCNN_OK, "%s", err.message))
      continue;
    const int cp = (l.in_ch + 7) / 8 * 8, kp = (l.out_ch + 7) / 8 * 8;
    ut_check (d.out_h == oh && d.out_w == ow, "out %dx%d, counted %dx%d",
        d.out_h, d.out_w, oh, ow);
    ut_check (d.x.dim[0] == io.n && d.x.dim[1] == cp && d.x.dim[2] == io.h
        && d.x.dim[3] == io.w && nhwc_packed (&d.x), "x NHWC, C %d",
        (int) d.x.dim[1]);
    ut_check (d.y.dim[1] == kp && d.y.dim[2] == oh && d.y.dim[3] == ow
        && nhwc_packed (&d.y), "y NHWC");
    ut_check (d.w.dim[0] == kp && d.w.dim[1] == cp && d.w.dim[2] == l.kh
        && d.w.dim[3] == l.kw && d.w.stride[1] == 1 && d.w.stride[3] == cp
        && d.w.stride[2] == (int64_t) l.kw * cp
        && d.w.stride[0] == (int64_t) l.kh * l.kw * cp, "w KRSC");
    ut_check (d.x.type == m.weights, "x in the weights' type");
    ut_check (d.convert_input == (io.in_nchw || io.in_type != m.weights),
        "conversion exactly when the input is not the weights' NHWC");
    ut_check (d.x.align == 16 && d.y.align == 16 && d.w.align == 16
        && d.b.align == 16, "16-byte alignment");
    ut_check (d.cvt_bytes == (d.convert_input ? ((size_t) io.n * io.h * io.w
                * cp * (m.weights == MRCNN_TC_F16 ? 2 : 4) + 255) / 256 * 256
            : 0), "conversion scratch %zu", d.cvt_bytes);
    ut_check (d.out_bytes == (size_t) io.n * oh * ow * kp
        * (io.out_type == MRCNN_TC_F16 ? 2 : 4), "out bytes");
    /* the key: the same for the same description, another for any change
     * of what cuDNN sees */
    mrcnn_tc_conv_describe (&l, &io, &m, 1 << 20, &d2, &err);
    ut_check (d2.key == d.key && memcmp (&d, &d2, sizeof d) == 0,
        "deterministic");
    mrcnn_tc_conv_io io2 = io;
    io2.residual = !io.residual;
    mrcnn_tc_conv_describe (&l, &io2, &m, 1 << 20, &d2, &err);
    ut_check (d2.key != d.key, "residual in the key");
    mrcnn_tc_conv_layer l2 = l;
    l2.relu = !l.relu;
    mrcnn_tc_conv_describe (&l2, &io, &m, 1 << 20, &d2, &err);
    ut_check (d2.key != d.key, "ReLU in the key");
    mrcnn_tc_conv_describe (&l, &io, &m, 2 << 20, &d2, &err);
    ut_check (d2.key != d.key && d2.workspace_limit == 2 << 20,
        "workspace in the key");
  }
  ut_end ();
}

static void
test_linear (void)
{
  mrcnn_tc_linear_desc d;
  mrcnn_error err = { 0 };
  const mrcnn_tc_math h = math (MRCNN_PRECISION_FP16);
  const mrcnn_tc_math t = math (MRCNN_PRECISION_TF32);

  ut_begin ("linear: R50 box head fc6 and predictor");
  {
    mrcnn_tc_linear_layer fc6 = { 1024, 12544, 1 };
    mrcnn_tc_linear_io io = { 1000, 256, 256 };
    ut_check (mrcnn_tc_linear_describe (&fc6, &io, &h, 1 << 20, &d, &err)
        == MRCNN_OK, "%s", err.message);
    ut_check (d.a.rows == 12544 && d.a.cols == 1024 && d.a.ld == 12544
        && d.a.type == MRCNN_TC_F16 && d.a.align == 256, "A = W^T stored "
        "in x out");
    ut_check (d.b.rows == 12544 && d.b.cols == 1000 && d.b.ld == 12544
        && d.b.type == MRCNN_TC_F16, "B = x^T, converted to fp16");
    ut_check (d.d.rows == 1024 && d.d.cols == 1000 && d.d.ld == 1024
        && d.d.type == MRCNN_TC_F32 && d.d.align == 256, "D = y^T float32");
    ut_check (d.convert_input && d.cvt_bytes == (size_t) 12544 * 1000 * 2,
        "conversion of x");
    ut_check (d.relu && !d.compute_tf32, "ReLU epilogue");
    /* cls_score and bbox_pred fused: 91 + 364 outputs, rows of 455 floats */
    mrcnn_tc_linear_layer pred = { 455, 1024, 0 };
    ut_check (mrcnn_tc_linear_describe (&pred, &io, &t, 1 << 20, &d, &err)
        == MRCNN_OK, "%s", err.message);
    ut_check (d.d.ld == 455 && d.d.align == 4, "rows of 455 floats: "
        "4-byte columns (%lld)", (long long) d.d.align);
    ut_check (!d.convert_input && d.b.type == MRCNN_TC_F32 && d.compute_tf32
        && d.b.align == 256, "tf32: float32 x read as it is");
  }
  ut_end ();

  ut_begin ("linear: random shapes, alignments by brute force");
  for (int it = 0; it < 20000; it++) {
    const mrcnn_tc_math m = ut_int (0, 1) ? h : t;
    mrcnn_tc_linear_layer l = { ut_int (1, 3000), ut_int (1, 3000),
      ut_int (0, 1) };
    mrcnn_tc_linear_io io = { ut_int (1, 2000), (int64_t) 1 << ut_int (0, 8),
      (int64_t) 1 << ut_int (0, 8) };
    mrcnn_status st = mrcnn_tc_linear_describe (&l, &io, &m, 1 << 20, &d,
        &err);
    const int ws = m.weights == MRCNN_TC_F16 ? 2 : 4;
    const int64_t b_align = brute_align (d.convert_input ? 256 : io.x_align,
        (int64_t) l.in_features * ws, io.n);
    const int64_t d_align = brute_align (io.y_align,
        (int64_t) l.out_features * 4, io.n);
    if (b_align < ws || d_align < 4) {
      ut_check (st == MRCNN_ERR_BACKEND, "misaligned x or y accepted");
      continue;
    }
    if (!ut_check (st == MRCNN_OK, "%s", err.message))
      continue;
    ut_check (d.b.align == b_align && d.d.align == d_align, "alignment b "
        "%lld (%lld), d %lld (%lld)", (long long) d.b.align,
        (long long) b_align, (long long) d.d.align, (long long) d_align);
    ut_check (d.a.align == brute_align (256, (int64_t) l.in_features * ws,
            l.out_features), "a alignment");
    ut_check (d.a.ld >= d.a.rows && d.b.ld >= d.b.rows && d.d.ld >= d.d.rows,
        "leading dimensions hold a column");
    ut_check (d.d.rows == l.out_features && d.d.cols == io.n
        && d.b.cols == io.n && d.a.cols == l.out_features, "shapes");
  }
  ut_end ();

  ut_begin ("linear: refusals");
  {
    mrcnn_tc_linear_layer l = { 10, 10, 0 };
    mrcnn_tc_linear_io io = { 0, 256, 256 };
    ut_check (mrcnn_tc_linear_describe (&l, &io, &h, 0, &d, &err)
        == MRCNN_ERR_BACKEND, "no rows");
    mrcnn_tc_linear_layer big = { 65536, 65536, 0 };
    io.n = 1;
    ut_check (mrcnn_tc_linear_describe (&big, &io, &h, 0, &d, &err)
        == MRCNN_ERR_BACKEND && strstr (err.message, "2^31"), "%s",
        err.message);
  }
  ut_end ();
}

/* The workspace bound travels with the descriptor, and a plan made within
 * one bound is not taken for another (its engine may need more). */
static void
test_workspace (void)
{
  mrcnn_error err = { 0 };
  const mrcnn_tc_math h = math (MRCNN_PRECISION_FP16);
  ut_begin ("workspace: carried, and part of the plan's key");
  {
    mrcnn_tc_conv_layer l = { 256, 256, 3, 3, 1, 1, 1 };
    mrcnn_tc_conv_io io = { 1, 96, 168, 0, 0, MRCNN_TC_F16, MRCNN_TC_F16,
      256, 256 };
    mrcnn_tc_conv_desc a, b;
    ut_check (mrcnn_tc_conv_describe (&l, &io, &h, 64u << 20, &a, &err)
        == MRCNN_OK && mrcnn_tc_conv_describe (&l, &io, &h, 256u << 20, &b,
            &err) == MRCNN_OK, "%s", err.message);
    ut_check (a.workspace_limit == 64u << 20 && b.workspace_limit == 256u << 20,
        "conv: limits %zu, %zu", a.workspace_limit, b.workspace_limit);
    ut_check (a.key != b.key, "conv: another bound, another plan");
    mrcnn_tc_linear_layer fc = { 1024, 1024, 1 };
    mrcnn_tc_linear_io lio = { 1000, 256, 256 };
    mrcnn_tc_linear_desc c, e;
    ut_check (mrcnn_tc_linear_describe (&fc, &lio, &h, 32u << 20, &c, &err)
        == MRCNN_OK && mrcnn_tc_linear_describe (&fc, &lio, &h, 0, &e, &err)
        == MRCNN_OK, "%s", err.message);
    ut_check (c.workspace_limit == 32u << 20 && e.workspace_limit == 0,
        "linear: limits %zu, %zu", c.workspace_limit, e.workspace_limit);
    ut_check (c.key != e.key, "linear: another bound, another algorithm");
    /* the conversion scratch is what the converted input takes, rounded
     * to a buffer's alignment, besides the workspace */
    ut_check (c.cvt_bytes == (size_t) 1000 * 1024 * 2, "linear: fp16 x in "
        "scratch, %zu bytes", c.cvt_bytes);
  }
  ut_end ();
}

int
main (void)
{
  ut_init ("test_tc_desc");
  test_math ();
  test_conv_r50 ();
  test_conv_random ();
  test_linear ();
  test_workspace ();
  return ut_finish ();
}
