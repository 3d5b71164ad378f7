/* deepcd train --arch neuralmg: learns PCNEURALMG's parameters on problem
   files (docs/pc-neuralmg.md, docs/options.md). */
#define _POSIX_C_SOURCE 200809L /* strtok_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <deepcd.h>
#include <deepcd/train.h>
#include "cli.h"
#include "progress.h"
#include <deepcd/private/petsccompat.h>

#define NMG_MAX_PROBLEMS 256

static const char help[] = "deepcd train --arch neuralmg: learns the parameters of -pc_type neuralmg (try 'deepcd train --arch neuralmg --help').\n";

static void TrainNeuralMGUsage(FILE *f)
{
  fprintf(f, "usage: deepcd train --arch neuralmg PROBLEM.h5 [PROBLEM.h5 ...] -o MODEL.h5 [options]\n"
             "\n"
             "Learns the parameters of -pc_type neuralmg (the per-cell smoother network and the\n"
             "cycle's scalings) on problem files (deepcd gen): the loss is CG's convergence rate\n"
             "log10(||r_k||/||r_0||)/k with the cycle as preconditioner, over each problem's\n"
             "right-hand side and a random one; its gradient is estimated by simultaneous\n"
             "perturbation (SPSA) and applied by Adam. Starts from the classical parameters, so\n"
             "the loss at step 0 is the untrained control's. Runs under mpiexec (each problem is\n"
             "distributed over the ranks).\n"
             "\n"
             "options (defaults in brackets):\n"
             "  --val P1.h5[,P2.h5...] validation problems; the model kept is the best on them\n"
             "                        [none: the best on the training problems]\n"
             "  --steps N             SPSA steps [150]\n"
             "  --lr X                peak Adam step (cosine decay to a tenth) [0.05]\n"
             "  --perturb X           SPSA perturbation size [0.1]\n"
             "  --its K               CG iterations per loss evaluation [6]\n"
             "  --val-every N         steps between validations; 0: at the end [25]\n"
             "  --coarse-size N       the cycle's coarsest grid in training (-pc_neuralmg_coarse_size):\n"
             "                        small, so that small problems have as many levels as the\n"
             "                        large ones the model is for [64]\n"
             "  --init MODEL.h5       start from this neuralmg model\n"
             "  --seed N              network initialisation, perturbations, random right-hand\n"
             "                        sides [1]\n"
             "  --plot F              loss-curve PNG [MODEL-loss.png beside -o]; 'none': no plot\n"
             "  -o, --output F        the model (required)\n"
             "  -h, --help            prints this message\n");
}

typedef struct {
  const char *output, *arch, *val, *steps, *lr, *perturb, *its, *valevery, *init, *seed, *plot, *coarse;
  const char *pos[NMG_MAX_PROBLEMS];
  int         npos;
} TrainNMGArgs;

static int TrainNMGParseArgs(int argc, char **argv, TrainNMGArgs *a, char err[], size_t lerr)
{
  const DeepCDCLIOption opts[] = {
    { "-o", &a->output, NULL },
    { "--output", &a->output, NULL },
    { "--arch", &a->arch, NULL },
    { "--val", &a->val, NULL },
    { "--steps", &a->steps, NULL },
    { "--lr", &a->lr, NULL },
    { "--perturb", &a->perturb, NULL },
    { "--its", &a->its, NULL },
    { "--val-every", &a->valevery, NULL },
    { "--init", &a->init, NULL },
    { "--seed", &a->seed, NULL },
    { "--plot", &a->plot, NULL },
    { "--coarse-size", &a->coarse, NULL },
  };

  memset(a, 0, sizeof(*a));
  if (DeepCDCLIParseArgs(argc, argv, "train", opts, (int) (sizeof(opts) / sizeof(opts[0])), a->pos, NMG_MAX_PROBLEMS, &a->npos, err, lerr)) return 1;
  if (err[0]) return 0;
  if (!a->npos)
    snprintf(err, lerr, "no problem file given (usage: deepcd train --arch neuralmg PROBLEM.h5 [...] -o MODEL.h5)");
  else if (!a->output)
    snprintf(err, lerr, "no output file given (-o MODEL.h5)");
  return 0;
}

