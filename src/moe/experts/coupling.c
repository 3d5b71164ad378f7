/* Coupling between neighbouring experts: interface rows and the joint
   Levenberg-Marquardt solve of all w_k, with its backward pass by implicit
   differentiation (see DeepCDMoeExpertsSetCoupling() and docs/moe.md).

   With W = (w_0, ..., w_{K-1}) the objective is

     f(W) = sum_k 1/2 ||r_k(w_k)||^2 + sum_i 1/2 ||weight B_I (w_a - w_b)||^2,

   interface i joining experts a and b at the points I. Its Hessian is block
   sparse: the diagonal block of expert k is that expert's own Hessian H_k
   (the O(m N^2) work, done by the expert's rank) plus the Gram matrices
   G_i = weight^2 B_I^T B_I of its interfaces; the block (a, b) of an
   interface is -G_i. Each rank fills the slots of its experts and
   interfaces in one buffer, zero elsewhere; a sum over ranks (every entry
   has one contributor, so the sum is exact) gives every rank the same
   blocks, from which the (K N)^2 system is assembled and solved
   redundantly, in the same order on every rank: 1 and 2 ranks give the same
   iterates. */
#include <deepcd/private/moeimpl.h>
#include <petscblaslapack.h>
#include <deepcd/private/petsccompat.h>

const char *const DeepCDMoeCouplingTypes[] = { "none", "interface", "DeepCDMoeCoupling", "DEEPCD_MOE_COUPLING_", NULL };

static PetscBool owned(DeepCDMoeExperts e, PetscInt k)
{
  return (PetscBool) (k >= e->kstart && k < e->kend);
}

