/* The network's structure, checked against the model's tensors. Widths come
 * from tensor shapes; every tensor the forward pass reads is checked here,
 * once, so the stage code can trust shapes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define ANY (-1)

static void
shape_str (const int64_t *shape, int ndim, char *buf, size_t len)
{
  size_t o = 0;
  o += (size_t) snprintf (buf + o, len - o, "[");
  for (int i = 0; i < ndim && o < len; i++)
    o += (size_t) snprintf (buf + o, len - o, i ? ", %lld" : "%lld",
        (long long) shape[i]);
  if (o < len)
    snprintf (buf + o, len - o, "]");
}

/* Checks that tensor `name` exists with the given shape (ANY matches any
 * size) and returns it; on mismatch names file, tensor and expectation. */
static mrcnn_status
expect (const mrcnn_model *m, const char *name, int ndim, const int64_t *shape,
    const mrcnn_tensor_entry **out, mrcnn_error *err)
{
  const mrcnn_tensor_entry *t = mrcnn_model_find (m, name);
  char want[128], got[128];
  if (t && m->arch_seen)
    g_hash_table_add (m->arch_seen, (gpointer) t->name);
  shape_str (shape, ndim, want, sizeof want);
  for (char *p = want; (p = strstr (p, "-1")); )
    memcpy (p, " *", 2);
  if (!t)
    return mrcnn_fail (err, MRCNN_ERR_MODEL,
        "model '%s': tensor '%s' is missing (architecture %s needs it, shape "
        "%s)", m->path, name, m->architecture, want);
  int ok = t->ndim == ndim;
  for (int i = 0; ok && i < ndim; i++)
    ok = shape[i] == ANY || shape[i] == t->shape[i];
  for (int i = 0; ok && i < ndim; i++)
    ok = t->shape[i] > 0;
  if (!ok) {
    shape_str (t->shape, t->ndim, got, sizeof got);
    return mrcnn_fail (err, MRCNN_ERR_MODEL,
        "model '%s': tensor '%s' has shape %s, expected %s", m->path, name,
        got, want);
  }
  if (out)
    *out = t;
  return MRCNN_OK;
}

#define SHAPE(...) ((const int64_t[]) { __VA_ARGS__ })
#define NDIM(...) ((int) (sizeof ((int64_t[]) { __VA_ARGS__ }) / sizeof (int64_t)))
#define EXPECT(name, out, ...) \
  MRCNN_TRY (expect (m, name, NDIM (__VA_ARGS__), SHAPE (__VA_ARGS__), out, err))

static mrcnn_status
expect_bn (const mrcnn_model *m, const char *prefix, int64_t ch,
    mrcnn_error *err)
{
  static const char *parts[] = { "weight", "bias", "running_mean", "running_var" };
  for (int i = 0; i < 4; i++) {
    char name[256];
    snprintf (name, sizeof name, "%s.%s", prefix, parts[i]);
    EXPECT (name, NULL, ch);
  }
  return MRCNN_OK;
}

static mrcnn_status
expect_conv_bias (const mrcnn_model *m, const char *prefix, int64_t out,
    int64_t in, int64_t k, mrcnn_error *err)
{
  char name[256];
  snprintf (name, sizeof name, "%s.weight", prefix);
  EXPECT (name, NULL, out, in, k, k);
  snprintf (name, sizeof name, "%s.bias", prefix);
  EXPECT (name, NULL, out);
  return MRCNN_OK;
}

/* A convolution followed by batch norm (`<conv>.weight` without bias and
 * `<bn>.*`, v2's Conv2dNormActivation) when norm, else one with a bias. */
static mrcnn_status
expect_conv_norm (const mrcnn_model *m, const char *conv, const char *bn,
    int norm, int64_t out, int64_t in, int64_t k, mrcnn_error *err)
{
  char name[256];
  if (!norm)
    return expect_conv_bias (m, conv, out, in, k, err);
  snprintf (name, sizeof name, "%s.weight", conv);
  EXPECT (name, NULL, out, in, k, k);
  return expect_bn (m, bn, out, err);
}

