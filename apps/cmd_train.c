/* deepcd train: fits a CNN to a training data file with the DCDM loss
   (docs/training.md, docs/options.md). */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <deepcd.h>
#include <deepcd/train.h>
#include "cli.h"
#include "progress.h"
#include <deepcd/private/petsccompat.h>

static const char help[] = "deepcd train: trains a DCDM network (try 'deepcd train --help').\n";

static void TrainUsage(FILE *f)
{
  fprintf(f, "usage: deepcd train DATA.h5 -o MODEL.h5 [options]\n"
             "       deepcd train [DATA.h5] --resume CKPT.h5 -o MODEL.h5 [--steps N] [--checkpoint F]\n"
             "                    [--checkpoint-every N] [--stop-at N] [--plot F]\n"
             "\n"
             "Trains a CNN on a training data file (deepcd train-data) with the DCDM loss\n"
             "||b - (q.b / q.Aq) A q||^2, q = f(b), and Adam; prints progress and writes the\n"
             "model and a loss-curve PNG. Runs under mpiexec (the batch is split over ranks).\n"
             "\n"
             "options (defaults in brackets):\n"
             "  --arch NAME           topology of a new model: from64, from128 [from64];\n"
             "                        neuralmg trains -pc_type neuralmg on problem files instead\n"
             "                        (deepcd train --arch neuralmg --help)\n"
             "  --init MODEL.h5       start from this model instead of a new one\n"
             "  --backend B           cpu (oneDNN), cuda (cuDNN) or ref (plain loops) [cpu]\n"
             "  --steps N             optimizer steps in all [1000]\n"
             "  --batch N             right-hand sides per step [8]\n"
             "  --lr X                peak learning rate [1e-3]\n"
             "  --schedule S          cosine or constant [cosine]\n"
             "  --lr-min-factor X     final / peak learning rate of the cosine [0.01]\n"
             "  --warmup N            steps of linear warm-up [0]\n"
             "  --weight-decay X      AdamW weight decay [0]\n"
             "  --val-fraction X      share of each problem's samples held out [0.1]\n"
             "  --noise F             share of each sample's squared norm replaced by white\n"
             "                        noise on the fluid cells (all frequencies) [0.5]\n"
             "  --smooth N            take the loss on the direction smoothed by N Chebyshev/\n"
             "                        Jacobi iterations, as the solver does with\n"
             "                        -ksp_deepcd_smooth N -ksp_deepcd_smooth_ksp_type chebyshev\n"
             "                        -pc_type jacobi; 0: the network's output [0]\n"
             "  --val-every N         steps between validation passes; 0: at the end [50]\n"
             "  --val-samples N       held-out samples per validation pass [64]\n"
             "  --seed N              model initialisation and sample order [1]\n"
             "  --checkpoint F        checkpoint file (a model file plus the optimizer state)\n"
             "  --checkpoint-every N  steps between checkpoints; 0: at the end only [0]\n"
             "  --stop-at N           end this run after step N, with a checkpoint\n"
             "  --resume F            continue from a checkpoint (its options are used)\n"
             "  --plot F              loss-curve PNG [MODEL-loss.png beside -o]; 'none': no plot\n"
             "  -o, --output F        the trained model (required)\n"
             "  -h, --help            prints this message\n");
}

typedef struct {
  const char *data, *output, *arch, *init, *backend, *steps, *batch, *lr, *schedule, *lrmin, *warmup, *wd, *valfrac, *noise, *valevery, *valsamples, *smooth, *seed, *ckpt, *ckptevery, *stopat, *resume, *plot;
} TrainArgs;

