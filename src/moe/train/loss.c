/* The outer training loss of one problem instance on the whole grid, shared
   by the soft and hard models (see deepcd/moe_train.h), and its gradient in
   u through the transposed stencils. */
#include <deepcd/private/moeimpl.h>
#include <deepcd/moe_train.h>
#include <deepcd/private/petsccompat.h>

const char *const DeepCDMoeLossTypes[] = { "norm", "mse", "DeepCDMoeLossType", "DEEPCD_MOE_LOSS_", NULL };

/* the loss terms: PDE rows, initial rows, left wall, right wall */
enum {
  TERM_PDE,
  TERM_IC,
  TERM_LEFT,
  TERM_RIGHT,
  NTERMS
};

/*@C
  DeepCDMoeLoss - The loss of a solution u on the whole grid and its gradient dL/du.

  Not Collective

  Input Parameters:
+ pde   - the problem, with the instance's parameters set
. g     - the grid
. type  - DEEPCD_MOE_LOSS_NORM (the reference's unsquared norms) or DEEPCD_MOE_LOSS_MSE (mean squares)
. w_pde - weight of the PDE term, over the interior points (0 < i < nx-1, j > 0; periodic grids: every point with j > 0)
. w_ic  - weight of the initial term, at j = 0
. w_bc  - weight of the boundary term, at i = 0 and nx-1, j > 0
- u     - the solution, nx*ny*nt values

  Output Parameters:
+ L    - the loss
- ubar - dL/du (nx*ny*nt; may be NULL)

  Notes:
  norm: L = w_pde ||F|| + w_ic ||u - u0|| / ||u0|| + w_bc (||left rows|| + ||right rows||), 2-norms (the initial term is not
  divided when u0 = 0); a term whose norm is 0 contributes 0 to dL/du (a subgradient).
  mse:  L = w_pde mean F^2 + w_ic mean (s (u - u0))^2 + w_bc mean over both walls (c . q - g)^2, s the problem's initial row scale.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeLoss(DeepCDMoePDE pde, const DeepCDMoeGrid *g, DeepCDMoeLossType type, PetscReal w_pde, PetscReal w_ic, PetscReal w_bc, const PetscReal u[], PetscReal *L, PetscReal ubar[])
{
  const PetscInt nx = g->nx, nt = g->nt, P = DeepCDMoeGridSize(g), nf = pde->nfields, nxy = nx * g->ny;
  PetscReal     *q, *qbar, *r, ss[NTERMS] = { 0 }, u0ss = 0.0, w[NTERMS], coef[NTERMS], loss = 0.0;

  PetscFunctionBegin;
  PetscAssertPointer(pde, 1);
  PetscAssertPointer(g, 2);
  PetscAssertPointer(u, 7);
  PetscAssertPointer(L, 8);
  PetscCheck(type == DEEPCD_MOE_LOSS_NORM || type == DEEPCD_MOE_LOSS_MSE, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe loss: unknown type %d", (int) type);
  PetscCheck(nf == DEEPCD_MOE_NFIELDS || g->periodic, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "moe loss: problem '%s' needs a periodic 2-D grid", pde->type);
  PetscCall(PetscMalloc3(nf * P, &q, nf * P, &qbar, P, &r));
  PetscCall(PetscArraycpy(q, u, P));
  for (PetscInt a = 1; a < nf; a++)
    if (a != DEEPCD_MOE_VX && a != DEEPCD_MOE_VY) PetscCall(DeepCDMoeGridDerivative(g, (DeepCDMoeField) a, 1, u, q + a * P));
  if (nf > DEEPCD_MOE_VX) PetscCall(DeepCDMoeGridVelocity(g, 1, u, q + DEEPCD_MOE_VX * P, q + DEEPCD_MOE_VY * P));
  /* pass 1: the row r[p] of every point and dr/dq in qbar; the sums of squares per term */
  PetscCall(PetscArrayzero(qbar, nf * P));
  for (PetscInt p = 0; p < P; p++) {
    DeepCDMoePoint pt;
    PetscReal      qp[DEEPCD_MOE_MAX_FIELDS], c[DEEPCD_MOE_MAX_FIELDS], rhs, scale, dF[DEEPCD_MOE_MAX_FIELDS];
    PetscInt       term;

    PetscCall(DeepCDMoeGridPoint(g, p, &pt));
    for (PetscInt a = 0; a < nf; a++) qp[a] = q[a * P + p];
    if (pt.j == 0) { /* initial row; norm: u - u0, divided by ||u0|| below */
      PetscCall((*pde->ops.initial)(pde, &pt, &rhs, &scale));
      if (type == DEEPCD_MOE_LOSS_NORM) scale = 1.0;
      r[p]    = scale * (qp[DEEPCD_MOE_U] - rhs);
      qbar[p] = scale;
      u0ss += rhs * rhs;
      term = TERM_IC;
    } else if (!g->periodic && (pt.i == 0 || pt.i == nx - 1)) { /* boundary row */
      PetscCall((*pde->ops.boundary)(pde, pt.i == 0 ? 0 : 1, &pt, c, &rhs));
      r[p] = -rhs;
      for (PetscInt a = 0; a < nf; a++) {
        r[p] += c[a] * qp[a];
        qbar[a * P + p] = c[a];
      }
      term = pt.i == 0 ? TERM_LEFT : TERM_RIGHT;
    } else { /* PDE row */
      PetscCall((*pde->ops.residual)(pde, &pt, qp, &r[p], dF, NULL));
      for (PetscInt a = 0; a < nf; a++) qbar[a * P + p] = dF[a];
      term = TERM_PDE;
    }
    ss[term] += r[p] * r[p];
  }
  /* the loss, and dL/dr[p] = coef[term] r[p] */
  w[TERM_PDE] = w_pde, w[TERM_IC] = w_ic, w[TERM_LEFT] = w[TERM_RIGHT] = w_bc;
  for (PetscInt k = 0; k < NTERMS; k++) {
    if (type == DEEPCD_MOE_LOSS_MSE) {
      const PetscInt n = g->periodic ? (k == TERM_PDE ? nxy * (nt - 1) : k == TERM_IC ? nxy
                                                                                      : 0)
                                     : (k == TERM_PDE ? (nx - 2) * (nt - 1) : k == TERM_IC ? nx
                                                                                           : 2 * (nt - 1));

      if (!n) { /* no such rows (periodic walls) */
        coef[k] = 0.0;
        continue;
      }
      loss += w[k] / (PetscReal) n * ss[k];
      coef[k] = 2.0 * w[k] / (PetscReal) n;
    } else {
      const PetscReal nrm = PetscSqrtReal(ss[k]), div = (k == TERM_IC && u0ss > 0.0) ? PetscSqrtReal(u0ss) : 1.0;

      loss += w[k] * nrm / div;
      coef[k] = nrm > 0.0 ? w[k] / (div * nrm) : 0.0;
    }
  }
  *L = loss;
  if (ubar) { /* qbar_a = dL/dq_a; ubar = qbar_u + sum_a D_a^T qbar_a */
    for (PetscInt p = 0; p < P; p++) {
      const PetscInt  i = p % nx, j = p / nxy;
      const PetscInt  term = j == 0 ? TERM_IC : (g->periodic ? TERM_PDE : (i == 0 ? TERM_LEFT : (i == nx - 1 ? TERM_RIGHT : TERM_PDE)));
      const PetscReal f    = coef[term] * r[p];

      for (PetscInt a = 0; a < nf; a++) qbar[a * P + p] *= f;
    }
    PetscCall(PetscArraycpy(ubar, qbar, P));
    for (PetscInt a = 1; a < nf; a++) {
      if (a == DEEPCD_MOE_VX || a == DEEPCD_MOE_VY) continue;
      for (PetscInt p = 0; p < P; p++) {
        PetscInt  n, idx[DEEPCD_MOE_MAX_STENCIL];
        PetscReal sc[DEEPCD_MOE_MAX_STENCIL];

        if (qbar[a * P + p] == 0.0) continue;
        PetscCall(DeepCDMoeGridStencilAt(g, (DeepCDMoeField) a, p, &n, idx, sc));
        for (PetscInt s = 0; s < n; s++) ubar[idx[s]] += sc[s] * qbar[a * P + p];
      }
    }
    if (nf > DEEPCD_MOE_VX) PetscCall(DeepCDMoeGridVelocityTranspose(g, 1, qbar + DEEPCD_MOE_VX * P, qbar + DEEPCD_MOE_VY * P, ubar));
  }
  PetscCall(PetscFree3(q, qbar, r));
  PetscFunctionReturn(PETSC_SUCCESS);
}
