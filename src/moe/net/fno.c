/* The basis network as a 2-D Fourier neural operator (FNO2d), float64,
   forward and backward, Fourier layers through FFTW real FFTs (see
   deepcd/moe_backbone.h).

   Layout. A field of c channels on the padded grid (n0 = nt + pad rows in
   t, n1 = nx + pad columns in x, x fastest, Pp = n0*n1 points) is stored
   channel-major, c x Pp (column-major Pp x c for BLAS). Its real FFT has
   n0 x (n1/2 + 1) complex values per channel. A Fourier layer keeps the
   modes k1 < m1 and k0 < m0 or k0 >= n0 - m0 (the two corners of the
   half-spectrum) and mixes the channels there with complex weights
   R[s][a][b] (width x width; s = low or high k0, a, b the mode).

   The spectral convolution y = irfft2(R . rfft2(h)) / (n0 n1) is a real
   linear map when the k1 = 0 column of the product is made Hermitian
   before the inverse transform (c2r reads only half of the spectrum):
   y[p] = (1/N) sum over stored k of c_k1 Re(Y[k] e^{i k.p}), c_0 = 1,
   c_k1 = 2 otherwise (m1 excludes the Nyquist column). Its adjoint in the
   complex convention g = dL/dRe + i dL/dIm is therefore
   dL/dY[k] = (c_k1/N) rfft2(ybar)[k], and dL/dh = Re sum_k hbar[k] e^{i k.p}
   = c2r of hbar[k]/c_k1 with the k1 = 0 column made Hermitian. */
#include <deepcd/private/moeimpl.h>
#include <petscblaslapack.h>
#include <deepcd/private/petsccompat.h>

#include <fftw3.h>

typedef struct {
  DeepCDMoeFNOOptions o;
  DeepCDMoeActivation out;
  PetscInt            nx, nt, P;   /* the grid */
  PetscInt            n0, n1, Pp;  /* the padded grid */
  PetscInt            nc, S;       /* complex columns n1/2+1 and values per channel n0*nc */
  PetscInt            m0, m1, nm;  /* modes kept: 2*m0 x m1 = nm */
  PetscInt            W, fc, nout; /* channels */
  /* offsets in theta */
  PetscInt  off_lift, *off_spec, *off_pw, off_fc1, off_fc2;
  fftw_plan r2c, c2r; /* W channels, created once */
  /* tape of the last forward */
  PetscReal **H;                     /* depth + 1 fields W x Pp: H[0] lifted and padded, H[l+1] = act(Z[l]) */
  PetscReal **Z;                     /* depth pre-activations W x Pp */
  PetscReal **Xh;                    /* depth: the kept modes of H[l], W x nm */
  PetscReal  *X;                     /* inputs P x nin */
  PetscReal  *Hc, *Q, *R, *O, *Yall; /* crop W x P, fc1 pre-act and act fc x P, output pre-act nout x P, outputs P x nout */
  /* work */
  PetscReal *dH, *dz, *rw;  /* W x Pp (FFTW-aligned) */
  PetscReal *dHc, *dR, *dO; /* W x P, fc x P, nout x P */
  PetscReal *cw;            /* W x S */
  PetscReal *mix;           /* W x nm */
  PetscInt   npts, *pts;    /* points of the last forward (NULL: all) */
  PetscInt   ptscap;
} FNO;

/* the smallest n' >= n whose prime factors are 2, 3, 5 and 7 (FFTW is fast there; a prime length is not) */
static PetscInt fft_size(PetscInt n)
{
  for (PetscInt m = n;; m++) {
    PetscInt r = m;

    for (PetscInt p = 2; p <= 7; p++)
      while (r % p == 0) r /= p;
    if (r == 1) return m;
  }
}

/* the kept mode number q = (s*m0 + a)*m1 + b and its position in a channel's half-spectrum */
static inline PetscInt mode_index(const FNO *f, PetscInt q, PetscInt *k1)
{
  const PetscInt b = q % f->m1, sa = q / f->m1, a = sa % f->m0, s = sa / f->m0;
  const PetscInt k0 = s ? f->n0 - f->m0 + a : a;

  *k1 = b;
  return k0 * f->nc + b;
}

