/* Diffusion-sorption (PDEBench): u_t = D / R(u) u_xx on (0, 1) x (0, 500],
   R(u) = 1 + (1 - phi)/phi rho_s k_f n_f u^(n_f - 1), with u^(n_f - 1)
   replaced by (u + eps)^(n_f - 1) for u > 0 and eps^(n_f - 1) otherwise (as
   in the reference code). u(0, t) = 1, u(1, t) = D u_x(1, t), u0 = c (a
   constant); the initial rows are relative, (u - c) / c. The PDE rows are
   scaled by the constant tscale (default 500, the time span). No closed form. */
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

enum { PHI,
       RHO_S,
       K_F,
       N_F,
       DIFF,
       EPS,
       TSCALE };
enum { C };

/* R, R' and R'' at u */
void DeepCDMoeDiffSorpRetardation(DeepCDMoePDE pde, PetscReal u, PetscReal *R, PetscReal *R1, PetscReal *R2)
{
  const PetscReal *k  = pde->constant;
  const PetscReal  K  = (1.0 - k[PHI]) / k[PHI] * k[RHO_S] * k[K_F] * k[N_F];
  const PetscReal  nf = k[N_F];

  if (u > 0.0) {
    const PetscReal s = u + k[EPS], g = PetscPowReal(s, nf - 1.0);
    *R  = 1.0 + K * g;
    *R1 = K * (nf - 1.0) * g / s;
    *R2 = K * (nf - 1.0) * (nf - 2.0) * g / (s * s);
  } else {
    *R  = 1.0 + K * PetscPowReal(k[EPS], nf - 1.0);
    *R1 = 0.0;
    *R2 = 0.0;
  }
}

static PetscErrorCode residual(DeepCDMoePDE pde, const DeepCDMoePoint *pt, const PetscReal q[], PetscReal *F, PetscReal dF[], PetscReal d2F[])
{
  const PetscReal D = pde->constant[DIFF], uxx = q[DEEPCD_MOE_UXX], T = pde->constant[TSCALE];
  PetscReal       R, R1, R2;

  PetscFunctionBegin;
  DeepCDMoeDiffSorpRetardation(pde, q[DEEPCD_MOE_U], &R, &R1, &R2);
  *F = T * (q[DEEPCD_MOE_UT] - D * uxx / R);
  if (dF) {
    dF[DEEPCD_MOE_U]   = T * D * uxx * R1 / (R * R);
    dF[DEEPCD_MOE_UT]  = T;
    dF[DEEPCD_MOE_UX]  = 0.0;
    dF[DEEPCD_MOE_UXX] = -T * D / R;
  }
  if (d2F) {
    PetscCall(PetscArrayzero(d2F, 16));
    d2F[DEEPCD_MOE_U * 4 + DEEPCD_MOE_U]   = T * D * uxx * (R2 / (R * R) - 2.0 * R1 * R1 / (R * R * R));
    d2F[DEEPCD_MOE_U * 4 + DEEPCD_MOE_UXX] = T * D * R1 / (R * R);
    d2F[DEEPCD_MOE_UXX * 4 + DEEPCD_MOE_U] = T * D * R1 / (R * R);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode initial(DeepCDMoePDE pde, const DeepCDMoePoint *pt, PetscReal *u0, PetscReal *scale)
{
  PetscFunctionBegin;
  *u0    = pde->param[C];
  *scale = pde->param[C] != 0.0 ? 1.0 / pde->param[C] : 1.0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode boundary(DeepCDMoePDE pde, PetscInt side, const DeepCDMoePoint *pt, PetscReal c[], PetscReal *g)
{
  PetscFunctionBegin;
  c[DEEPCD_MOE_U] = 1.0, c[DEEPCD_MOE_UT] = 0.0, c[DEEPCD_MOE_UX] = 0.0, c[DEEPCD_MOE_UXX] = 0.0;
  if (side == 0)
    *g = 1.0; /* u(0, t) = 1 */
  else {      /* u(1, t) - D u_x(1, t) = 0 */
    c[DEEPCD_MOE_UX] = -pde->constant[DIFF];
    *g               = 0.0;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode rowscale(DeepCDMoePDE pde, PetscReal *s)
{
  PetscFunctionBegin;
  *s = pde->constant[TSCALE];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the family: c ~ U(0.01, 0.2); PDEBench draws U(0, 0.2), but the relative
   initial rows (u - c)/c need c away from 0 */
static PetscErrorCode sample(DeepCDMoePDE pde, const PetscReal r[], PetscReal param[])
{
  PetscFunctionBegin;
  param[C] = 0.01 + 0.19 * r[0];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDECreate_DiffSorp - PDEBench diffusion-sorption (constants phi = 0.29, rho_s = 2880, k_f = 3.5e-4, n_f = 0.874, D = 5e-4, eps = 1e-6; parameter c = 0.1, the constant initial value, c ~ U(0, 0.2) in PDEBench).

  Level: developer
@*/
PetscErrorCode DeepCDMoePDECreate_DiffSorp(DeepCDMoePDE pde)
{
  PetscFunctionBegin;
  pde->ops.residual  = residual;
  pde->ops.initial   = initial;
  pde->ops.boundary  = boundary;
  pde->ops.sample    = sample;
  pde->ops.reference = DeepCDMoeDiffSorpReference;
  pde->ops.rowscale  = rowscale;
  pde->linear        = PETSC_FALSE;
  pde->xlo = 0.0, pde->xhi = 1.0, pde->t0 = 0.0, pde->t1 = 500.0;
  PetscCall(DeepCDMoePDEAddConstant(pde, "phi", 0.29));
  PetscCall(DeepCDMoePDEAddConstant(pde, "rho_s", 2880.0));
  PetscCall(DeepCDMoePDEAddConstant(pde, "k_f", 3.5e-4));
  PetscCall(DeepCDMoePDEAddConstant(pde, "n_f", 0.874));
  PetscCall(DeepCDMoePDEAddConstant(pde, "D", 5e-4));
  PetscCall(DeepCDMoePDEAddConstant(pde, "eps", 1e-6));
  /* PDE rows are tscale (u_t - D/R u_xx): with the time span they are O(1)
     like the initial and boundary rows (unscaled, u_t ~ 1/500 and LM all but
     ignores them); 1 gives the reference's unscaled rows */
  PetscCall(DeepCDMoePDEAddConstant(pde, "tscale", 500.0));
  PetscCall(DeepCDMoePDEAddParameter(pde, "c", 0.1));
  PetscFunctionReturn(PETSC_SUCCESS);
}