static gboolean
has (const mrcnn_model *m, const char *fmt, int a, int b)
{
  char name[256];
  snprintf (name, sizeof name, fmt, a, b);
  return mrcnn_model_find (m, name) != NULL;
}

void
mrcnn_arch_clear (mrcnn_arch *arch)
{
  g_free (arch->block);
  memset (arch, 0, sizeof *arch);
}

static mrcnn_status
check_body (mrcnn_model *m, mrcnn_arch *a, mrcnn_error *err)
{
  static const int counts[][5] = {
    { 18, 2, 2, 2, 2 }, { 34, 3, 4, 6, 3 }, { 50, 3, 4, 6, 3 }, { 101, 3, 4, 23, 3 },
  };
  int depth = 0;
  if (sscanf (m->architecture, "maskrcnn_resnet%d_fpn", &depth) != 1)
    depth = 0;
  char canon[64];
  snprintf (canon, sizeof canon, "maskrcnn_resnet%d_fpn", depth);
  a->v2 = strcmp (m->architecture, "maskrcnn_resnet50_fpn_v2") == 0;
  int row = -1;
  for (int i = 0; i < 4; i++)
    if (counts[i][0] == depth)
      row = i;
  if (row < 0 || (strcmp (canon, m->architecture) != 0 && !a->v2))
    return mrcnn_fail (err, MRCNN_ERR_MODEL,
        "model '%s': unknown architecture '%s'; supported: "
        "maskrcnn_resnet18_fpn, maskrcnn_resnet34_fpn, maskrcnn_resnet50_fpn, "
        "maskrcnn_resnet101_fpn, maskrcnn_resnet50_fpn_v2", m->path,
        m->architecture);
  a->depth = depth;
  a->bottleneck = depth >= 50;
  int total = 0;
  for (int i = 0; i < 4; i++) {
    a->blocks[i] = counts[row][i + 1];
    total += a->blocks[i];
  }

  const mrcnn_tensor_entry *t;
  EXPECT ("backbone.body.conv1.weight", &t, ANY, 3, 7, 7);
  a->stem_ch = (int) t->shape[0];
  MRCNN_TRY (expect_bn (m, "backbone.body.bn1", a->stem_ch, err));

  a->block = g_new0 (mrcnn_block_spec, total);
  int in_ch = a->stem_ch, bi = 0;
  for (int l = 0; l < 4; l++) {
    if (has (m, "backbone.body.layer%d.%d.conv1.weight", l + 1, a->blocks[l]))
      return mrcnn_fail (err, MRCNN_ERR_MODEL,
          "model '%s': layer%d has more than the %d blocks of %s", m->path,
          l + 1, a->blocks[l], m->architecture);
    for (int i = 0; i < a->blocks[l]; i++, bi++) {
      mrcnn_block_spec *b = &a->block[bi];
      char p[160], name[256];
      snprintf (p, sizeof p, "backbone.body.layer%d.%d", l + 1, i);
      b->in_ch = in_ch;
      b->stride = (l > 0 && i == 0) ? 2 : 1;
      snprintf (name, sizeof name, "%s.conv1.weight", p);
      if (a->bottleneck) {
        EXPECT (name, &t, ANY, in_ch, 1, 1);
        b->mid_ch = (int) t->shape[0];
        snprintf (name, sizeof name, "%s.conv2.weight", p);
        EXPECT (name, NULL, b->mid_ch, b->mid_ch, 3, 3);
        snprintf (name, sizeof name, "%s.conv3.weight", p);
        EXPECT (name, &t, ANY, b->mid_ch, 1, 1);
        b->out_ch = (int) t->shape[0];
        snprintf (name, sizeof name, "%s.bn3", p);
        MRCNN_TRY (expect_bn (m, name, b->out_ch, err));
      } else {
        EXPECT (name, &t, ANY, in_ch, 3, 3);
        b->mid_ch = (int) t->shape[0];
        snprintf (name, sizeof name, "%s.conv2.weight", p);
        EXPECT (name, &t, ANY, b->mid_ch, 3, 3);
        b->out_ch = (int) t->shape[0];
      }
      snprintf (name, sizeof name, "%s.bn1", p);
      MRCNN_TRY (expect_bn (m, name, b->mid_ch, err));
      snprintf (name, sizeof name, "%s.bn2", p);
      MRCNN_TRY (expect_bn (m, name, a->bottleneck ? b->mid_ch : b->out_ch, err));

      snprintf (name, sizeof name, "%s.downsample.0.weight", p);
      b->has_downsample = mrcnn_model_find (m, name) != NULL;
      if (b->has_downsample) {
        EXPECT (name, NULL, b->out_ch, in_ch, 1, 1);
        snprintf (name, sizeof name, "%s.downsample.1", p);
        MRCNN_TRY (expect_bn (m, name, b->out_ch, err));
      } else if (b->stride != 1 || b->in_ch != b->out_ch) {
        return mrcnn_fail (err, MRCNN_ERR_MODEL,
            "model '%s': tensor '%s' is missing (block changes %s, it needs "
            "a downsample projection of shape [%d, %d, 1, 1])", m->path, name,
            b->stride != 1 ? "resolution" : "width", b->out_ch, in_ch);
      }
      in_ch = b->out_ch;
    }
    a->stage_ch[l] = in_ch;
  }
  return MRCNN_OK;
}

