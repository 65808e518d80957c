/* The general 8 x 8 Kalman filter of test_kalman.c, written once for the
 * type REAL and included once per type (double, long double) with NAME()
 * giving each copy its suffix. */

typedef struct {
  REAL x[8];
  REAL P[8][8];
} NAME (ref);

static void
NAME (ref_scales) (const REAL x[8], REAL s[4])
{
  s[0] = x[2];
  s[1] = x[3];
  s[2] = x[2];
  s[3] = x[3];
}

static void
NAME (ref_init) (NAME (ref) * r, const double box[4])
{
  REAL s[4];
  int i, j;

  for (i = 0; i < 8; i++) {
    r->x[i] = i < 4 ? (REAL) box[i] : 0;
    for (j = 0; j < 8; j++)
      r->P[i][j] = 0;
  }
  NAME (ref_scales) (r->x, s);
  for (i = 0; i < 4; i++) {
    REAL sp = 2 * (REAL) MRCNN_KALMAN_STD_POSITION * s[i];
    REAL sv = 10 * (REAL) MRCNN_KALMAN_STD_VELOCITY * s[i];

    r->P[i][i] = sp * sp;
    r->P[i + 4][i + 4] = sv * sv;
  }
}

static void
NAME (ref_predict) (NAME (ref) * r, int hold)
{
  REAL F[8][8] = { { 0 } }, FP[8][8], s[4], nx[8];
  int i, j, k;

  if (hold)
    r->x[6] = r->x[7] = 0;
  NAME (ref_scales) (r->x, s);
  for (i = 0; i < 8; i++)
    F[i][i] = 1;
  for (i = 0; i < 4; i++)
    F[i][i + 4] = 1;
  for (i = 0; i < 8; i++) {
    nx[i] = 0;
    for (k = 0; k < 8; k++)
      nx[i] += F[i][k] * r->x[k];
  }
  for (i = 0; i < 8; i++)
    for (j = 0; j < 8; j++) {
      FP[i][j] = 0;
      for (k = 0; k < 8; k++)
        FP[i][j] += F[i][k] * r->P[k][j];
    }
  for (i = 0; i < 8; i++)
    for (j = 0; j < 8; j++) {
      REAL v = 0;

      for (k = 0; k < 8; k++)
        v += FP[i][k] * F[j][k];
      r->P[i][j] = v;
    }
  for (i = 0; i < 4; i++) {
    REAL qp = (REAL) MRCNN_KALMAN_STD_POSITION * s[i];
    REAL qv = (REAL) MRCNN_KALMAN_STD_VELOCITY * s[i];

    r->P[i][i] += qp * qp;
    r->P[i + 4][i + 4] += qv * qv;
  }
  for (i = 0; i < 8; i++)
    r->x[i] = nx[i];
  if (r->x[2] < 1)
    r->x[2] = 1;
  if (r->x[3] < 1)
    r->x[3] = 1;
}

static void
NAME (ref_update) (NAME (ref) * r, const double z[4])
{
  REAL s[4], Sm[4][8], K[8][4], y[4], KHP[8][8];
  int i, j, k;

  NAME (ref_scales) (r->x, s);
  /* S = H P H^T + R, inverted by Gauss-Jordan on [S | I] */
  for (i = 0; i < 4; i++)
    for (j = 0; j < 8; j++)
      Sm[i][j] = j < 4 ? r->P[i][j] : (REAL) (j - 4 == i);
  for (i = 0; i < 4; i++) {
    REAL rr = (REAL) MRCNN_KALMAN_STD_POSITION * s[i];

    Sm[i][i] += rr * rr;
  }
  for (i = 0; i < 4; i++) {
    int piv = i;
    REAL d;

    for (k = i + 1; k < 4; k++)
      if ((Sm[k][i] < 0 ? -Sm[k][i] : Sm[k][i]) >
          (Sm[piv][i] < 0 ? -Sm[piv][i] : Sm[piv][i]))
        piv = k;
    for (j = 0; j < 8; j++) {
      REAL t = Sm[i][j];

      Sm[i][j] = Sm[piv][j];
      Sm[piv][j] = t;
    }
    d = Sm[i][i];
    for (j = 0; j < 8; j++)
      Sm[i][j] /= d;
    for (k = 0; k < 4; k++) {
      REAL f = Sm[k][i];

      if (k == i)
        continue;
      for (j = 0; j < 8; j++)
        Sm[k][j] -= f * Sm[i][j];
    }
  }
  /* K = P H^T S^-1 */
  for (i = 0; i < 8; i++)
    for (j = 0; j < 4; j++) {
      REAL v = 0;

      for (k = 0; k < 4; k++)
        v += r->P[i][k] * Sm[k][j + 4];
      K[i][j] = v;
    }
  for (i = 0; i < 4; i++)
    y[i] = (REAL) z[i] - r->x[i];
  for (i = 0; i < 8; i++)
    for (j = 0; j < 4; j++)
      r->x[i] += K[i][j] * y[j];
  /* P -= K H P */
  for (i = 0; i < 8; i++)
    for (j = 0; j < 8; j++) {
      REAL v = 0;

      for (k = 0; k < 4; k++)
        v += K[i][k] * r->P[k][j];
      KHP[i][j] = v;
    }
  for (i = 0; i < 8; i++)
    for (j = 0; j < 8; j++)
      r->P[i][j] -= KHP[i][j];
}
