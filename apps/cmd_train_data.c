/* deepcd train-data PROBLEM.h5 [PROBLEM2.h5 ...] -o data.h5 [-nev K] [-samples S] [-low L] [-seed K] [SLEPc/PETSc options] */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <unistd.h>
#include <slepceps.h>
#include <deepcd.h>
#include <deepcd/train_data.h>
#include "cli.h"
#include <deepcd/private/petsccompat.h>

static const char help[] = "deepcd train-data PROBLEM.h5 [PROBLEM2.h5 ...] -o DATA.h5 [-nev K] [-samples S] [-low L] [-seed N] [SLEPc/PETSc options]\n"
                           "Computes the K smallest Ritz pairs of each problem's operator on its fluid cells (SLEPc EPS, Krylov-Schur;\n"
                           "-eps_* options apply) and S unit right-hand sides per problem, the lowest L modes weighted 9x.\n\n";

static PetscErrorCode get_options(char out[], size_t len, PetscBool *hasout, DeepCDTrainDataOptions *o)
{
  char      seed[64] = "0";
  PetscBool set;

  PetscFunctionBegin;
  o->nev      = 32;
  o->samples  = 100;
  o->low      = -1;
  o->seed     = 0;
  o->progress = PETSC_TRUE;
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "deepcd train-data options", NULL);
  PetscCall(PetscOptionsString("-o", "Output training data file (HDF5)", NULL, out, out, len, hasout));
  PetscCall(PetscOptionsInt("-nev", "Ritz vectors per problem (K)", NULL, o->nev, &o->nev, NULL));
  PetscCall(PetscOptionsInt("-samples", "Right-hand sides per problem (S)", NULL, o->samples, &o->samples, NULL));
  PetscCall(PetscOptionsInt("-low", "Modes weighted 9x (L; default K/2 + ceil(K/20))", NULL, o->low, &o->low, &set));
  PetscCall(PetscOptionsString("-seed", "Seed of the right-hand sides' coefficients", NULL, seed, seed, sizeof(seed), NULL));
  PetscCall(PetscOptionsBool("-progress", "Print one line per problem and stage", NULL, o->progress, &o->progress, NULL));
  PetscOptionsEnd();
  {
    char              *end = NULL;
    unsigned long long v;

    errno = 0;
    v     = strtoull(seed, &end, 10);
    PetscCheck(end != seed && !*end && seed[0] != '-' && !errno, PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "option -seed: '%s' is not a non-negative integer", seed);
    o->seed = (unsigned long) v;
  }
  PetscCheck(o->nev >= 1, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-nev must be at least 1 (got %" PetscInt_FMT ")", o->nev);
  PetscCheck(o->samples >= 1, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-samples must be at least 1 (got %" PetscInt_FMT ")", o->samples);
  PetscCheck(!set || (o->low >= 0 && o->low <= o->nev), PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-low must be between 0 and -nev %" PetscInt_FMT " (got %" PetscInt_FMT ")", o->nev, o->low);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode run(int n, const char *const files[])
{
  char                   out[PETSC_MAX_PATH_LEN] = "";
  PetscBool              hasout;
  DeepCDTrainDataOptions o;
  PetscLogDouble         t0, t1;

  PetscFunctionBegin;
  {
    const char *const ints[] = { "-nev", "-samples", "-low" };

    PetscCall(DeepCDCLICheckIntegerOptions(PETSC_COMM_WORLD, ints, 3));
  }
  PetscCall(get_options(out, sizeof(out), &hasout, &o));
  PetscCheck(n > 0, PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "no problem file given (usage: deepcd train-data PROBLEM.h5 [...] -o DATA.h5)");
  PetscCheck(hasout && out[0], PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "no output file given (-o DATA.h5)");
  for (int i = 0; i < n; i++) PetscCheck(access(files[i], R_OK) == 0, PETSC_COMM_WORLD, PETSC_ERR_FILE_OPEN, "%s: cannot open the problem file", files[i]);
  PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_WORLD, "-o", out));
  PetscCall(DeepCDCLICheckNotInput(PETSC_COMM_WORLD, "-o", out, out, n, files, "problem file"));
  PetscCall(PetscTime(&t0));
  PetscCall(DeepCDTrainDataWrite(PETSC_COMM_WORLD, n, files, &o, out));
  PetscCall(PetscTime(&t1));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "deepcd train-data: %d problems, %" PetscInt_FMT " Ritz vectors and %" PetscInt_FMT " right-hand sides each, in %.2f s -> %s\n", n, o.nev, o.samples, (double) (t1 - t0), out));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int DeepCDCmdTrainData(int argc, char **argv)
{
  const char   **files;
  char         **pargv;
  int            pargc = 0, nfiles = 0, status;
  PetscErrorCode ierr;
  PetscBool      helpflg = PETSC_FALSE, slepc = PETSC_FALSE;

  /* The problem files are the arguments before the first option; PETSc sees the rest. */
  pargv = (char **) malloc((size_t) (argc + 1) * sizeof(char *));
  files = (const char **) malloc((size_t) (argc + 1) * sizeof(char *));
  if (!pargv || !files) return 1;
  pargv[pargc++] = argv[0];
  for (int i = 1; i < argc; i++) {
    if (pargc == 1 && argv[i][0] != '-')
      files[nfiles++] = argv[i];
    else
      pargv[pargc++] = argv[i];
  }
  pargv[pargc] = NULL;
  ierr         = DeepCDCLIInitialize(&pargc, &pargv, help);
  if (ierr) {
    fprintf(stderr, "deepcd train-data: error: PETSc failed to start\n");
    return 1;
  }
  /* SLEPc after PETSc: SlepcFinalize() below then finalises SLEPc only */
  ierr = SlepcInitialize(&pargc, &pargv, NULL, NULL);
  if (!ierr) slepc = PETSC_TRUE;
  if (!ierr) ierr = PetscOptionsHasHelp(NULL, &helpflg);
  if (!ierr && helpflg && !nfiles) {
    char                   out[PETSC_MAX_PATH_LEN] = "";
    PetscBool              hasout;
    DeepCDTrainDataOptions o;

    EPS eps;

    /* list the options without a problem */
    (void) get_options(out, sizeof(out), &hasout, &o);
    ierr = EPSCreate(PETSC_COMM_WORLD, &eps);
    if (!ierr) ierr = EPSSetType(eps, EPSKRYLOVSCHUR);
    if (!ierr) { /* the defaults of DeepCDRitzCompute() */
      ST  st;
      KSP ksp;
      PC  pc;

      ierr = EPSGetST(eps, &st);
      if (!ierr) ierr = STSetType(st, STSINVERT);
      if (!ierr) ierr = STGetKSP(st, &ksp);
      if (!ierr) ierr = KSPSetType(ksp, KSPCG);
      if (!ierr) ierr = KSPGetPC(ksp, &pc);
      if (!ierr) ierr = PCSetType(pc, PCGAMG);
      if (!ierr) ierr = EPSSetTarget(eps, 0.0);
      if (!ierr) ierr = EPSSetWhichEigenpairs(eps, EPS_TARGET_MAGNITUDE);
    }
    if (!ierr) ierr = EPSSetFromOptions(eps);
    if (!ierr) ierr = EPSDestroy(&eps);
  } else if (!ierr)
    ierr = run(nfiles, files);
  if (!ierr && !helpflg) ierr = DeepCDCLIWarnUnusedOptions("train-data");
  status = ierr ? DeepCDCLIFail("train-data", ierr) : 0;
  if (slepc && SlepcFinalize() && !status) status = 1;
  status = DeepCDCLIFinalize(status);
  free(pargv);
  free(files);
  return status;
}
