/* The `deepcd` command: one function per subcommand. */
#ifndef DEEPCD_CLI_H
#define DEEPCD_CLI_H

#include <petscsys.h>
#include <deepcd.h>

/* Each subcommand receives argv with argv[0] = the subcommand's name and
   returns the process exit status. */
int DeepCDCmdGen(int argc, char **argv);
int DeepCDCmdSolve(int argc, char **argv);
int DeepCDCmdModel(int argc, char **argv);
int DeepCDCmdTrainData(int argc, char **argv);
int DeepCDCmdMesh(int argc, char **argv);
int DeepCDCmdMoe(int argc, char **argv);
/* deepcd train --arch neuralmg (DeepCDCmdTrain hands it over) */
int DeepCDCmdTrainNeuralMG(int argc, char **argv);

/* Starts PETSc for a subcommand with errors returned instead of printed, so
   that the subcommand reports each failure as one line (DeepCDCLIFail). */
PetscErrorCode DeepCDCLIInitialize(int *argc, char ***argv, const char help[]);
/* Pops the error handler, finalizes PETSc and returns status (1 if the
   finalize fails and status was 0). */
int DeepCDCLIFinalize(int status);
/* Prints "deepcd CMD: error: MESSAGE" once (rank 0) for a failed PETSc call
   and returns the exit status to use. */
int DeepCDCLIFail(const char cmd[], PetscErrorCode ierr);
/* One option of a subcommand that PETSc does not see: a valued option fills
 *value, a flag (value NULL) sets *flag to 1. */
typedef struct {
  const char  *name;
  const char **value;
  int         *flag;
} DeepCDCLIOption;

/* For commands whose first argument is a file: *first gets argv[1] unless it
   starts with '-'; argv[0] and every other argument go to a new NULL-terminated
   *pargv of *pargc entries (for PETSc; free() it). 0, or 1 when out of memory. */
int DeepCDCLISplitFirst(int argc, char **argv, const char **first, int *pargc, char ***pargv);

/* Splits argv[1..] into the options of `opts` and up to `maxpos` positional
   arguments (pos[], *npos). Returns 1 when help (-h, --help, -help) was asked
   for anywhere; otherwise 0 with the first syntax error's text in err ("" if
   none). `cmd` names the subcommand in the messages. */
int DeepCDCLIParseArgs(int argc, char **argv, const char cmd[], const DeepCDCLIOption opts[], int nopts, const char *pos[], int maxpos, int *npos, char err[], size_t lerr);

/* Returns rank 0's status on every rank (work that only rank 0 does). */
PetscErrorCode DeepCDCLIShareStatus(PetscErrorCode ierr);

/* Parses a non-negative integer option value; one-line error on bad text. */
PetscErrorCode DeepCDCLIParseInt(const char cmd[], const char opt[], const char text[], PetscInt *);

/* Parses a finite real option value; one-line error on bad text. */
PetscErrorCode DeepCDCLIParseReal(const char cmd[], const char opt[], const char text[], PetscReal *);

/* The loss-curve PNG of a command writing `out`: none when plotopt is "none",
   plotopt when given, otherwise OUT's stem + "-loss.png"; its directory checked. */
PetscErrorCode DeepCDCLIPlotPath(const char plotopt[], const char out[], char plot[], size_t len);

/* One-line error "OPT PATH: the directory does not exist or is not writable"
   unless PATH's directory is writable (checked before any work is done). */
PetscErrorCode DeepCDCLICheckOutputDir(MPI_Comm comm, const char opt[], const char path[]);

/* One-line error unless the file `written` (the value `out` of option `opt`, or
   a file written beside it) is none of the inputs in[] (compared by identity:
   device and inode, so links and other spellings count). `kind` names the
   inputs ("problem file"). A file that does not exist yet is no input. */
PetscErrorCode DeepCDCLICheckNotInput(MPI_Comm comm, const char opt[], const char out[], const char written[], int nin, const char *const in[], const char kind[]);

/* One-line error for an integer option whose value does not fit PetscInt
   (PETSc 3.18 wraps 4294967298 to 2): the options names[] (with or without
   the dash), PETSc's and SLEPc's integer options (*max_it, *nev, *ncv, *mpd,
   *restart, *levels) and deepcd's (*ksp_deepcd_directions, ...), any prefix. Call before the options are used (it scans
   the options not used yet). */
PetscErrorCode DeepCDCLICheckIntegerOptions(MPI_Comm comm, const char *const names[], int n);

/* Prints "deepcd CMD: WARNING: option -NAME was not used" (rank 0, stderr) for
   each option never used, as PETSc's -options_left; -options_left 0 silences it. */
PetscErrorCode DeepCDCLIWarnUnusedOptions(const char cmd[]);

int DeepCDCmdTrain(int argc, char **argv);
int DeepCDCmdBatch(int argc, char **argv);

/* Prints-free form of DeepCDCLIFail(): the one-line message of a failed PETSc call into buf. */
void DeepCDCLIErrorText(PetscErrorCode ierr, char buf[], size_t len);

/* ---- one solve as `deepcd solve` runs it (apps/solve_problem.c), shared by `deepcd batch` ---- */

/* One-line error unless -ksp_rtol, -ksp_atol, -ksp_divtol, -ksp_max_it as
   given are usable (PETSc takes -ksp_rtol 2 or NaN silently). Before any work. */
PetscErrorCode DeepCDCLICheckToleranceOptions(void);
/* The solver before the user's options: KSPDEEPCD with Jacobi, unpreconditioned norm. */
PetscErrorCode DeepCDCLISolveDefaults(KSP);
/* -help without a problem: the KSP and PC options with the command's defaults. */
PetscErrorCode DeepCDCLISolveHelp(void);

/* The objects of one solve; zero-initialise, free with DeepCDCLISolveDestroy()
   (also after a failed DeepCDCLISolveRun(): it frees what was made). */
typedef struct {
  Mat A;
  Vec b, x;
  KSP ksp;
} DeepCDCLISolve;

/* Operator, initial guess, KSP on the problem's communicator (defaults, then
   the options), tolerance checks, configure(ksp, ctx) when not NULL, and the
   timed solve (DeepCDSolveTimed). */
PetscErrorCode DeepCDCLISolveRun(DeepCDProblem, PetscErrorCode (*configure)(KSP, void *), void *ctx, DeepCDCLISolve *, DeepCDSolveInfo *);
PetscErrorCode DeepCDCLISolveDestroy(DeepCDCLISolve *);

#endif
