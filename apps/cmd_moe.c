/* deepcd moe train|eval: physics-informed hard constraints with a mixture of
   experts (docs/moe.md): train the soft baseline, the global hard constraint
   or the mixture of experts, and evaluate a run file on its held-out
   instances. */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <deepcd.h>
#include "progress.h"
#include <deepcd/moe.h>
#include "cli.h"
#include <deepcd/private/petsccompat.h>

static const char help[] = "deepcd moe train|eval (deepcd moe --help)\n";

static void usage(FILE *f)
{
  fprintf(f, "usage: deepcd moe train --pde heat|burgers|diffsorp|ns -o RUN.h5 [options] [PETSc -moe_* options]\n"
             "       deepcd moe eval RUN.h5 [-o EVAL.h5] [--plot PRED.png] [--report]\n"
             "\n"
             "train options (defaults in docs/options.md):\n"
             "  --pde P              heat, burgers, diffsorp or ns (2-D Navier-Stokes) (required)\n"
             "  --model M            hard (default: u = B w, w solved per expert) or soft\n"
             "  --experts KX,KT      expert grid of the hard model (default 2,2; 1,1 = global); ns: KX,KY,KT (default 2,2,1)\n"
             "  --basis N            basis functions (default 32; diffsorp and ns 16)\n"
             "  --backbone B         basis network: mlp or fno (Fourier neural operator); default mlp, diffsorp fno; ns: mlp only\n"
             "  --width W, --depth D mlp: hidden layers (default 32, 2); fno: channels, Fourier layers (16, 4)\n"
             "  --modes M            fno: Fourier modes per axis (default 8)\n"
             "  --grid NX,NT         space-time grid (default 64,32; diffsorp 128,51); ns: NX,NY,NT (default 32,32,16)\n"
             "  --points M           PDE rows per expert (default 400; 0 = all)\n"
             "  --steps S, --batch B Adam steps and instances per step (default 200, 4)\n"
             "  --train N, --test N  training and held-out instances (default 64, 8)\n"
             "  --lr LR              learning rate (default 1e-3)\n"
             "  --lr-decay G,E,MIN   multiply by G every E steps, floor MIN (default 0.5,800,1e-4)\n"
             "  --clip C             gradient norm cap (default 1; 0 = none)\n"
             "  --loss-weights P,I,B PDE, initial and boundary terms (default 1,1,1)\n"
             "  --seed K             seed of everything random (default 0)\n"
             "  --eval-every E       held-out error every E steps (default 50)\n"
             "  --checkpoint-every C checkpoint every C steps to RUN.h5.ckpt (default 0: none)\n"
             "  --resume CKPT.h5     continue from a checkpoint or run file of the same settings\n"
             "  --plot PNG           loss curve (default RUN-loss.png; 'none' for no plot)\n"
             "  -o RUN.h5            the run file (docs/formats.md)\n"
             "eval options:\n"
             "  -o EVAL.h5           writes the run with fresh predictions and errors\n"
             "  --plot PNG           prediction vs reference of the first held-out instance\n"
             "  --report             per expert: LM steps, solves at the step cap, 1/2||r||^2, log10 cond\n"
             "PETSc options: -moe_lm_* (the per-expert solve), -moe_ridge, -moe_hessian exact|gn,\n"
             "  -moe_conditions global|local, -moe_coupling none|interface, -moe_coupling_weight W,\n"
             "  -moe_loss norm|mse,\n"
             "  -moe_loss_unscaled true|false, -moe_scale_inputs true|false (mlp), -moe_<pde>_<constant>,\n"
             "  -moe_ref_cells, -moe_ref_rtol,\n"
             "  -moe_fno_fc (projection width, default 64), -moe_fno_pad (padding, default 8).\n");
}

typedef struct {
  const char *cmd, *run, *pde, *model, *backbone, *modes, *experts, *basis, *width, *depth, *grid, *points, *steps, *batch, *ntrain, *ntest;
  const char *lr, *decay, *clip, *weights, *seed, *eval_every, *ckpt_every, *resume, *plot, *out;
  int         report;
} MoeArgs;