/* Lists the interfaces (pairs sharing an edge) and their points; with coupling, marks the points this rank reads */
PetscErrorCode DeepCDMoeExpertsSetUpInterfaces(DeepCDMoeExperts e, PetscBool need[])
{
  const PetscInt nx = e->grid.nx, N = e->N;
  PetscInt       nif = 0, npt = 0, c = 0;

  PetscFunctionBegin;
  for (PetscInt k = 0; k < e->K; k++) {
    if (k % e->kx + 1 < e->kx) nif++, npt += 2 * (e->te[k] - e->ts[k]);
    if (k / e->kx + 1 < e->kt) nif++, npt += 2 * (e->xe[k] - e->xs[k]);
  }
  e->nif = nif;
  PetscCall(PetscMalloc4(2 * nif, &e->ifk, nif + 1, &e->ifoff, npt, &e->ifpt, nif * N * N, &e->G));
  nif         = 0;
  e->ifoff[0] = 0;
  for (PetscInt k = 0; k < e->K; k++) {
    if (k % e->kx + 1 < e->kx) { /* x edge: the last column of k, the first of k + 1 */
      e->ifk[2 * nif] = k, e->ifk[2 * nif + 1] = k + 1;
      for (PetscInt j = e->ts[k]; j < e->te[k]; j++)
        for (PetscInt i = e->xe[k] - 1; i <= e->xe[k]; i++) e->ifpt[c++] = j * nx + i;
      e->ifoff[++nif] = c;
    }
    if (k / e->kx + 1 < e->kt) { /* t edge: the last time level of k, the first of k + kx */
      e->ifk[2 * nif] = k, e->ifk[2 * nif + 1] = k + e->kx;
      for (PetscInt j = e->te[k] - 1; j <= e->te[k]; j++)
        for (PetscInt i = e->xs[k]; i < e->xe[k]; i++) e->ifpt[c++] = j * nx + i;
      e->ifoff[++nif] = c;
    }
  }
  if (e->coupling != DEEPCD_MOE_COUPLING_NONE)
    for (PetscInt i = 0; i < nif; i++)
      if (owned(e, e->ifk[2 * i]))
        for (PetscInt l = e->ifoff[i]; l < e->ifoff[i + 1]; l++) need[e->ifpt[l]] = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* sums n entries over the ranks in place (each entry has one nonzero contributor) */
static PetscErrorCode sum_slots(DeepCDMoeExperts e, PetscInt n, PetscReal a[])
{
  PetscFunctionBegin;
  PetscCall(DeepCDMoeExpertsAllreduce(e, n, a));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* G_i = weight^2 sum_p B_p^T B_p of every interface, on every rank */
static PetscErrorCode interface_gram(DeepCDMoeExperts e, const PetscReal B[])
{
  const PetscInt  N  = e->N;
  const PetscReal w2 = e->cweight * e->cweight;

  PetscFunctionBegin;
  PetscCall(PetscArrayzero(e->G, e->nif * N * N));
  for (PetscInt i = 0; i < e->nif; i++) {
    PetscReal *G = e->G + i * N * N;

    if (!owned(e, e->ifk[2 * i])) continue;
    for (PetscInt l = e->ifoff[i]; l < e->ifoff[i + 1]; l++) {
      const PetscReal *b = B + e->ifpt[l] * N;
      for (PetscInt q = 0; q < N; q++)
        for (PetscInt p = 0; p < N; p++) G[p + q * N] += w2 * b[p] * b[q];
    }
    PetscCall(PetscLogFlops(2.0 * N * N * (e->ifoff[i + 1] - e->ifoff[i])));
  }
  PetscCall(sum_slots(e, e->nif * N * N, e->G));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the joint problem of DeepCDMoeLMIterate() */
typedef struct {
  DeepCDMoeExperts e;
  PetscReal       *buf;     /* K (1 + N + N^2) slots */
  PetscReal      **r, **rn; /* per owned expert: the current and the trial residual */
  PetscReal       *W, *Wn;  /* the current and the last trial point (K N) */
  PetscReal       *d, *d2;  /* N each: work */
  PetscReal       *rbuf;    /* the storage of r and rn */
} Coupled;

/* d = w_a - w_b of interface i */
static void interface_jump(const Coupled *s, const PetscReal W[], PetscInt i, PetscReal d[])
{
  const PetscInt   N  = s->e->N;
  const PetscReal *wa = W + s->e->ifk[2 * i] * N, *wb = W + s->e->ifk[2 * i + 1] * N;

  for (PetscInt l = 0; l < N; l++) d[l] = wa[l] - wb[l];
}

/* x^T G y */
static PetscReal gram_dot(PetscInt N, const PetscReal G[], const PetscReal x[], const PetscReal y[])
{
  PetscReal s = 0.0;
  for (PetscInt q = 0; q < N; q++) {
    PetscReal t = 0.0;
    for (PetscInt p = 0; p < N; p++) t += G[p + q * N] * x[p];
    s += t * y[q];
  }
  return s;
}

static PetscErrorCode coupled_normal(void *ctx, const PetscReal W[], DeepCDMoeHessianType type, PetscReal *f, PetscReal g[], PetscReal H[])
{
  Coupled         *s = (Coupled *) ctx;
  DeepCDMoeExperts e = s->e;
  const PetscInt   N = e->N, K = e->K, n = K * N, slot = 1 + N + (H ? N * N : 0);
  PetscReal       *d = s->d, *Gd = s->d2;

  PetscFunctionBegin;
  PetscCall(PetscArrayzero(s->buf, K * slot));
  for (PetscInt k = e->kstart; k < e->kend; k++) {
    PetscReal *b = s->buf + k * slot;
    PetscCall(DeepCDMoeConstraintNormal(e->con[k], W + k * N, type, b, b + 1, H ? b + 1 + N : NULL));
  }
  PetscCall(sum_slots(e, K * slot, s->buf));
  if (f) *f = 0.0;
  if (g) PetscCall(PetscArrayzero(g, n));
  if (H) PetscCall(PetscArrayzero(H, n * n));
  for (PetscInt k = 0; k < K; k++) {
    const PetscReal *b = s->buf + k * slot;

    if (f) *f += b[0];
    if (g) PetscCall(PetscArraycpy(g + k * N, b + 1, N));
    if (H)
      for (PetscInt q = 0; q < N; q++)
        for (PetscInt p = 0; p < N; p++) H[(k * N + p) + (k * N + q) * n] = b[1 + N + p + q * N];
  }
  for (PetscInt i = 0; i < e->nif; i++) {
    const PetscReal *G = e->G + i * N * N;
    const PetscInt   a = e->ifk[2 * i], c = e->ifk[2 * i + 1];

    interface_jump(s, W, i, d);
    for (PetscInt p = 0; p < N; p++) {
      Gd[p] = 0.0;
      for (PetscInt q = 0; q < N; q++) Gd[p] += G[p + q * N] * d[q];
    }
    if (f)
      for (PetscInt p = 0; p < N; p++) *f += 0.5 * d[p] * Gd[p];
    if (g)
      for (PetscInt p = 0; p < N; p++) g[a * N + p] += Gd[p], g[c * N + p] -= Gd[p];
    if (H)
      for (PetscInt q = 0; q < N; q++)
        for (PetscInt p = 0; p < N; p++) {
          const PetscReal v = G[p + q * N];
          H[(a * N + p) + (a * N + q) * n] += v;
          H[(c * N + p) + (c * N + q) * n] += v;
          H[(a * N + p) + (c * N + q) * n] -= v;
          H[(c * N + p) + (a * N + q) * n] -= v;
        }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode coupled_start(void *ctx, const PetscReal W[])
{
  Coupled         *s = (Coupled *) ctx;
  DeepCDMoeExperts e = s->e;

  PetscFunctionBegin;
  for (PetscInt k = e->kstart; k < e->kend; k++) PetscCall(DeepCDMoeConstraintResidual(e->con[k], W + k * e->N, s->r[k - e->kstart]));
  PetscCall(PetscArraycpy(s->W, W, e->K * e->N));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode coupled_trial(void *ctx, const PetscReal Wn[], PetscReal *actual)
{
  Coupled         *s = (Coupled *) ctx;
  DeepCDMoeExperts e = s->e;
  const PetscInt   N = e->N;
  PetscReal       *d = s->d, *dn = s->d2, a = 0.0;

  PetscFunctionBegin;
  PetscCall(PetscArrayzero(s->buf, e->K));
  for (PetscInt k = e->kstart; k < e->kend; k++) {
    const PetscInt   mall = e->con[k]->m + N;
    const PetscReal *r = s->r[k - e->kstart], *rn = s->rn[k - e->kstart];
    PetscReal        t = 0.0;

    PetscCall(DeepCDMoeConstraintResidual(e->con[k], Wn + k * N, s->rn[k - e->kstart]));
    for (PetscInt l = 0; l < mall; l++) t += (r[l] - rn[l]) * (r[l] + rn[l]); /* row by row, as for one expert */
    s->buf[k] = 0.5 * t;
  }
  PetscCall(sum_slots(e, e->K, s->buf));
  for (PetscInt k = 0; k < e->K; k++) a += s->buf[k];
  for (PetscInt i = 0; i < e->nif; i++) { /* 1/2 (d - dn)^T G (d + dn) */
    interface_jump(s, s->W, i, d);
    interface_jump(s, Wn, i, dn);
    for (PetscInt p = 0; p < N; p++) {
      const PetscReal x = d[p] - dn[p], y = d[p] + dn[p];
      d[p] = x, dn[p] = y;
    }
    a += 0.5 * gram_dot(N, e->G + i * N * N, d, dn);
  }
  PetscCall(PetscArraycpy(s->Wn, Wn, e->K * N));
  *actual = a;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode coupled_accept(void *ctx)
{
  Coupled         *s = (Coupled *) ctx;
  DeepCDMoeExperts e = s->e;

  PetscFunctionBegin;
  for (PetscInt k = 0; k < e->kend - e->kstart; k++) {
    PetscReal *swap = s->r[k];
    s->r[k]         = s->rn[k];
    s->rn[k]        = swap;
  }
  PetscCall(PetscArraycpy(s->W, s->Wn, e->K * e->N));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode coupled_create(DeepCDMoeExperts e, PetscBool residuals, Coupled *s)
{
  const PetscInt N = e->N, K = e->K, nown = e->kend - e->kstart;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(s, sizeof(*s)));
  s->e = e;
  PetscCall(PetscMalloc6(K * (1 + N + N * N), &s->buf, nown, &s->r, nown, &s->rn, K * N, &s->W, K * N, &s->Wn, 2 * N, &s->d));
  s->d2 = s->d + N;
  if (residuals) {
    PetscInt len = 0;

    for (PetscInt k = 0; k < nown; k++) len += 2 * (e->con[e->kstart + k]->m + N);
    PetscCall(PetscMalloc1(len, &s->rbuf));
    len = 0;
    for (PetscInt k = 0; k < nown; k++) {
      const PetscInt mall = e->con[e->kstart + k]->m + N;

      s->r[k]  = s->rbuf + len;
      s->rn[k] = s->rbuf + len + mall;
      len += 2 * mall;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode coupled_destroy(Coupled *s)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(s->rbuf));
  PetscCall(PetscFree6(s->buf, s->r, s->rn, s->W, s->Wn, s->d));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* DeepCDMoeExpertsSolve() with interface coupling: one LM on all K N weights, redundant on every rank */
PetscErrorCode DeepCDMoeExpertsCoupledSolve(DeepCDMoeExperts e, const PetscReal B[], PetscReal u[])
{
  const PetscInt     N = e->N;
  Coupled            s;
  DeepCDMoeLMProblem p = { 0 };
  DeepCDMoeLMInfo    info;
  PetscReal         *gk;

  PetscFunctionBegin;
  for (PetscInt k = e->kstart; k < e->kend; k++) PetscCall(DeepCDMoeConstraintSetBasis(e->con[k], B));
  PetscCall(interface_gram(e, B));
  PetscCall(coupled_create(e, PETSC_TRUE, &s));
  p.n      = e->K * N;
  p.fixedH = e->pde->linear;
  p.ctx    = &s;
  p.start  = coupled_start;
  p.normal = coupled_normal;
  p.trial  = coupled_trial;
  p.accept = coupled_accept;
  PetscCall(DeepCDMoeLMIterate(&p, &e->lm, e->w, &info));
  PetscCall(coupled_destroy(&s));
  PetscCall(PetscMalloc1(N, &gk));
  for (PetscInt k = e->kstart; k < e->kend; k++) { /* the joint record, with the expert's own objective and gradient */
    e->info[k] = info;
    PetscCall(DeepCDMoeConstraintNormal(e->con[k], e->w + k * N, DEEPCD_MOE_HESSIAN_GN, &e->info[k].f, gk, NULL));
    e->info[k].gnorm = 0.0;
    for (PetscInt l = 0; l < N; l++) e->info[k].gnorm = PetscMax(e->info[k].gnorm, PetscAbsReal(gk[l]));
    e->solved[k] = PETSC_TRUE;
    PetscCall(DeepCDMoeExpertsAssemble(e, k, B, u));
  }
  PetscCall(PetscFree(gk));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* DeepCDMoeExpertsBackward() with interface coupling: the IFT with the joint Hessian, and the interface rows' term in dL/dB */
PetscErrorCode DeepCDMoeExpertsCoupledBackward(DeepCDMoeExperts e, const PetscReal B[], const PetscReal ubar[], PetscReal Bbar[])
{
  const PetscInt  N = e->N, n = e->K * N;
  const PetscReal w2 = e->cweight * e->cweight;
  Coupled         s;
  PetscReal      *H, *v, *d, *dv;
  PetscBLASInt    bn, one = 1, *piv, lierr;

  PetscFunctionBegin;
  PetscCall(PetscBLASIntCast(n, &bn));
  PetscCall(coupled_create(e, PETSC_FALSE, &s));
  d  = s.W; /* work: the solve's weights are e->w */
  dv = s.Wn;
  PetscCall(PetscMalloc3(n * n, &H, n, &v, n, &piv));
  PetscCall(PetscArrayzero(v, n));
  for (PetscInt k = e->kstart; k < e->kend; k++) PetscCall(DeepCDMoeExpertsDirectBackward(e, k, B, ubar, v + k * N, Bbar));
  PetscCall(sum_slots(e, n, v)); /* wbar of every expert */
  for (PetscInt l = 0; l < n; l++) v[l] = -v[l];
  PetscCall(coupled_normal(&s, e->w, e->htype, NULL, NULL, H));
  PetscCallBLAS("LAPACKgesv", LAPACKgesv_(&bn, &one, H, &bn, piv, v, &bn, &lierr));
  PetscCheck(lierr >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "LAPACK gesv: info %d", (int) lierr);
  PetscCheck(lierr == 0, PETSC_COMM_SELF, PETSC_ERR_MAT_LU_ZRPVT, "moe backward: the coupled %s Hessian in w is singular (zero pivot %d)", DeepCDMoeHessianTypes[e->htype], (int) lierr);
  PetscCall(PetscLogFlops(2.0 * n * n * n / 3.0 + 2.0 * n * n));
  for (PetscInt k = e->kstart; k < e->kend; k++) PetscCall(DeepCDMoeConstraintBasisVJP(e->con[k], e->w + k * N, v + k * N, Bbar));
  for (PetscInt i = 0; i < e->nif; i++) { /* d/dB_p of v . grad f_I = w2 sum_p (B_p d)(B_p dv) */
    if (!owned(e, e->ifk[2 * i])) continue;
    interface_jump(&s, e->w, i, d);
    interface_jump(&s, v, i, dv);
    for (PetscInt l = e->ifoff[i]; l < e->ifoff[i + 1]; l++) {
      const PetscReal *b  = B + e->ifpt[l] * N;
      PetscReal       *bb = Bbar + e->ifpt[l] * N, bd = 0.0, bv = 0.0;

      for (PetscInt q = 0; q < N; q++) bd += b[q] * d[q], bv += b[q] * dv[q];
      for (PetscInt q = 0; q < N; q++) bb[q] += w2 * (bv * d[q] + bd * dv[q]);
    }
  }
  PetscCall(PetscFree3(H, v, piv));
  PetscCall(coupled_destroy(&s));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsGetInterfaceResidual - How far neighbouring experts disagree at their interfaces after a solve: max and root mean square of B_p (w_a - w_b) over the points on both sides of every interface.

  Collective

  Input Parameters:
+ e - the experts, after DeepCDMoeExpertsSolve()
- B - the basis of that solve (the rows at the interface points of this rank's experts are read)

  Output Parameters:
+ maxabs - the largest |B_p (w_a - w_b)| (0 with one expert; may be NULL)
- rms    - its root mean square (may be NULL)

  Notes:
  Unweighted (the coupling weight is not applied). It is defined whatever
  the coupling: without coupling it measures the jumps of independent experts.
  With the mlp backbone and no coupling, a rank evaluates the basis only at
  its own points: pass a basis that has the rows at the interface points.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsGetInterfaceResidual(DeepCDMoeExperts e, const PetscReal B[], PetscReal *maxabs, PetscReal *rms)
{
  const PetscInt N = e->N;
  Coupled        s;
  PetscReal      mx = 0.0, ss[2] = { 0.0, 0.0 };
  PetscInt       npt = 0;

  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  for (PetscInt k = e->kstart; k < e->kend; k++) PetscCheck(e->solved[k], PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSolve() first");
  PetscCall(coupled_create(e, PETSC_FALSE, &s));
  PetscCall(PetscArrayzero(s.W, e->K * N));
  for (PetscInt k = e->kstart; k < e->kend; k++) PetscCall(PetscArraycpy(s.W + k * N, e->w + k * N, N));
  PetscCall(sum_slots(e, e->K * N, s.W));
  for (PetscInt i = 0; i < e->nif; i++) {
    npt += e->ifoff[i + 1] - e->ifoff[i];
    if (!owned(e, e->ifk[2 * i])) continue;
    interface_jump(&s, s.W, i, s.d);
    for (PetscInt l = e->ifoff[i]; l < e->ifoff[i + 1]; l++) {
      const PetscReal *b = B + e->ifpt[l] * N;
      PetscReal        t = 0.0;

      for (PetscInt q = 0; q < N; q++) t += b[q] * s.d[q];
      mx = PetscMax(mx, PetscAbsReal(t));
      ss[0] += t * t;
    }
  }
  PetscCall(coupled_destroy(&s));
  PetscCall(DeepCDMoeExpertsAllreduce(e, 1, ss));
  if (e->size > 1) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &mx, 1, MPIU_REAL, MPIU_MAX, e->comm));
  if (maxabs) *maxabs = mx;
  if (rms) *rms = npt ? PetscSqrtReal(ss[0] / npt) : 0.0;
  PetscFunctionReturn(PETSC_SUCCESS);
}