static int TrainParseArgs(int argc, char **argv, TrainArgs *a, char err[], size_t lerr)
{
  const DeepCDCLIOption opts[] = {
    { "-o", &a->output, NULL },
    { "--output", &a->output, NULL },
    { "--arch", &a->arch, NULL },
    { "--init", &a->init, NULL },
    { "--backend", &a->backend, NULL },
    { "--steps", &a->steps, NULL },
    { "--batch", &a->batch, NULL },
    { "--lr", &a->lr, NULL },
    { "--schedule", &a->schedule, NULL },
    { "--lr-min-factor", &a->lrmin, NULL },
    { "--warmup", &a->warmup, NULL },
    { "--weight-decay", &a->wd, NULL },
    { "--val-fraction", &a->valfrac, NULL },
    { "--noise", &a->noise, NULL },
    { "--smooth", &a->smooth, NULL },
    { "--val-every", &a->valevery, NULL },
    { "--val-samples", &a->valsamples, NULL },
    { "--seed", &a->seed, NULL },
    { "--checkpoint", &a->ckpt, NULL },
    { "--checkpoint-every", &a->ckptevery, NULL },
    { "--stop-at", &a->stopat, NULL },
    { "--resume", &a->resume, NULL },
    { "--plot", &a->plot, NULL },
  };
  const char *pos[1] = { NULL };
  int         npos;

  *a = (TrainArgs){ NULL };
  if (DeepCDCLIParseArgs(argc, argv, "train", opts, (int) (sizeof(opts) / sizeof(opts[0])), pos, 1, &npos, err, lerr)) return 1;
  a->data = pos[0];
  if (err[0]) return 0;
  if (!a->data && !a->resume)
    snprintf(err, lerr, "no training data file given (usage: deepcd train DATA.h5 -o MODEL.h5)");
  else if (!a->output)
    snprintf(err, lerr, "no output file given (-o MODEL.h5)");
  return 0;
}

