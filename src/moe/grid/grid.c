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
  g->nx       = nx;
  g->nt       = nt;
  g->xlo      = xlo;
  g->xhi      = xhi;
  g->t0       = t0;
  g->t1       = t1;
  g->hx       = (xhi - xlo) / (PetscReal) (nx - 1);
  g->ht       = (t1 - t0) / (PetscReal) (nt - 1);
  g->ny       = 1;
  g->ylo      = 0.0;
  g->yhi      = 0.0;
  g->hy       = 1.0;
  g->periodic = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeGridSetUpPeriodic2D - Fills a uniform grid with two space dimensions, periodic in x and y (the Navier-Stokes problem).

  Not Collective

  Input Parameters:
+ nx, ny, nt - points in x, y and t (each at least 4)
. xlo, xhi   - the period in x: x_i = xlo + i*hx, hx = (xhi - xlo)/nx (xhi itself is xlo again)
. ylo, yhi   - the period in y
- t0, t1     - the first and last time

  Output Parameter:
. g - the grid; point (i, k, j) is p = (j*ny + k)*nx + i

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeGridSetUpPeriodic2D(DeepCDMoeGrid *g, PetscInt nx, PetscInt ny, PetscInt nt, PetscReal xlo, PetscReal xhi, PetscReal ylo, PetscReal yhi, PetscReal t0, PetscReal t1)
{
  PetscFunctionBegin;
  PetscCall(DeepCDMoeGridSetUp(g, nx, nt, xlo, xhi, t0, t1));
  PetscCheck(ny >= 4, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe grid %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT ": need at least 4 points in y", nx, ny, nt);
  PetscCheck(yhi > ylo, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe grid: empty y interval [%g, %g]", (double) ylo, (double) yhi);
  g->ny       = ny;
  g->ylo      = ylo;
  g->yhi      = yhi;
  g->hx       = (xhi - xlo) / (PetscReal) nx;
  g->hy       = (yhi - ylo) / (PetscReal) ny;
  g->periodic = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeGridSize - The number of grid points nx*ny*nt.

  Not Collective

  Level: intermediate
@*/
PetscInt DeepCDMoeGridSize(const DeepCDMoeGrid *g)
{
  return g->nx * g->ny * g->nt;
}

/*@C
  DeepCDMoeGridPoint - The indices and coordinates of grid point p = (j*ny + k)*nx + i (j*nx + i on a 1-D grid).

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeGridPoint(const DeepCDMoeGrid *g, PetscInt p, DeepCDMoePoint *pt)
{
  PetscFunctionBegin;
  PetscCheck(p >= 0 && p < DeepCDMoeGridSize(g), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe grid point %" PetscInt_FMT " outside [0, %" PetscInt_FMT ")", p, DeepCDMoeGridSize(g));
  pt->i = p % g->nx;
  pt->k = (p / g->nx) % g->ny;
  pt->j = p / (g->nx * g->ny);
  pt->x = g->xlo + (PetscReal) pt->i * g->hx;
  pt->y = g->ylo + (PetscReal) pt->k * g->hy;
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

/* Periodic central differences along an axis of n points (index k, stride st in
   point numbers, spacing h): first (order 1) or second derivative (order 2). */
static void periodic(PetscInt order, PetscInt k, PetscInt n, PetscInt st, PetscReal h, PetscInt base, PetscInt *len, PetscInt idx[], PetscReal c[])
{
  const PetscInt km = (k + n - 1) % n, kp = (k + 1) % n;

  if (order == 1) {
    *len   = 2;
    idx[0] = base + km * st, idx[1] = base + kp * st;
    c[0] = -1.0 / (2.0 * h), c[1] = 1.0 / (2.0 * h);
  } else {
    *len   = 3;
    idx[0] = base + km * st, idx[1] = base + k * st, idx[2] = base + kp * st;
    c[0] = 1.0 / (h * h), c[1] = -2.0 / (h * h), c[2] = 1.0 / (h * h);
  }
}

/*@C
  DeepCDMoeGridStencilAt - The finite-difference stencil of one local quantity at grid point p.

  Not Collective

  Input Parameters:
+ g - the grid
. f - DEEPCD_MOE_U (the identity), DEEPCD_MOE_UT, DEEPCD_MOE_UX or DEEPCD_MOE_UXX; on a 2-D grid also DEEPCD_MOE_UY and DEEPCD_MOE_LAP
- p - the point number

  Output Parameters:
+ n    - number of stencil points (at most DEEPCD_MOE_MAX_STENCIL)
. idx  - their point numbers
- coef - their coefficients: (D_f u)(p) = sum_s coef[s] u[idx[s]]

  Notes:
  First derivatives are central, (u[k+1] - u[k-1]) / 2h, in the interior and
  (-3u[0] + 4u[1] - u[2]) / 2h (mirrored at the far end) at the ends. u_xx is
  (u[i-1] - 2u[i] + u[i+1]) / h^2 in the interior and (2u[0] - 5u[1] + 4u[2] - u[3]) / h^2
  at the ends. On a periodic 2-D grid the space derivatives are central
  everywhere (indices wrap around) and the Laplacian is the 5-point one.
  All are second order. The velocity fields are not stencils (DeepCDMoeGridVelocity()).

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeGridStencilAt(const DeepCDMoeGrid *g, DeepCDMoeField f, PetscInt p, PetscInt *n, PetscInt idx[], PetscReal coef[])
{
  PetscInt       off[DEEPCD_MOE_MAX_STENCIL];
  const PetscInt nx = g->nx, nxy = g->nx * g->ny;
  PetscInt       i, k, j;

  PetscFunctionBegin;
  PetscCheck(p >= 0 && p < DeepCDMoeGridSize(g), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe grid point %" PetscInt_FMT " outside [0, %" PetscInt_FMT ")", p, DeepCDMoeGridSize(g));
  i = p % nx, k = (p / nx) % g->ny, j = p / nxy;
  switch (f) {
  case DEEPCD_MOE_U:
    *n      = 1;
    idx[0]  = p;
    coef[0] = 1.0;
    break;
  case DEEPCD_MOE_UT:
    first(j, g->nt, g->ht, n, off, coef);
    for (PetscInt s = 0; s < *n; s++) idx[s] = p + off[s] * nxy;
    break;
  case DEEPCD_MOE_UX:
    if (g->periodic)
      periodic(1, i, nx, 1, g->hx, p - i, n, idx, coef);
    else {
      first(i, nx, g->hx, n, off, coef);
      for (PetscInt s = 0; s < *n; s++) idx[s] = p + off[s];
    }
    break;
  case DEEPCD_MOE_UXX:
    if (g->periodic)
      periodic(2, i, nx, 1, g->hx, p - i, n, idx, coef);
    else {
      const PetscReal s2 = 1.0 / (g->hx * g->hx);
      if (i == 0) {
        *n     = 4;
        off[0] = 0, off[1] = 1, off[2] = 2, off[3] = 3;
        coef[0] = 2.0 * s2, coef[1] = -5.0 * s2, coef[2] = 4.0 * s2, coef[3] = -1.0 * s2;
      } else if (i == nx - 1) {
        *n     = 4;
        off[0] = -3, off[1] = -2, off[2] = -1, off[3] = 0;
        coef[0] = -1.0 * s2, coef[1] = 4.0 * s2, coef[2] = -5.0 * s2, coef[3] = 2.0 * s2;
      } else {
        *n     = 3;
        off[0] = -1, off[1] = 0, off[2] = 1;
        coef[0] = s2, coef[1] = -2.0 * s2, coef[2] = s2;
      }
      for (PetscInt s = 0; s < *n; s++) idx[s] = p + off[s];
    }
    break;
  case DEEPCD_MOE_UY:
    PetscCheck(g->periodic, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "moe grid: u_y needs a periodic 2-D grid");
    periodic(1, k, g->ny, nx, g->hy, p - k * nx, n, idx, coef);
    break;
  case DEEPCD_MOE_LAP: {
    PetscInt  ny;
    PetscReal cy[3];

    PetscCheck(g->periodic, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "moe grid: the Laplacian needs a periodic 2-D grid");
    periodic(2, i, nx, 1, g->hx, p - i, n, idx, coef); /* idx[1] = p */
    periodic(2, k, g->ny, nx, g->hy, p - k * nx, &ny, off, cy);
    coef[1] += cy[1];
    idx[3] = off[0], coef[3] = cy[0];
    idx[4] = off[2], coef[4] = cy[2];
    *n = 5;
  } break;
  default:
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe grid: field %d is not a stencil", (int) f);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeGridStencil - The finite-difference stencil of one local quantity at point (i, j) of a 1-D grid (see DeepCDMoeGridStencilAt()).

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeGridStencil(const DeepCDMoeGrid *g, DeepCDMoeField f, PetscInt i, PetscInt j, PetscInt *n, PetscInt idx[], PetscReal coef[])
{
  PetscFunctionBegin;
  PetscCheck(g->ny == 1, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "moe grid: (i, j) stencils are for 1-D grids; use DeepCDMoeGridStencilAt()");
  PetscCheck(i >= 0 && i < g->nx && j >= 0 && j < g->nt, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe grid point (%" PetscInt_FMT ", %" PetscInt_FMT ") outside the grid", i, j);
  PetscCall(DeepCDMoeGridStencilAt(g, f, j * g->nx + i, n, idx, coef));
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
  for (PetscInt p = 0; p < DeepCDMoeGridSize(g); p++) {
    PetscInt   n, idx[DEEPCD_MOE_MAX_STENCIL];
    PetscReal  c[DEEPCD_MOE_MAX_STENCIL];
    PetscReal *d = DU + p * ncols;

    PetscCall(DeepCDMoeGridStencilAt(g, f, p, &n, idx, c));
    for (PetscInt col = 0; col < ncols; col++) d[col] = 0.0;
    for (PetscInt s = 0; s < n; s++) {
      const PetscReal *u = U + idx[s] * ncols;
      for (PetscInt col = 0; col < ncols; col++) d[col] += c[s] * u[col];
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeGridInputs - The basis network's inputs at grid points: (x, t) (on a 2-D grid (x, y, t)) mapped to [-1, 1], then the problem's parameters.

  Not Collective

  Input Parameters:
+ g       - the grid
. npts    - number of points
. pts     - their numbers j*nx + i, or NULL for all points in order (npts = nx*nt)
. nparams - number of parameters
- params  - the parameters (the same for every point)

  Output Parameter:
. X - row-major npts x (2 + nparams), on a 2-D grid npts x (3 + nparams)

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeGridInputs(const DeepCDMoeGrid *g, PetscInt npts, const PetscInt pts[], PetscInt nparams, const PetscReal params[], PetscReal X[])
{
  const PetscInt sd = g->ny > 1 ? 3 : 2, d = sd + nparams;

  PetscFunctionBegin;
  PetscCheck(pts || npts == DeepCDMoeGridSize(g), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "moe grid inputs: %" PetscInt_FMT " points without a list, grid has %" PetscInt_FMT, npts, DeepCDMoeGridSize(g));
  for (PetscInt k = 0; k < npts; k++) {
    DeepCDMoePoint pt;
    PetscReal     *x = X + k * d;

    PetscCall(DeepCDMoeGridPoint(g, pts ? pts[k] : k, &pt));
    x[0] = 2.0 * (pt.x - g->xlo) / (g->xhi - g->xlo) - 1.0;
    if (sd == 3) x[1] = 2.0 * (pt.y - g->ylo) / (g->yhi - g->ylo) - 1.0;
    x[sd - 1] = 2.0 * (pt.t - g->t0) / (g->t1 - g->t0) - 1.0;
    for (PetscInt l = 0; l < nparams; l++) x[sd + l] = params[l];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
