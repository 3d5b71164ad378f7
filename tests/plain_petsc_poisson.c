/* A plain PETSc program that knows nothing of deepcd: a 7-point Poisson
   problem on a 3-D DMDA solved with whatever -ksp_type is given. The tests
   load deepcd into it with -dll_append (or PETSC_OPTIONS) and check that
   -ksp_type deepcd solves it. */
#include <petscdmda.h>
#include <petscksp.h>

int main(int argc, char **argv)
{
  DM          da;
  Mat         A;
  Vec         x, b, xexact;
  KSP         ksp;
  PetscInt    xs, ys, zs, xm, ym, zm, n = 16;
  PetscReal   err, nrm;
  KSPType     type;
  PetscRandom rnd;

  PetscCall(PetscInitialize(&argc, &argv, NULL, "plain PETSc Poisson solve (deepcd plugin test)\n"));
  PetscCall(DMDACreate3d(PETSC_COMM_WORLD, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, n, n, n, PETSC_DECIDE, PETSC_DECIDE, PETSC_DECIDE, 1, 1, NULL, NULL, NULL, &da));
  PetscCall(DMSetUp(da));
  PetscCall(DMCreateMatrix(da, &A));
  PetscCall(DMDAGetCorners(da, &xs, &ys, &zs, &xm, &ym, &zm));
  for (PetscInt k = zs; k < zs + zm; k++)
    for (PetscInt j = ys; j < ys + ym; j++)
      for (PetscInt i = xs; i < xs + xm; i++) {
        MatStencil  row = { .k = k, .j = j, .i = i }, col[7];
        PetscScalar v[7];
        PetscInt    c = 0;

        col[c] = row;
        v[c++] = 6.0;
        if (i > 0) {
          col[c]   = row;
          col[c].i = i - 1;
          v[c++]   = -1.0;
        }
        if (i < n - 1) {
          col[c]   = row;
          col[c].i = i + 1;
          v[c++]   = -1.0;
        }
        if (j > 0) {
          col[c]   = row;
          col[c].j = j - 1;
          v[c++]   = -1.0;
        }
        if (j < n - 1) {
          col[c]   = row;
          col[c].j = j + 1;
          v[c++]   = -1.0;
        }
        if (k > 0) {
          col[c]   = row;
          col[c].k = k - 1;
          v[c++]   = -1.0;
        }
        if (k < n - 1) {
          col[c]   = row;
          col[c].k = k + 1;
          v[c++]   = -1.0;
        }
        PetscCall(MatSetValuesStencil(A, 1, &row, c, col, v, INSERT_VALUES));
      }
  PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  PetscCall(DMCreateGlobalVector(da, &x));
  PetscCall(VecDuplicate(x, &b));
  PetscCall(VecDuplicate(x, &xexact));
  PetscCall(PetscRandomCreate(PETSC_COMM_WORLD, &rnd));
  PetscCall(VecSetRandom(xexact, rnd));
  PetscCall(PetscRandomDestroy(&rnd));
  PetscCall(MatMult(A, xexact, b));

  PetscCall(KSPCreate(PETSC_COMM_WORLD, &ksp));
  PetscCall(KSPSetOperators(ksp, A, A));
  PetscCall(KSPSetTolerances(ksp, 1e-10, PETSC_DEFAULT, PETSC_DEFAULT, 1000));
  PetscCall(KSPSetFromOptions(ksp));
  PetscCall(KSPSolve(ksp, b, x));
  PetscCall(KSPGetType(ksp, &type));
  PetscCall(VecAXPY(x, -1.0, xexact));
  PetscCall(VecNorm(x, NORM_2, &err));
  PetscCall(VecNorm(xexact, NORM_2, &nrm));
  err /= nrm;
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "deepcd plugin check: ksp type %s, error %g %s\n", type, (double) err, err < 1e-5 ? "OK" : "FAIL"));

  PetscCall(KSPDestroy(&ksp));
  PetscCall(VecDestroy(&x));
  PetscCall(VecDestroy(&b));
  PetscCall(VecDestroy(&xexact));
  PetscCall(MatDestroy(&A));
  PetscCall(DMDestroy(&da));
  PetscCall(PetscFinalize());
  return err < 1e-5 ? 0 : 1;
}
