/* The gate of the CUDA backend's tensor-core path (docs/cuda.md): tf32 and
 * fp16 are refused at engine creation, naming why, until tests/gpu/run.sh
 * has passed them on a GPU; only its environment (MRCNN_CUDA_UNVERIFIED)
 * lifts the gate. Host side only: with the gate lifted, a machine without
 * a GPU then fails for want of a device, which is what is checked here; a
 * machine with one creates the engine. Builds with the CUDA backend only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

static int failures;

static void
check (int ok, const char *what, const char *detail)
{
  if (!ok)
    failures++;
  printf ("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, detail ? ": " : "",
      detail ? detail : "");
}

static unsigned
reg_bits (const char *env)
{
  if (env)
    g_setenv ("MRCNN_CUDA_UNVERIFIED", env, TRUE);
  else
    g_unsetenv ("MRCNN_CUDA_UNVERIFIED");
  return mrcnn_backend_reg_precisions (&mrcnn_backend_cuda_reg);
}

/* An engine of `backend` at precision p: its status and message. */
static mrcnn_status
create (const mrcnn_model *m, mrcnn_backend_kind backend, mrcnn_precision p,
    mrcnn_error *err)
{
  mrcnn_engine_config cfg;
  mrcnn_engine_config_init (&cfg, m);
  cfg.backend = backend;
  cfg.precision = p;
  cfg.max_width = 320;
  cfg.max_height = 240;
  mrcnn_engine *e = NULL;
  memset (err, 0, sizeof *err);
  mrcnn_status st = mrcnn_engine_new (m, &cfg, &e, err);
  mrcnn_engine_free (e);
  return st;
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: %s MODEL\n", argv[0]);
    return 2;
  }
  const unsigned fp32 = MRCNN_PRECISION_BIT (MRCNN_PRECISION_FP32);
  const unsigned tf32 = MRCNN_PRECISION_BIT (MRCNN_PRECISION_TF32);
  const unsigned fp16 = MRCNN_PRECISION_BIT (MRCNN_PRECISION_FP16);
  char buf[1600];

  /* the registration */
  check (mrcnn_backend_cuda_reg.precisions == fp32, "verified: fp32 only",
      NULL);
  check (mrcnn_backend_cuda_reg.unverified == (tf32 | fp16),
      "unverified: tf32 and fp16", NULL);
  check (reg_bits (NULL) == fp32, "gate shut: fp32", NULL);
  check (reg_bits ("") == fp32, "empty list: fp32", NULL);
  check (reg_bits ("fp16") == (fp32 | fp16), "fp16 lifted", NULL);
  check (reg_bits ("TF32, fp16") == (fp32 | tf32 | fp16),
      "both lifted, any case, comma and space", NULL);
  check (reg_bits ("bf16,int8,fp3") == fp32,
      "bf16 and unknown names lift nothing", NULL);

  mrcnn_model *m = NULL;
  mrcnn_error err = { 0 };
  if (mrcnn_model_open (argv[1], &m, &err) != MRCNN_OK) {
    fprintf (stderr, "%s\n", err.message);
    return 1;
  }
  const mrcnn_precision gated[] = { MRCNN_PRECISION_TF32,
    MRCNN_PRECISION_FP16 };
  for (int i = 0; i < 2; i++) {
    const char *name = mrcnn_precision_name (gated[i]);
    char want[128];
    snprintf (want, sizeof want, "%s on CUDA has not yet been verified on a "
        "GPU", name);
    const mrcnn_backend_kind kinds[] = { MRCNN_BACKEND_CUDA,
      MRCNN_BACKEND_AUTO };
    for (int k = 0; k < 2; k++) {
      reg_bits (NULL);
      mrcnn_status st = create (m, kinds[k], gated[i], &err);
      snprintf (buf, sizeof buf, "%s, backend %s: %s \"%s\"", name,
          k ? "auto" : "cuda", mrcnn_status_name (st), err.message);
      check (st == MRCNN_ERR_UNSUPPORTED && strstr (err.message, want),
          "refused at creation, saying why", buf);
    }
    /* the other gated precision lifted: this one still refused */
    reg_bits (i ? "tf32" : "fp16");
    mrcnn_status st = create (m, MRCNN_BACKEND_CUDA, gated[i], &err);
    snprintf (buf, sizeof buf, "%s: %s \"%s\"", name, mrcnn_status_name (st),
        err.message);
    check (st != MRCNN_OK && strstr (err.message, want),
        "lifting one lifts only that one", buf);
    /* lifted: past the gate (here no GPU: the device is what is missing) */
    reg_bits (name);
    st = create (m, MRCNN_BACKEND_CUDA, gated[i], &err);
    snprintf (buf, sizeof buf, "%s: %s \"%s\"", name, mrcnn_status_name (st),
        st == MRCNN_OK ? "" : err.message);
    check (st == MRCNN_OK || !strstr (err.message, "not yet been verified"),
        "lifted: the gate says nothing", buf);
  }
  /* fp32 never gated */
  reg_bits (NULL);
  mrcnn_status st = create (m, MRCNN_BACKEND_CUDA, MRCNN_PRECISION_FP32,
      &err);
  snprintf (buf, sizeof buf, "%s \"%s\"", mrcnn_status_name (st),
      st == MRCNN_OK ? "" : err.message);
  check (st == MRCNN_OK || !strstr (err.message, "not yet been verified"),
      "fp32 is not gated", buf);
  mrcnn_model_free (m);
  printf ("%s\n", failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
