/* Checkpoints and run files of the trainer: one HDF5 layout (docs/formats.md,
   "MoE run file") holding the settings, the network and Adam state, the
   batch stream, the histories and, once evaluated, the held-out predictions,
   references, errors and timings. Rank 0 writes to a temporary name and
   renames it; every rank reads. All HDF5 goes through src/sys/hdf5. */
#include <string.h>
#include <hdf5.h>
#include <deepcd/private/h5util.h>
#include <deepcd/private/moetrainimpl.h>
#include <deepcd/private/petsccompat.h>

#define RUN_FORMAT  "deepcd-moe-run"
#define RUN_VERSION 1

/* ---- writing (rank 0), with the HDF5 layer (src/sys/hdf5) ---------------- */

static PetscErrorCode put_int(const char file[], hid_t fid, const char name[], PetscInt v)
{
  PetscFunctionBegin;
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr_int(fid, name, (long long) v), file, "attribute", name));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode put_real(const char file[], hid_t fid, const char name[], PetscReal v)
{
  PetscFunctionBegin;
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr_real(fid, name, (double) v), file, "attribute", name));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode put_str(const char file[], hid_t fid, const char name[], const char v[])
{
  PetscFunctionBegin;
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr_string(fid, name, v), file, "attribute", name));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* a float64 dataset of rank nd (dims[]; a zero dimension writes an empty dataset) */
static PetscErrorCode put_data(const char file[], hid_t fid, const char name[], int nd, const PetscInt dims[], const PetscReal *v)
{
  hsize_t d[4];

  PetscFunctionBegin;
  for (int k = 0; k < nd; k++) d[k] = (hsize_t) dims[k];
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_whole(fid, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, nd, d, v), file, "dataset", name));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode write_contents(hid_t f, const char file[], const void *ctx)
{
  const DeepCDMoeTrainer       t = (DeepCDMoeTrainer) ctx;
  const DeepCDMoeTrainOptions *o = &t->o;

  PetscReal tstep, tinfer, *x, *tt;
  PetscInt  d[4];
  char      names[DEEPCD_MOE_PDE_MAX_NAMED * 33] = "";

  PetscFunctionBegin;
  PetscCall(put_str(file, f, "format", RUN_FORMAT));
  PetscCall(put_int(file, f, "version", RUN_VERSION));
  PetscCall(put_str(file, f, "pde", t->pde->type));
  PetscCall(put_str(file, f, "model", DeepCDMoeModelTypes[o->model]));
  PetscCall(put_int(file, f, "kx", o->kx));
  PetscCall(put_int(file, f, "kt", o->kt));
  PetscCall(put_int(file, f, "ky", o->ky));
  PetscCall(put_int(file, f, "basis", o->N));
  PetscCall(put_str(file, f, "backbone", DeepCDMoeBackboneTypes[o->backbone]));
  PetscCall(put_int(file, f, "depth", o->depth));
  PetscCall(put_int(file, f, "width", o->width));
  if (o->backbone == DEEPCD_MOE_BACKBONE_FNO) {
    PetscCall(put_int(file, f, "fno_modes", o->modes));
    PetscCall(put_int(file, f, "fno_fc", o->fc));
    PetscCall(put_int(file, f, "fno_pad", o->pad));
  }
  PetscCall(put_int(file, f, "nx", o->nx));
  PetscCall(put_int(file, f, "nt", o->nt));
  PetscCall(put_int(file, f, "ny", o->ny));
  PetscCall(put_int(file, f, "points", o->points));
  PetscCall(put_int(file, f, "steps", o->steps));
  PetscCall(put_int(file, f, "batch", o->batch));
  PetscCall(put_int(file, f, "ntrain", o->ntrain));
  PetscCall(put_int(file, f, "ntest", o->ntest));
  PetscCall(put_int(file, f, "lr_every", o->lr_every));
  PetscCall(put_int(file, f, "seed", o->seed));
  PetscCall(put_int(file, f, "eval_every", o->eval_every));
  PetscCall(put_int(file, f, "lm_max_it", o->lm.max_it));
  PetscCall(put_real(file, f, "lr", o->lr));
  PetscCall(put_real(file, f, "lr_gamma", o->lr_gamma));
  PetscCall(put_real(file, f, "lr_min", o->lr_min));
  PetscCall(put_real(file, f, "beta1", o->beta1));
  PetscCall(put_real(file, f, "beta2", o->beta2));
  PetscCall(put_real(file, f, "adam_eps", o->adam_eps));
  PetscCall(put_real(file, f, "clip", o->clip));
  PetscCall(put_real(file, f, "w_pde", o->w_pde));
  PetscCall(put_real(file, f, "w_ic", o->w_ic));
  PetscCall(put_real(file, f, "w_bc", o->w_bc));
  PetscCall(put_real(file, f, "ridge", o->ridge));
  PetscCall(put_real(file, f, "lm_gatol", o->lm.gatol));
  PetscCall(put_real(file, f, "lm_grtol", o->lm.grtol));
  PetscCall(put_real(file, f, "lm_xrtol", o->lm.xrtol));
  PetscCall(put_real(file, f, "lm_tau", o->lm.tau));
  PetscCall(put_real(file, f, "lm_w0", o->lm.w0));
  PetscCall(put_str(file, f, "hessian", DeepCDMoeHessianTypes[o->hessian]));
  PetscCall(put_str(file, f, "lm_hessian", DeepCDMoeHessianTypes[o->lm.hessian]));
  PetscCall(put_str(file, f, "conditions", DeepCDMoeConditionsTypes[o->conditions]));
  PetscCall(put_str(file, f, "coupling", DeepCDMoeCouplingTypes[o->coupling]));
  PetscCall(put_real(file, f, "coupling_weight", o->coupling_weight));
  PetscCall(put_str(file, f, "loss_type", DeepCDMoeLossTypes[o->loss]));
  PetscCall(put_int(file, f, "loss_unscaled", o->loss_unscaled ? 1 : 0));
  PetscCall(put_int(file, f, "scale_inputs", o->scale_inputs ? 1 : 0));
  PetscCall(put_int(file, f, "step", t->step));
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr_u64(f, "rng", (uint64_t) t->rng), file, "attribute", "rng"));
  PetscCall(DeepCDMoeTrainerGetTimings(t, &tstep, &tinfer));
  PetscCall(put_real(file, f, "time_per_step", tstep));
  PetscCall(put_real(file, f, "time_per_inference", tinfer));
  PetscCall(put_real(file, f, "cpu_per_step", t->cpu_max[0]));
  PetscCall(put_real(file, f, "cpu_per_inference", t->cpu_max[1]));
  PetscCall(put_int(file, f, "ranks", t->size));
  for (PetscInt k = 0; k < t->pde->nconst; k++) {
    if (k) PetscCall(PetscStrlcat(names, ",", sizeof(names)));
    PetscCall(PetscStrlcat(names, t->pde->constname[k], sizeof(names)));
  }
  PetscCall(put_str(file, f, "pde_constant_names", names));
  d[0] = t->pde->nconst;
  PetscCall(put_data(file, f, "pde_constants", 1, d, t->pde->constant));
  d[0] = t->nth;
  PetscCall(put_data(file, f, "theta", 1, d, t->theta));
  PetscCall(put_data(file, f, "adam_m", 1, d, t->m));
  PetscCall(put_data(file, f, "adam_v", 1, d, t->v));
  d[0] = t->step;
  PetscCall(put_data(file, f, "loss", 1, d, t->loss_hist));
  PetscCall(put_data(file, f, "error", 1, d, t->err_hist));
  d[0] = o->ntrain, d[1] = t->np;
  PetscCall(put_data(file, f, "train_params", 2, d, t->train));
  d[0] = o->ntest;
  PetscCall(put_data(file, f, "test_params", 2, d, t->test));
  PetscCall(PetscMalloc2(o->nx, &x, o->nt, &tt));
  for (PetscInt i = 0; i < o->nx; i++) x[i] = t->grid.xlo + i * t->grid.hx;
  for (PetscInt j = 0; j < o->nt; j++) tt[j] = t->grid.t0 + j * t->grid.ht;
  d[0] = o->nx;
  PetscCall(put_data(file, f, "x", 1, d, x));
  d[0] = o->nt;
  PetscCall(put_data(file, f, "t", 1, d, tt));
  PetscCall(PetscFree2(x, tt));
  if (t->grid.ny > 1) { /* 2-D problems: y_k = ylo + k*hy */
    PetscCall(PetscMalloc1(o->ny, &x));
    for (PetscInt k = 0; k < o->ny; k++) x[k] = t->grid.ylo + k * t->grid.hy;
    d[0] = o->ny;
    PetscCall(put_data(file, f, "y", 1, d, x));
    PetscCall(PetscFree(x));
  }
  if (t->evaluated) { /* (ntest, nt, nx), 2-D problems (ntest, nt, ny, nx) */
    const int nd = t->grid.ny > 1 ? 4 : 3;

    d[0] = o->ntest, d[1] = o->nt, d[2] = nd == 4 ? o->ny : o->nx, d[3] = o->nx;
    PetscCall(put_data(file, f, "prediction", nd, d, t->pred));
    PetscCall(put_data(file, f, "reference", nd, d, t->ref));
    PetscCall(put_data(file, f, "errors", 1, d, t->errs));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeTrainerSave - Writes a checkpoint / run file: settings, network, Adam state, batch stream, histories and the last held-out evaluation (docs/formats.md).

  Collective

  Notes:
  Rank 0 writes FILE.tmp.HOST.PID and renames it to FILE, so a failure never leaves a partial file.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeTrainerSave(DeepCDMoeTrainer t, const char file[])
{
  PetscErrorCode ierr = 0;
  int            code;

  PetscFunctionBegin;
  PetscCall(DeepCDMoeTrainerGetCPUTimings(t, &t->cpu_max[0], &t->cpu_max[1]));
  if (!t->rank) {
    const DeepCDMoeTrainOptions *o = &t->o;
    /* float64: parameters and Adam's moments, histories, instances, grid, predictions and references, plus 1 MiB */
    const double bytes = 8.0 * (3.0 * t->nth + 2.0 * t->step + (double) (o->ntrain + o->ntest) * t->np + o->nx + o->ny + o->nt + 2.0 * o->ntest * o->nt * o->ny * o->nx + o->ntest) + 1048576.0;

    ierr = DeepCDH5WriteAtomic(file, "moe run file", bytes, write_contents, t);
  }
  code = (int) ierr;
  PetscCallMPI(MPI_Bcast(&code, 1, MPI_INT, 0, t->comm));
  if (!t->rank) PetscCall(ierr); /* rank 0 keeps its specific message */
  PetscCheck(!code, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: writing the moe run file failed on rank 0", file);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- reading (every rank) -------------------------------------------------- */

typedef struct {
  const char *file;
  hid_t       f;
} Reader;

static PetscErrorCode get_int(const Reader *r, const char name[], PetscInt *v)
{
  PetscFunctionBegin;
  PetscCall(DeepCDH5ReadAttrInt(PETSC_COMM_SELF, r->file, r->f, name, v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* every real setting of a run file is finite */
static PetscErrorCode get_real(const Reader *r, const char name[], PetscReal *v)
{
  char g[32];

  PetscFunctionBegin;
  PetscCall(DeepCDH5ReadAttrReal(PETSC_COMM_SELF, r->file, r->f, name, v));
  PetscCheck(!PetscIsInfOrNanReal(*v), PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' = %s is not a finite number", r->file, name, DeepCDFormatG(g, (double) *v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode get_str(const Reader *r, const char name[], char buf[], size_t len)
{
  PetscFunctionBegin;
  PetscCall(DeepCDH5ReadAttrString(PETSC_COMM_SELF, r->file, r->f, name, buf, len));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode has_attr(const Reader *r, const char name[], PetscBool *exists)
{
  PetscFunctionBegin;
  PetscCall(DeepCDH5AttrExists(PETSC_COMM_SELF, r->file, r->f, name, exists));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode get_choice(const Reader *r, const char name[], const char *const list[], PetscInt n, PetscInt *v)
{
  char buf[64];

  PetscFunctionBegin;
  PetscCall(get_str(r, name, buf, sizeof(buf)));
  for (PetscInt k = 0; k < n; k++) {
    PetscBool same;

    PetscCall(PetscStrcmp(buf, list[k], &same));
    if (same) {
      *v = k;
      PetscFunctionReturn(PETSC_SUCCESS);
    }
  }
  SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' is '%s', not a known value", r->file, name, buf);
}

/* a float64 dataset with exactly n values, all finite when `finite` */
static PetscErrorCode get_data(const Reader *r, const char name[], PetscInt n, PetscBool finite, PetscReal *v)
{
  deepcd_h5_read_spec s = { .name = name, .tclass = H5T_FLOAT, .memtype = H5T_NATIVE_DOUBLE, .dims = { (hsize_t) n }, .check_finite = finite ? 1 : 0 };

  PetscFunctionBegin;
  PetscCall(DeepCDH5ReadChecked(PETSC_COMM_SELF, r->file, r->f, &s, v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode read_options(const Reader *r, char pde[], size_t len, DeepCDMoeTrainOptions *o)
{
  PetscInt  v;
  PetscBool present;

  PetscFunctionBegin;
  PetscCall(get_str(r, "pde", pde, len));
  PetscCall(DeepCDMoeTrainOptionsDefault(pde, o));
  PetscCall(get_choice(r, "model", DeepCDMoeModelTypes, 2, &v));
  o->model = (DeepCDMoeModelType) v;
  PetscCall(get_int(r, "kx", &o->kx));
  PetscCall(get_int(r, "kt", &o->kt));
  PetscCall(has_attr(r, "ky", &present)); /* files written before ns: 1 */
  o->ky = 1;
  if (present) PetscCall(get_int(r, "ky", &o->ky));
  PetscCall(get_int(r, "basis", &o->N));
  PetscCall(has_attr(r, "backbone", &present));
  v = DEEPCD_MOE_BACKBONE_MLP; /* files written before the FNO */
  if (present) PetscCall(get_choice(r, "backbone", DeepCDMoeBackboneTypes, 2, &v));
  PetscCall(DeepCDMoeTrainOptionsSetBackbone(o, (DeepCDMoeBackboneType) v));
  if (o->backbone == DEEPCD_MOE_BACKBONE_FNO) {
    PetscCall(get_int(r, "fno_modes", &o->modes));
    PetscCall(get_int(r, "fno_fc", &o->fc));
    PetscCall(get_int(r, "fno_pad", &o->pad));
  }
  PetscCall(get_int(r, "depth", &o->depth));
  PetscCall(get_int(r, "width", &o->width));
  PetscCall(get_int(r, "nx", &o->nx));
  PetscCall(get_int(r, "nt", &o->nt));
  PetscCall(has_attr(r, "ny", &present));
  o->ny = 1;
  if (present) PetscCall(get_int(r, "ny", &o->ny));
  PetscCall(get_int(r, "points", &o->points));
  PetscCall(get_int(r, "steps", &o->steps));
  PetscCall(get_int(r, "batch", &o->batch));
  PetscCall(get_int(r, "ntrain", &o->ntrain));
  PetscCall(get_int(r, "ntest", &o->ntest));
  PetscCall(get_int(r, "lr_every", &o->lr_every));
  PetscCall(get_int(r, "seed", &o->seed));
  PetscCall(get_int(r, "eval_every", &o->eval_every));
  PetscCall(get_int(r, "lm_max_it", &o->lm.max_it));
  PetscCall(get_real(r, "lr", &o->lr));
  PetscCall(get_real(r, "lr_gamma", &o->lr_gamma));
  PetscCall(get_real(r, "lr_min", &o->lr_min));
  PetscCall(get_real(r, "beta1", &o->beta1));
  PetscCall(get_real(r, "beta2", &o->beta2));
  PetscCall(get_real(r, "adam_eps", &o->adam_eps));
  PetscCall(get_real(r, "clip", &o->clip));
  PetscCall(get_real(r, "w_pde", &o->w_pde));
  PetscCall(get_real(r, "w_ic", &o->w_ic));
  PetscCall(get_real(r, "w_bc", &o->w_bc));
  PetscCall(get_real(r, "ridge", &o->ridge));
  PetscCall(get_real(r, "lm_gatol", &o->lm.gatol));
  PetscCall(get_real(r, "lm_grtol", &o->lm.grtol));
  PetscCall(get_real(r, "lm_xrtol", &o->lm.xrtol));
  PetscCall(get_real(r, "lm_tau", &o->lm.tau));
  PetscCall(get_real(r, "lm_w0", &o->lm.w0));
  PetscCall(get_choice(r, "hessian", DeepCDMoeHessianTypes, 2, &v));
  o->hessian = (DeepCDMoeHessianType) v;
  PetscCall(get_choice(r, "lm_hessian", DeepCDMoeHessianTypes, 2, &v));
  o->lm.hessian = (DeepCDMoeHessianType) v;
  PetscCall(get_choice(r, "conditions", DeepCDMoeConditionsTypes, 2, &v));
  o->conditions      = (DeepCDMoeConditions) v;
  o->coupling        = DEEPCD_MOE_COUPLING_NONE; /* files written before the coupling: independent experts */
  o->coupling_weight = 1.0;
  PetscCall(has_attr(r, "coupling", &present));
  if (present) {
    PetscCall(get_choice(r, "coupling", DeepCDMoeCouplingTypes, 2, &v));
    o->coupling = (DeepCDMoeCoupling) v;
    PetscCall(get_real(r, "coupling_weight", &o->coupling_weight));
    PetscCheck(o->coupling_weight > 0.0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute 'coupling_weight' = %g: must be > 0", r->file, (double) o->coupling_weight);
  }
  o->loss = DEEPCD_MOE_LOSS_MSE; /* files written before the loss type was saved used mean squares */
  PetscCall(has_attr(r, "loss_type", &present));
  if (present) {
    PetscCall(get_choice(r, "loss_type", DeepCDMoeLossTypes, 2, &v));
    o->loss = (DeepCDMoeLossType) v;
  }
  o->loss_unscaled = PETSC_FALSE; /* older files: F with its row scale */
  PetscCall(has_attr(r, "loss_unscaled", &present));
  if (present) {
    PetscCall(get_int(r, "loss_unscaled", &v));
    o->loss_unscaled = v ? PETSC_TRUE : PETSC_FALSE;
  }
  o->scale_inputs = PETSC_FALSE; /* files written before 2026-12-08: x, t in [-1, 1] and raw parameters */
  PetscCall(has_attr(r, "scale_inputs", &present));
  if (present) {
    PetscCall(get_int(r, "scale_inputs", &v));
    o->scale_inputs = v ? PETSC_TRUE : PETSC_FALSE;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the saved settings that decide the trajectory must equal the trainer's (steps may differ: train further) */
static PetscErrorCode check_same(const Reader *r, DeepCDMoeTrainer t, const char pde[], const DeepCDMoeTrainOptions *s)
{
  const DeepCDMoeTrainOptions *o = &t->o;
  struct {
    const char *name;
    PetscInt    a, b;
  } ints[] = {
    { "model", s->model, o->model },
    { "kx", s->kx, o->kx },
    { "kt", s->kt, o->kt },
    { "ky", s->ky, o->ky },
    { "basis", s->N, o->N },
    { "depth", s->depth, o->depth },
    { "fno_modes", s->backbone == DEEPCD_MOE_BACKBONE_FNO ? s->modes : 0, o->backbone == DEEPCD_MOE_BACKBONE_FNO ? o->modes : 0 },
    { "fno_fc", s->backbone == DEEPCD_MOE_BACKBONE_FNO ? s->fc : 0, o->backbone == DEEPCD_MOE_BACKBONE_FNO ? o->fc : 0 },
    { "fno_pad", s->backbone == DEEPCD_MOE_BACKBONE_FNO ? s->pad : 0, o->backbone == DEEPCD_MOE_BACKBONE_FNO ? o->pad : 0 },
    { "width", s->width, o->width },
    { "nx", s->nx, o->nx },
    { "nt", s->nt, o->nt },
    { "ny", s->ny, o->ny },
    { "points", s->points, o->points },
    { "batch", s->batch, o->batch },
    { "ntrain", s->ntrain, o->ntrain },
    { "ntest", s->ntest, o->ntest },
    { "seed", s->seed, o->seed },
    { "loss_type", s->loss, o->loss },
    { "loss_unscaled", s->loss_unscaled, o->loss_unscaled },
    { "coupling", s->coupling, o->coupling },
    { "scale_inputs", s->scale_inputs, o->scale_inputs }
  };
  PetscBool same;

  PetscFunctionBegin;
  PetscCall(PetscStrcmp(pde, t->pde->type, &same));
  PetscCheck(same, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "%s: a checkpoint of PDE '%s', this run trains '%s'", r->file, pde, t->pde->type);
  PetscCheck(s->backbone == o->backbone, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "%s: the checkpoint has backbone %s, this run %s", r->file, DeepCDMoeBackboneTypes[s->backbone], DeepCDMoeBackboneTypes[o->backbone]);
  for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++)
    PetscCheck(ints[k].a == ints[k].b, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "%s: the checkpoint has %s %" PetscInt_FMT ", this run %" PetscInt_FMT, r->file, ints[k].name, ints[k].a, ints[k].b);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A dataset sized by the settings (the grid, the instance counts) has the shape they give: a file whose
   attributes were edited apart from its datasets is refused. `what` names the dimensions. */
static PetscErrorCode check_shape(const Reader *r, const char name[], PetscBool required, int rank, const PetscInt dims[], const char what[])
{
  DeepCDH5Info info;
  hsize_t      want[4];
  char         got[96], expect[96];
  PetscBool    same;

  PetscFunctionBegin;
  PetscCall(DeepCDH5DatasetInfo(PETSC_COMM_SELF, r->file, r->f, name, &info));
  if (!info.exists) {
    PetscCheck(!required, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' is missing", r->file, name);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  same = info.rank == rank ? PETSC_TRUE : PETSC_FALSE;
  for (int k = 0; k < rank; k++) {
    want[k] = (hsize_t) dims[k];
    if (same && info.dims[k] != want[k]) same = PETSC_FALSE;
  }
  if (same) PetscFunctionReturn(PETSC_SUCCESS);
  deepcd_h5_dims_string(info.rank, info.dims, got, sizeof(got));
  deepcd_h5_dims_string(rank, want, expect, sizeof(expect));
  SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': shape %s, expected %s = %s by the attributes", r->file, name, got, what, expect);
}

static PetscErrorCode read_state(const Reader *r, DeepCDMoeTrainer t)
{
  const DeepCDMoeTrainOptions *o = &t->o;
  PetscInt                     step;
  uint64_t                     rng;
  char                         g[32];

  PetscFunctionBegin;
  PetscCall(check_shape(r, "x", PETSC_TRUE, 1, (const PetscInt[]){ o->nx }, "(nx)"));
  PetscCall(check_shape(r, "t", PETSC_TRUE, 1, (const PetscInt[]){ o->nt }, "(nt)"));
  PetscCall(check_shape(r, "train_params", PETSC_TRUE, 2, (const PetscInt[]){ o->ntrain, t->np }, "(ntrain, parameters)"));
  PetscCall(check_shape(r, "test_params", PETSC_TRUE, 2, (const PetscInt[]){ o->ntest, t->np }, "(ntest, parameters)"));
  if (o->ny > 1) {
    PetscCall(check_shape(r, "y", PETSC_TRUE, 1, (const PetscInt[]){ o->ny }, "(ny)"));
    PetscCall(check_shape(r, "prediction", PETSC_FALSE, 4, (const PetscInt[]){ o->ntest, o->nt, o->ny, o->nx }, "(ntest, nt, ny, nx)"));
    PetscCall(check_shape(r, "reference", PETSC_FALSE, 4, (const PetscInt[]){ o->ntest, o->nt, o->ny, o->nx }, "(ntest, nt, ny, nx)"));
  } else {
    PetscCall(check_shape(r, "prediction", PETSC_FALSE, 3, (const PetscInt[]){ o->ntest, o->nt, o->nx }, "(ntest, nt, nx)"));
    PetscCall(check_shape(r, "reference", PETSC_FALSE, 3, (const PetscInt[]){ o->ntest, o->nt, o->nx }, "(ntest, nt, nx)"));
  }
  PetscCall(check_shape(r, "errors", PETSC_FALSE, 1, (const PetscInt[]){ o->ntest }, "(ntest)"));
  PetscCall(get_data(r, "pde_constants", t->pde->nconst, PETSC_TRUE, t->pde->constant));
  for (PetscInt k = 0; k < t->pde->nconst; k++)
    PetscCheck(t->pde->constant[k] > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'pde_constants': %s = %s, the constant must be positive", r->file, t->pde->constname[k], DeepCDFormatG(g, (double) t->pde->constant[k]));
  PetscCall(get_data(r, "theta", t->nth, PETSC_TRUE, t->theta));
  PetscCall(get_data(r, "adam_m", t->nth, PETSC_TRUE, t->m));
  PetscCall(get_data(r, "adam_v", t->nth, PETSC_TRUE, t->v));
  for (PetscInt k = 0; k < t->nth; k++) PetscCheck(t->v[k] >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'adam_v': entry %" PetscInt_FMT " = %s, a second moment cannot be negative", r->file, k, DeepCDFormatG(g, (double) t->v[k]));
  PetscCall(get_int(r, "step", &step));
  PetscCheck(step >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute 'step' is negative", r->file);
  PetscCall(DeepCDH5ReadAttrU64(PETSC_COMM_SELF, r->file, r->f, "rng", &rng));
  PetscCall(DeepCDMoeTrainerEnsureHistory(t, step));
  /* the histories may hold NaN: a diverged step's loss, the error where it was not evaluated */
  PetscCall(get_data(r, "loss", step, PETSC_FALSE, t->loss_hist));
  PetscCall(get_data(r, "error", step, PETSC_FALSE, t->err_hist));
  t->step = step;
  t->rng  = rng;
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  MPI_Comm    comm;
  const char *file;
  PetscErrorCode (*body)(const Reader *, void *);
  void *ctx;
} WithFile;

static PetscErrorCode with_file_body(hid_t fid, void *ctx)
{
  WithFile *w = (WithFile *) ctx;
  Reader    r = { w->file, fid };

  PetscFunctionBegin;
  PetscCall(DeepCDH5CheckHeader(w->comm, w->file, fid, 1, (const char *const[]){ RUN_FORMAT }, (const int[]){ RUN_VERSION }, "moe run file", NULL));
  PetscCall((*w->body)(&r, w->ctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* runs body(r, ctx) on the open, checked file with HDF5's error printing off; every rank */
static PetscErrorCode with_file(MPI_Comm comm, const char file[], PetscErrorCode (*body)(const Reader *, void *), void *ctx)
{
  WithFile w = { comm, file, body, ctx };

  PetscFunctionBegin;
  PetscCall(DeepCDH5WithFile(comm, file, with_file_body, &w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode resume_body(const Reader *r, void *ctx)
{
  DeepCDMoeTrainer      t = (DeepCDMoeTrainer) ctx;
  DeepCDMoeTrainOptions s;
  char                  pde[64];

  PetscFunctionBegin;
  PetscCall(read_options(r, pde, sizeof(pde), &s));
  PetscCall(check_same(r, t, pde, &s));
  PetscCall(read_state(r, t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeTrainerResume - Continues from a checkpoint: network, Adam state, step, batch stream, histories and PDE constants.

  Collective

  Notes:
  The checkpoint's problem, model, sizes, batch, instance counts and seed must equal the trainer's (a one-line error names the first that
  differs); the number of steps may differ. Training on from step s then gives the same parameters as an uninterrupted run.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeTrainerResume(DeepCDMoeTrainer t, const char file[])
{
  PetscFunctionBegin;
  PetscCall(with_file(t->comm, file, resume_body, t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  MPI_Comm         comm;
  DeepCDMoeTrainer t;
} LoadCtx;

static PetscErrorCode load_body(const Reader *r, void *ctx)
{
  LoadCtx              *c = (LoadCtx *) ctx;
  DeepCDMoeTrainOptions o;
  char                  pde[64];
  PetscErrorCode        ierr;

  PetscFunctionBegin;
  PetscCall(read_options(r, pde, sizeof(pde), &o));
  ierr = DeepCDMoeTrainerCreate(c->comm, pde, &o, &c->t);
  if (ierr) {
    /* the settings come from the file: its name goes first in the message */
    const char     *text     = NULL;
    DeepCDErrorText specific = NULL;
    char            msg[1024];

    (void) PetscErrorMessage(ierr, &text, &specific);
    PetscCall(PetscStrncpy(msg, specific && specific[0] ? specific : (text ? text : "invalid settings"), sizeof(msg)));
    SETERRQ(PETSC_COMM_SELF, ierr, "%s: %s", r->file, msg);
  }
  PetscCall(read_state(r, c->t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeTrainerLoad - Creates a trainer from a checkpoint or run file (its settings, then its state).

  Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeTrainerLoad(MPI_Comm comm, const char file[], DeepCDMoeTrainer *t)
{
  LoadCtx        c = { comm, NULL };
  PetscErrorCode ierr;

  PetscFunctionBegin;
  ierr = with_file(comm, file, load_body, &c);
  if (ierr) PetscCall(DeepCDMoeTrainerDestroy(&c.t));
  PetscCall(ierr);
  *t = c.t;
  PetscFunctionReturn(PETSC_SUCCESS);
}
