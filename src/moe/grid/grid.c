/* The uniform space-time grid and its second-order finite-difference
   stencils (see deepcd/moe_grid.h). */
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

/*@C
  DeepCDMoeGridSetUp - Fills a uniform space-time grid.

  Not Collective

  Input Parameters:
+ nx, nt   - points in x and in t (each at least 4: the one-sided u_xx stencil has 4 points)
. xlo, xhi - the ends of the x interval
- t0, t1   - the first and last time

  Output Parameter:
. g - the grid

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeGridSetUp(DeepCDMoeGrid *g, PetscInt nx, PetscInt nt, PetscReal xlo, PetscReal xhi, PetscReal t0, PetscReal t1)
{
  PetscFunctionBegin;
  PetscAssertPointer(g, 1);
  PetscCheck(nx >= 4 && nt >= 4, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe grid %" PetscInt_FMT "x%" PetscInt_FMT ": need at least 4 points in x and in t", nx, nt);
  PetscCheck(xhi > xlo && t1 > t0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe grid: empty domain [%g, %g] x [%g, %g]", (double) xlo, (double) xhi, (double) t0, (double) t1);
  g->nx  = nx;
  g->nt  = nt;
  g->xlo = xlo;
  g->xhi = xhi;
  g->t0  = t0;
  g->t1  = t1;
  g->hx  = (xhi - xlo) / (PetscReal) (nx - 1);
  g->ht  = (t1 - t0) / (PetscReal) (nt - 1);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeGridPoint - The indices and coordinates of grid point p = j*nx + i.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeGridPoint(const DeepCDMoeGrid *g, PetscInt p, DeepCDMoePoint *pt)
{
  PetscFunctionBegin;
  PetscCheck(p >= 0 && p < g->nx * g->nt, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe grid point %" PetscInt_FMT " outside [0, %" PetscInt_FMT ")", p, g->nx * g->nt);
  pt->i = p % g->nx;
  pt->j = p / g->nx;
  pt->x = g->xlo + (PetscReal) pt->i * g->hx;
  pt->t = g->t0 + (PetscReal) pt->j * g->ht;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* First derivative along an axis of n points with spacing h at index k;
   offsets are in index units of that axis. */
static void first(PetscInt k, PetscInt n, PetscReal h, PetscInt *len, PetscInt off[], PetscReal c[])
{
  const PetscReal s = 1.0 / (2.0 * h);

  if (k == 0) {
    *len   = 3;
    off[0] = 0, off[1] = 1, off[2] = 2;
    c[0] = -3.0 * s, c[1] = 4.0 * s, c[2] = -1.0 * s;
  } else if (k == n - 1) {
    *len   = 3;
    off[0] = -2, off[1] = -1, off[2] = 0;
    c[0] = 1.0 * s, c[1] = -4.0 * s, c[2] = 3.0 * s;
  } else {
    *len   = 2;
    off[0] = -1, off[1] = 1;
    c[0] = -s, c[1] = s;
  }
}

