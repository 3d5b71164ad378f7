/* The outer training loss of one problem instance on the whole grid, shared
   by the soft and hard models (see deepcd/moe_train.h), and its gradient in
   u through the transposed stencils. */
#include <deepcd/private/moeimpl.h>
#include <deepcd/moe_train.h>
#include <deepcd/private/petsccompat.h>

const char *const DeepCDMoeLossTypes[] = { "norm", "mse", "DeepCDMoeLossType", "DEEPCD_MOE_LOSS_", NULL };

enum {
  TERM_PDE   = DEEPCD_MOE_ROW_PDE,
  TERM_IC    = DEEPCD_MOE_ROW_IC,
  TERM_LEFT  = DEEPCD_MOE_ROW_BC0,
  TERM_RIGHT = DEEPCD_MOE_ROW_BC1,
  NTERMS
};

/*@C
  DeepCDMoeGridRow - The row of one grid point in the whole-grid system (one row per point), its derivative in q and its term.

  Not Collective

  Input Parameters:
+ pde    - the problem, with the instance's parameters set
. g      - the grid
. scaled - initial rows s (u - u0) with the problem's scale s (PETSC_FALSE: s = 1)
. pt     - the point
- q      - the local quantities (u, u_t, u_x, u_xx) at the point

  Output Parameters:
+ r    - the row: the initial row at j = 0, the boundary row c . q - g on the walls (none on periodic grids), the PDE residual F(q) inside
. drdq - dr/dq (pde->nfields values)
. u0   - the initial target at j = 0 (0 elsewhere; may be NULL)
- term - DEEPCD_MOE_ROW_IC, _BC0 (left wall), _BC1 (right wall) or _PDE

  Notes:
  These are the rows of the outer loss (DeepCDMoeLoss()) and of the grid's own finite-difference solution (DeepCDMoePDEDiscreteSolve()).

  Level: developer
@*/
PetscErrorCode DeepCDMoeGridRow(DeepCDMoePDE pde, const DeepCDMoeGrid *g, PetscBool scaled, const DeepCDMoePoint *pt, const PetscReal q[], PetscReal *r, PetscReal drdq[], PetscReal *u0, PetscInt *term)
{
  const PetscInt nf = pde->nfields;
  PetscReal      c[DEEPCD_MOE_MAX_FIELDS], rhs, scale;

  PetscFunctionBegin;
  if (u0) *u0 = 0.0;
  for (PetscInt a = 0; a < nf; a++) drdq[a] = 0.0;
  if (pt->j == 0) {
    PetscCall((*pde->ops.initial)(pde, pt, &rhs, &scale));
    if (!scaled) scale = 1.0;
    *r                 = scale * (q[DEEPCD_MOE_U] - rhs);
    drdq[DEEPCD_MOE_U] = scale;
    if (u0) *u0 = rhs;
    *term = DEEPCD_MOE_ROW_IC;
  } else if (!g->periodic && (pt->i == 0 || pt->i == g->nx - 1)) {
    PetscCall((*pde->ops.boundary)(pde, pt->i == 0 ? 0 : 1, pt, c, &rhs));
    *r = -rhs;
    for (PetscInt a = 0; a < nf; a++) {
      *r += c[a] * q[a];
      drdq[a] = c[a];
    }
    *term = pt->i == 0 ? DEEPCD_MOE_ROW_BC0 : DEEPCD_MOE_ROW_BC1;
  } else {
    PetscCall((*pde->ops.residual)(pde, pt, q, r, drdq, NULL));
    *term = DEEPCD_MOE_ROW_PDE;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

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
  for (PetscInt p = 0; p < P; p++) {
    DeepCDMoePoint pt;
    PetscReal      qp[DEEPCD_MOE_MAX_FIELDS], drdq[DEEPCD_MOE_MAX_FIELDS], rhs;
    PetscInt       term;

    PetscCall(DeepCDMoeGridPoint(g, p, &pt));
    for (PetscInt a = 0; a < nf; a++) qp[a] = q[a * P + p];
    /* norm: the initial rows u - u0, divided by ||u0|| below */
    PetscCall(DeepCDMoeGridRow(pde, g, type == DEEPCD_MOE_LOSS_MSE ? PETSC_TRUE : PETSC_FALSE, &pt, qp, &r[p], drdq, &rhs, &term));
    for (PetscInt a = 0; a < nf; a++) qbar[a * P + p] = drdq[a];
    u0ss += rhs * rhs;
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