static mrcnn_status
check_heads (mrcnn_model *m, mrcnn_arch *a, mrcnn_error *err)
{
  const mrcnn_tensor_entry *t;
  char name[256];

  char bn[256];
  const int v2 = a->v2;

  EXPECT ("backbone.fpn.inner_blocks.0.0.weight", &t, ANY, a->stage_ch[0], 1, 1);
  a->fpn_ch = (int) t->shape[0];
  for (int k = 0; k < MRCNN_FPN_LEVELS; k++) {
    snprintf (name, sizeof name, "backbone.fpn.inner_blocks.%d.0", k);
    snprintf (bn, sizeof bn, "backbone.fpn.inner_blocks.%d.1", k);
    MRCNN_TRY (expect_conv_norm (m, name, bn, v2, a->fpn_ch, a->stage_ch[k], 1,
            err));
    snprintf (name, sizeof name, "backbone.fpn.layer_blocks.%d.0", k);
    snprintf (bn, sizeof bn, "backbone.fpn.layer_blocks.%d.1", k);
    MRCNN_TRY (expect_conv_norm (m, name, bn, v2, a->fpn_ch, a->fpn_ch, 3,
            err));
  }

  /* RPNHead(conv_depth): its convolutions have biases in v2 too */
  a->rpn_convs = v2 ? 2 : 1;
  for (int k = 0; k < a->rpn_convs; k++) {
    snprintf (name, sizeof name, "rpn.head.conv.%d.0", k);
    MRCNN_TRY (expect_conv_bias (m, name, a->fpn_ch, a->fpn_ch, 3, err));
  }
  a->num_anchors = m->n_ratios;
  MRCNN_TRY (expect_conv_bias (m, "rpn.head.cls_logits", a->num_anchors,
          a->fpn_ch, 1, err));
  MRCNN_TRY (expect_conv_bias (m, "rpn.head.bbox_pred", 4 * a->num_anchors,
          a->fpn_ch, 1, err));

  if (v2) {
    /* FastRCNNConvFCHead: conv + BN + ReLU blocks 0 .. n-1, Flatten (n),
     * Linear (n + 1) and its ReLU */
    int in_ch = a->fpn_ch;
    a->box_convs = 0;
    while (a->box_convs < MRCNN_BOX_CONVS_MAX
        && has (m, "roi_heads.box_head.%d.0.weight", a->box_convs, 0)) {
      snprintf (name, sizeof name, "roi_heads.box_head.%d.0.weight", a->box_convs);
      EXPECT (name, &t, ANY, in_ch, 3, 3);
      in_ch = a->box_conv_ch[a->box_convs] = (int) t->shape[0];
      snprintf (bn, sizeof bn, "roi_heads.box_head.%d.1", a->box_convs);
      MRCNN_TRY (expect_bn (m, bn, in_ch, err));
      a->box_convs++;
    }
    if (a->box_convs == 0)
      return mrcnn_fail (err, MRCNN_ERR_MODEL,
          "model '%s': tensor 'roi_heads.box_head.0.0.weight' is missing "
          "(%s's box head starts with a 3x3 convolution)", m->path,
          m->architecture);
    a->box_in = in_ch * 7 * 7;
    snprintf (name, sizeof name, "roi_heads.box_head.%d.weight", a->box_convs + 1);
    EXPECT (name, &t, ANY, a->box_in);
    a->representation = (int) t->shape[0];
    snprintf (name, sizeof name, "roi_heads.box_head.%d.bias", a->box_convs + 1);
    EXPECT (name, NULL, a->representation);
  } else {
    a->box_in = a->fpn_ch * 7 * 7;
    EXPECT ("roi_heads.box_head.fc6.weight", &t, ANY, a->box_in);
    a->representation = (int) t->shape[0];
    EXPECT ("roi_heads.box_head.fc6.bias", NULL, a->representation);
    EXPECT ("roi_heads.box_head.fc7.weight", NULL, a->representation, a->representation);
    EXPECT ("roi_heads.box_head.fc7.bias", NULL, a->representation);
  }
  a->num_classes = m->num_classes;
  EXPECT ("roi_heads.box_predictor.cls_score.weight", NULL, a->num_classes,
      a->representation);
  EXPECT ("roi_heads.box_predictor.cls_score.bias", NULL, a->num_classes);
  EXPECT ("roi_heads.box_predictor.bbox_pred.weight", NULL, 4 * a->num_classes,
      a->representation);
  EXPECT ("roi_heads.box_predictor.bbox_pred.bias", NULL, 4 * a->num_classes);

  EXPECT ("roi_heads.mask_head.0.0.weight", &t, ANY, a->fpn_ch, 3, 3);
  a->mask_ch = (int) t->shape[0];
  for (int k = 0; k < MRCNN_MASK_CONVS; k++) {
    snprintf (name, sizeof name, "roi_heads.mask_head.%d.0", k);
    snprintf (bn, sizeof bn, "roi_heads.mask_head.%d.1", k);
    MRCNN_TRY (expect_conv_norm (m, name, bn, v2, a->mask_ch,
            k ? a->mask_ch : a->fpn_ch, 3, err));
  }
  if (has (m, "roi_heads.mask_head.%d.0.weight", MRCNN_MASK_CONVS, 0))
    return mrcnn_fail (err, MRCNN_ERR_MODEL,
        "model '%s': the mask head has more than %d convolutions", m->path,
        MRCNN_MASK_CONVS);
  /* ConvTranspose2d weights are [in, out, kh, kw]. */
  EXPECT ("roi_heads.mask_predictor.conv5_mask.weight", &t, a->mask_ch, ANY, 2, 2);
  a->mask_deconv_ch = (int) t->shape[1];
  EXPECT ("roi_heads.mask_predictor.conv5_mask.bias", NULL, a->mask_deconv_ch);
  MRCNN_TRY (expect_conv_bias (m, "roi_heads.mask_predictor.mask_fcn_logits",
          a->num_classes, a->mask_deconv_ch, 1, err));
  return MRCNN_OK;
}