/* the k1 = 0 column of one channel's half-spectrum made Hermitian: Y[k0] <- (Y[k0] + conj Y[-k0]) / 2 */
static void hermitian_column(const FNO *f, PetscReal *Y)
{
  for (PetscInt k0 = 0; k0 <= f->n0 / 2; k0++) {
    const PetscInt k0m = (f->n0 - k0) % f->n0;
    PetscReal     *a = Y + 2 * k0 * f->nc, *b = Y + 2 * k0m * f->nc;
    const double   re = 0.5 * (a[0] + b[0]), im = 0.5 * (a[1] - b[1]);

    a[0] = re, a[1] = im;
    b[0] = re, b[1] = -im;
  }
}

/* C (m x n, column-major) = op(A) op(B) + beta C through PETSc's BLAS */
static PetscErrorCode gemm(const char *ta, const char *tb, PetscInt m, PetscInt n, PetscInt k, const PetscReal *A, PetscInt lda, const PetscReal *B, PetscInt ldb, PetscReal beta, PetscReal *C, PetscInt ldc)
{
  const PetscReal one = 1.0;
  PetscBLASInt    bm, bn, bk, bla, blb, blc;

  PetscFunctionBegin;
  PetscCall(PetscBLASIntCast(m, &bm));
  PetscCall(PetscBLASIntCast(n, &bn));
  PetscCall(PetscBLASIntCast(k, &bk));
  PetscCall(PetscBLASIntCast(lda, &bla));
  PetscCall(PetscBLASIntCast(ldb, &blb));
  PetscCall(PetscBLASIntCast(ldc, &blc));
  PetscCallBLAS("BLASgemm", BLASgemm_(ta, tb, &bm, &bn, &bk, &one, A, &bla, B, &blb, &beta, C, &blc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* pointwise linear map of n points: Z (n x out, column-major, ldz) = A (n x in, lda) M + b (beta 0) or += (beta 1, no bias);
   M stored row-major in x out */
static PetscErrorCode pw_forward(PetscInt n, PetscInt in, PetscInt out, const PetscReal *A, PetscInt lda, const PetscReal *M, const PetscReal *b, PetscReal *Z, PetscInt ldz, PetscReal beta)
{
  PetscFunctionBegin;
  if (b)
    for (PetscInt o = 0; o < out; o++)
      for (PetscInt p = 0; p < n; p++) Z[o * ldz + p] = (beta != 0.0 ? beta * Z[o * ldz + p] : 0.0) + b[o];
  else if (beta == 0.0)
    for (PetscInt o = 0; o < out; o++) PetscCall(PetscArrayzero(Z + o * ldz, n));
  PetscCall(gemm("N", "T", n, out, in, A, lda, M, out, 1.0, Z, ldz));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* its backward: dM += A^T dZ (stored row-major in x out), db += column sums of dZ, dA = dZ M^T (set; dA may be NULL) */
static PetscErrorCode pw_backward(PetscInt n, PetscInt in, PetscInt out, const PetscReal *A, PetscInt lda, const PetscReal *M, const PetscReal *dZ, PetscInt ldz, PetscReal *dM, PetscReal *db, PetscReal *dA, PetscInt ldda)
{
  PetscFunctionBegin;
  /* dM as column-major out x in: dZ^T A */
  PetscCall(gemm("T", "N", out, in, n, dZ, ldz, A, lda, 1.0, dM, out));
  for (PetscInt o = 0; o < out; o++)
    for (PetscInt p = 0; p < n; p++) db[o] += dZ[o * ldz + p];
  if (dA) PetscCall(gemm("N", "N", n, in, out, dZ, ldz, M, out, 0.0, dA, ldda));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the kept modes of the real FFT of the W channels of H (W x Pp): M[c][q] = s_k1 rfft(H)[c][k], s_0 for k1 = 0, s_1 otherwise */
static void forward_modes(FNO *f, const PetscReal *H, double s0, double s1, PetscReal *M)
{
  fftw_execute_dft_r2c(f->r2c, (double *) H, (fftw_complex *) f->cw);
  for (PetscInt c = 0; c < f->W; c++)
    for (PetscInt q = 0; q < f->nm; q++) {
      PetscInt     k1, pos = mode_index(f, q, &k1);
      const double sc = k1 ? s1 : s0;

      M[2 * (c * f->nm + q) + 0] = sc * f->cw[2 * (c * f->S + pos) + 0];
      M[2 * (c * f->nm + q) + 1] = sc * f->cw[2 * (c * f->S + pos) + 1];
    }
}

/* Z = spectral convolution of H with the weights R (W x Pp each); keeps the kept modes of H in Xh */
static void spectral_forward(FNO *f, const PetscReal *R, const PetscReal *H, PetscReal *Xh, PetscReal *Z)
{
  const PetscInt W = f->W, nm = f->nm;
  const double   scale = 1.0 / (double) f->Pp;

  forward_modes(f, H, 1.0, 1.0, Xh);
  memset(f->cw, 0, 2 * sizeof(double) * (size_t) (W * f->S));
  for (PetscInt q = 0; q < nm; q++) {
    const PetscReal *Rq = R + 2 * q * W * W;
    PetscInt         k1, pos = mode_index(f, q, &k1);

    for (PetscInt o = 0; o < W; o++) {
      double re = 0.0, im = 0.0;

      for (PetscInt i = 0; i < W; i++) {
        const double xr = Xh[2 * (i * nm + q) + 0], xi = Xh[2 * (i * nm + q) + 1], wr = Rq[2 * (i * W + o)], wi = Rq[2 * (i * W + o) + 1];

        re += xr * wr - xi * wi;
        im += xr * wi + xi * wr;
      }
      f->cw[2 * (o * f->S + pos) + 0] = re * scale;
      f->cw[2 * (o * f->S + pos) + 1] = im * scale;
    }
  }
  for (PetscInt o = 0; o < W; o++) hermitian_column(f, f->cw + 2 * o * f->S);
  fftw_execute_dft_c2r(f->c2r, (fftw_complex *) f->cw, Z);
}

/* its backward: dR += dL/dR and dH += dL/dH for dZ = dL/dZ (W x Pp) */
static void spectral_backward(FNO *f, const PetscReal *R, const PetscReal *Xh, const PetscReal *dZ, PetscReal *dR, PetscReal *dH)
{
  const PetscInt W = f->W, nm = f->nm;
  const double   scale = 1.0 / (double) f->Pp;

  forward_modes(f, dZ, scale, 2.0 * scale, f->mix); /* g[o][q] = c_k1/N rfft(dZ)[o][k] */
  memset(f->cw, 0, 2 * sizeof(double) * (size_t) (W * f->S));
  for (PetscInt q = 0; q < nm; q++) {
    const PetscReal *Rq  = R + 2 * q * W * W;
    PetscReal       *dRq = dR + 2 * q * W * W;
    PetscInt         k1, pos = mode_index(f, q, &k1);
    const double     ic = k1 ? 0.5 : 1.0;

    for (PetscInt i = 0; i < W; i++) {
      const double xr = Xh[2 * (i * nm + q) + 0], xi = Xh[2 * (i * nm + q) + 1];
      double       hr = 0.0, hi = 0.0;

      for (PetscInt o = 0; o < W; o++) {
        const double gr = f->mix[2 * (o * nm + q) + 0], gi = f->mix[2 * (o * nm + q) + 1], wr = Rq[2 * (i * W + o)], wi = Rq[2 * (i * W + o) + 1];

        /* dR += g conj(x); dx += g conj(w) */
        dRq[2 * (i * W + o)] += gr * xr + gi * xi;
        dRq[2 * (i * W + o) + 1] += gi * xr - gr * xi;
        hr += gr * wr + gi * wi;
        hi += gi * wr - gr * wi;
      }
      f->cw[2 * (i * f->S + pos) + 0] = ic * hr;
      f->cw[2 * (i * f->S + pos) + 1] = ic * hi;
    }
  }
  for (PetscInt i = 0; i < W; i++) hermitian_column(f, f->cw + 2 * i * f->S);
  fftw_execute_dft_c2r(f->c2r, (fftw_complex *) f->cw, f->rw);
  for (PetscInt k = 0; k < W * f->Pp; k++) dH[k] += f->rw[k];
}

static PetscErrorCode fno_forward(DeepCDMoeBackbone bb, const PetscReal X[], const PetscReal theta[], PetscInt npts, const PetscInt pts[], PetscReal Y[])
{
  FNO           *f = (FNO *) bb->data;
  const PetscInt W = f->W, P = f->P, Pp = f->Pp, nin = bb->nin, nout = f->nout, L = f->o.depth;

  PetscFunctionBegin;
  PetscCheck(pts || npts == P, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "moe fno: %" PetscInt_FMT " points without a list, grid has %" PetscInt_FMT, npts, P);
  /* lift on the grid, then zero padding */
  {
    const PetscReal *A = theta + f->off_lift, *b = A + nin * W;

    /* dHc as work (P x W col-major) = X (row-major P x nin) A (row-major nin x W) */
    PetscCall(PetscArraycpy(f->X, X, P * nin));
    PetscCall(gemm("T", "T", P, W, nin, X, nin, A, W, 0.0, f->dHc, P));
    PetscCall(PetscArrayzero(f->H[0], W * Pp));
    for (PetscInt c = 0; c < W; c++)
      for (PetscInt j = 0; j < f->nt; j++)
        for (PetscInt i = 0; i < f->nx; i++) f->H[0][c * Pp + j * f->n1 + i] = f->dHc[c * P + j * f->nx + i] + b[c];
  }
  for (PetscInt l = 0; l < L; l++) {
    const PetscReal          *M = theta + f->off_pw[l], *b = M + W * W;
    const DeepCDMoeActivation a = l < L - 1 ? DEEPCD_MOE_ACT_GELU : DEEPCD_MOE_ACT_NONE;

    spectral_forward(f, theta + f->off_spec[l], f->H[l], f->Xh[l], f->Z[l]);
    PetscCall(pw_forward(Pp, W, W, f->H[l], Pp, M, NULL, f->Z[l], Pp, 1.0));
    for (PetscInt c = 0; c < W; c++)
      for (PetscInt p = 0; p < Pp; p++) {
        PetscReal *z = f->Z[l] + c * Pp + p;

        *z += b[c];
        f->H[l + 1][c * Pp + p] = DeepCDMoeAct(a, *z);
      }
  }
  /* crop, projection */
  for (PetscInt c = 0; c < W; c++)
    for (PetscInt j = 0; j < f->nt; j++) PetscCall(PetscArraycpy(f->Hc + c * P + j * f->nx, f->H[L] + c * Pp + j * f->n1, f->nx));
  PetscCall(pw_forward(P, W, f->fc, f->Hc, P, theta + f->off_fc1, theta + f->off_fc1 + W * f->fc, f->Q, P, 0.0));
  for (PetscInt k = 0; k < f->fc * P; k++) f->R[k] = DeepCDMoeAct(DEEPCD_MOE_ACT_GELU, f->Q[k]);
  PetscCall(pw_forward(P, f->fc, nout, f->R, P, theta + f->off_fc2, theta + f->off_fc2 + f->fc * nout, f->O, P, 0.0));
  for (PetscInt p = 0; p < P; p++)
    for (PetscInt o = 0; o < nout; o++) f->Yall[p * nout + o] = DeepCDMoeAct(f->out, f->O[o * P + p]);
  /* the points asked for */
  if (pts) {
    if (npts > f->ptscap) {
      PetscCall(PetscFree(f->pts));
      PetscCall(PetscMalloc1(npts, &f->pts));
      f->ptscap = npts;
    }
    for (PetscInt k = 0; k < npts; k++) {
      PetscCheck(pts[k] >= 0 && pts[k] < P, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe fno: point %" PetscInt_FMT " outside the grid of %" PetscInt_FMT, pts[k], P);
      f->pts[k] = pts[k];
      PetscCall(PetscArraycpy(Y + k * nout, f->Yall + pts[k] * nout, nout));
    }
  } else
    PetscCall(PetscArraycpy(Y, f->Yall, P * nout));
  f->npts = pts ? npts : -1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode fno_backward(DeepCDMoeBackbone bb, const PetscReal theta[], const PetscReal Ybar[], PetscReal thetabar[])
{
  FNO           *f = (FNO *) bb->data;
  const PetscInt W = f->W, P = f->P, Pp = f->Pp, nin = bb->nin, nout = f->nout, L = f->o.depth, fc = f->fc;
  PetscReal     *dO = f->dO, *dR = f->dR, *dHc = f->dHc, *dH = f->dH, *dz = f->dz;

  PetscFunctionBegin;
  /* dO = dY act'(O), column-major P x nout; points not asked for have dY = 0 */
  PetscCall(PetscArrayzero(dO, nout * P));
  if (f->npts >= 0) {
    for (PetscInt k = 0; k < f->npts; k++)
      for (PetscInt o = 0; o < nout; o++) dO[o * P + f->pts[k]] += Ybar[k * nout + o];
  } else
    for (PetscInt p = 0; p < P; p++)
      for (PetscInt o = 0; o < nout; o++) dO[o * P + p] = Ybar[p * nout + o];
  for (PetscInt p = 0; p < P; p++)
    for (PetscInt o = 0; o < nout; o++) dO[o * P + p] *= DeepCDMoeDAct(f->out, f->O[o * P + p], f->Yall[p * nout + o]);
  /* projection */
  PetscCall(pw_backward(P, fc, nout, f->R, P, theta + f->off_fc2, dO, P, thetabar + f->off_fc2, thetabar + f->off_fc2 + fc * nout, dR, P));
  for (PetscInt k = 0; k < fc * P; k++) dR[k] *= DeepCDMoeDAct(DEEPCD_MOE_ACT_GELU, f->Q[k], f->R[k]);
  PetscCall(pw_backward(P, W, fc, f->Hc, P, theta + f->off_fc1, dR, P, thetabar + f->off_fc1, thetabar + f->off_fc1 + W * fc, dHc, P));
  /* uncrop */
  PetscCall(PetscArrayzero(dH, W * Pp));
  for (PetscInt c = 0; c < W; c++)
    for (PetscInt j = 0; j < f->nt; j++) PetscCall(PetscArraycpy(dH + c * Pp + j * f->n1, dHc + c * P + j * f->nx, f->nx));
  /* Fourier layers, last to first: dH holds dL/dH[l+1], then dL/dH[l] */
  for (PetscInt l = L - 1; l >= 0; l--) {
    const DeepCDMoeActivation a  = l < L - 1 ? DEEPCD_MOE_ACT_GELU : DEEPCD_MOE_ACT_NONE;
    PetscReal                *dM = thetabar + f->off_pw[l];

    for (PetscInt k = 0; k < W * Pp; k++) dz[k] = dH[k] * DeepCDMoeDAct(a, f->Z[l][k], f->H[l + 1][k]);
    PetscCall(pw_backward(Pp, W, W, f->H[l], Pp, theta + f->off_pw[l], dz, Pp, dM, dM + W * W, dH, Pp));
    spectral_backward(f, theta + f->off_spec[l], f->Xh[l], dz, thetabar + f->off_spec[l], dH);
  }
  /* crop, lift: dA (row-major nin x W = column-major W x nin) += dHc^T X */
  for (PetscInt c = 0; c < W; c++)
    for (PetscInt j = 0; j < f->nt; j++) PetscCall(PetscArraycpy(dHc + c * P + j * f->nx, dH + c * Pp + j * f->n1, f->nx));
  {
    PetscReal *dA = thetabar + f->off_lift, *db = dA + nin * W;

    PetscCall(gemm("T", "T", W, nin, P, dHc, P, f->X, nin, 1.0, dA, W));
    for (PetscInt c = 0; c < W; c++)
      for (PetscInt p = 0; p < P; p++) db[c] += dHc[c * P + p];
  }
  PetscCall(PetscLogFlops(6.0 * L * W * W * Pp + 8.0 * L * W * W * f->nm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* (x, t) normalised to [0, 1] and u0(x) broadcast over time */
static PetscErrorCode fno_inputs(DeepCDMoeBackbone bb, const DeepCDMoeGrid *g, DeepCDMoePDE pde, PetscReal X[])
{
  FNO *f = (FNO *) bb->data;

  PetscFunctionBegin;
  PetscCheck(g->nx == f->nx && g->nt == f->nt, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "moe fno: built for a %" PetscInt_FMT " x %" PetscInt_FMT " grid, given %" PetscInt_FMT " x %" PetscInt_FMT, f->nx, f->nt, g->nx, g->nt);
  for (PetscInt i = 0; i < g->nx; i++) {
    DeepCDMoePoint pt;
    PetscReal      u0, s;

    PetscCall(DeepCDMoeGridPoint(g, i, &pt));
    PetscCall((*pde->ops.initial)(pde, &pt, &u0, &s));
    for (PetscInt j = 0; j < g->nt; j++) {
      PetscReal *x = X + (j * g->nx + i) * 3;

      x[0] = (PetscReal) i / (PetscReal) (g->nx - 1);
      x[1] = (PetscReal) j / (PetscReal) (g->nt - 1);
      x[2] = u0;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode fno_initialize(DeepCDMoeBackbone bb, PetscInt seed, PetscReal theta[])
{
  FNO     *f = (FNO *) bb->data;
  uint64_t s = 0x5DEECE66DULL ^ ((uint64_t) seed * 0x2545F4914F6CDD1DULL);

  PetscFunctionBegin;
  /* pointwise layers: PyTorch's default, weights and biases uniform in +-1/sqrt(fan_in); spectral weights uniform in [0, 1/(W W)) */
  struct {
    PetscInt off, in, out;
  } lin[3] = {
    { f->off_lift, bb->nin, f->W },
    { f->off_fc1, f->W, f->fc },
    { f->off_fc2, f->fc, f->nout }
  };
  for (PetscInt k = 0; k < 3; k++) {
    const PetscReal a = 1.0 / PetscSqrtReal((PetscReal) lin[k].in);

    for (PetscInt q = 0; q < (lin[k].in + 1) * lin[k].out; q++) theta[lin[k].off + q] = a * (2.0 * DeepCDMoeRngUniform(&s) - 1.0);
  }
  for (PetscInt l = 0; l < f->o.depth; l++) {
    const PetscReal a = 1.0 / PetscSqrtReal((PetscReal) f->W), sc = 1.0 / (PetscReal) (f->W * f->W);

    for (PetscInt q = 0; q < 2 * f->nm * f->W * f->W; q++) theta[f->off_spec[l] + q] = sc * DeepCDMoeRngUniform(&s);
    for (PetscInt q = 0; q < (f->W + 1) * f->W; q++) theta[f->off_pw[l] + q] = a * (2.0 * DeepCDMoeRngUniform(&s) - 1.0);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode fno_destroy(DeepCDMoeBackbone bb)
{
  FNO *f = (FNO *) bb->data;

  PetscFunctionBegin;
  if (f->r2c) fftw_destroy_plan(f->r2c);
  if (f->c2r) fftw_destroy_plan(f->c2r);
  for (PetscInt l = 0; l <= f->o.depth; l++) {
    if (f->H) fftw_free(f->H[l]);
    if (l < f->o.depth && f->Z) fftw_free(f->Z[l]);
    if (l < f->o.depth && f->Xh) fftw_free(f->Xh[l]);
  }
  fftw_free(f->dH);
  fftw_free(f->dz);
  fftw_free(f->rw);
  fftw_free(f->cw);
  fftw_free(f->mix);
  PetscCall(PetscFree3(f->H, f->Z, f->Xh));
  PetscCall(PetscFree2(f->off_spec, f->off_pw));
  PetscCall(PetscFree5(f->X, f->Hc, f->Q, f->R, f->O));
  PetscCall(PetscFree4(f->Yall, f->dHc, f->dR, f->dO));
  PetscCall(PetscFree(f->pts));
  PetscCall(PetscFree(bb->data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode fft_alloc(size_t bytes, void *p)
{
  PetscFunctionBegin;
  *(void **) p = fftw_malloc(bytes);
  PetscCheck(*(void **) p, PETSC_COMM_SELF, PETSC_ERR_MEM, "moe fno: out of memory (%zu bytes)", bytes);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeBackboneCreateFNO - A 2-D Fourier neural operator as the basis network's backbone (deepcd/moe_backbone.h).

  Not Collective

  Input Parameters:
+ g    - the grid it evaluates (fixed: the FFT plans are made for it once)
. o    - modes, width, depth, fc and pad
. nout - outputs per grid point (N basis functions, or 1 for the soft model)
- out  - activation of the outputs (the reference applies GELU to the basis)

  Output Parameter:
. bb - the backbone; its inputs are 3 channels: x and t normalised to [0, 1] and u0(x)

  Notes:
  The grid is padded with at least pad zeros at the end of each axis, up to the next length whose prime factors are 2, 3, 5, 7
  (n0 >= nt + pad in t, n1 >= nx + pad in x). The modes kept per axis are min(modes, n0/2) in t and min(modes, (n1+1)/2) in x.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeBackboneCreateFNO(const DeepCDMoeGrid *g, const DeepCDMoeFNOOptions *o, PetscInt nout, DeepCDMoeActivation out, DeepCDMoeBackbone *bb)
{
  DeepCDMoeBackbone n;
  FNO              *f;
  PetscInt          off, W;

  PetscFunctionBegin;
  PetscAssertPointer(bb, 5);
  PetscCheck(o->modes >= 1 && o->width >= 1 && o->depth >= 1 && o->fc >= 1 && o->pad >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe fno: modes %" PetscInt_FMT ", width %" PetscInt_FMT ", depth %" PetscInt_FMT ", fc %" PetscInt_FMT ", pad %" PetscInt_FMT ": need modes, width, depth, fc >= 1 and pad >= 0", o->modes, o->width, o->depth, o->fc, o->pad);
  PetscCheck(nout >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe fno: %" PetscInt_FMT " outputs: need at least 1", nout);
  PetscCall(PetscNew(&n));
  PetscCall(PetscNew(&f));
  n->type = DEEPCD_MOE_BACKBONE_FNO;
  n->data = f;
  n->nin  = 3;
  n->nout = nout;
  f->o    = *o;
  f->out  = out;
  f->nx = g->nx, f->nt = g->nt, f->P = g->nx * g->nt;
  f->n0 = fft_size(g->nt + o->pad), f->n1 = fft_size(g->nx + o->pad), f->Pp = f->n0 * f->n1;
  f->nc = f->n1 / 2 + 1, f->S = f->n0 * f->nc;
  f->m0 = PetscMin(o->modes, f->n0 / 2), f->m1 = PetscMin(o->modes, (f->n1 + 1) / 2), f->nm = 2 * f->m0 * f->m1;
  f->W = W = o->width, f->fc = o->fc, f->nout = nout;
  PetscCall(PetscMalloc2(o->depth, &f->off_spec, o->depth, &f->off_pw));
  off         = 0;
  f->off_lift = off, off += (n->nin + 1) * W;
  for (PetscInt l = 0; l < o->depth; l++) {
    f->off_spec[l] = off, off += 2 * f->nm * W * W;
    f->off_pw[l]   = off, off += (W + 1) * W;
  }
  f->off_fc1 = off, off += (W + 1) * f->fc;
  f->off_fc2 = off, off += (f->fc + 1) * nout;
  n->nparams = off;
  PetscCall(PetscCalloc3(o->depth + 1, &f->H, o->depth, &f->Z, o->depth, &f->Xh));
  for (PetscInt l = 0; l <= o->depth; l++) {
    PetscCall(fft_alloc(sizeof(double) * (size_t) (W * f->Pp), &f->H[l]));
    if (l < o->depth) PetscCall(fft_alloc(sizeof(double) * (size_t) (W * f->Pp), &f->Z[l]));
    if (l < o->depth) PetscCall(fft_alloc(2 * sizeof(double) * (size_t) (W * f->nm), &f->Xh[l]));
  }
  PetscCall(fft_alloc(sizeof(double) * (size_t) (W * f->Pp), &f->dH));
  PetscCall(fft_alloc(sizeof(double) * (size_t) (W * f->Pp), &f->dz));
  PetscCall(fft_alloc(sizeof(double) * (size_t) (W * f->Pp), &f->rw));
  PetscCall(fft_alloc(2 * sizeof(double) * (size_t) (W * f->S), &f->cw));
  PetscCall(fft_alloc(2 * sizeof(double) * (size_t) (W * f->nm), &f->mix));
  PetscCall(PetscMalloc5(f->P * n->nin, &f->X, W * f->P, &f->Hc, f->fc * f->P, &f->Q, f->fc * f->P, &f->R, nout * f->P, &f->O));
  PetscCall(PetscMalloc4(f->P * nout, &f->Yall, W * f->P, &f->dHc, f->fc * f->P, &f->dR, nout * f->P, &f->dO));
  {
    const int dims[2] = { (int) f->n0, (int) f->n1 };

    /* W transforms of n0 x n1, contiguous channel after channel; FFTW_ESTIMATE leaves the arrays alone */
    f->r2c = fftw_plan_many_dft_r2c(2, dims, (int) W, f->dH, NULL, 1, (int) f->Pp, (fftw_complex *) f->cw, NULL, 1, (int) f->S, FFTW_ESTIMATE | FFTW_PRESERVE_INPUT);
    f->c2r = fftw_plan_many_dft_c2r(2, dims, (int) W, (fftw_complex *) f->cw, NULL, 1, (int) f->S, f->rw, NULL, 1, (int) f->Pp, FFTW_ESTIMATE);
  }
  PetscCheck(f->r2c && f->c2r, PETSC_COMM_SELF, PETSC_ERR_LIB, "moe fno: FFTW could not plan the %" PetscInt_FMT " x %" PetscInt_FMT " transforms", f->n0, f->n1);
  n->ops = (DeepCDMoeBackboneOps){ fno_inputs, fno_initialize, fno_forward, fno_backward, fno_destroy };
  *bb    = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}
