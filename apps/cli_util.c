/* Shared plumbing of the deepcd subcommands: start-up and one-line errors. */
#include <errno.h>
#include <ctype.h>
#include <sys/stat.h>
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

void DeepCDCLIErrorText(PetscErrorCode ierr, char buf[], size_t len)
{
  const char     *text     = NULL;
  DeepCDErrorText specific = NULL;

  PetscErrorMessage(ierr, &text, &specific);
  /* PETSc's message for a failed allocation is only a function name (VecCreate_Seq, DMSetUp_DA_3D) */
  if (DeepCDErrorIsBare(ierr))
    snprintf(buf, len, "%s%s%s: most likely the input is too large for the memory of this run; run on more ranks (mpiexec -n R) or use a smaller problem", ierr == PETSC_ERR_MEM ? "out of memory" : "PETSc failed without a message", specific && specific[0] ? " in " : "", specific && specific[0] ? specific : "");
  else
    snprintf(buf, len, "%s", specific && specific[0] ? specific : (text ? text : "unknown error"));
}

int DeepCDCLIFail(const char cmd[], PetscErrorCode ierr)
{
  char        msg[1024];
  PetscMPIInt rank = 0, initialized = 0;

  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  DeepCDCLIErrorText(ierr, msg, sizeof(msg));
  if (!rank) fprintf(stderr, "deepcd %s: error: %s\n", cmd, msg);
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

int DeepCDCLISplitFirst(int argc, char **argv, const char **first, int *pargc, char ***pargv)
{
  char **v = (char **) malloc((size_t) (argc + 1) * sizeof(char *));
  int    n = 0;

  *first = NULL;
  *pargv = v;
  *pargc = 0;
  if (!v) return 1;
  v[n++] = argv[0];
  for (int i = 1; i < argc; i++) {
    if (i == 1 && argv[i][0] != '-')
      *first = argv[i];
    else
      v[n++] = argv[i];
  }
  v[n]   = NULL;
  *pargc = n;
  return 0;
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
  {
    struct stat st;

    /* an existing directory of that name cannot be replaced by the file */
    PetscCheck(stat(path, &st) || !S_ISDIR(st.st_mode), comm, PETSC_ERR_FILE_OPEN, "%s %s: is a directory; name the output file", opt, path);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDCLICheckNotInput(MPI_Comm comm, const char opt[], const char out[], const char written[], int nin, const char *const in[], const char kind[])
{
  struct stat sw, si;

  PetscFunctionBegin;
  if (stat(written, &sw)) PetscFunctionReturn(PETSC_SUCCESS); /* a new file is no input */
  for (int i = 0; i < nin; i++) {
    if (!in[i] || stat(in[i], &si) || si.st_dev != sw.st_dev || si.st_ino != sw.st_ino) continue;
    if (written == out || !strcmp(written, out)) SETERRQ(comm, PETSC_ERR_ARG_WRONG, "%s %s: it is the %s %s (writing it would destroy the input); choose another name", opt, out, kind, in[i]);
    SETERRQ(comm, PETSC_ERR_ARG_WRONG, "%s %s: its XDMF file %s is the %s %s (writing it would destroy the input); choose another name", opt, out, written, kind, in[i]);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* NAME (without its dash) is NEEDLE or ends with _NEEDLE */
static int option_matches(const char name[], const char needle[])
{
  size_t ln = strlen(name), lk = strlen(needle);

  if (ln == lk) return !strcmp(name, needle);
  return ln > lk && name[ln - lk - 1] == '_' && !strcmp(name + ln - lk, needle);
}

PetscErrorCode DeepCDCLICheckIntegerOptions(MPI_Comm comm, const char *const names[], int n)
{
  /* integer options of PETSc, SLEPc and deepcd, with any prefix (-st_ksp_max_it, -mg_levels_ksp_max_it, -sub_ksp_deepcd_directions) */
  static const char *const known[] = { "max_it", "nev", "ncv", "mpd", "restart", "levels", "ksp_deepcd_directions", "ksp_deepcd_smooth", "ksp_deepcd_stagnation_window", "ksp_deepcd_true_residual", "moe_points", "moe_seed" };
  PetscInt                 N;
  char                   **onames, **ovalues;
  PetscErrorCode           ierr = PETSC_SUCCESS;

  PetscFunctionBegin;
  PetscCall(PetscOptionsLeftGet(NULL, &N, &onames, &ovalues));
  for (PetscInt i = 0; i < N && !ierr; i++) {
    const char *v     = ovalues[i], *d;
    int         isint = 0;
    char       *end   = NULL;
    long long   x;

    for (size_t k = 0; k < sizeof(known) / sizeof(known[0]) && !isint; k++) isint = option_matches(onames[i], known[k]);
    for (int k = 0; k < n && !isint; k++) isint = !strcmp(onames[i], names[k][0] == '-' ? names[k] + 1 : names[k]);
    if (!isint || !v) continue;
    /* only integer literals: PETSc reports other text itself */
    d = v + (v[0] == '-' || v[0] == '+');
    if (!isdigit((unsigned char) *d)) continue;
    while (isdigit((unsigned char) *d)) d++;
    if (*d) continue;
    errno = 0;
    x     = strtoll(v, &end, 10);
    if (errno == ERANGE || x > PETSC_MAX_INT || x < PETSC_MIN_INT) ierr = PetscError(comm, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_ARG_OUTOFRANGE, PETSC_ERROR_INITIAL, "option -%s: %s is out of range (a PetscInt holds %" PetscInt_FMT " to %" PetscInt_FMT ")", onames[i], v, (PetscInt) PETSC_MIN_INT, (PetscInt) PETSC_MAX_INT);
  }
  PetscCall(PetscOptionsLeftRestore(NULL, &N, &onames, &ovalues));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDCLIWarnUnusedOptions(const char cmd[])
{
  PetscInt    N;
  char      **names, **values;
  PetscBool   left = PETSC_TRUE, set = PETSC_FALSE;
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-options_left", &left, &set));
  if (set && !left) PetscFunctionReturn(PETSC_SUCCESS); /* -options_left 0 silences the warnings */
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  {
    /* read by PetscFinalize() only, after this: not unused */
    static const char *const atfinalize[] = { "-options_view", "-citations", "-get_total_flops", "-log", "-log_all", "-log_mpe", "-malloc_debug", "-malloc_dump", "-malloc_test", "-malloc_view", "-memory_view", "-mpidump", "-objects_dump", "-nox", "-nox_warning", "-x_virtual", "-no_signal_handler" };
    PetscBool                flg;

    for (size_t k = 0; k < sizeof(atfinalize) / sizeof(atfinalize[0]); k++) PetscCall(PetscOptionsHasName(NULL, NULL, atfinalize[k], &flg));
  }
  PetscCall(PetscOptionsLeftGet(NULL, &N, &names, &values));
  if (!rank)
    for (PetscInt i = 0; i < N; i++) fprintf(stderr, "deepcd %s: WARNING: option -%s was not used\n", cmd, names[i]);
  PetscCall(PetscOptionsLeftRestore(NULL, &N, &names, &values));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDCLIPlotPath(const char plotopt[], const char out[], char plot[], size_t len)
{
  PetscFunctionBegin;
  plot[0] = 0;
  if (plotopt && !strcmp(plotopt, "none")) PetscFunctionReturn(PETSC_SUCCESS);
  if (plotopt) {
    PetscCheck(plotopt[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --plot: empty value");
    PetscCheck(strlen(plotopt) < len, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --plot: '%s' is too long", plotopt);
    PetscCall(PetscStrncpy(plot, plotopt, len));
  } else {
    const char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
    size_t      stem = (dot && (!slash || dot > slash)) ? (size_t) (dot - out) : strlen(out);

    PetscCheck(stem + 10 < len, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "-o %s: path too long", out);
    memcpy(plot, out, stem);
    strcpy(plot + stem, "-loss.png");
  }
  PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_SELF, "--plot", plot));
  PetscFunctionReturn(PETSC_SUCCESS);
}
