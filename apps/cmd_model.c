/* deepcd model: writes a freshly initialised CNN model file, or summarises one (docs/options.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <deepcd.h>
#include <deepcd/model_io.h>
#include "cli.h"
#include <deepcd/private/petsccompat.h>

static const char help[] = "deepcd model: CNN model files (try 'deepcd model --help').\n";

static void ModelUsage(FILE *f)
{
  fprintf(f, "usage: deepcd model init --arch A [--seed K] -o FILE\n"
             "       deepcd model info FILE\n"
             "\n"
             "CNN model files (HDF5, docs/formats.md).\n"
             "\n"
             "subcommands:\n"
             "  init                 writes the DCDM network A with He-initialised weights\n"
             "                       and zero biases (an untrained model)\n"
             "  info                 prints a summary: layers, parameters, cost, training record\n"
             "\n"
             "options of init:\n"
             "  --arch A             from64 or from128 (required)\n"
             "  --seed K             seed of the He initialisation (default 0, at most 2^64-1);\n"
             "                       the same seed gives the same file\n"
             "  -o, --output FILE    the file to write (required; replaced if it exists)\n"
             "\n"
             "  -h, --help           prints this message\n");
}

typedef struct {
  const char *sub, *arch, *seed, *output, *file;
} ModelArgs;

/* Splits argv without PETSc (it is not started yet). Returns 1 when help was
   asked for; puts a syntax error's text in err. */
static int ModelParseArgs(int argc, char **argv, ModelArgs *a, char err[], size_t lerr)
{
  const DeepCDCLIOption opts[] = {
    { "--arch", &a->arch, NULL },
    { "--seed", &a->seed, NULL },
    { "-o", &a->output, NULL },
    { "--output", &a->output, NULL },
  };
  const char *pos[2] = { NULL, NULL };
  int         npos;

  *a = (ModelArgs){ NULL };
  if (DeepCDCLIParseArgs(argc, argv, "model", opts, (int) (sizeof(opts) / sizeof(opts[0])), pos, 2, &npos, err, lerr)) return 1;
  a->sub  = pos[0];
  a->file = pos[1];
  if (err[0]) return 0;
  if (!a->sub)
    snprintf(err, lerr, "missing subcommand: init or info (try 'deepcd model --help')");
  else if (!strcmp(a->sub, "init")) {
    if (a->file)
      snprintf(err, lerr, "unexpected argument '%s' (usage: deepcd model init --arch A [--seed K] -o FILE)", a->file);
    else if (!a->arch)
      snprintf(err, lerr, "missing --arch A (from64 or from128)");
    else if (!a->output)
      snprintf(err, lerr, "missing -o FILE (the model file to write)");
  } else if (!strcmp(a->sub, "info")) {
    if (a->arch || a->seed || a->output)
      snprintf(err, lerr, "option %s is not used by 'deepcd model info' (usage: deepcd model info FILE)", a->arch ? "--arch" : a->seed ? "--seed"
                                                                                                                                       : "-o");
    else if (!a->file)
      snprintf(err, lerr, "missing the model file (usage: deepcd model info FILE)");
  } else
    snprintf(err, lerr, "unknown subcommand '%s' (init or info; try 'deepcd model --help')", a->sub);
  return 0;
}

static PetscErrorCode ModelParseSeed(const char text[], uint64_t *seed)
{
  char              *end = NULL;
  unsigned long long v;

  PetscFunctionBegin;
  errno = 0;
  v     = strtoull(text, &end, 10);
  PetscCheck(text[0] >= '0' && text[0] <= '9' && end != text && !*end, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --seed: '%s' is not a non-negative integer", text);
  PetscCheck(errno != ERANGE, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --seed: %s is too large (at most %llu)", text, (unsigned long long) UINT64_MAX);
  *seed = (uint64_t) v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Every process checks the options and builds the model; process 0 writes it. */
static PetscErrorCode ModelInit(const ModelArgs *a)
{
  nn_model      *m    = NULL;
  uint64_t       seed = 0;
  PetscMPIInt    rank;
  PetscErrorCode ierr = 0;

  PetscFunctionBegin;
  if (a->seed) PetscCall(ModelParseSeed(a->seed, &seed));
  PetscCheck(nn_model_create_arch(a->arch, &m) == NN_SUCCESS, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --arch: %s", nn_error_message());
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  if (!rank) {
    if (nn_model_init_he(m, seed) != NN_SUCCESS) ierr = PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_LIB, PETSC_ERROR_INITIAL, "%s", nn_error_message());
    if (!ierr) ierr = DeepCDModelWrite(m, a->output);
    if (!ierr) {
      printf("deepcd model: wrote %s (%s, %zu parameters, He init seed %llu)\n", a->output, m->arch, m->nparams, (unsigned long long) seed);
      fflush(stdout);
    }
  }
  nn_model_destroy(&m);
  /* the others learn how it went */
  PetscCall(DeepCDCLIShareStatus(ierr));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ModelInfo(const ModelArgs *a)
{
  nn_model      *m = NULL;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(DeepCDModelRead(PETSC_COMM_WORLD, a->file, &m));
  ierr = DeepCDModelView(m, PETSC_VIEWER_STDOUT_WORLD);
  nn_model_destroy(&m);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int DeepCDCmdModel(int argc, char **argv)
{
  ModelArgs      args;
  char           syntax[PETSC_MAX_PATH_LEN + 128];
  char          *pargvbuf[2] = { argv[0], NULL };
  char         **pargv       = pargvbuf;
  int            pargc = 1, status = 0;
  PetscErrorCode ierr;

  if (ModelParseArgs(argc, argv, &args, syntax, sizeof(syntax))) {
    ModelUsage(stdout);
    return 0;
  }
  /* PETSc sees none of our --options (it would complain about them). */
  ierr = DeepCDCLIInitialize(&pargc, &pargv, help);
  if (ierr) return DeepCDCLIFinalize(DeepCDCLIFail("model", ierr));
  if (syntax[0])
    ierr = PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_ARG_WRONG, PETSC_ERROR_INITIAL, "%s", syntax);
  else if (!strcmp(args.sub, "init"))
    ierr = ModelInit(&args);
  else
    ierr = ModelInfo(&args);
  if (ierr) status = DeepCDCLIFail("model", ierr);
  return DeepCDCLIFinalize(status);
}
