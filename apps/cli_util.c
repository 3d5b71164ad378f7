/* Shared plumbing of the deepcd subcommands: start-up and one-line errors. */
#include <errno.h>
#include <libgen.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <deepcd.h>
#include "cli.h"
#include <deepcd/private/petsccompat.h>

PetscErrorCode DeepCDCLIInitialize(int *argc, char ***argv, const char help[])
{
  PetscCall(PetscInitialize(argc, argv, NULL, help));
  /* Errors come back to the command, which prints one line for them. */
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  PetscCall(DeepCDInitializePackage());
  return 0;
}

int DeepCDCLIFinalize(int status)
{
  PetscBool initialized = PETSC_FALSE;

  if (PetscInitialized(&initialized) || !initialized) return status;
  (void) PetscPopErrorHandler(); /* pushed by DeepCDCLIInitialize() */
  if (PetscFinalize()) return status ? status : 1;
  return status;
}

int DeepCDCLIFail(const char cmd[], PetscErrorCode ierr)
{
  const char     *text     = NULL;
  DeepCDErrorText specific = NULL;
  PetscMPIInt rank = 0, initialized = 0;

  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PetscErrorMessage(ierr, &text, &specific);
  if (!rank) {
    if (specific && specific[0])
      fprintf(stderr, "deepcd %s: error: %s\n", cmd, specific);
    else
      fprintf(stderr, "deepcd %s: error: %s\n", cmd, text ? text : "unknown error");
  }
  return 1;
}

PetscErrorCode DeepCDCLIParseInt(const char cmd[], const char opt[], const char text[], PetscInt *value)
{
  char *end = NULL;
  long  v;

  PetscFunctionBegin;
  PetscCheck(text, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option %s needs a value", opt);
  errno = 0;
  v     = strtol(text, &end, 10);
  PetscCheck(end != text && !*end && v >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option %s: '%s' is not a non-negative integer", opt, text);
  PetscCheck(!errno && v <= PETSC_MAX_INT, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option %s: %s is too large (at most %d)", opt, text, (int) PETSC_MAX_INT);
  *value = (PetscInt) v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

int DeepCDCLIParseArgs(int argc, char **argv, const char cmd[], const DeepCDCLIOption opts[], int nopts, const char *pos[], int maxpos, int *npos, char err[], size_t lerr)
{
  *npos  = 0;
  err[0] = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg   = argv[i];
    int         found = 0;

    if (!strcmp(arg, "-h") || !strcmp(arg, "--help") || !strcmp(arg, "-help")) return 1;
    if (err[0]) continue; /* keep looking for a help request only */
    for (int o = 0; o < nopts && !found; o++) {
      if (strcmp(arg, opts[o].name)) continue;
      found = 1;
      if (!opts[o].value)
        *opts[o].flag = 1;
      else if (i + 1 >= argc)
        snprintf(err, lerr, "option %s needs a value", arg);
      else
        *opts[o].value = argv[++i];
    }
    if (found) continue;
    if (arg[0] == '-' && arg[1])
      snprintf(err, lerr, "unknown option '%s' (try 'deepcd %s --help')", arg, cmd);
    else if (*npos < maxpos)
      pos[(*npos)++] = arg;
    else
      snprintf(err, lerr, "unexpected argument '%s' (try 'deepcd %s --help')", arg, cmd);
  }
  return 0;
}

PetscErrorCode DeepCDCLIShareStatus(PetscErrorCode ierr)
{
  int code = (int) ierr;

  if (MPI_Bcast(&code, 1, MPI_INT, 0, PETSC_COMM_WORLD) != MPI_SUCCESS) return PETSC_ERR_MPI;
  return (PetscErrorCode) code;
}

PetscErrorCode DeepCDCLIParseReal(const char cmd[], const char opt[], const char text[], PetscReal *value)
{
  char  *end = NULL;
  double v;

  PetscFunctionBegin;
  PetscCheck(text, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option %s needs a value", opt);
  errno = 0;
  v     = strtod(text, &end);
  PetscCheck(end != text && !*end && !errno && isfinite(v), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option %s: '%s' is not a finite number", opt, text);
  *value = (PetscReal) v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDCLICheckOutputDir(MPI_Comm comm, const char opt[], const char path[])
{
  char dir[PETSC_MAX_PATH_LEN];

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(dir, path, sizeof(dir)));
  PetscCheck(access(dirname(dir), W_OK) == 0, comm, PETSC_ERR_FILE_OPEN, "%s %s: the directory does not exist or is not writable", opt, path);
  PetscFunctionReturn(PETSC_SUCCESS);
}