mrcnn_status
mrcnn_arch_check (mrcnn_model *m, mrcnn_error *err)
{
  mrcnn_arch *a = &m->arch;
  m->arch_seen = g_hash_table_new (g_str_hash, g_str_equal);
  mrcnn_status st = check_body (m, a, err);
  if (st == MRCNN_OK)
    st = check_heads (m, a, err);
  /* like a strict load_state_dict: a tensor the network does not use means
   * the file is not the architecture its metadata claims */
  for (int i = 0; st == MRCNN_OK && i < m->n_entries; i++)
    if (!g_hash_table_contains (m->arch_seen, m->entries[i].name))
      st = mrcnn_fail (err, MRCNN_ERR_MODEL,
          "model '%s': unexpected tensor '%s': %s with these widths has no "
          "such parameter", m->path, m->entries[i].name, m->architecture);
  g_hash_table_destroy (m->arch_seen);
  m->arch_seen = NULL;
  if (st != MRCNN_OK)
    mrcnn_arch_clear (a);
  return st;
}

/* ---------------------------------------------------------------- folding */

void
mrcnn_folded_conv_clear (mrcnn_folded_conv *c)
{
  g_free (c->weight);
  g_free (c->bias);
  memset (c, 0, sizeof *c);
}

static float *
load_f32 (const mrcnn_model *m, const char *prefix, const char *part)
{
  char name[256];
  snprintf (name, sizeof name, "%s.%s", prefix, part);
  const mrcnn_tensor_entry *t = mrcnn_model_find (m, name);
  float *v = g_new (float, t->numel);
  mrcnn_tensor_to_f32 (t, v);
  return v;
}