/* --val a,b,c: splits a copy of the list in place */
static PetscErrorCode TrainNMGSplitList(const char list[], char **copy, const char *files[], PetscInt *n)
{
  char *s, *tok, *save = NULL;

  PetscFunctionBegin;
  *n = 0;
  PetscCall(PetscStrallocpy(list, copy));
  s = *copy;
  for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    PetscCheck(*n < NMG_MAX_PROBLEMS, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --val: more than %d files", NMG_MAX_PROBLEMS);
    files[(*n)++] = tok;
  }
  PetscCheck(*n > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --val: empty list");
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TrainNMGConfigure(const TrainNMGArgs *a, const char syntax[], DeepCDTrainNeuralMGOptions *o, const char *val[], PetscInt *nval, char **valcopy, char plot[], size_t lplot)
{
  PetscFunctionBegin;
  PetscCheck(!syntax[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "%s", syntax);
  PetscCall(DeepCDTrainNeuralMGOptionsDefault(o));
  o->nproblems = a->npos;
  o->problems  = a->pos;
  if (a->steps) PetscCall(DeepCDCLIParseInt("train", "--steps", a->steps, &o->steps));
  if (a->its) PetscCall(DeepCDCLIParseInt("train", "--its", a->its, &o->its));
  if (a->valevery) PetscCall(DeepCDCLIParseInt("train", "--val-every", a->valevery, &o->val_every));
  if (a->coarse) PetscCall(DeepCDCLIParseInt("train", "--coarse-size", a->coarse, &o->coarse_size));
  if (a->lr) PetscCall(DeepCDCLIParseReal("train", "--lr", a->lr, &o->lr));
  if (a->perturb) PetscCall(DeepCDCLIParseReal("train", "--perturb", a->perturb, &o->perturb));
  if (a->seed) {
    PetscInt s;

    PetscCall(DeepCDCLIParseInt("train", "--seed", a->seed, &s));
    o->seed = (unsigned long) s;
  }
  PetscCheck(o->steps >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --steps: must be at least 1");
  PetscCheck(o->coarse_size >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --coarse-size: must be at least 1");
  PetscCheck(o->its >= 1 && o->its <= 1000, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --its %" PetscInt_FMT ": must be between 1 and 1000", o->its);
  PetscCheck(o->lr > 0 && o->lr <= 10, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --lr %g: must be in (0, 10]", (double) o->lr);
  PetscCheck(o->perturb > 0 && o->perturb <= 10, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --perturb %g: must be in (0, 10]", (double) o->perturb);
  if (a->init) {
    PetscCheck(a->init[0] && access(a->init, R_OK) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot read the model file (--init)", a->init);
    PetscCall(PetscStrncpy(o->init, a->init, sizeof(o->init)));
  }
  *nval = 0;
  if (a->val) PetscCall(TrainNMGSplitList(a->val, valcopy, val, nval));
  o->nval = *nval;
  o->val  = val;
  for (PetscInt i = 0; i < o->nproblems; i++) PetscCheck(access(o->problems[i], R_OK) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot read the problem file", o->problems[i]);
  for (PetscInt i = 0; i < o->nval; i++) PetscCheck(access(o->val[i], R_OK) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot read the problem file (--val)", o->val[i]);
  PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_SELF, "-o", a->output));
  PetscCall(DeepCDCLICheckNotInput(PETSC_COMM_SELF, "-o", a->output, a->output, (int) o->nproblems, o->problems, "problem file"));
  if (o->nval) PetscCall(DeepCDCLICheckNotInput(PETSC_COMM_SELF, "-o", a->output, a->output, (int) o->nval, o->val, "problem file"));
  if (a->init) PetscCall(DeepCDCLICheckNotInput(PETSC_COMM_SELF, "-o", a->output, a->output, 1, (const char *const[]){ a->init }, "model file (--init)"));
  PetscCall(DeepCDCLIPlotPath(a->plot, a->output, plot, lplot));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TrainNMGMonitor(const DeepCDTrainStatus *s, void *ctx)
{
  DeepCDProgress p = (DeepCDProgress) ctx;
  char           fields[256];

  PetscFunctionBegin;
  if (PetscIsNormalReal(s->val_loss))
    snprintf(fields, sizeof(fields), "loss %.4f | check %.4f | %.1f problem solves/s | lr %.2e", (double) s->loss, (double) s->val_loss, (double) s->samples_per_s, (double) s->lr);
  else
    snprintf(fields, sizeof(fields), "loss %.4f | %.1f problem solves/s | lr %.2e", (double) s->loss, (double) s->samples_per_s, (double) s->lr);
  PetscCall(DeepCDProgressUpdate(p, s->step, fields));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TrainNMGRun(const TrainNMGArgs *a, const DeepCDTrainNeuralMGOptions *o, const char plot[])
{
  DeepCDProgress     p;
  DeepCDTrainHistory h;
  char               summary[256];

  PetscFunctionBegin;
  PetscCall(DeepCDProgressCreate(PETSC_COMM_WORLD, "deepcd train", o->steps, &p));
  {
    PetscErrorCode terr = DeepCDTrainNeuralMG(PETSC_COMM_WORLD, o, a->output, TrainNMGMonitor, p, &h);

    if (terr) PetscCall(DeepCDProgressDestroy(&p)); /* the training frees its own */
    PetscCall(terr);
  }
  snprintf(summary, sizeof(summary), "loss %.4f untrained, %.4f at the last check (log10 residual reduction per CG iteration)", h.n ? (double) h.val_loss[0] : NAN, h.n ? (double) h.val_loss[h.n - 1] : NAN);
  PetscCall(DeepCDProgressEnd(&p, summary));
  if (plot[0] && h.n) {
    PetscReal       *x;
    const PetscReal *y[2]     = { h.loss, h.val_loss };
    const char      *names[2] = { "training loss (mean since the previous point)", o->nval ? "validation loss" : "training loss of the current parameters" };

    PetscCall(PetscMalloc1(h.n, &x));
    for (PetscInt i = 0; i < h.n; i++) x[i] = (PetscReal) h.step[i];
    PetscCall(DeepCDPlotLines(PETSC_COMM_WORLD, plot, "neuralmg: log10 residual reduction per CG iteration", "step", "loss", PETSC_FALSE, 2, names, h.n, x, y));
    PetscCall(PetscFree(x));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "deepcd train: %" PetscInt_FMT " steps on %" PetscInt_FMT " problems -> %s%s%s\n", o->steps, o->nproblems, a->output, plot[0] && h.n ? ", loss curve " : "", plot[0] && h.n ? plot : ""));
  PetscCall(DeepCDTrainHistoryDestroy(&h));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int DeepCDCmdTrainNeuralMG(int argc, char **argv)
{
  TrainNMGArgs               args;
  DeepCDTrainNeuralMGOptions o;
  const char                *val[NMG_MAX_PROBLEMS];
  PetscInt                   nval    = 0;
  char                      *valcopy = NULL;
  char                       syntax[PETSC_MAX_PATH_LEN + 256], plot[PETSC_MAX_PATH_LEN] = "";
  char                      *pargvbuf[2] = { argv[0], NULL };
  char                     **pargv       = pargvbuf;
  int                        pargc = 1, status = 0;
  PetscErrorCode             ierr;

  if (TrainNMGParseArgs(argc, argv, &args, syntax, sizeof(syntax))) {
    TrainNeuralMGUsage(stdout);
    return 0;
  }
  ierr = DeepCDCLIInitialize(&pargc, &pargv, help);
  if (ierr) return DeepCDCLIFinalize(DeepCDCLIFail("train", ierr));
  ierr = TrainNMGConfigure(&args, syntax, &o, val, &nval, &valcopy, plot, sizeof(plot));
  if (!ierr) ierr = TrainNMGRun(&args, &o, plot);
  if (ierr) status = DeepCDCLIFail("train", ierr);
  (void) PetscFree(valcopy);
  return DeepCDCLIFinalize(status);
}
