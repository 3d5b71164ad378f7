/* The outer training loss of one problem instance on the whole grid, shared
   by the soft and hard models (see deepcd/moe_train.h), and its gradient in
   u through the transposed stencils. */
#include "moe_impl.h"
#include <deepcd/moe_train.h>

/*@C
  DeepCDMoeLoss - The loss of a solution u on the whole grid and its gradient dL/du.

  Not Collective

  Input Parameters:
+ pde   - the problem, with the instance's parameters set
. g     - the grid
. w_pde - weight of the mean squared PDE residual over the interior points (0 < i < nx-1, j > 0)
. w_ic  - weight of the mean squared initial rows s (u - u0) at j = 0
. w_bc  - weight of the mean squared boundary rows c . q - g at i = 0 and nx-1, j > 0
- u     - the solution, nx*nt values

  Output Parameters:
+ L    - the loss
- ubar - dL/du (nx*nt; may be NULL)

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeLoss(DeepCDMoePDE pde, const DeepCDMoeGrid *g, PetscReal w_pde, PetscReal w_ic, PetscReal w_bc, const PetscReal u[], PetscReal *L, PetscReal ubar[])
{
  const PetscInt  nx = g->nx, nt = g->nt, P = nx * nt;
  const PetscReal cpde = w_pde / (PetscReal) ((nx - 2) * (nt - 1)), cic = w_ic / (PetscReal) nx, cbc = w_bc / (PetscReal) (2 * (nt - 1));
  PetscReal      *q, *qbar, loss                                                                     = 0.0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(DEEPCD_MOE_NFIELDS * P, &q, DEEPCD_MOE_NFIELDS * P, &qbar));
  PetscCall(PetscArraycpy(q, u, P));
  for (PetscInt a = 1; a < DEEPCD_MOE_NFIELDS; a++) PetscCall(DeepCDMoeGridDerivative(g, (DeepCDMoeField) a, 1, u, q + a * P));
  PetscCall(PetscArrayzero(qbar, DEEPCD_MOE_NFIELDS * P));
  for (PetscInt p = 0; p < P; p++) {
    DeepCDMoePoint pt;
    PetscReal      qp[DEEPCD_MOE_NFIELDS], c[DEEPCD_MOE_NFIELDS], r, rhs, scale, dF[DEEPCD_MOE_NFIELDS], coef;

    PetscCall(DeepCDMoeGridPoint(g, p, &pt));
    for (PetscInt a = 0; a < DEEPCD_MOE_NFIELDS; a++) qp[a] = q[a * P + p];
    if (pt.j == 0) { /* initial row */
      PetscCall((*pde->ops.initial)(pde, &pt, &rhs, &scale));
      r = scale * (qp[DEEPCD_MOE_U] - rhs);
      loss += cic * r * r;
      qbar[p] += 2.0 * cic * r * scale;
    } else if (pt.i == 0 || pt.i == nx - 1) { /* boundary row */
      PetscCall((*pde->ops.boundary)(pde, pt.i == 0 ? 0 : 1, &pt, c, &rhs));
      r = -rhs;
      for (PetscInt a = 0; a < DEEPCD_MOE_NFIELDS; a++) r += c[a] * qp[a];
      loss += cbc * r * r;
      for (PetscInt a = 0; a < DEEPCD_MOE_NFIELDS; a++) qbar[a * P + p] += 2.0 * cbc * r * c[a];
    } else { /* PDE row */
      PetscCall((*pde->ops.residual)(pde, &pt, qp, &r, dF, NULL));
      loss += cpde * r * r;
      coef = 2.0 * cpde * r;
      for (PetscInt a = 0; a < DEEPCD_MOE_NFIELDS; a++) qbar[a * P + p] += coef * dF[a];
    }
  }
  *L = loss;
  if (ubar) { /* ubar = qbar_u + sum_a D_a^T qbar_a */
    PetscCall(PetscArraycpy(ubar, qbar, P));
    for (PetscInt a = 1; a < DEEPCD_MOE_NFIELDS; a++) {
      for (PetscInt p = 0; p < P; p++) {
        PetscInt  n, idx[DEEPCD_MOE_MAX_STENCIL];
        PetscReal coef[DEEPCD_MOE_MAX_STENCIL];

        if (qbar[a * P + p] == 0.0) continue;
        PetscCall(DeepCDMoeGridStencil(g, (DeepCDMoeField) a, p % nx, p / nx, &n, idx, coef));
        for (PetscInt s = 0; s < n; s++) ubar[idx[s]] += coef[s] * qbar[a * P + p];
      }
    }
  }
  PetscCall(PetscFree2(q, qbar));
  PetscFunctionReturn(0);
}
