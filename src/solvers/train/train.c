/* Training a DCDM network (docs/training.md): mini-batch Adam on the
   scale-invariant DCDM loss over a training data file.

   Parallelism is data parallel: every rank holds the whole model and every
   problem's operator (sequential matrices), takes the batch elements i with
   i mod size == rank, and the parameter gradients are summed with one
   MPI_Allreduce per step; every rank then takes the same Adam step. The
   sample order comes from one splitmix64 stream drawn identically on every
   rank, so it does not depend on the number of ranks. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <hdf5.h>
#include <petsc/private/petscimpl.h>
#include <deepcd/model_io.h>
#include <deepcd/operator.h>
#include <deepcd/train.h>
#include <deepcd/train_data.h>
#include <deepcd/private/h5util.h>
#include <deepcd/private/trainimpl.h>
#include <deepcd/private/rng.h>
#include <deepcd/private/petsccompat.h>

/* A real as plain C prints it (PETSc's %s prints "1." for 1). */
static const char *fmt_real(char buf[32], PetscReal v)
{
  snprintf(buf, 32, "%g", (double) v);
  return buf;
}

static PetscErrorCode check_options(MPI_Comm comm, const DeepCDTrainOptions *o)
{
  char g[32];

  PetscFunctionBegin;
  PetscCheck(o->data[0], comm, PETSC_ERR_ARG_WRONG, "train: no training data file given");
  PetscCheck(o->steps >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "train: steps = %" PetscInt_FMT " must be >= 1", o->steps);
  PetscCheck(o->batch >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "train: batch = %" PetscInt_FMT " must be >= 1", o->batch);
  PetscCheck(o->lr > 0 && PetscIsNormalReal(o->lr), comm, PETSC_ERR_ARG_OUTOFRANGE, "train: learning rate %s must be a positive number", fmt_real(g, o->lr));
  PetscCheck(!strcmp(o->schedule, "cosine") || !strcmp(o->schedule, "constant"), comm, PETSC_ERR_ARG_WRONG, "train: schedule '%s' is not 'cosine' or 'constant'", o->schedule);
  PetscCheck(o->lr_min_factor >= 0 && o->lr_min_factor <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "train: lr_min_factor %s must be in [0, 1]", fmt_real(g, o->lr_min_factor));
  PetscCheck(o->warmup >= 0 && o->warmup < o->steps, comm, PETSC_ERR_ARG_OUTOFRANGE, "train: warmup = %" PetscInt_FMT " must be in [0, steps)", o->warmup);
  PetscCheck(o->weight_decay >= 0 && o->weight_decay < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "train: weight decay %s must be in [0, 1)", fmt_real(g, o->weight_decay));
  PetscCheck(o->val_fraction >= 0 && o->val_fraction < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "train: validation fraction %s must be in [0, 1)", fmt_real(g, o->val_fraction));
  PetscCheck(o->noise >= 0 && o->noise < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "train: noise share %s must be in [0, 1)", fmt_real(g, o->noise));
  PetscCheck(o->val_every >= 0 && o->val_samples >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "train: validation every %" PetscInt_FMT " steps on %" PetscInt_FMT " samples: both must be >= 0", o->val_every, o->val_samples);
  PetscCheck(o->checkpoint_every >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "train: checkpoint_every = %" PetscInt_FMT " must be >= 0", o->checkpoint_every);
  PetscCheck(o->smooth >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "train: smooth = %" PetscInt_FMT " must be >= 0", o->smooth);
  PetscCheck(o->stop_at >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "train: stop_at = %" PetscInt_FMT " must be >= 0", o->stop_at);
  PetscCheck(!o->stop_at || o->checkpoint[0], comm, PETSC_ERR_ARG_WRONG, "train: stopping early (stop_at) needs a checkpoint file");
  PetscCheck(!strcmp(o->backend, "cpu") || !strcmp(o->backend, "ref") || !strcmp(o->backend, "cuda"), comm, PETSC_ERR_ARG_WRONG, "train: backend '%s' is not cpu, cuda or ref", o->backend);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the training data ---- */

/* One problem of the data file: its operator and its samples. */
typedef struct {
  PetscInt       nx, ny, nz, n, samples, nval;
  PetscReal      scale; /* sqrt(n): the network's input is b at unit RMS */
  float         *noise; /* n: work array of the augmentation */
  unsigned char *solid;
  Mat            A;
  Vec            work[5];
  TrainSmoother  smoother; /* --smooth */
  hid_t          rhs;      /* the dataset */
  int            net;      /* index into the nets (one per grid size) */
} TrainProblem;

typedef struct {
  MPI_Comm      comm;
  PetscMPIInt   rank, size;
  const char   *file;
  hid_t         fid;
  PetscInt      nprob, ntrain, nval;
  PetscReal     noise; /* augmentation share F */
  uint64_t      seed;
  TrainProblem *prob;
  nn_net      **nets;
  PetscInt (*netdims)[3]; /* (nz, ny, nx) of each net */
  int      nnets;
  PetscInt maxn;
  float   *b, *in, *q, *dq;
  char     desc[256];
} TrainData;

static PetscErrorCode data_close(TrainData *d)
{
  PetscFunctionBegin;
  for (PetscInt p = 0; d->prob && p < d->nprob; p++) {
    TrainProblem *tp = &d->prob[p];

    PetscCall(MatDestroy(&tp->A));
    for (int i = 0; i < 5; i++) PetscCall(VecDestroy(&tp->work[i]));
    PetscCall(DeepCDTrainSmootherDestroy(&tp->smoother));
    PetscCall(PetscFree(tp->solid));
    PetscCall(PetscFree(tp->noise));
    if (tp->rhs >= 0) H5Dclose(tp->rhs);
  }
  for (int i = 0; i < d->nnets; i++) nn_net_destroy(&d->nets[i]);
  PetscCall(PetscFree(d->nets));
  PetscCall(PetscFree(d->netdims));
  PetscCall(PetscFree(d->prob));
  PetscCall(PetscFree4(d->b, d->in, d->q, d->dq));
  if (d->fid >= 0) PetscCall(DeepCDH5Close(d->fid));
  d->fid = H5I_INVALID_HID;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Reads group `grp` (problem p) of the data file and builds its operator. */
static PetscErrorCode data_problem(TrainData *d, PetscInt p, const DeepCDTrainOptions *o)
{
  TrainProblem     *tp = &d->prob[p];
  char              grp[64], item[96], boundary[64];
  hid_t             gid;
  DeepCDH5Info      info;
  DeepCDProblemData pd;
  DeepCDProblem     prob;
  PetscBool         has_k;
  PetscReal         h;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(grp, sizeof(grp), "problem%03" PetscInt_FMT, p));
  {
    htri_t e = H5Lexists(d->fid, grp, H5P_DEFAULT);

    PetscCheck(e > 0, d->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: group '%s' is missing", d->file, grp);
  }
  gid = H5Gopen2(d->fid, grp, H5P_DEFAULT);
  PetscCheck(gid >= 0, d->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: '%s' is not a group", d->file, grp);
  PetscCall(DeepCDH5ReadAttrInt(d->comm, d->file, gid, "nx", &tp->nx));
  PetscCall(DeepCDH5ReadAttrInt(d->comm, d->file, gid, "ny", &tp->ny));
  PetscCall(DeepCDH5ReadAttrInt(d->comm, d->file, gid, "nz", &tp->nz));
  PetscCheck(tp->nx >= 1 && tp->ny >= 1 && tp->nz >= 1, d->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: group '%s': grid %" PetscInt_FMT "x%" PetscInt_FMT "x%" PetscInt_FMT " is not valid", d->file, grp, tp->nx, tp->ny, tp->nz);
  PetscCall(DeepCDH5ReadAttrReal(d->comm, d->file, gid, "h", &h));
  PetscCheck(h > 0 && PetscIsNormalReal(h), d->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: group '%s': attribute 'h' must be a positive number", d->file, grp);
  PetscCall(DeepCDH5ReadAttrString(d->comm, d->file, gid, "boundary", boundary, sizeof(boundary)));
  PetscCall(PetscSNPrintf(item, sizeof(item), "%s: group '%s'", d->file, grp));
  PetscCall(DeepCDCheckBoundary(item, boundary));
  tp->n     = tp->nx * tp->ny * tp->nz;
  tp->scale = PetscSqrtReal((PetscReal) tp->n);
  PetscCall(DeepCDH5DatasetInfo(d->comm, d->file, gid, "rhs", &info));
  PetscCheck(info.exists, d->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s/rhs' is missing", d->file, grp);
  PetscCheck(info.rank == 4 && info.dims[1] == (hsize_t) tp->nz && info.dims[2] == (hsize_t) tp->ny && info.dims[3] == (hsize_t) tp->nx && info.dims[0] >= 1 && info.tclass == H5T_FLOAT, d->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s/rhs' must be floating point of shape (S >= 1, %" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT ")", d->file, grp, tp->nz, tp->ny, tp->nx);
  tp->samples = (PetscInt) info.dims[0];
  tp->nval    = (PetscInt) ceil(o->val_fraction * (double) tp->samples);
  if (tp->nval >= tp->samples) tp->nval = tp->samples - 1;
  PetscCall(PetscMemzero(&pd, sizeof(pd)));
  pd.nx = tp->nx;
  pd.ny = tp->ny;
  pd.nz = tp->nz;
  pd.h  = h;
  PetscCall(PetscStrncpy(pd.boundary, boundary, sizeof(pd.boundary)));
  PetscCall(PetscCalloc1(tp->n, &tp->solid));
  PetscCall(PetscMalloc1(tp->n, &tp->noise));
  {
    const PetscInt start[3] = { 0, 0, 0 }, count[3] = { tp->nx, tp->ny, tp->nz };
    PetscBool      ok;

    PetscCall(DeepCDH5DatasetInfo(d->comm, d->file, gid, "solid", &info));
    PetscCheck(info.exists, d->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s/solid' is missing", d->file, grp);
    {
      PetscCheck(info.rank == 3 && info.dims[0] == (hsize_t) tp->nz && info.dims[1] == (hsize_t) tp->ny && info.dims[2] == (hsize_t) tp->nx && info.tclass == H5T_INTEGER, d->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s/solid' must be integer of shape (%" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT ")", d->file, grp, tp->nz, tp->ny, tp->nx);
      PetscCall(PetscSNPrintf(item, sizeof(item), "%s/solid", grp));
      PetscCall(DeepCDH5ReadBox(d->file, gid, "solid", H5T_NATIVE_UCHAR, start, count, tp->solid, &ok));
      PetscCheck(ok, d->comm, PETSC_ERR_FILE_READ, "%s: dataset '%s' cannot be read", d->file, item);
      for (PetscInt c = 0; c < tp->n; c++) PetscCheck(tp->solid[c] <= 1, d->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' has a value other than 0 or 1", d->file, item);
    }
    pd.solid = tp->solid;
    PetscCall(DeepCDH5DatasetInfo(d->comm, d->file, gid, "coefficient", &info));
    has_k = info.exists;
    if (has_k) {
      PetscCheck(info.rank == 3 && info.dims[0] == (hsize_t) tp->nz && info.dims[1] == (hsize_t) tp->ny && info.dims[2] == (hsize_t) tp->nx && info.tclass == H5T_FLOAT, d->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s/coefficient' must be floating point of shape (%" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT ")", d->file, grp, tp->nz, tp->ny, tp->nx);
      PetscCall(PetscMalloc1(tp->n, &pd.coefficient));
      PetscCall(DeepCDH5ReadBox(d->file, gid, "coefficient", H5T_NATIVE_DOUBLE, start, count, pd.coefficient, &ok));
      PetscCheck(ok, d->comm, PETSC_ERR_FILE_READ, "%s: dataset '%s/coefficient' cannot be read", d->file, grp);
    }
  }
  PetscCall(PetscSNPrintf(item, sizeof(item), "%s: group '%s'", d->file, grp));
  PetscCall(DeepCDProblemCreateFromData(PETSC_COMM_SELF, &pd, item, &prob));
  PetscCall(PetscFree(pd.coefficient));
  PetscCall(DeepCDOperatorAssemble(prob, &tp->A));
  PetscCall(DeepCDProblemDestroy(&prob));
  PetscCall(MatCreateVecs(tp->A, &tp->work[0], NULL));
  for (int i = 1; i < 5; i++) PetscCall(VecDuplicate(tp->work[0], &tp->work[i]));
  PetscCall(DeepCDTrainSmootherSetUp(tp->A, o->smooth, &tp->smoother));
  tp->rhs = H5Dopen2(gid, "rhs", H5P_DEFAULT);
  H5Gclose(gid);
  PetscCheck(tp->rhs >= 0, d->comm, PETSC_ERR_FILE_READ, "%s: dataset '%s/rhs' cannot be opened", d->file, grp);
  {
    /* every sample up front, not only those drawn: a NaN would otherwise stop
       the run at a random step, or never, depending on the seed */
    float *buf;
    int    bad = 0;

    PetscCall(PetscMalloc1(tp->n, &buf));
    for (PetscInt s = 0; s < tp->samples && !bad; s++) {
      hsize_t start[4] = { (hsize_t) s, 0, 0, 0 }, count[4] = { 1, (hsize_t) tp->nz, (hsize_t) tp->ny, (hsize_t) tp->nx };

      if (deepcd_h5_read_box(tp->rhs, NULL, H5T_NATIVE_FLOAT, 4, start, count, buf))
        bad = 1;
      else if (deepcd_h5_first_nonfinite(H5T_NATIVE_FLOAT, (size_t) tp->n, buf) < (size_t) tp->n)
        bad = 2;
      if (bad) PetscCall(PetscSNPrintf(item, sizeof(item), "%" PetscInt_FMT, s));
    }
    PetscCall(PetscFree(buf));
    PetscCheck(bad != 1, d->comm, PETSC_ERR_FILE_READ, "%s: dataset '%s/rhs': sample %s cannot be read", d->file, grp, item);
    PetscCheck(bad != 2, d->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s/rhs': sample %s contains NaN or Inf", d->file, grp, item);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Opens the data file and builds every problem's operator and a training net per grid size. */
static PetscErrorCode data_open(MPI_Comm comm, const DeepCDTrainOptions *o, const nn_model *m, TrainData *d)
{
  PetscInt samples = 0;

  PetscFunctionBegin;
  d->comm  = comm;
  d->file  = o->data;
  d->noise = o->noise;
  d->seed  = (uint64_t) o->seed;
  PetscCallMPI(MPI_Comm_rank(comm, &d->rank));
  PetscCallMPI(MPI_Comm_size(comm, &d->size));
  PetscCall(DeepCDH5Open(comm, o->data, &d->fid));
  PetscCall(DeepCDH5CheckHeader(comm, o->data, d->fid, 1, (const char *const[]){ DEEPCD_TRAIN_DATA_FORMAT }, (const int[]){ DEEPCD_TRAIN_DATA_VERSION }, "training data file", NULL));
  PetscCall(DeepCDH5ReadAttrInt(comm, o->data, d->fid, "problems", &d->nprob));
  PetscCheck(d->nprob >= 1, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute 'problems' = %" PetscInt_FMT " must be >= 1", o->data, d->nprob);
  PetscCall(PetscCalloc1(d->nprob, &d->prob));
  for (PetscInt p = 0; p < d->nprob; p++) d->prob[p].rhs = H5I_INVALID_HID;
  PetscCall(PetscCalloc1(d->nprob, &d->nets));
  PetscCall(PetscCalloc1(d->nprob, &d->netdims));
  for (PetscInt p = 0; p < d->nprob; p++) {
    TrainProblem *tp = &d->prob[p];
    int           k;

    PetscCall(data_problem(d, p, o));
    d->ntrain += tp->samples - tp->nval;
    d->nval += tp->nval;
    samples += tp->samples;
    d->maxn = PetscMax(d->maxn, tp->n);
    for (k = 0; k < d->nnets; k++)
      if (d->netdims[k][0] == tp->nz && d->netdims[k][1] == tp->ny && d->netdims[k][2] == tp->nx) break;
    if (k == d->nnets) {
      const int dims[3] = { (int) tp->nz, (int) tp->ny, (int) tp->nx };

      PetscCheck(nn_net_create_train(m, o->backend, NN_FP32, dims, &d->nets[k]) == NN_SUCCESS, comm, PETSC_ERR_LIB, "train: %s", nn_error_message());
      for (int a = 0; a < 3; a++) d->netdims[k][a] = dims[a];
      d->nnets++;
    }
    tp->net = k;
  }
  PetscCall(PetscMalloc4(d->maxn, &d->b, d->maxn, &d->in, d->maxn, &d->q, d->maxn, &d->dq));
  PetscCall(PetscSNPrintf(d->desc, sizeof(d->desc), "%s: %" PetscInt_FMT " problems, %" PetscInt_FMT " right-hand sides (%" PetscInt_FMT " held out)", o->data, d->nprob, samples, d->nval));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode data_read(TrainData *d, PetscInt p, PetscInt s)
{
  TrainProblem *tp       = &d->prob[p];
  hsize_t       start[4] = { (hsize_t) s, 0, 0, 0 }, count[4] = { 1, (hsize_t) tp->nz, (hsize_t) tp->ny, (hsize_t) tp->nx };

  PetscFunctionBegin;
  PetscCheck(!deepcd_h5_read_box(tp->rhs, NULL, H5T_NATIVE_FLOAT, 4, start, count, d->b), PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: dataset 'problem%03" PetscInt_FMT "/rhs': sample %" PetscInt_FMT " cannot be read", d->file, p, s);
  for (PetscInt i = 0; i < tp->n; i++) PetscCheck(isfinite(d->b[i]), PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'problem%03" PetscInt_FMT "/rhs': sample %" PetscInt_FMT " contains NaN or Inf", d->file, p, s);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Forward (and backward when dparams) of sample s of problem p: returns its loss. */
/* Augmentation: b <- (sqrt(1 - F) b + sqrt(F) w / ||w||) / ||.||, w white noise on the fluid cells. The data's
   right-hand sides hold only the lowest Ritz modes; the residuals of a solve hold every frequency. */
static void add_noise(const TrainProblem *tp, float *b, PetscReal F, uint64_t seed)
{
  double ww = 0, bb = 0, a = sqrt(1.0 - F), c;

  if (F <= 0) return;
  for (PetscInt i = 0; i < tp->n; i++) {
    double g = tp->solid[i] ? 0.0 : DeepCDNormal01(&seed);

    ww += g * g;
    tp->noise[i] = (float) g;
  }
  c = ww > 0 ? sqrt(F / ww) : 0;
  for (PetscInt i = 0; i < tp->n; i++) {
    b[i] = (float) (a * b[i] + c * tp->noise[i]);
    bb += (double) b[i] * b[i];
  }
  if (bb > 0)
    for (PetscInt i = 0; i < tp->n; i++) b[i] = (float) (b[i] / sqrt(bb));
}

static PetscErrorCode data_sample(TrainData *d, PetscInt p, PetscInt s, uint64_t noise_seed, float *dparams, PetscReal *loss, PetscBool *degenerate)
{
  TrainProblem *tp  = &d->prob[p];
  nn_net       *net = d->nets[tp->net];

  PetscFunctionBegin;
  PetscCall(data_read(d, p, s));
  add_noise(tp, d->b, d->noise, noise_seed);
  /* the network sees the right-hand side at unit RMS, as in the KSP (dirgen_cnn.c) */
  for (PetscInt i = 0; i < tp->n; i++) d->in[i] = (float) (tp->scale * d->b[i]);
  PetscCheck(nn_net_forward(net, d->in, tp->solid, d->q) == NN_SUCCESS, PETSC_COMM_SELF, PETSC_ERR_LIB, "train: forward: %s", nn_error_message());
  PetscCall(DeepCDTrainSmootherForward(&tp->smoother, tp->A, d->b, d->q)); /* --smooth: the loss sees the solver's direction */
  PetscCall(DeepCDTrainLossEval(tp->A, tp->work, d->b, d->q, loss, dparams ? d->dq : NULL, degenerate));
  if (dparams) PetscCall(DeepCDTrainSmootherBackward(&tp->smoother, d->dq));
  if (dparams) PetscCheck(nn_net_backward(net, d->dq, NULL, dparams) == NN_SUCCESS, PETSC_COMM_SELF, PETSC_ERR_LIB, "train: backward: %s", nn_error_message());
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Training item i (0 <= i < ntrain) as (problem, sample): the first S_p - V_p samples of each problem in turn. */
static void train_item(const TrainData *d, PetscInt i, PetscInt *p, PetscInt *s)
{
  PetscInt q = 0;

  while (i >= d->prob[q].samples - d->prob[q].nval) {
    i -= d->prob[q].samples - d->prob[q].nval;
    q++;
  }
  *p = q;
  *s = i;
}

/* Validation item j: round robin over the problems' held-out samples (the last V_p of each). */
static void val_item(const TrainData *d, PetscInt j, PetscInt *p, PetscInt *s)
{
  for (PetscInt round = 0;; round++)
    for (PetscInt q = 0; q < d->nprob; q++)
      if (round < d->prob[q].nval) {
        if (j == 0) {
          *p = q;
          *s = d->prob[q].samples - d->prob[q].nval + round;
          return;
        }
        j--;
      }
}

static PetscErrorCode validate(TrainData *d, const DeepCDTrainOptions *o, PetscReal *val)
{
  PetscInt  nv  = PetscMin(d->nval, o->val_samples);
  PetscReal sum = 0, gsum;

  PetscFunctionBegin;
  *val = NAN;
  if (!nv) PetscFunctionReturn(PETSC_SUCCESS);
  for (PetscInt j = d->rank; j < nv; j += d->size) {
    PetscInt  p, s;
    PetscReal l;
    PetscBool deg;

    val_item(d, j, &p, &s);
    PetscCall(data_sample(d, p, s, d->seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t) (p + 1)) ^ ((uint64_t) s << 32), NULL, &l, &deg));
    sum += l;
  }
  PetscCallMPI(MPIU_Allreduce(&sum, &gsum, 1, MPIU_REAL, MPI_SUM, d->comm));
  *val = gsum / nv;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscReal learning_rate(const DeepCDTrainOptions *o, PetscInt step) /* step: 0-based index of the step taken */
{
  PetscReal lmin = o->lr * o->lr_min_factor;

  if (step < o->warmup) return o->lr * (step + 1) / (o->warmup + 1);
  if (!strcmp(o->schedule, "constant")) return o->lr;
  return lmin + 0.5 * (o->lr - lmin) * (1 + cos(PETSC_PI * (double) (step - o->warmup) / (double) (o->steps - o->warmup)));
}

static PetscErrorCode history_add(DeepCDTrainHistory *h, PetscInt step, PetscReal loss, PetscReal val)
{
  PetscFunctionBegin;
  PetscCall(PetscRealloc(sizeof(PetscInt) * (h->n + 1), &h->step));
  PetscCall(PetscRealloc(sizeof(PetscReal) * (h->n + 1), &h->loss));
  PetscCall(PetscRealloc(sizeof(PetscReal) * (h->n + 1), &h->val_loss));
  h->step[h->n]     = step;
  h->loss[h->n]     = loss;
  h->val_loss[h->n] = val;
  h->n++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode set_record(nn_model *m, const TrainData *d, const DeepCDTrainOptions *o, PetscInt step, PetscReal loss)
{
  time_t    now = time(NULL);
  struct tm tm;

  PetscFunctionBegin;
  m->training.grid[0] = (int) d->prob[0].nx;
  m->training.grid[1] = (int) d->prob[0].ny;
  m->training.grid[2] = (int) d->prob[0].nz;
  PetscCall(PetscStrncpy(m->training.data, d->desc, sizeof(m->training.data)));
  if (o->smooth)
    PetscCall(PetscSNPrintf(m->training.loss, sizeof(m->training.loss), "dcdm, smoothed by %" PetscInt_FMT " chebyshev/jacobi", o->smooth));
  else
    PetscCall(PetscStrncpy(m->training.loss, "dcdm", sizeof(m->training.loss)));
  m->training.loss_value = loss;
  m->training.steps      = (long) step;
  m->training.seed       = (uint64_t) o->seed;
  gmtime_r(&now, &tm);
  strftime(m->training.date, sizeof(m->training.date), "%Y-%m-%dT%H:%M:%SZ", &tm);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* What a run holds: freed by train_cleanup() whatever happened. */
typedef struct {
  TrainData          d;
  TrainState         st;
  DeepCDTrainHistory hist;
  float             *grad, *gsum;
} TrainRun;

static PetscErrorCode train_cleanup(TrainRun *r)
{
  PetscFunctionBegin;
  PetscCall(PetscFree2(r->grad, r->gsum));
  PetscCall(data_close(&r->d));
  nn_adam_destroy(&r->st.adam);
  nn_model_destroy(&r->st.model);
  PetscCall(DeepCDTrainHistoryDestroy(&r->hist));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The run; on success the model and the history move to the caller (r's are NULL) */
static PetscErrorCode train_run(MPI_Comm comm, const DeepCDTrainOptions *opts, const char resume[], DeepCDTrainMonitor monitor, void *mctx, TrainRun *r, nn_model **model, DeepCDTrainHistory *history)
{
  DeepCDTrainOptions  o;
  TrainData          *d    = &r->d;
  TrainState         *st   = &r->st;
  DeepCDTrainHistory *hist = &r->hist;
  PetscLogDouble      t0, t1;
  PetscInt            start, end, nsince = 0, trained = 0;
  PetscReal           since = 0, val = NAN;

  PetscFunctionBegin;
  o = *opts;
  if (resume && resume[0]) {
    PetscCall(DeepCDTrainCheckpointRead(comm, resume, &o, st, hist));
    o.steps            = opts->steps;
    o.checkpoint_every = opts->checkpoint_every;
    o.stop_at          = opts->stop_at;
    PetscCall(PetscStrncpy(o.checkpoint, opts->checkpoint, sizeof(o.checkpoint)));
    if (opts->data[0]) PetscCall(PetscStrncpy(o.data, opts->data, sizeof(o.data)));
    PetscCheck(st->step <= o.steps, comm, PETSC_ERR_ARG_OUTOFRANGE, "%s: the checkpoint is at step %" PetscInt_FMT ", after the %" PetscInt_FMT " steps asked for", resume, st->step, o.steps);
  }
  PetscCall(check_options(comm, &o));
  if (!st->model) {
    if (o.init[0])
      PetscCall(DeepCDModelRead(comm, o.init, &st->model));
    else {
      PetscCheck(nn_model_create_arch(o.arch, &st->model) == NN_SUCCESS, comm, PETSC_ERR_ARG_WRONG, "train: %s", nn_error_message());
      PetscCheck(nn_model_init_he(st->model, (uint64_t) o.seed) == NN_SUCCESS, comm, PETSC_ERR_LIB, "train: %s", nn_error_message());
    }
    PetscCheck(nn_adam_create(st->model->nparams, &st->adam) == NN_SUCCESS, comm, PETSC_ERR_MEM, "train: %s", nn_error_message());
    st->rng = (uint64_t) o.seed ^ 0x5DEECE66DULL;
  }
  st->adam->weight_decay = o.weight_decay;
  PetscCall(data_open(comm, &o, st->model, d));
  PetscCheck(d->ntrain >= 1, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: no training samples left after holding out %" PetscInt_FMT, o.data, d->nval);
  PetscCheck(o.batch <= d->ntrain, comm, PETSC_ERR_ARG_OUTOFRANGE, "%s: batch %" PetscInt_FMT " is more than the %" PetscInt_FMT " training samples (%" PetscInt_FMT " held out for validation); choose a batch of at most %" PetscInt_FMT, o.data, o.batch, d->ntrain, d->nval, d->ntrain);
  PetscCall(PetscMalloc2(st->model->nparams, &r->grad, st->model->nparams, &r->gsum));

  start = st->step;
  end   = o.stop_at && o.stop_at < o.steps ? PetscMax(o.stop_at, start) : o.steps;
  PetscCall(PetscTime(&t0));
  for (PetscInt step = start; step < end; step++) {
    DeepCDTrainStatus s;
    PetscReal         lsum = 0, lg;
    PetscInt          items[2];

    PetscCall(PetscArrayzero(r->grad, st->model->nparams));
    for (PetscInt i = 0; i < o.batch; i++) {
      PetscInt k  = (PetscInt) (DeepCDSplitMix64(&st->rng) % (uint64_t) d->ntrain); /* drawn on every rank */
      uint64_t ns = DeepCDSplitMix64(&st->rng);                                     /* the sample's noise */

      if (i % d->size == d->rank) {
        PetscReal l;
        PetscBool deg;

        train_item(d, k, &items[0], &items[1]);
        PetscCall(data_sample(d, items[0], items[1], ns, r->grad, &l, &deg));
        lsum += l;
      }
    }
    PetscCallMPI(MPI_Allreduce(r->grad, r->gsum, (PetscMPIInt) st->model->nparams, MPI_FLOAT, MPI_SUM, comm));
    PetscCallMPI(MPIU_Allreduce(&lsum, &lg, 1, MPIU_REAL, MPI_SUM, comm));
    for (size_t j = 0; j < st->model->nparams; j++) r->gsum[j] /= (float) o.batch;
    PetscCall(PetscMemzero(&s, sizeof(s)));
    s.lr = learning_rate(&o, step);
    PetscCheck(nn_adam_step(st->adam, st->model->params, r->gsum, s.lr) == NN_SUCCESS, comm, PETSC_ERR_NOT_CONVERGED, "train: step %" PetscInt_FMT ": %s", step + 1, nn_error_message());
    for (int k = 0; k < d->nnets; k++) PetscCheck(nn_net_params_changed(d->nets[k]) == NN_SUCCESS, comm, PETSC_ERR_LIB, "train: %s", nn_error_message());
    st->step = step + 1;
    trained += o.batch;
    s.loss = lg / o.batch;
    since += s.loss;
    nsince++;
    s.loss_avg = since / nsince;
    if ((o.val_every && st->step % o.val_every == 0) || st->step == o.steps) {
      PetscCall(validate(d, &o, &val));
      PetscCall(history_add(hist, st->step, since / nsince, val));
      s.validated = PETSC_TRUE;
      since       = 0;
      nsince      = 0;
    }
    if (o.checkpoint[0] && ((o.checkpoint_every && st->step % o.checkpoint_every == 0) || st->step == end)) {
      PetscCall(set_record(st->model, d, &o, st->step, s.loss_avg));
      PetscCall(DeepCDTrainCheckpointWrite(comm, o.checkpoint, &o, st, hist));
      s.checkpointed = PETSC_TRUE;
    }
    PetscCall(PetscTime(&t1));
    s.step          = st->step;
    s.steps         = o.steps;
    s.start         = start;
    s.val_loss      = val;
    s.samples_per_s = t1 > t0 ? trained / (t1 - t0) : 0;
    if (monitor) PetscCall((*monitor)(&s, mctx));
  }
  PetscCall(set_record(st->model, d, &o, st->step, hist->n ? hist->val_loss[hist->n - 1] : NAN));
  if (!(hist->n && PetscIsNormalReal(hist->val_loss[hist->n - 1]))) st->model->training.loss_value = hist->n ? hist->loss[hist->n - 1] : NAN;
  *model    = st->model;
  st->model = NULL;
  if (history) {
    *history = *hist;
    PetscCall(PetscMemzero(hist, sizeof(*hist)));
  }
  PetscCall(train_cleanup(r));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDTrain - Trains a DCDM network on a training data file.

  Collective

  Input Parameters:
+ comm    - the processes; the batch is split over them (data parallel)
. o       - the options (`DeepCDTrainOptionsDefault()`)
. resume  - a checkpoint to continue from, or NULL. The checkpoint's options
            are used, except `steps`, `checkpoint`, `checkpoint_every` and
            `stop_at`, which come from `o`; `o->data` may name the data
            file's new place ("" keeps the stored path)
. monitor - called on every rank after every step (may be NULL)
- mctx    - its context

  Output Parameters:
+ model   - the trained model, with its training record filled in
- history - the loss history, including the part before a resume (may be NULL)

  Notes:
  Every step draws `batch` training samples (uniformly, with replacement, from
  one splitmix64 stream seeded by `seed`), runs the network forward and
  backward on each and takes one Adam step on the mean of their DCDM losses
  (with `smooth` > 0 taken on the direction after that many Chebyshev/Jacobi
  smoothing iterations, as the solver's -ksp_deepcd_smooth applies them; see
  `DeepCDTrainLossSmoothed()`).
  Checkpoints (`checkpoint_every`, and after the last step of the run) hold
  the model, Adam's moments, the stream's state, the step and the history: a
  resumed run reaches the same weights as an uninterrupted one, bit for bit
  on the same backend and number of processes and threads.

  Level: intermediate

.seealso: `DeepCDTrainOptionsDefault()`, `DeepCDTrainLoss()`, `DeepCDTrainDataWrite()`
@*/
PetscErrorCode DeepCDTrain(MPI_Comm comm, const DeepCDTrainOptions *opts, const char resume[], DeepCDTrainMonitor monitor, void *mctx, nn_model **model, DeepCDTrainHistory *history)
{
  deepcd_h5_quiet q;
  PetscErrorCode  ierr;

  PetscFunctionBegin;
  PetscAssertPointer(opts, 2);
  PetscAssertPointer(model, 6);
  *model = NULL;
  /* our one-line messages replace HDF5's stack dumps; the caller's setting is restored */
  deepcd_h5_quiet_push(&q);
  {
    TrainRun r;

    PetscCall(PetscMemzero(&r, sizeof(r)));
    r.d.fid = H5I_INVALID_HID;
    ierr    = train_run(comm, opts, resume, monitor, mctx, &r, model, history);
    if (ierr) (void) train_cleanup(&r); /* every error path frees what the run made */
  }
  deepcd_h5_quiet_pop(&q);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}