static PetscErrorCode copy_string(const char opt[], const char *v, char dst[], size_t len)
{
  PetscFunctionBegin;
  if (!v) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(v[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option %s: empty value", opt);
  PetscCheck(strlen(v) < len, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option %s: '%s' is too long", opt, v);
  PetscCall(PetscStrncpy(dst, v, len));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* No output (-o, --checkpoint, --plot) may be an input: the data, the --init model, and
   (for -o and --plot) the --resume checkpoint, which --checkpoint may replace by design. */
static PetscErrorCode check_not_input(const char opt[], const char out[], const DeepCDTrainOptions *o, const char resume[])
{
  const char *data = o->data[0] ? o->data : NULL, *init = o->init[0] ? o->init : NULL;

  PetscFunctionBegin;
  if (!out || !out[0]) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(DeepCDCLICheckNotInput(PETSC_COMM_SELF, opt, out, out, 1, &data, "training data file"));
  PetscCall(DeepCDCLICheckNotInput(PETSC_COMM_SELF, opt, out, out, 1, &init, "model file of --init"));
  if (strcmp(opt, "--checkpoint")) PetscCall(DeepCDCLICheckNotInput(PETSC_COMM_SELF, opt, out, out, 1, &resume, "checkpoint of --resume"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The options from the arguments; every process checks them, so all fail alike. */
static PetscErrorCode TrainConfigure(const TrainArgs *a, const char syntax[], DeepCDTrainOptions *o, char plot[], size_t lplot)
{
  PetscFunctionBegin;
  PetscCheck(!syntax[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "%s", syntax);
  PetscCall(DeepCDTrainOptionsDefault(o));
  if (a->resume) {
    const struct {
      const char *name, *value;
    } fixed[] = {
      { "--arch", a->arch },
      { "--init", a->init },
      { "--backend", a->backend },
      { "--batch", a->batch },
      { "--lr", a->lr },
      { "--schedule", a->schedule },
      { "--lr-min-factor", a->lrmin },
      { "--warmup", a->warmup },
      { "--weight-decay", a->wd },
      { "--val-fraction", a->valfrac },
      { "--noise", a->noise },
      { "--smooth", a->smooth },
      { "--val-every", a->valevery },
      { "--val-samples", a->valsamples },
      { "--seed", a->seed },
    };

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) PetscCheck(!fixed[i].value, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option %s cannot be given with --resume (the checkpoint's value is used)", fixed[i].name);
    PetscCheck(a->resume[0] && access(a->resume, R_OK) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot read the checkpoint file (--resume)", a->resume);
    {
      PetscInt step;

      PetscCall(DeepCDTrainCheckpointOptions(PETSC_COMM_SELF, a->resume, o, &step));
    }
    o->data[0] = 0;                                                           /* keep the stored path unless a new one is given */
    PetscCall(PetscStrncpy(o->checkpoint, a->resume, sizeof(o->checkpoint))); /* go on writing it */
  }
  PetscCall(copy_string("DATA", a->data, o->data, sizeof(o->data)));
  PetscCall(copy_string("--arch", a->arch, o->arch, sizeof(o->arch)));
  PetscCall(copy_string("--init", a->init, o->init, sizeof(o->init)));
  PetscCall(copy_string("--backend", a->backend, o->backend, sizeof(o->backend)));
  PetscCall(copy_string("--schedule", a->schedule, o->schedule, sizeof(o->schedule)));
  PetscCall(copy_string("--checkpoint", a->ckpt, o->checkpoint, sizeof(o->checkpoint)));
  if (a->steps) PetscCall(DeepCDCLIParseInt("train", "--steps", a->steps, &o->steps));
  if (a->batch) PetscCall(DeepCDCLIParseInt("train", "--batch", a->batch, &o->batch));
  if (a->warmup) PetscCall(DeepCDCLIParseInt("train", "--warmup", a->warmup, &o->warmup));
  if (a->valevery) PetscCall(DeepCDCLIParseInt("train", "--val-every", a->valevery, &o->val_every));
  if (a->valsamples) PetscCall(DeepCDCLIParseInt("train", "--val-samples", a->valsamples, &o->val_samples));
  if (a->ckptevery) PetscCall(DeepCDCLIParseInt("train", "--checkpoint-every", a->ckptevery, &o->checkpoint_every));
  if (a->stopat) PetscCall(DeepCDCLIParseInt("train", "--stop-at", a->stopat, &o->stop_at));
  if (a->smooth) PetscCall(DeepCDCLIParseInt("train", "--smooth", a->smooth, &o->smooth));
  if (a->lr) PetscCall(DeepCDCLIParseReal("train", "--lr", a->lr, &o->lr));
  if (a->lrmin) PetscCall(DeepCDCLIParseReal("train", "--lr-min-factor", a->lrmin, &o->lr_min_factor));
  if (a->wd) PetscCall(DeepCDCLIParseReal("train", "--weight-decay", a->wd, &o->weight_decay));
  if (a->valfrac) PetscCall(DeepCDCLIParseReal("train", "--val-fraction", a->valfrac, &o->val_fraction));
  if (a->noise) PetscCall(DeepCDCLIParseReal("train", "--noise", a->noise, &o->noise));
  if (a->seed) {
    PetscInt s;

    PetscCall(DeepCDCLIParseInt("train", "--seed", a->seed, &s));
    o->seed = (unsigned long) s;
  }
  if (a->steps) PetscCheck(o->steps >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --steps: must be at least 1");
  if (a->batch) PetscCheck(o->batch >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --batch: must be at least 1");
  PetscCheck(!a->stopat || o->stop_at >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --stop-at: must be at least 1");
  PetscCheck(!a->stopat || o->checkpoint[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --stop-at needs --checkpoint F (the run ends there to be resumed)");
  PetscCheck(!a->ckptevery || o->checkpoint[0], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --checkpoint-every needs --checkpoint F");
  if (!a->resume)
    PetscCheck(access(o->data, R_OK) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot read the training data file", o->data);
  else if (a->data)
    PetscCheck(access(o->data, R_OK) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot read the training data file", o->data);
  if (o->init[0]) PetscCheck(access(o->init, R_OK) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot read the model file (--init)", o->init);
  PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_SELF, "-o", a->output));
  if (o->checkpoint[0]) PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_SELF, "--checkpoint", o->checkpoint));
  PetscCall(check_not_input("-o", a->output, o, a->resume));
  PetscCall(check_not_input("--checkpoint", o->checkpoint, o, a->resume));
  PetscCheck(!o->checkpoint[0] || strcmp(o->checkpoint, a->output), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "--checkpoint and -o name the same file %s", a->output);
  PetscCall(DeepCDCLIPlotPath(a->plot, a->output, plot, lplot));
  PetscCall(check_not_input("--plot", plot, o, a->resume));
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  DeepCDProgress progress;
} TrainMonitorCtx;

static PetscErrorCode TrainMonitor(const DeepCDTrainStatus *s, void *ctx)
{
  TrainMonitorCtx *m = (TrainMonitorCtx *) ctx;
  char             fields[256];

  PetscFunctionBegin;
  if (PetscIsNormalReal(s->val_loss))
    snprintf(fields, sizeof(fields), "loss %.4e | val %.4e | %.1f samples/s | lr %.2e%s", (double) s->loss_avg, (double) s->val_loss, (double) s->samples_per_s, (double) s->lr, s->checkpointed ? " | checkpoint" : "");
  else
    snprintf(fields, sizeof(fields), "loss %.4e | %.1f samples/s | lr %.2e%s", (double) s->loss_avg, (double) s->samples_per_s, (double) s->lr, s->checkpointed ? " | checkpoint" : "");
  PetscCall(DeepCDProgressUpdate(m->progress, s->step, fields));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TrainRun(const TrainArgs *a, const DeepCDTrainOptions *o, const char plot[])
{
  TrainMonitorCtx    mon;
  nn_model          *m = NULL;
  DeepCDTrainHistory h;
  PetscInt           start = 0;
  PetscMPIInt        rank;
  PetscErrorCode     ierr = 0;
  char               summary[512];

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  if (a->resume) {
    DeepCDTrainOptions co;

    PetscCall(DeepCDTrainCheckpointOptions(PETSC_COMM_WORLD, a->resume, &co, &start));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "deepcd train: resuming %s at step %" PetscInt_FMT " of %" PetscInt_FMT "\n", a->resume, start, o->steps));
  }
  PetscCall(DeepCDProgressCreate(PETSC_COMM_WORLD, "deepcd train", o->stop_at && o->stop_at < o->steps ? o->stop_at : o->steps, &mon.progress));
  PetscCall(DeepCDProgressSetStart(mon.progress, start));
  {
    PetscErrorCode terr = DeepCDTrain(PETSC_COMM_WORLD, o, a->resume, TrainMonitor, &mon, &m, &h);

    if (terr) PetscCall(DeepCDProgressDestroy(&mon.progress)); /* the run frees its own */
    PetscCall(terr);
  }
  snprintf(summary, sizeof(summary), "final loss %.4e, validation loss %.4e", h.n ? (double) h.loss[h.n - 1] : NAN, h.n ? (double) h.val_loss[h.n - 1] : NAN);
  PetscCall(DeepCDProgressEnd(&mon.progress, summary));
  if (!rank) ierr = DeepCDModelWrite(m, a->output);
  ierr = DeepCDCLIShareStatus(ierr);
  if (ierr) { /* the model could not be written: free the run's results first */
    nn_model_destroy(&m);
    PetscCall(DeepCDTrainHistoryDestroy(&h));
    PetscCall(ierr);
  }
  if (plot[0] && h.n) {
    PetscReal       *x;
    const PetscReal *y[2]     = { h.loss, h.val_loss };
    const char      *names[2] = { "training loss (mean since the previous point)", "validation loss" };

    PetscCall(PetscMalloc1(h.n, &x));
    for (PetscInt i = 0; i < h.n; i++) x[i] = (PetscReal) h.step[i];
    PetscCall(DeepCDPlotLines(PETSC_COMM_WORLD, plot, "DCDM loss", "step", "loss", PETSC_TRUE, 2, names, h.n, x, y));
    PetscCall(PetscFree(x));
  }
  if (m->training.steps < o->steps)
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "deepcd train: stopped at step %ld of %" PetscInt_FMT "; continue with: deepcd train --resume %s -o %s\n", m->training.steps, o->steps, o->checkpoint, a->output));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "deepcd train: %ld steps, %zu parameters -> %s%s%s\n", m->training.steps, m->nparams, a->output, plot[0] && h.n ? ", loss curve " : "", plot[0] && h.n ? plot : ""));
  nn_model_destroy(&m);
  PetscCall(DeepCDTrainHistoryDestroy(&h));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int DeepCDCmdTrain(int argc, char **argv)
{
  TrainArgs          args;
  DeepCDTrainOptions o;
  char               syntax[PETSC_MAX_PATH_LEN + 256], plot[PETSC_MAX_PATH_LEN] = "";
  char              *pargvbuf[2] = { argv[0], NULL };
  char             **pargv       = pargvbuf;
  int                pargc = 1, status = 0;
  PetscErrorCode     ierr;

  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], "--arch") && !strcmp(argv[i + 1], "neuralmg")) return DeepCDCmdTrainNeuralMG(argc, argv);
  if (TrainParseArgs(argc, argv, &args, syntax, sizeof(syntax))) {
    TrainUsage(stdout);
    return 0;
  }
  /* PETSc sees none of our --options (it would complain about them). */
  ierr = DeepCDCLIInitialize(&pargc, &pargv, help);
  if (ierr) return DeepCDCLIFinalize(DeepCDCLIFail("train", ierr));
  ierr = TrainConfigure(&args, syntax, &o, plot, sizeof(plot));
  if (!ierr) ierr = TrainRun(&args, &o, plot);
  if (ierr) status = DeepCDCLIFail("train", ierr);
  return DeepCDCLIFinalize(status);
}