/* Splits argv: our options (all valued) and positionals to the parser, the
   single-dash PETSc options (with a value that follows) to PETSc. */
static int split_args(int argc, char **argv, MoeArgs *a, char **pargv, int *pargc, char err[], size_t lerr)
{
  const DeepCDCLIOption opts[] = {
    { "--pde", &a->pde, NULL },
    { "--model", &a->model, NULL },
    { "--backbone", &a->backbone, NULL },
    { "--modes", &a->modes, NULL },
    { "--experts", &a->experts, NULL },
    { "--basis", &a->basis, NULL },
    { "--width", &a->width, NULL },
    { "--depth", &a->depth, NULL },
    { "--grid", &a->grid, NULL },
    { "--points", &a->points, NULL },
    { "--steps", &a->steps, NULL },
    { "--batch", &a->batch, NULL },
    { "--train", &a->ntrain, NULL },
    { "--test", &a->ntest, NULL },
    { "--lr", &a->lr, NULL },
    { "--lr-decay", &a->decay, NULL },
    { "--clip", &a->clip, NULL },
    { "--loss-weights", &a->weights, NULL },
    { "--seed", &a->seed, NULL },
    { "--eval-every", &a->eval_every, NULL },
    { "--checkpoint-every", &a->ckpt_every, NULL },
    { "--resume", &a->resume, NULL },
    { "--plot", &a->plot, NULL },
    { "--report", NULL, &a->report },
    { "-o", &a->out, NULL },
    { "--output", &a->out, NULL },
  };
  char      **mine   = (char **) malloc((size_t) (argc + 1) * sizeof(char *));
  const char *pos[2] = { NULL, NULL };
  int         nmine = 0, npos = 0, helpreq;

  *a     = (MoeArgs){ NULL };
  *pargc = 1;
  if (!mine) return snprintf(err, lerr, "out of memory"), 0;
  mine[nmine++] = argv[0];
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];

    if (s[0] == '-' && s[1] != '-' && strcmp(s, "-o") && strcmp(s, "-h") && strcmp(s, "-help")) {
      pargv[(*pargc)++] = argv[i];
      if (i + 1 < argc && argv[i + 1][0] != '-') pargv[(*pargc)++] = argv[++i];
    } else {
      mine[nmine++] = argv[i];
      if (s[0] == '-' && i + 1 < argc && strcmp(s, "-h") && strcmp(s, "-help") && strcmp(s, "--help") && strcmp(s, "--report")) mine[nmine++] = argv[++i];
    }
  }
  pargv[*pargc] = NULL;
  helpreq       = DeepCDCLIParseArgs(nmine, mine, "moe", opts, (int) (sizeof(opts) / sizeof(opts[0])), pos, 2, &npos, err, lerr);
  free(mine);
  if (helpreq) return 1;
  a->cmd = pos[0];
  a->run = pos[1];
  if (err[0]) return 0;
  if (!a->cmd)
    snprintf(err, lerr, "no subcommand given (usage: deepcd moe train|eval ...)");
  else if (strcmp(a->cmd, "train") && strcmp(a->cmd, "eval"))
    snprintf(err, lerr, "unknown subcommand '%s' (use train or eval)", a->cmd);
  else if (!strcmp(a->cmd, "train") && a->run)
    snprintf(err, lerr, "unexpected argument '%s' (train takes options only)", a->run);
  else if (!strcmp(a->cmd, "train") && !a->pde)
    snprintf(err, lerr, "no problem given (--pde heat|burgers|diffsorp|ns)");
  else if (!strcmp(a->cmd, "train") && !a->out)
    snprintf(err, lerr, "no output file given (-o RUN.h5)");
  else if (a->report && strcmp(a->cmd, "eval"))
    snprintf(err, lerr, "option --report is for eval only");
  else if (!strcmp(a->cmd, "eval") && !a->run)
    snprintf(err, lerr, "no run file given (usage: deepcd moe eval RUN.h5)");
  return 0;
}

