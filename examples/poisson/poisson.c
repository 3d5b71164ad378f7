/* examples/poisson: using deepcd from C.

   Loads a problem file, solves it with KSPDEEPCD (or any KSP chosen on the
   command line) and writes the solution file plus the residual history as a
   two-column text file for gnuplot.

     poisson -problem PROBLEM.h5 -o OUT.h5 -residuals OUT.dat [PETSc options]
*/
#include <deepcd.h>

static const char help[] = "Solves a deepcd problem file with KSPDEEPCD through the C API.\n"
                           "  -o OUT.h5          solution file\n"
                           "  -residuals OUT.dat residual history (iteration, ||r||/||b||)\n\n";

int main(int argc, char **argv)
{
  DeepCDProblem   p;
  Mat             A;
  Vec             b, x;
  KSP             ksp;
  PC              pc;
  char            file[PETSC_MAX_PATH_LEN], out[PETSC_MAX_PATH_LEN], hist[PETSC_MAX_PATH_LEN];
  PetscBool       flg;
  DeepCDSolveInfo info;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(DeepCDInitializePackage()); /* registers -ksp_type deepcd */
  PetscCall(PetscOptionsGetString(NULL, NULL, "-problem", file, sizeof(file), &flg));
  PetscCheck(flg, PETSC_COMM_WORLD, PETSC_ERR_USER, "give the problem file with -problem FILE.h5");
  PetscCall(PetscOptionsGetString(NULL, NULL, "-o", out, sizeof(out), &flg));
  PetscCheck(flg, PETSC_COMM_WORLD, PETSC_ERR_USER, "give the output file with -o OUT.h5");
  PetscCall(PetscOptionsGetString(NULL, NULL, "-residuals", hist, sizeof(hist), &flg));
  if (!flg) hist[0] = 0;

  /* problem -> operator (with null space where needed) and consistent rhs */
  PetscCall(DeepCDProblemLoad(PETSC_COMM_WORLD, file, &p));
  PetscCall(DeepCDOperatorSetUp(p, &A, &b));
  PetscCall(VecDuplicate(b, &x));

  PetscCall(KSPCreate(PETSC_COMM_WORLD, &ksp));
  PetscCall(KSPSetOperators(ksp, A, A));
  /* the grid, for the cnn generator (-ksp_deepcd_model) and -pc_type mg; the
     operator is ours, not the DM's */
  PetscCall(KSPSetDM(ksp, p->da));
#if PETSC_VERSION_LT(3, 26, 0)
  PetscCall(KSPSetDMActive(ksp, PETSC_FALSE));
#else
  PetscCall(KSPSetDMActive(ksp, KSP_DMACTIVE_ALL, PETSC_FALSE));
#endif
  PetscCall(KSPSetType(ksp, KSPDEEPCD));
  PetscCall(KSPDeepCDSetDirections(ksp, 2));
  PetscCall(KSPGetPC(ksp, &pc));
  PetscCall(PCSetType(pc, PCJACOBI));
  PetscCall(KSPSetTolerances(ksp, 1e-6, PETSC_DEFAULT, PETSC_DEFAULT, 10000));
  PetscCall(KSPSetFromOptions(ksp));

  PetscCall(DeepCDSolveTimed(p, ksp, b, x, &info));
  PetscCall(DeepCDSolutionWrite(p, x, &info, out));
  if (hist[0]) {
    FILE *f;

    PetscCall(PetscFOpen(PETSC_COMM_WORLD, hist, "w", &f));
    PetscCall(PetscFPrintf(PETSC_COMM_WORLD, f, "# %s/%s on %s: iteration, relative residual, seconds per iteration %g\n", info.ksp_type, info.pc_type, file, info.nhistory > 1 ? info.solve_seconds / (info.nhistory - 1) : 0.0));
    for (PetscInt i = 0; i < info.nhistory; i++) PetscCall(PetscFPrintf(PETSC_COMM_WORLD, f, "%" PetscInt_FMT " %.6e\n", i, (double) (info.history[i] / info.history[0])));
    PetscCall(PetscFClose(PETSC_COMM_WORLD, f));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%-8s %-8s %5" PetscInt_FMT " iterations  %-18s setup %7.3f s  solve %7.3f s\n", info.ksp_type, info.pc_type, info.iterations, KSPConvergedReasons[info.reason], info.setup_seconds, info.solve_seconds));

  PetscCall(KSPDestroy(&ksp));
  PetscCall(VecDestroy(&x));
  PetscCall(VecDestroy(&b));
  PetscCall(MatDestroy(&A));
  PetscCall(DeepCDProblemDestroy(&p));
  PetscCall(PetscFinalize());
  return 0;
}
