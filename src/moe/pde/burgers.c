/* Viscous Burgers u_t + u u_x = nu u_xx on (0, 1) x (0, 1], travelling-wave
   data: u = (1 - tanh((x - x0 - t/2) / (4 nu))) / 2 gives the initial and
   the Dirichlet boundary values and is the closed form. */
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

enum { NU };
enum { X0 };

static PetscErrorCode residual(DeepCDMoePDE pde, const DeepCDMoePoint *pt, const PetscReal q[], PetscReal *F, PetscReal dF[], PetscReal d2F[])
{
  const PetscReal nu = pde->constant[NU];

  PetscFunctionBegin;
  *F = q[DEEPCD_MOE_UT] + q[DEEPCD_MOE_U] * q[DEEPCD_MOE_UX] - nu * q[DEEPCD_MOE_UXX];
  if (dF) {
    dF[DEEPCD_MOE_U]   = q[DEEPCD_MOE_UX];
    dF[DEEPCD_MOE_UT]  = 1.0;
    dF[DEEPCD_MOE_UX]  = q[DEEPCD_MOE_U];
    dF[DEEPCD_MOE_UXX] = -nu;
  }
  if (d2F) {
    PetscCall(PetscArrayzero(d2F, 16));
    d2F[DEEPCD_MOE_U * 4 + DEEPCD_MOE_UX] = 1.0;
    d2F[DEEPCD_MOE_UX * 4 + DEEPCD_MOE_U] = 1.0;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode exact(DeepCDMoePDE pde, PetscReal x, PetscReal t, PetscReal *u)
{
  PetscFunctionBegin;
  *u = 0.5 * (1.0 - PetscTanhReal((x - pde->param[X0] - 0.5 * t) / (4.0 * pde->constant[NU])));
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
  PetscCall(exact(pde, side ? pde->xhi : pde->xlo, pt->t, g));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the front's width 4 nu */
static PetscErrorCode lengthscale(DeepCDMoePDE pde, PetscReal *L)
{
  PetscFunctionBegin;
  *L = 4.0 * pde->constant[NU];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the family: x0 ~ U(0.15, 0.35) (the front stays inside (0, 1) up to t = 1) */
static PetscErrorCode sample(DeepCDMoePDE pde, const PetscReal r[], PetscReal param[])
{
  PetscFunctionBegin;
  param[X0] = 0.15 + 0.2 * r[0];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDECreate_Burgers - Viscous Burgers u_t + u u_x = nu u_xx (constant nu = 0.01; parameter x0 = 0.25, the front's position at t = 0).

  Level: developer
@*/
PetscErrorCode DeepCDMoePDECreate_Burgers(DeepCDMoePDE pde)
{
  PetscFunctionBegin;
  pde->ops.residual    = residual;
  pde->ops.initial     = initial;
  pde->ops.boundary    = boundary;
  pde->ops.sample      = sample;
  pde->ops.exact       = exact;
  pde->ops.lengthscale = lengthscale;
  pde->linear          = PETSC_FALSE;
  pde->xlo = 0.0, pde->xhi = 1.0, pde->t0 = 0.0, pde->t1 = 1.0;
  PetscCall(DeepCDMoePDEAddConstant(pde, "nu", 0.01));
  PetscCall(DeepCDMoePDEAddParameter(pde, "x0", 0.25));
  PetscFunctionReturn(PETSC_SUCCESS);
}
