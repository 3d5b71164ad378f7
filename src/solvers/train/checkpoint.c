/* Training checkpoints (docs/formats.md, "Training checkpoint"): a model file
   with one more group, `checkpoint`, holding the optimizer, the sample
   stream, the step, the options and the loss history. A checkpoint is
   therefore also a usable model (-ksp_deepcd_model ckpt.h5). */
#include <math.h>
#include <string.h>
#include <hdf5.h>
#include <petsc/private/petscimpl.h>
#include <deepcd/model_io.h>
#include <deepcd/private/h5util.h>
#include <deepcd/private/trainimpl.h>
#include <deepcd/private/modelioimpl.h>
#include <deepcd/private/petsccompat.h>

#define CKPT "checkpoint"

typedef struct {
  const DeepCDTrainOptions *o;
  const TrainState         *st;
  const DeepCDTrainHistory *h;
} CkptWrite;

static PetscErrorCode ckpt_contents(hid_t file, const char path[], const void *ctx)
{
  const CkptWrite          *c  = (const CkptWrite *) ctx;
  const DeepCDTrainOptions *o  = c->o;
  const TrainState         *st = c->st;
  hid_t                     g;
  int                       err = 0;
  hsize_t                   n = st->model->nparams, nh = (hsize_t) c->h->n;
  uint64_t                  rng = st->rng, seed = (uint64_t) o->seed;

  PetscFunctionBegin;
  PetscCall(DeepCDModelWriteContents(file, path, st->model));
  g = deepcd_h5_create_group(file, CKPT);
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: group '%s': cannot be created", path, CKPT);
  err |= deepcd_h5_write_attr_int(g, "step", st->step);
  err |= deepcd_h5_write_attr_u64(g, "rng_state", rng);
  err |= deepcd_h5_write_attr_int(g, "adam_t", st->adam->t);
  err |= deepcd_h5_write_attr_real(g, "adam_beta1", st->adam->beta1);
  err |= deepcd_h5_write_attr_real(g, "adam_beta2", st->adam->beta2);
  err |= deepcd_h5_write_attr_real(g, "adam_eps", st->adam->eps);
  err |= deepcd_h5_write_whole(g, "adam_m", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &n, st->adam->m);
  err |= deepcd_h5_write_whole(g, "adam_v", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &n, st->adam->v);
  err |= deepcd_h5_write_attr_int(g, "history_length", c->h->n);
  if (nh) {
    long long *steps = NULL;

    PetscCall(PetscMalloc1(nh, &steps));
    for (hsize_t i = 0; i < nh; i++) steps[i] = c->h->step[i];
    err |= deepcd_h5_write_whole(g, "history_step", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &nh, steps);
    err |= deepcd_h5_write_whole(g, "history_loss", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &nh, c->h->loss);
    err |= deepcd_h5_write_whole(g, "history_val_loss", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &nh, c->h->val_loss);
    PetscCall(PetscFree(steps));
  }
  /* the options */
  err |= deepcd_h5_write_attr_string(g, "data", o->data);
  err |= deepcd_h5_write_attr_string(g, "arch", o->arch);
  err |= deepcd_h5_write_attr_string(g, "init", o->init);
  err |= deepcd_h5_write_attr_string(g, "backend", o->backend);
  err |= deepcd_h5_write_attr_string(g, "schedule", o->schedule);
  err |= deepcd_h5_write_attr_int(g, "steps", o->steps);
  err |= deepcd_h5_write_attr_int(g, "batch", o->batch);
  err |= deepcd_h5_write_attr_int(g, "warmup", o->warmup);
  err |= deepcd_h5_write_attr_int(g, "val_every", o->val_every);
  err |= deepcd_h5_write_attr_int(g, "val_samples", o->val_samples);
  err |= deepcd_h5_write_attr_int(g, "checkpoint_every", o->checkpoint_every);
  err |= deepcd_h5_write_attr_real(g, "lr", o->lr);
  err |= deepcd_h5_write_attr_real(g, "lr_min_factor", o->lr_min_factor);
  err |= deepcd_h5_write_attr_real(g, "weight_decay", o->weight_decay);
  err |= deepcd_h5_write_attr_real(g, "val_fraction", o->val_fraction);
  err |= deepcd_h5_write_attr_real(g, "noise", o->noise);
  err |= deepcd_h5_write_attr_int(g, "smooth", o->smooth);
  err |= deepcd_h5_write_attr_u64(g, "seed", seed);
  H5Gclose(g);
  PetscCheck(!err, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: group '%s': cannot be written", path, CKPT);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDTrainCheckpointWrite(MPI_Comm comm, const char path[], const DeepCDTrainOptions *o, const TrainState *st, const DeepCDTrainHistory *h)
{
  PetscMPIInt    rank;
  PetscErrorCode ierr = 0;
  CkptWrite      c    = { o, st, h };

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    ierr = DeepCDModelCheckWritable(st->model, path);
    /* the parameters and Adam's two moments (float32), the history, doubled for metadata, plus 1 MiB */
    if (!ierr) ierr = DeepCDH5WriteAtomic(path, "checkpoint", 2.0 * (12.0 * (double) st->model->nparams + 24.0 * (double) h->n) + 1048576.0, ckpt_contents, &c);
  }
  {
    int code = (int) ierr;

    PetscCallMPI(MPI_Bcast(&code, 1, MPI_INT, 0, comm));
    if (!rank) PetscCall(ierr); /* rank 0 keeps its specific message */
    PetscCheck(!code, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: the checkpoint could not be written on rank 0", path);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ckpt_read(MPI_Comm comm, const char path[], DeepCDTrainOptions *o, TrainState *st, DeepCDTrainHistory *h)
{
  hid_t     fid = H5I_INVALID_HID, g;
  PetscInt  t, nh;
  PetscBool exists = PETSC_FALSE;
  uint64_t  seed;

  PetscFunctionBegin;
  PetscCall(DeepCDModelRead(comm, path, &st->model));
  PetscCall(DeepCDH5Open(comm, path, &fid));
  {
    htri_t e = H5Lexists(fid, CKPT, H5P_DEFAULT);

    exists = e > 0 ? PETSC_TRUE : PETSC_FALSE;
  }
  if (!exists) H5Fclose(fid);
  PetscCheck(exists, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: group '%s' is missing (a model file, not a training checkpoint)", path, CKPT);
  g = H5Gopen2(fid, CKPT, H5P_DEFAULT);
  PetscCheck(g >= 0, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: '%s' is not a group", path, CKPT);
  PetscCall(DeepCDTrainOptionsDefault(o));
  PetscCall(DeepCDH5ReadAttrString(comm, path, g, "data", o->data, sizeof(o->data)));
  PetscCall(DeepCDH5ReadAttrString(comm, path, g, "arch", o->arch, sizeof(o->arch)));
  PetscCall(DeepCDH5ReadAttrString(comm, path, g, "init", o->init, sizeof(o->init)));
  PetscCall(DeepCDH5ReadAttrString(comm, path, g, "backend", o->backend, sizeof(o->backend)));
  PetscCall(DeepCDH5ReadAttrString(comm, path, g, "schedule", o->schedule, sizeof(o->schedule)));
  PetscCall(DeepCDH5ReadAttrInt(comm, path, g, "steps", &o->steps));
  PetscCall(DeepCDH5ReadAttrInt(comm, path, g, "batch", &o->batch));
  PetscCall(DeepCDH5ReadAttrInt(comm, path, g, "warmup", &o->warmup));
  PetscCall(DeepCDH5ReadAttrInt(comm, path, g, "val_every", &o->val_every));
  PetscCall(DeepCDH5ReadAttrInt(comm, path, g, "val_samples", &o->val_samples));
  PetscCall(DeepCDH5ReadAttrInt(comm, path, g, "checkpoint_every", &o->checkpoint_every));
  PetscCall(DeepCDH5ReadAttrReal(comm, path, g, "lr", &o->lr));
  PetscCall(DeepCDH5ReadAttrReal(comm, path, g, "lr_min_factor", &o->lr_min_factor));
  PetscCall(DeepCDH5ReadAttrReal(comm, path, g, "weight_decay", &o->weight_decay));
  PetscCall(DeepCDH5ReadAttrReal(comm, path, g, "val_fraction", &o->val_fraction));
  PetscCall(DeepCDH5ReadAttrReal(comm, path, g, "noise", &o->noise));
  o->smooth = 0; /* absent in checkpoints from before --smooth */
  PetscCall(DeepCDH5AttrExists(comm, path, g, "smooth", &exists));
  if (exists) PetscCall(DeepCDH5ReadAttrInt(comm, path, g, "smooth", &o->smooth));
  PetscCall(DeepCDH5ReadAttrU64(comm, path, g, "seed", &seed));
  o->seed = (unsigned long) seed;
  PetscCall(DeepCDH5ReadAttrInt(comm, path, g, "step", &st->step));
  PetscCheck(st->step >= 0, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s/step' is negative", path, CKPT);
  PetscCall(DeepCDH5ReadAttrU64(comm, path, g, "rng_state", &st->rng));
  PetscCheck(nn_adam_create(st->model->nparams, &st->adam) == NN_SUCCESS, comm, PETSC_ERR_MEM, "%s: %s", path, nn_error_message());
  PetscCall(DeepCDH5ReadAttrInt(comm, path, g, "adam_t", &t));
  st->adam->t = t;
  PetscCall(DeepCDH5ReadAttrReal(comm, path, g, "adam_beta1", &st->adam->beta1));
  PetscCall(DeepCDH5ReadAttrReal(comm, path, g, "adam_beta2", &st->adam->beta2));
  PetscCall(DeepCDH5ReadAttrReal(comm, path, g, "adam_eps", &st->adam->eps));
  PetscCall(DeepCDH5ReadVector(comm, path, g, "adam_m", CKPT "/adam_m", H5T_FLOAT, H5T_NATIVE_FLOAT, st->model->nparams, st->adam->m));
  PetscCall(DeepCDH5ReadVector(comm, path, g, "adam_v", CKPT "/adam_v", H5T_FLOAT, H5T_NATIVE_FLOAT, st->model->nparams, st->adam->v));
  for (size_t i = 0; i < st->model->nparams; i++) PetscCheck(isfinite(st->adam->m[i]) && st->adam->v[i] >= 0 && isfinite(st->adam->v[i]), comm, PETSC_ERR_FILE_UNEXPECTED, "%s: datasets '%s/adam_m', 'adam_v': entry %zu is not finite (or a negative second moment)", path, CKPT, i);
  PetscCall(DeepCDH5ReadAttrInt(comm, path, g, "history_length", &nh));
  PetscCheck(nh >= 0, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s/history_length' is negative", path, CKPT);
  h->n = nh;
  if (nh) {
    long long *steps;

    PetscCall(PetscMalloc1(nh, &steps));
    PetscCall(PetscMalloc1(nh, &h->step));
    PetscCall(PetscMalloc1(nh, &h->loss));
    PetscCall(PetscMalloc1(nh, &h->val_loss));
    PetscCall(DeepCDH5ReadVector(comm, path, g, "history_step", CKPT "/history_step", H5T_INTEGER, H5T_NATIVE_LLONG, (hsize_t) nh, steps));
    for (PetscInt i = 0; i < nh; i++) h->step[i] = (PetscInt) steps[i];
    PetscCall(PetscFree(steps));
    PetscCall(DeepCDH5ReadVector(comm, path, g, "history_loss", CKPT "/history_loss", H5T_FLOAT, H5T_NATIVE_DOUBLE, (hsize_t) nh, h->loss));
    PetscCall(DeepCDH5ReadVector(comm, path, g, "history_val_loss", CKPT "/history_val_loss", H5T_FLOAT, H5T_NATIVE_DOUBLE, (hsize_t) nh, h->val_loss));
  }
  H5Gclose(g);
  PetscCall(DeepCDH5Close(fid));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDTrainCheckpointRead(MPI_Comm comm, const char path[], DeepCDTrainOptions *o, TrainState *st, DeepCDTrainHistory *h)
{
  deepcd_h5_quiet q;
  PetscErrorCode  ierr;

  PetscFunctionBegin;
  deepcd_h5_quiet_push(&q);
  ierr = ckpt_read(comm, path, o, st, h);
  deepcd_h5_quiet_pop(&q);
  if (ierr) {
    nn_model_destroy(&st->model);
    nn_adam_destroy(&st->adam);
    PetscCall(DeepCDTrainHistoryDestroy(h));
  }
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDTrainCheckpointOptions - Reads the options and the step of a training checkpoint.

  Collective

  Input Parameter:
+ comm - the processes (each reads the file)
- path - the checkpoint

  Output Parameters:
+ o    - the options it was written with
- step - the steps it holds

  Level: intermediate

.seealso: `DeepCDTrain()`
@*/
PetscErrorCode DeepCDTrainCheckpointOptions(MPI_Comm comm, const char path[], DeepCDTrainOptions *o, PetscInt *step)
{
  TrainState         st;
  DeepCDTrainHistory h = { 0, NULL, NULL, NULL };

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&st, sizeof(st)));
  PetscCall(DeepCDTrainCheckpointRead(comm, path, o, &st, &h));
  if (step) *step = st.step;
  nn_model_destroy(&st.model);
  nn_adam_destroy(&st.adam);
  PetscCall(DeepCDTrainHistoryDestroy(&h));
  PetscFunctionReturn(PETSC_SUCCESS);
}
