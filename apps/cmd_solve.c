/* deepcd solve problem.h5 -o out.h5 [PETSc options] */
#include <libgen.h>
#include <unistd.h>
#include <deepcd.h>
#include "cli.h"

static const char help[] = "deepcd solve PROBLEM.h5 -o OUT.h5 [PETSc options]\n"
                           "Solves -div(k grad u) = rhs for a deepcd problem file on a DMDA and writes the solution.\n"
                           "The Krylov method defaults to -ksp_type deepcd; every KSP/PC option applies.\n\n";

/* The output's directory must be writable before any work is done. */
static PetscErrorCode check_output(const char path[])
{
  char dir[PETSC_MAX_PATH_LEN];

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(dir, path, sizeof(dir)));
  PetscCheck(access(dirname(dir), W_OK) == 0, PETSC_COMM_WORLD, PETSC_ERR_FILE_OPEN, "-o %s: the directory does not exist or is not writable", path);
  PetscFunctionReturn(0);
}

/* The command's own option (listed by -help). */
static PetscErrorCode get_output(char out[], size_t len, PetscBool *has)
{
  PetscFunctionBegin;
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "deepcd solve options", NULL);
  PetscCall(PetscOptionsString("-o", "Output solution file (HDF5; an .xmf file is written beside it)", NULL, out, out, len, has));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

/* The solver before the user's options: KSPDEEPCD with Jacobi, unpreconditioned norm. */
static PetscErrorCode set_defaults(KSP ksp)
{
  PC pc;

  PetscFunctionBegin;
  PetscCall(KSPSetType(ksp, KSPDEEPCD));
  PetscCall(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  PetscCall(KSPGetPC(ksp, &pc));
  PetscCall(PCSetType(pc, PCJACOBI));
  PetscFunctionReturn(0);
}

static PetscErrorCode run(const char problemfile[], PetscBool *failed)
{
  DeepCDProblem   p = NULL;
  Mat             A;
  Vec             b, x;
  KSP             ksp;
  char            out[PETSC_MAX_PATH_LEN] = "";
  PetscBool       hasout;
  DeepCDSolveInfo info;
  PetscInt        nfluid;
  PetscReal       bnorm;

  PetscFunctionBegin;
  PetscCall(get_output(out, sizeof(out), &hasout));
  PetscCheck(problemfile, PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "no problem file given (usage: deepcd solve PROBLEM.h5 -o OUT.h5 [PETSc options])");
  PetscCheck(hasout && out[0], PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "no output file given (-o OUT.h5)");
  PetscCall(check_output(out));

  PetscCall(DeepCDProblemLoad(PETSC_COMM_WORLD, problemfile, &p));
  PetscCall(DeepCDOperatorSetUp(p, &A, &b));
  PetscCall(VecDuplicate(b, &x));
  PetscCall(PetscObjectSetName((PetscObject) x, "x"));
  if (p->x0)
    PetscCall(VecCopy(p->x0, x));
  else
    PetscCall(VecSet(x, 0.0));

  PetscCall(KSPCreate(PETSC_COMM_WORLD, &ksp));
  PetscCall(KSPSetOperators(ksp, A, A));
  PetscCall(KSPSetDM(ksp, p->da)); /* geometric multigrid (-pc_type mg) can coarsen the grid */
  PetscCall(KSPSetDMActive(ksp, PETSC_FALSE));
  PetscCall(set_defaults(ksp));
  PetscCall(KSPSetInitialGuessNonzero(ksp, p->x0 ? PETSC_TRUE : PETSC_FALSE));
  PetscCall(KSPSetFromOptions(ksp));

  PetscCall(DeepCDSolveTimed(p, ksp, b, x, &info));
  PetscCall(DeepCDSolutionWrite(p, x, &info, out));

  {
    PetscScalar nsolid;

    PetscCall(VecSum(p->solid, &nsolid));
    nfluid = p->nx * p->ny * p->nz - (PetscInt) PetscRealPart(nsolid);
    PetscCall(VecNorm(b, NORM_2, &bnorm));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "deepcd solve: %s %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " (%" PetscInt_FMT " fluid cells): %s/%s %s in %" PetscInt_FMT " iterations, residual %.3e (relative %.3e), setup %.3f s, solve %.3f s -> %s\n", problemfile, p->nx, p->ny, p->nz,
                        nfluid, info.ksp_type, info.pc_type, KSPConvergedReasons[info.reason], info.iterations, (double) info.residual_norm, (double) (bnorm > 0 ? info.residual_norm / bnorm : 0), info.setup_seconds, info.solve_seconds, out));
  *failed = info.reason < 0 ? PETSC_TRUE : PETSC_FALSE;

  PetscCall(KSPDestroy(&ksp));
  PetscCall(VecDestroy(&x));
  PetscCall(VecDestroy(&b));
  PetscCall(MatDestroy(&A));
  PetscCall(DeepCDProblemDestroy(&p));
  PetscFunctionReturn(0);
}

int DeepCDCmdSolve(int argc, char **argv)
{
  const char    *problemfile = NULL;
  char         **pargv;
  int            pargc = 0;
  PetscErrorCode ierr;
  PetscBool      failed = PETSC_FALSE, helpflg = PETSC_FALSE;
  int            status;

  /* The problem file is the first argument after "solve"; PETSc sees the rest. */
  pargv = (char **) malloc((size_t) (argc + 1) * sizeof(char *));
  if (!pargv) return 1;
  pargv[pargc++] = argv[0];
  for (int i = 1; i < argc; i++) {
    if (i == 1 && argv[i][0] != '-')
      problemfile = argv[i];
    else
      pargv[pargc++] = argv[i];
  }
  pargv[pargc] = NULL;
  ierr         = DeepCDCLIInitialize(&pargc, &pargv, help);
  if (ierr) {
    fprintf(stderr, "deepcd solve: error: PETSc failed to start\n");
    return 1;
  }
  ierr = PetscOptionsHasHelp(NULL, &helpflg);
  if (!ierr && helpflg && !problemfile) {
    KSP       ksp;
    char      out[PETSC_MAX_PATH_LEN] = "";
    PetscBool hasout;

    /* list the options without a problem */
    ierr = get_output(out, sizeof(out), &hasout);
    if (!ierr) ierr = KSPCreate(PETSC_COMM_WORLD, &ksp);
    if (!ierr) ierr = set_defaults(ksp);
    if (!ierr) ierr = KSPSetFromOptions(ksp);
    if (!ierr) ierr = KSPDestroy(&ksp);
  } else if (!ierr)
    ierr = run(problemfile, &failed);
  status = DeepCDCLIFinalize(ierr ? DeepCDCLIFail("solve", ierr) : (failed ? 3 : 0));
  free(pargv);
  return status;
}