static PetscErrorCode parse_reals(const char opt[], const char text[], PetscInt n, PetscReal v[])
{
  const char *s = text;

  PetscFunctionBegin;
  for (PetscInt k = 0; k < n; k++) {
    char *end = NULL;

    errno = 0;
    v[k]  = strtod(s, &end);
    PetscCheck(end != s && !errno && isfinite(v[k]) && (k == n - 1 ? !*end : *end == ','), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option %s: '%s' is not %" PetscInt_FMT " comma-separated number%s", opt, text, n, n > 1 ? "s" : "");
    s = end + 1;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode parse_ints(const char opt[], const char text[], PetscInt n, PetscInt v[])
{
  PetscReal r[3];

  PetscFunctionBegin;
  PetscCall(parse_reals(opt, text, n, r));
  for (PetscInt k = 0; k < n; k++) {
    PetscCheck(r[k] >= 0 && r[k] == floor(r[k]) && r[k] <= PETSC_MAX_INT, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option %s: '%s' is not %" PetscInt_FMT " comma-separated non-negative integer%s", opt, text, n, n > 1 ? "s" : "");
    v[k] = (PetscInt) r[k];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* "KXxKT", or "KXxKYxKT" for a 2-D problem */
static const char *experts_text(const DeepCDMoeTrainOptions *o, char buf[], size_t len)
{
  if (o->ny > 1)
    snprintf(buf, len, "%dx%dx%d", (int) o->kx, (int) o->ky, (int) o->kt);
  else
    snprintf(buf, len, "%dx%d", (int) o->kx, (int) o->kt);
  return buf;
}

/* The settings from the arguments and the PETSc options. */
static PetscErrorCode train_options(const MoeArgs *a, DeepCDMoeTrainOptions *o)
{
  PetscInt  v[3], e;
  PetscReal r[3];
  PetscBool set, ns;
  char      g[32];

  PetscFunctionBegin;
  PetscCall(DeepCDMoeTrainOptionsDefault(a->pde, o));
  if (a->model) {
    PetscBool soft, hard;

    PetscCall(PetscStrcmp(a->model, "soft", &soft));
    PetscCall(PetscStrcmp(a->model, "hard", &hard));
    PetscCheck(soft || hard, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --model: '%s' is not soft or hard", a->model);
    o->model = soft ? DEEPCD_MOE_MODEL_SOFT : DEEPCD_MOE_MODEL_HARD;
  }
  if (a->backbone) {
    PetscInt k;

    for (k = 0; k < 2; k++) {
      PetscBool same;

      PetscCall(PetscStrcmp(a->backbone, DeepCDMoeBackboneTypes[k], &same));
      if (same) break;
    }
    PetscCheck(k < 2, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --backbone: '%s' is not mlp or fno", a->backbone);
    PetscCall(DeepCDMoeTrainOptionsSetBackbone(o, (DeepCDMoeBackboneType) k));
  }
  PetscCheck(!a->modes || o->backbone == DEEPCD_MOE_BACKBONE_FNO, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --modes %s: only the fno backbone has Fourier modes", a->modes);
  if (a->modes) PetscCall(DeepCDCLIParseInt("moe", "--modes", a->modes, &o->modes));
  PetscCheck(!a->modes || o->modes >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --modes: '%s' must be at least 1", a->modes);
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-moe_fno_fc", &o->fc, NULL));
  PetscCheck(o->fc >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-moe_fno_fc %" PetscInt_FMT ": must be at least 1", o->fc);
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-moe_fno_pad", &o->pad, NULL));
  PetscCheck(o->pad >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-moe_fno_pad %" PetscInt_FMT ": must be non-negative", o->pad);
  PetscCall(PetscStrcmp(a->pde, DEEPCD_MOE_PDE_NS, &ns)); /* two space dimensions: three numbers */
  if (a->experts) {
    PetscCall(parse_ints("--experts", a->experts, ns ? 3 : 2, v));
    o->kx = v[0], o->ky = ns ? v[1] : 1, o->kt = v[ns ? 2 : 1];
  }
  if (a->grid) {
    PetscCall(parse_ints("--grid", a->grid, ns ? 3 : 2, v));
    o->nx = v[0], o->ny = ns ? v[1] : 1, o->nt = v[ns ? 2 : 1];
  }
  if (a->basis) PetscCall(DeepCDCLIParseInt("moe", "--basis", a->basis, &o->N));
  if (a->width) PetscCall(DeepCDCLIParseInt("moe", "--width", a->width, &o->width));
  if (a->depth) PetscCall(DeepCDCLIParseInt("moe", "--depth", a->depth, &o->depth));
  PetscCheck(o->backbone == DEEPCD_MOE_BACKBONE_MLP || o->depth >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --depth %s: the fno needs at least 1 Fourier layer", a->depth);
  if (a->points) PetscCall(DeepCDCLIParseInt("moe", "--points", a->points, &o->points));
  if (a->steps) PetscCall(DeepCDCLIParseInt("moe", "--steps", a->steps, &o->steps));
  if (a->batch) PetscCall(DeepCDCLIParseInt("moe", "--batch", a->batch, &o->batch));
  if (a->ntrain) PetscCall(DeepCDCLIParseInt("moe", "--train", a->ntrain, &o->ntrain));
  if (a->ntest) PetscCall(DeepCDCLIParseInt("moe", "--test", a->ntest, &o->ntest));
  if (a->seed) PetscCall(DeepCDCLIParseInt("moe", "--seed", a->seed, &o->seed));
  if (a->eval_every) PetscCall(DeepCDCLIParseInt("moe", "--eval-every", a->eval_every, &o->eval_every));
  if (a->lr) PetscCall(parse_reals("--lr", a->lr, 1, &o->lr));
  PetscCheck(!a->lr || o->lr > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --lr: '%s' must be positive", a->lr);
  if (a->clip) PetscCall(parse_reals("--clip", a->clip, 1, &o->clip));
  PetscCheck(!a->clip || o->clip >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --clip: '%s' must be 0 (no cap) or positive", a->clip);
  if (a->decay) {
    PetscCall(parse_reals("--lr-decay", a->decay, 3, r));
    PetscCheck(r[1] >= 0 && r[1] == floor(r[1]), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --lr-decay: '%s': the step count E must be a non-negative integer", a->decay);
    PetscCheck(r[0] > 0 && r[2] >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --lr-decay: '%s': the factor must be positive and the floor non-negative", a->decay);
    o->lr_gamma = r[0], o->lr_every = (PetscInt) r[1], o->lr_min = r[2];
  }
  if (a->weights) {
    PetscCall(parse_reals("--loss-weights", a->weights, 3, r));
    PetscCheck(r[0] >= 0 && r[1] >= 0 && r[2] >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "option --loss-weights: '%s': the weights must be non-negative", a->weights);
    o->w_pde = r[0], o->w_ic = r[1], o->w_bc = r[2];
  }
  PetscCheck(o->model == DEEPCD_MOE_MODEL_HARD || !a->experts || (o->kx == 1 && o->ky == 1 && o->kt == 1), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --experts %s: the soft model has no experts", a->experts);
  if (o->model == DEEPCD_MOE_MODEL_SOFT) o->kx = o->ky = o->kt = 1;
  PetscCall(DeepCDMoeLMOptionsSetFromOptions(NULL, &o->lm));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-moe_ridge", &o->ridge, NULL));
  PetscCheck(!PetscIsInfOrNanReal(o->ridge) && o->ridge >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-moe_ridge %s: must be finite and non-negative", DeepCDFormatG(g, (double) o->ridge));
  e = (PetscInt) o->hessian;
  PetscCall(PetscOptionsGetEList(NULL, NULL, "-moe_hessian", DeepCDMoeHessianTypes, 2, &e, &set));
  o->hessian = (DeepCDMoeHessianType) e;
  e          = (PetscInt) o->conditions;
  PetscCall(PetscOptionsGetEList(NULL, NULL, "-moe_conditions", DeepCDMoeConditionsTypes, 2, &e, &set));
  o->conditions = (DeepCDMoeConditions) e;
  e             = (PetscInt) o->coupling;
  PetscCall(PetscOptionsGetEList(NULL, NULL, "-moe_coupling", DeepCDMoeCouplingTypes, 2, &e, &set));
  o->coupling = (DeepCDMoeCoupling) e;
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-moe_coupling_weight", &o->coupling_weight, NULL));
  PetscCheck(!PetscIsInfOrNanReal(o->coupling_weight) && o->coupling_weight > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-moe_coupling_weight %s: must be finite and positive", DeepCDFormatG(g, (double) o->coupling_weight));
  e = (PetscInt) o->loss;
  PetscCall(PetscOptionsGetEList(NULL, NULL, "-moe_loss", DeepCDMoeLossTypes, 2, &e, &set));
  o->loss = (DeepCDMoeLossType) e;
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-moe_loss_unscaled", &o->loss_unscaled, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-moe_scale_inputs", &o->scale_inputs, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  DeepCDProgress progress;
  PetscReal      err;
} Monitor;

static PetscErrorCode monitor(DeepCDMoeTrainer t, PetscInt step, PetscReal loss, PetscReal err, void *ctx)
{
  Monitor *m = (Monitor *) ctx;
  char     fields[128];

  PetscFunctionBegin;
  if (!PetscIsNanReal(err)) m->err = err;
  if (PetscIsNanReal(m->err))
    PetscCall(PetscSNPrintf(fields, sizeof(fields), "loss %.3e", (double) loss));
  else
    PetscCall(PetscSNPrintf(fields, sizeof(fields), "loss %.3e | held-out err %.2f%%", (double) loss, 100.0 * (double) m->err));
  PetscCall(DeepCDProgressUpdate(m->progress, step, fields));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the loss curve and the held-out error at its evaluation steps */
static PetscErrorCode plot_history(DeepCDMoeTrainer t, const char png[])
{
  PetscInt         n;
  const PetscReal *loss, *err;
  PetscReal       *x;
  const char      *names[] = { "training loss", "held-out relative L2 error" };

  PetscFunctionBegin;
  PetscCall(DeepCDMoeTrainerGetHistory(t, &n, &loss, &err));
  if (!n) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc1(n, &x));
  for (PetscInt k = 0; k < n; k++) x[k] = (PetscReal) (k + 1);
  {
    const PetscReal *y[] = { loss, err };

    PetscCall(DeepCDPlotLines(PETSC_COMM_WORLD, png, "deepcd moe train", "step", "", PETSC_TRUE, 2, names, n, x, y));
  }
  PetscCall(PetscFree(x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode default_plot(const char out[], const char suffix[], char png[], size_t len)
{
  const char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
  size_t      stem = (dot && (!slash || dot > slash)) ? (size_t) (dot - out) : strlen(out);

  PetscFunctionBegin;
  PetscCheck(stem + strlen(suffix) < len, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "-o %s: path too long", out);
  memcpy(png, out, stem);
  strcpy(png + stem, suffix);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode train_body(const MoeArgs *a, DeepCDMoeTrainer *tp, Monitor *mp)
{
  DeepCDMoeTrainOptions o;
  DeepCDMoePDE          pde;
  PetscInt              step, nth;
  PetscReal             mean, tstep, tinfer;
  char                  ckpt[PETSC_MAX_PATH_LEN], png[PETSC_MAX_PATH_LEN], summary[256], prefix[128], ktext[64];
  PetscLogDouble        t0, t1;
  PetscMPIInt           size;

  PetscFunctionBegin;
  PetscCall(DeepCDCLICheckIntegerOptions(PETSC_COMM_WORLD, NULL, 0)); /* -moe_lm_max_it */
  PetscCall(train_options(a, &o));
  PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_SELF, "-o", a->out));
  if (a->plot && strcmp(a->plot, "none")) {
    PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_SELF, "--plot", a->plot));
    PetscCall(DeepCDCLICheckNotInput(PETSC_COMM_SELF, "--plot", a->plot, a->plot, 1, &a->resume, "checkpoint of --resume"));
  }
  PetscCall(DeepCDMoeTrainerCreate(PETSC_COMM_WORLD, a->pde, &o, tp));
  PetscCall(DeepCDMoeTrainerGetPDE(*tp, &pde));
  PetscCall(DeepCDMoePDESetFromOptions(pde));
  if (a->resume) PetscCall(DeepCDMoeTrainerResume(*tp, a->resume));
  if (a->ckpt_every) {
    PetscInt every;

    PetscCall(DeepCDCLIParseInt("moe", "--checkpoint-every", a->ckpt_every, &every));
    PetscCall(PetscSNPrintf(ckpt, sizeof(ckpt), "%s.ckpt", a->out));
    PetscCall(DeepCDMoeTrainerSetCheckpoint(*tp, ckpt, every));
  }
  PetscCall(DeepCDMoeTrainerGetStep(*tp, &step));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscSNPrintf(prefix, sizeof(prefix), "moe %s %s %s", a->pde, DeepCDMoeModelTypes[o.model], experts_text(&o, ktext, sizeof(ktext))));
  PetscCall(DeepCDProgressCreate(PETSC_COMM_WORLD, prefix, o.steps, &mp->progress));
  PetscCall(DeepCDProgressSetStart(mp->progress, step));
  PetscCall(DeepCDMoeTrainerSetMonitor(*tp, monitor, mp));
  PetscCall(PetscTime(&t0));
  PetscCall(DeepCDMoeTrainerTrain(*tp));
  PetscCall(PetscTime(&t1));
  PetscCall(DeepCDMoeTrainerEvaluate(*tp, NULL, NULL, &mean));
  PetscCall(DeepCDMoeTrainerGetTimings(*tp, &tstep, &tinfer));
  PetscCall(DeepCDMoeTrainerGetParameters(*tp, &nth, NULL));
  PetscCall(PetscSNPrintf(summary, sizeof(summary), "held-out rel L2 %.2f%% | %.1f ms/step, %.1f ms/inference", 100.0 * (double) mean, 1e3 * (double) tstep, 1e3 * (double) tinfer));
  PetscCall(DeepCDProgressEnd(&mp->progress, summary));
  PetscCall(DeepCDMoeTrainerSave(*tp, a->out));
  if (!a->plot || strcmp(a->plot, "none")) {
    if (a->plot)
      PetscCall(PetscStrncpy(png, a->plot, sizeof(png)));
    else
      PetscCall(default_plot(a->out, "-loss.png", png, sizeof(png)));
    PetscCall(plot_history(*tp, png));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "deepcd moe train: %s, %s model, %s backbone, %s experts on %d rank%s, %" PetscInt_FMT " parameters, %" PetscInt_FMT " steps in %.2f s; held-out relative L2 error %.3f%% -> %s\n", a->pde, DeepCDMoeModelTypes[o.model], DeepCDMoeBackboneTypes[o.backbone], experts_text(&o, ktext, sizeof(ktext)), size,
                        size > 1 ? "s" : "", nth, o.steps - step, (double) (t1 - t0), 100.0 * (double) mean, a->out));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode train(const MoeArgs *a)
{
  DeepCDMoeTrainer t = NULL;
  Monitor          m = { NULL, NAN };
  PetscErrorCode   ierr;

  PetscFunctionBegin;
  ierr = train_body(a, &t, &m);
  /* on every path: the trainer, and the progress line of a run that failed */
  PetscCall(DeepCDProgressDestroy(&m.progress));
  PetscCall(DeepCDMoeTrainerDestroy(&t));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* reference and prediction of held-out instance 0 at the middle and last times */
static PetscErrorCode plot_prediction(DeepCDMoeTrainer t, const char png[])
{
  const DeepCDMoeGrid         *g;
  const DeepCDMoeTrainOptions *o;
  const PetscReal             *ref;
  PetscReal                   *x, *pred, *y[4];
  char                         n0[64], n1[64], n2[64], n3[64];
  const char                  *names[] = { n0, n1, n2, n3 };
  PetscInt                     js[2];

  PetscFunctionBegin;
  PetscCall(DeepCDMoeTrainerGetGrid(t, &g));
  PetscCall(DeepCDMoeTrainerGetOptions(t, &o));
  PetscCall(DeepCDMoeTrainerGetReferences(t, &ref));
  PetscCall(PetscMalloc2(g->nx, &x, o->ntest * DeepCDMoeGridSize(g), &pred));
  PetscCall(DeepCDMoeTrainerEvaluate(t, NULL, pred, NULL));
  for (PetscInt i = 0; i < g->nx; i++) x[i] = g->xlo + i * g->hx;
  js[0] = (g->nt - 1) / 2, js[1] = g->nt - 1;
  for (PetscInt k = 0; k < 2; k++) { /* 2-D problems: the row y = ylo */
    y[2 * k]     = (PetscReal *) ref + js[k] * g->nx * g->ny;
    y[2 * k + 1] = pred + js[k] * g->nx * g->ny;
  }
  PetscCall(PetscSNPrintf(n0, sizeof(n0), "reference t = %g", (double) (g->t0 + js[0] * g->ht)));
  PetscCall(PetscSNPrintf(n1, sizeof(n1), "prediction t = %g", (double) (g->t0 + js[0] * g->ht)));
  PetscCall(PetscSNPrintf(n2, sizeof(n2), "reference t = %g", (double) (g->t0 + js[1] * g->ht)));
  PetscCall(PetscSNPrintf(n3, sizeof(n3), "prediction t = %g", (double) (g->t0 + js[1] * g->ht)));
  PetscCall(DeepCDPlotLines(PETSC_COMM_WORLD, png, g->ny > 1 ? "held-out instance 0, y = 0" : "held-out instance 0", "x", "u", PETSC_FALSE, 4, names, g->nx, x, (const PetscReal *const *) y));
  PetscCall(PetscFree2(x, pred));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* --report: each expert's solve averaged over the held-out instances */
static PetscErrorCode print_report(DeepCDMoeTrainer t)
{
  const DeepCDMoeTrainOptions *o;
  DeepCDMoeExpertReport       *rep;

  PetscFunctionBegin;
  PetscCall(DeepCDMoeTrainerGetOptions(t, &o));
  PetscCall(PetscMalloc1(o->kx * o->kt, &rep));
  PetscCall(DeepCDMoeTrainerReport(t, rep));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  per expert, mean over %" PetscInt_FMT " held-out instances (coupling %s; LM cap %" PetscInt_FMT "):\n", o->ntest, DeepCDMoeCouplingTypes[o->coupling], o->lm.max_it));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  expert   LM steps   at cap   1/2||r||^2   log10 cond\n"));
  for (PetscInt k = 0; k < o->kx * o->kt; k++)
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  %6" PetscInt_FMT "   %8.1f   %5.0f%%   %10.3e   %10.1f\n", k, (double) rep[k].its, 100.0 * (double) rep[k].capped, (double) rep[k].f, (double) rep[k].log10cond));
  PetscCall(PetscFree(rep));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode eval_body(const MoeArgs *a, DeepCDMoeTrainer *tp, PetscReal **errp)
{
  const DeepCDMoeTrainOptions *o;
  const PetscReal             *param;
  PetscReal                    mean, tinfer;
  PetscInt                     np, step;
  DeepCDMoePDE                 pde;
  char                         ktext[64];

  PetscFunctionBegin;
  if (a->out) PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_SELF, "-o", a->out));
  if (a->plot) {
    /* -o may name the run file (it is written again, whole, under a temporary name); the plot may not */
    PetscCall(DeepCDCLICheckOutputDir(PETSC_COMM_SELF, "--plot", a->plot));
    PetscCall(DeepCDCLICheckNotInput(PETSC_COMM_SELF, "--plot", a->plot, a->plot, 1, &a->run, "run file"));
  }
  PetscCall(DeepCDMoeTrainerLoad(PETSC_COMM_WORLD, a->run, tp));
  PetscCall(DeepCDMoeTrainerGetOptions(*tp, &o));
  PetscCheck(!a->report || o->model == DEEPCD_MOE_MODEL_HARD, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "option --report: %s is a soft model, which has no experts to report", a->run);
  PetscCall(DeepCDMoeTrainerGetInstances(*tp, PETSC_TRUE, NULL, &np, &param));
  PetscCall(DeepCDMoeTrainerGetStep(*tp, &step));
  PetscCall(PetscMalloc1(o->ntest, errp));
  PetscCall(DeepCDMoeTrainerEvaluate(*tp, (*errp), NULL, &mean));
  PetscCall(DeepCDMoeTrainerGetTimings(*tp, NULL, &tinfer));
  PetscCall(DeepCDMoeTrainerGetPDE(*tp, &pde));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s: %s, %s model, %s backbone, %s experts, after %" PetscInt_FMT " steps\n", a->run, pde->type, DeepCDMoeModelTypes[o->model], DeepCDMoeBackboneTypes[o->backbone], experts_text(o, ktext, sizeof(ktext)), step));
  for (PetscInt k = 0; k < o->ntest; k++) {
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  held-out %3" PetscInt_FMT "  params", k));
    for (PetscInt l = 0; l < np; l++) PetscCall(PetscPrintf(PETSC_COMM_WORLD, " %8.4f", (double) param[k * np + l]));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  relative L2 error %8.3f%%\n", 100.0 * (double) (*errp)[k]));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  mean relative L2 error %.3f%%; %.2f ms per inference\n", 100.0 * (double) mean, 1e3 * (double) tinfer));
  if (a->report) PetscCall(print_report(*tp));
  if (a->plot) PetscCall(plot_prediction(*tp, a->plot));
  if (a->out) PetscCall(DeepCDMoeTrainerSave(*tp, a->out));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode eval(const MoeArgs *a)
{
  DeepCDMoeTrainer t   = NULL;
  PetscReal       *err = NULL;
  PetscErrorCode   ierr;

  PetscFunctionBegin;
  ierr = eval_body(a, &t, &err);
  PetscCall(PetscFree(err)); /* on every path */
  PetscCall(DeepCDMoeTrainerDestroy(&t));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

int DeepCDCmdMoe(int argc, char **argv)
{
  MoeArgs        args;
  char           syntax[PETSC_MAX_PATH_LEN + 256];
  char         **pargv = (char **) malloc((size_t) (argc + 1) * sizeof(char *));
  int            pargc, status = 0;
  PetscErrorCode ierr;

  if (!pargv) return 1;
  pargv[0] = argv[0];
  if (split_args(argc, argv, &args, pargv, &pargc, syntax, sizeof(syntax))) {
    usage(stdout);
    free(pargv);
    return 0;
  }
  ierr = DeepCDCLIInitialize(&pargc, &pargv, help);
  if (ierr) {
    status = DeepCDCLIFinalize(DeepCDCLIFail("moe", ierr));
    free(pargv);
    return status;
  }
  if (syntax[0])
    ierr = PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_ARG_WRONG, PETSC_ERROR_INITIAL, "%s", syntax);
  else if (!strcmp(args.cmd, "train"))
    ierr = train(&args);
  else
    ierr = eval(&args);
  if (ierr) status = DeepCDCLIFail("moe", ierr);
  status = DeepCDCLIFinalize(status);
  free(pargv); /* after PetscFinalize(), which keeps argv */
  return status;
}
