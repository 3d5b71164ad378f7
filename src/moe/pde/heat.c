/* Heat equation u_t = kappa u_xx on (0, 1) x (0, 1] with u(0, t) = u(1, t) = 0
   and u0(x) = a1 sin(pi x) + a2 sin(2 pi x) + a3 sin(3 pi x); closed form
   u = sum_k a_k exp(-kappa k^2 pi^2 t) sin(k pi x). */
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

enum { KAPPA };

static PetscErrorCode residual(DeepCDMoePDE pde, const DeepCDMoePoint *pt, const PetscReal q[], PetscReal *F, PetscReal dF[], PetscReal d2F[])
{
  const PetscReal kappa = pde->constant[KAPPA];

  PetscFunctionBegin;
  *F = q[DEEPCD_MOE_UT] - kappa * q[DEEPCD_MOE_UXX];
  if (dF) {
    dF[DEEPCD_MOE_U] = 0.0, dF[DEEPCD_MOE_UT] = 1.0, dF[DEEPCD_MOE_UX] = 0.0, dF[DEEPCD_MOE_UXX] = -kappa;
  }
  if (d2F) PetscCall(PetscArrayzero(d2F, 16));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode exact(DeepCDMoePDE pde, PetscReal x, PetscReal t, PetscReal *u)
{
  PetscFunctionBegin;
  *u = 0.0;
  for (PetscInt k = 1; k <= 3; k++) *u += pde->param[k - 1] * PetscExpReal(-pde->constant[KAPPA] * k * k * PETSC_PI * PETSC_PI * t) * PetscSinReal(k * PETSC_PI * x);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode initial(DeepCDMoePDE pde, const DeepCDMoePoint *pt, PetscReal *u0, PetscReal *scale)
{
  PetscFunctionBegin;
  PetscCall(exact(pde, pt->x, pde->t0, u0));
  *scale = 1.0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode boundary(DeepCDMoePDE pde, PetscInt side, const DeepCDMoePoint *pt, PetscReal c[], PetscReal *g)
{
  PetscFunctionBegin;
  c[DEEPCD_MOE_U] = 1.0, c[DEEPCD_MOE_UT] = 0.0, c[DEEPCD_MOE_UX] = 0.0, c[DEEPCD_MOE_UXX] = 0.0;
  *g = 0.0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the family: a1 ~ U(0.5, 1.5), a2 ~ U(-0.5, 0.5), a3 ~ U(-0.25, 0.25) */
static PetscErrorCode sample(DeepCDMoePDE pde, const PetscReal r[], PetscReal param[])
{
  PetscFunctionBegin;
  param[0] = 0.5 + r[0];
  param[1] = r[1] - 0.5;
  param[2] = 0.5 * (r[2] - 0.5);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDECreate_Heat - The heat equation u_t = kappa u_xx (constant kappa = 0.1; parameters a1 = 1, a2 = 0.5, a3 = 0.25, the sine coefficients of u0).

  Level: developer
@*/
PetscErrorCode DeepCDMoePDECreate_Heat(DeepCDMoePDE pde)
{
  PetscFunctionBegin;
  pde->ops.residual = residual;
  pde->ops.initial  = initial;
  pde->ops.boundary = boundary;
  pde->ops.sample   = sample;
  pde->ops.exact    = exact;
  pde->linear       = PETSC_TRUE;
  pde->xlo = 0.0, pde->xhi = 1.0, pde->t0 = 0.0, pde->t1 = 1.0;
  PetscCall(DeepCDMoePDEAddConstant(pde, "kappa", 0.1));
  PetscCall(DeepCDMoePDEAddParameter(pde, "a1", 1.0));
  PetscCall(DeepCDMoePDEAddParameter(pde, "a2", 0.5));
  PetscCall(DeepCDMoePDEAddParameter(pde, "a3", 0.25));
  PetscFunctionReturn(PETSC_SUCCESS);
}
