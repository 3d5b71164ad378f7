/* The cell-centred finite-volume operator -div(k grad u) (docs/formats.md,
   "Discretisation"), assembled on the problem's DMDA. */
#include <petsc/private/petscimpl.h>
#include <deepcd/operator.h>
#include <deepcd/private/petsccompat.h>

/*@C
  DeepCDOperatorAssemble - Assembles the matrix A of a problem.

  Collective

  Input Parameter:
. p - the problem

  Output Parameter:
. A - the matrix (AIJ, 7-point, symmetric)

  Notes:
  For a fluid cell i, (A u)_i = sum over its faces of (k_f/h^2)(u_i - u_j) for
  a fluid neighbour j with k_f the harmonic mean of k_i and k_j; a face shared
  with a solid cell adds nothing; a wall face adds (2 k_i/h^2) u_i on a `D`
  wall and nothing on an `N` wall. Solid cells get identity rows.

  Level: intermediate

.seealso: `DeepCDOperatorSetUp()`
@*/
PetscErrorCode DeepCDOperatorAssemble(DeepCDProblem p, Mat *A)
{
  Vec                  lsolid, lk;
  const PetscScalar ***s, ***k;
  PetscInt             xs, ys, zs, xm, ym, zm;
  const PetscReal      ih2  = 1.0 / (p->h * p->h);
  const PetscInt       n[3] = { p->nx, p->ny, p->nz };

  PetscFunctionBegin;
  PetscAssertPointer(A, 2);
  PetscCall(DMCreateMatrix(p->da, A));
  PetscCall(MatSetOption(*A, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE));
  PetscCall(DMGetLocalVector(p->da, &lsolid));
  PetscCall(DMGetLocalVector(p->da, &lk));
  PetscCall(DMGlobalToLocal(p->da, p->solid, INSERT_VALUES, lsolid));
  PetscCall(DMGlobalToLocal(p->da, p->coefficient, INSERT_VALUES, lk));
  PetscCall(DMDAVecGetArrayRead(p->da, lsolid, &s));
  PetscCall(DMDAVecGetArrayRead(p->da, lk, &k));
  PetscCall(DMDAGetCorners(p->da, &xs, &ys, &zs, &xm, &ym, &zm));
  for (PetscInt kk = zs; kk < zs + zm; kk++) {
    for (PetscInt j = ys; j < ys + ym; j++) {
      for (PetscInt i = xs; i < xs + xm; i++) {
        MatStencil  row = { .k = kk, .j = j, .i = i }, col[7];
        PetscScalar val[7], diag = 0;
        PetscInt    nc = 1;

        if (PetscRealPart(s[kk][j][i]) != 0) {
          val[0] = 1.0;
          PetscCall(MatSetValuesStencil(*A, 1, &row, 1, &row, val, INSERT_VALUES));
          continue;
        }
        for (int d = 0; d < 3; d++) {
          for (int side = -1; side <= 1; side += 2) {
            PetscInt    c[3] = { i, j, kk };
            PetscScalar ki   = k[kk][j][i], kj, kf;

            c[d] += side;
            if (c[d] < 0 || c[d] >= n[d]) {
              if (p->boundary[2 * d + (side > 0)] == 'D') diag += 2.0 * ki * ih2;
              continue;
            }
            if (PetscRealPart(s[c[2]][c[1]][c[0]]) != 0) continue; /* no flux into solids */
            kj        = k[c[2]][c[1]][c[0]];
            kf        = 2.0 * ki * kj / (ki + kj);
            col[nc].i = c[0];
            col[nc].j = c[1];
            col[nc].k = c[2];
            val[nc++] = -kf * ih2;
            diag += kf * ih2;
          }
        }
        col[0] = row;
        val[0] = diag;
        PetscCall(MatSetValuesStencil(*A, 1, &row, nc, col, val, INSERT_VALUES));
      }
    }
  }
  PetscCall(DMDAVecRestoreArrayRead(p->da, lsolid, &s));
  PetscCall(DMDAVecRestoreArrayRead(p->da, lk, &k));
  PetscCall(DMRestoreLocalVector(p->da, &lsolid));
  PetscCall(DMRestoreLocalVector(p->da, &lk));
  PetscCall(MatAssemblyBegin(*A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(*A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatSetOption(*A, MAT_SYMMETRIC, PETSC_TRUE));
  PetscCall(MatSetOption(*A, MAT_SYMMETRY_ETERNAL, PETSC_TRUE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDOperatorNullSpace - The null space of A: one constant vector per
  fluid region that touches no Dirichlet wall.

  Collective

  Input Parameters:
+ p       - the problem
- regions - its fluid regions (DeepCDRegionsCompute())

  Output Parameter:
. nsp - the null space, or NULL when A is nonsingular

  Level: intermediate
@*/
PetscErrorCode DeepCDOperatorNullSpace(DeepCDProblem p, const DeepCDRegions *regions, MatNullSpace *nsp)
{
  Vec *v;

  PetscFunctionBegin;
  *nsp = NULL;
  if (!regions->nfloating) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(VecDuplicateVecs(p->rhs, regions->nfloating, &v));
  for (PetscInt f = 0; f < regions->nfloating; f++) {
    const PetscScalar *lab;
    PetscScalar       *a;
    PetscInt           n, r = regions->floating[f];

    PetscCall(VecGetLocalSize(v[f], &n));
    PetscCall(VecGetArrayRead(regions->label, &lab));
    PetscCall(VecGetArray(v[f], &a));
    /* disjoint supports: the basis is orthonormal after scaling */
    for (PetscInt c = 0; c < n; c++) a[c] = (PetscInt) PetscRealPart(lab[c]) == r ? 1.0 / PetscSqrtReal((PetscReal) regions->cells[r]) : 0.0;
    PetscCall(VecRestoreArray(v[f], &a));
    PetscCall(VecRestoreArrayRead(regions->label, &lab));
  }
  PetscCall(MatNullSpaceCreate(PetscObjectComm((PetscObject) p->da), PETSC_FALSE, regions->nfloating, v, nsp));
  PetscCall(VecDestroyVecs(regions->nfloating, &v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDOperatorSetUp - Assembles A, attaches its null space and returns a
  consistent right-hand side.

  Collective

  Input Parameter:
. p - the problem

  Output Parameters:
+ A - the operator, with MatSetNullSpace() set when some fluid region touches
      no Dirichlet wall
- b - a copy of the problem's right-hand side, made consistent (its component
      in the null space removed, with a warning giving the correction's size)

  Level: beginner

.seealso: `DeepCDOperatorAssemble()`, `DeepCDProblemFinishSolution()`
@*/
PetscErrorCode DeepCDOperatorSetUp(DeepCDProblem p, Mat *A, Vec *b)
{
  DeepCDRegions regions;
  MatNullSpace  nsp;

  PetscFunctionBegin;
  PetscCall(DeepCDOperatorAssemble(p, A));
  PetscCall(VecDuplicate(p->rhs, b));
  PetscCall(VecCopy(p->rhs, *b));
  PetscCall(PetscObjectSetName((PetscObject) *b, "rhs"));
  PetscCall(DeepCDRegionsCompute(p, &regions));
  PetscCall(DeepCDOperatorNullSpace(p, &regions, &nsp));
  if (nsp) {
    PetscReal before, after;
    Vec       c;

    PetscCall(MatSetNullSpace(*A, nsp));
    PetscCall(MatSetTransposeNullSpace(*A, nsp));
    PetscCall(VecDuplicate(*b, &c));
    PetscCall(VecCopy(*b, c));
    PetscCall(VecNorm(*b, NORM_2, &before));
    PetscCall(MatNullSpaceRemove(nsp, *b));
    PetscCall(VecAXPY(c, -1.0, *b));
    PetscCall(VecNorm(c, NORM_2, &after));
    PetscCall(VecDestroy(&c));
    PetscCall(PetscFPrintf(PetscObjectComm((PetscObject) p->da), PETSC_STDERR,
                           "deepcd: warning: %s: %" PetscInt_FMT " of %" PetscInt_FMT " fluid regions touch no Dirichlet wall; their constant null space is attached and the right-hand side was made consistent (correction norm %g, relative %g)\n",
                           p->filename, regions.nfloating, regions.nregions, (double) after, (double) (before > 0 ? after / before : 0)));
    PetscCall(MatNullSpaceDestroy(&nsp));
  }
  PetscCall(DeepCDRegionsDestroy(&regions));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDProblemFinishSolution - Puts a computed solution in its documented
  form: zero on solid cells and zero mean over each floating fluid region.

  Collective

  Input Parameters:
+ p - the problem
. A - its operator (from DeepCDOperatorSetUp())
- x - the solution, changed in place

  Level: beginner
@*/
PetscErrorCode DeepCDProblemFinishSolution(DeepCDProblem p, Mat A, Vec x)
{
  MatNullSpace nsp;
  Vec          fluid;

  PetscFunctionBegin;
  PetscCall(VecDuplicate(x, &fluid));
  PetscCall(VecSet(fluid, 1.0));
  PetscCall(VecAXPY(fluid, -1.0, p->solid));
  PetscCall(VecPointwiseMult(x, x, fluid));
  PetscCall(VecDestroy(&fluid));
  PetscCall(MatGetNullSpace(A, &nsp));
  if (nsp) PetscCall(MatNullSpaceRemove(nsp, x));
  PetscFunctionReturn(PETSC_SUCCESS);
}