/*@C
  DeepCDMoeGridStencil - The finite-difference stencil of one local quantity at grid point (i, j).

  Not Collective

  Input Parameters:
+ g    - the grid
. f    - DEEPCD_MOE_U (the identity), DEEPCD_MOE_UT, DEEPCD_MOE_UX or DEEPCD_MOE_UXX
- i, j - the point

  Output Parameters:
+ n    - number of stencil points (at most DEEPCD_MOE_MAX_STENCIL)
. idx  - their grid point numbers j*nx + i
- coef - their coefficients: (D_f u)(i, j) = sum_s coef[s] u[idx[s]]

  Notes:
  First derivatives are central, (u[k+1] - u[k-1]) / 2h, in the interior and
  (-3u[0] + 4u[1] - u[2]) / 2h (mirrored at the far end) at the ends. u_xx is
  (u[i-1] - 2u[i] + u[i+1]) / h^2 in the interior and (2u[0] - 5u[1] + 4u[2] - u[3]) / h^2
  at the ends. All are second order.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeGridStencil(const DeepCDMoeGrid *g, DeepCDMoeField f, PetscInt i, PetscInt j, PetscInt *n, PetscInt idx[], PetscReal coef[])
{
  PetscInt off[DEEPCD_MOE_MAX_STENCIL];

  PetscFunctionBegin;
  PetscCheck(i >= 0 && i < g->nx && j >= 0 && j < g->nt, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe grid point (%" PetscInt_FMT ", %" PetscInt_FMT ") outside the grid", i, j);
  switch (f) {
  case DEEPCD_MOE_U:
    *n      = 1;
    idx[0]  = j * g->nx + i;
    coef[0] = 1.0;
    break;
  case DEEPCD_MOE_UT:
    first(j, g->nt, g->ht, n, off, coef);
    for (PetscInt s = 0; s < *n; s++) idx[s] = (j + off[s]) * g->nx + i;
    break;
  case DEEPCD_MOE_UX:
    first(i, g->nx, g->hx, n, off, coef);
    for (PetscInt s = 0; s < *n; s++) idx[s] = j * g->nx + i + off[s];
    break;
  case DEEPCD_MOE_UXX: {
    const PetscReal s2 = 1.0 / (g->hx * g->hx);
    if (i == 0) {
      *n     = 4;
      off[0] = 0, off[1] = 1, off[2] = 2, off[3] = 3;
      coef[0] = 2.0 * s2, coef[1] = -5.0 * s2, coef[2] = 4.0 * s2, coef[3] = -1.0 * s2;
    } else if (i == g->nx - 1) {
      *n     = 4;
      off[0] = -3, off[1] = -2, off[2] = -1, off[3] = 0;
      coef[0] = -1.0 * s2, coef[1] = 4.0 * s2, coef[2] = -5.0 * s2, coef[3] = 2.0 * s2;
    } else {
      *n     = 3;
      off[0] = -1, off[1] = 0, off[2] = 1;
      coef[0] = s2, coef[1] = -2.0 * s2, coef[2] = s2;
    }
    for (PetscInt s = 0; s < *n; s++) idx[s] = j * g->nx + i + off[s];
  } break;
  default:
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe grid: unknown field %d", (int) f);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeGridDerivative - Applies a finite-difference stencil to a field on the whole grid.

  Not Collective

  Input Parameters:
+ g     - the grid
. f     - the quantity (DEEPCD_MOE_U copies)
. ncols - columns of the field (N for a basis, 1 for u)
- U     - the field, row-major nx*nt x ncols

  Output Parameter:
. DU - the derivative, same layout (not aliased with U)

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeGridDerivative(const DeepCDMoeGrid *g, DeepCDMoeField f, PetscInt ncols, const PetscReal U[], PetscReal DU[])
{
  PetscFunctionBegin;
  for (PetscInt j = 0; j < g->nt; j++) {
    for (PetscInt i = 0; i < g->nx; i++) {
      PetscInt   n, idx[DEEPCD_MOE_MAX_STENCIL];
      PetscReal  c[DEEPCD_MOE_MAX_STENCIL];
      PetscReal *d = DU + (j * g->nx + i) * ncols;

      PetscCall(DeepCDMoeGridStencil(g, f, i, j, &n, idx, c));
      for (PetscInt col = 0; col < ncols; col++) d[col] = 0.0;
      for (PetscInt s = 0; s < n; s++) {
        const PetscReal *u = U + idx[s] * ncols;
        for (PetscInt col = 0; col < ncols; col++) d[col] += c[s] * u[col];
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeGridInputs - The basis network's inputs at grid points: (x, t) mapped to [-1, 1], then the problem's parameters.

  Not Collective

  Input Parameters:
+ g       - the grid
. npts    - number of points
. pts     - their numbers j*nx + i, or NULL for all points in order (npts = nx*nt)
. nparams - number of parameters
- params  - the parameters (the same for every point)

  Output Parameter:
. X - row-major npts x (2 + nparams)

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeGridInputs(const DeepCDMoeGrid *g, PetscInt npts, const PetscInt pts[], PetscInt nparams, const PetscReal params[], PetscReal X[])
{
  const PetscInt d = 2 + nparams;

  PetscFunctionBegin;
  PetscCheck(pts || npts == g->nx * g->nt, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "moe grid inputs: %" PetscInt_FMT " points without a list, grid has %" PetscInt_FMT, npts, g->nx * g->nt);
  for (PetscInt k = 0; k < npts; k++) {
    DeepCDMoePoint pt;
    PetscReal     *x = X + k * d;

    PetscCall(DeepCDMoeGridPoint(g, pts ? pts[k] : k, &pt));
    x[0] = 2.0 * (pt.x - g->xlo) / (g->xhi - g->xlo) - 1.0;
    x[1] = 2.0 * (pt.t - g->t0) / (g->t1 - g->t0) - 1.0;
    for (PetscInt l = 0; l < nparams; l++) x[2 + l] = params[l];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