mrcnn_status
mrcnn_fold_conv (const mrcnn_model *m, const char *conv, const char *bn,
    int has_bias, mrcnn_folded_conv *out, mrcnn_error *err)
{
  char name[256];
  memset (out, 0, sizeof *out);
  snprintf (name, sizeof name, "%s.weight", conv);
  const mrcnn_tensor_entry *t = mrcnn_model_find (m, name);
  if (!t || t->ndim != 4)  /* mrcnn_arch_check has vetted every name we use */
    return mrcnn_fail (err, MRCNN_ERR_MODEL, "model '%s': tensor '%s' is "
        "missing or not 4-D", m->path, name);
  out->out_ch = (int) t->shape[0];
  out->in_ch = (int) t->shape[1];
  out->kh = (int) t->shape[2];
  out->kw = (int) t->shape[3];
  out->weight = load_f32 (m, conv, "weight");
  out->bias = has_bias ? load_f32 (m, conv, "bias") : g_new0 (float, out->out_ch);
  if (bn) {
    float *w = load_f32 (m, bn, "weight");
    float *b = load_f32 (m, bn, "bias");
    float *rm = load_f32 (m, bn, "running_mean");
    float *rv = load_f32 (m, bn, "running_var");
    size_t per = (size_t) out->in_ch * out->kh * out->kw;
    for (int o = 0; o < out->out_ch; o++) {
      if (!(rv[o] + 1e-5f > 0.0f)) {
        mrcnn_status st = mrcnn_fail (err, MRCNN_ERR_MODEL,
            "model '%s': tensor '%s.running_var' has a negative variance %g "
            "at channel %d", m->path, bn, rv[o], o);
        g_free (w); g_free (b); g_free (rm); g_free (rv);
        mrcnn_folded_conv_clear (out);
        return st;
      }
      /* FrozenBatchNorm2d, or BatchNorm2d in eval mode (v2):
       * scale = w * rsqrt(rv + eps); shift = b - rm * scale */
      float scale = w[o] * (1.0f / sqrtf (rv[o] + 1e-5f));
      float shift = b[o] - rm[o] * scale;
      for (size_t k = 0; k < per; k++)
        out->weight[o * per + k] *= scale;
      out->bias[o] = out->bias[o] * scale + shift;
    }
    g_free (w); g_free (b); g_free (rm); g_free (rv);
  }
  return MRCNN_OK;
}
