/* The model file format v1 (docs/formats.md): writing, checked reading and
   an ASCII summary of a CNN (deepcd/nn.h). Part of libdeepcd, not of the nn
   library, which stays free of PETSc and HDF5. */
#define _POSIX_C_SOURCE 200809L /* getpid(), strnlen() */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hdf5.h>
#include <petsc/private/petscimpl.h> /* PetscAssertPointer() */
#include <deepcd/model_io.h>
#include <deepcd/private/h5util.h>
#include <deepcd/private/modelioimpl.h>
#include <deepcd/private/petsccompat.h>

#define MODEL_LAYER_COLUMNS  8
#define MODEL_TENSOR_COLUMNS 2
#define MODEL_MAX_CHANNELS   4096 /* the limits of nn_model_validate() */
#define MODEL_MAX_LEVEL      15

static const char *const LayerColumns  = "(op, in, in2, out, cin, cout, k, act)";
static const char *const TensorColumns = "(channels, level)";

/* The name of a layer's kernel or bias dataset inside the group `weights`. */
static void weight_name(char buf[], size_t len, const char kind[], int layer)
{
  snprintf(buf, len, "%s%03d", kind, layer);
}

/* ---- writing (the HDF5 layer, src/sys/hdf5) ---- */

static PetscErrorCode write_string_attr(hid_t loc, const char path[], const char prefix[], const char name[], const char value[])
{
  PetscFunctionBegin;
  PetscCheck(!deepcd_h5_write_attr_string(loc, name, value), PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot write attribute '%s%s'", path, prefix, name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A scalar (n = 0) or 1-D (n values) attribute: filetype is what is stored, memtype describes *value. */
static PetscErrorCode write_attr(hid_t loc, const char path[], const char prefix[], const char name[], size_t n, hid_t filetype, hid_t memtype, const void *value)
{
  PetscFunctionBegin;
  PetscCheck(!deepcd_h5_write_attr(loc, name, filetype, memtype, n, value), PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot write attribute '%s%s'", path, prefix, name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A dataset of `rank` dimensions; `label` names it in messages. */
static PetscErrorCode write_dataset(hid_t loc, const char path[], const char name[], const char label[], int rank, const hsize_t dims[], hid_t filetype, hid_t memtype, const void *buf)
{
  PetscFunctionBegin;
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_whole(loc, name, filetype, memtype, rank, dims, buf), path, "dataset", label));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode create_group(hid_t file, const char path[], const char name[], hid_t *gid)
{
  PetscFunctionBegin;
  *gid = deepcd_h5_create_group(file, name);
  PetscCheck(*gid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "%s: cannot create group '%s'", path, name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The two integer tables, `tensors` and `layers`. */
static PetscErrorCode write_tables(hid_t file, const nn_model *m, const char path[])
{
  int           *buf;
  hsize_t        dims[2];
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1((size_t) PetscMax(m->ntensors * MODEL_TENSOR_COLUMNS, m->nlayers * MODEL_LAYER_COLUMNS), &buf));
  for (int t = 0; t < m->ntensors; t++) {
    buf[MODEL_TENSOR_COLUMNS * t]     = m->tensors[t].channels;
    buf[MODEL_TENSOR_COLUMNS * t + 1] = m->tensors[t].level;
  }
  dims[0] = (hsize_t) m->ntensors;
  dims[1] = MODEL_TENSOR_COLUMNS;
  ierr    = write_dataset(file, path, "tensors", "tensors", 2, dims, H5T_STD_I32LE, H5T_NATIVE_INT, buf);
  if (!ierr) {
    for (int l = 0; l < m->nlayers; l++) {
      const nn_layer *L   = &m->layers[l];
      int            *row = buf + MODEL_LAYER_COLUMNS * l;

      row[0] = (int) L->op;
      row[1] = L->in;
      row[2] = L->in2;
      row[3] = L->out;
      row[4] = L->cin;
      row[5] = L->cout;
      row[6] = L->k;
      row[7] = (int) L->act;
    }
    dims[0] = (hsize_t) m->nlayers;
    dims[1] = MODEL_LAYER_COLUMNS;
    ierr    = write_dataset(file, path, "layers", "layers", 2, dims, H5T_STD_I32LE, H5T_NATIVE_INT, buf);
  }
  PetscCall(PetscFree(buf));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode write_weights(hid_t grp, const nn_model *m, const char path[])
{
  PetscFunctionBegin;
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer *L = &m->layers[l];
    hsize_t         dims[5];
    char            name[32], label[48];

    if (L->op != NN_OP_CONV) continue;
    dims[0] = (hsize_t) L->cout;
    dims[1] = (hsize_t) L->cin;
    dims[2] = dims[3] = dims[4] = (hsize_t) L->k;
    weight_name(name, sizeof(name), "conv", l);
    snprintf(label, sizeof(label), "weights/%s", name);
    PetscCall(write_dataset(grp, path, name, label, 5, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, m->params + L->weight));
    weight_name(name, sizeof(name), "bias", l);
    snprintf(label, sizeof(label), "weights/%s", name);
    PetscCall(write_dataset(grp, path, name, label, 1, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, m->params + L->bias));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode write_training(hid_t grp, const nn_training *t, const char path[])
{
  const long long steps = t->steps;
  const char     *p     = "training/";

  PetscFunctionBegin;
  PetscCall(write_attr(grp, path, p, "grid", 3, H5T_STD_I32LE, H5T_NATIVE_INT, t->grid));
  PetscCall(write_string_attr(grp, path, p, "data", t->data));
  PetscCall(write_string_attr(grp, path, p, "loss", t->loss));
  PetscCall(write_attr(grp, path, p, "loss_value", 0, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &t->loss_value));
  PetscCall(write_attr(grp, path, p, "steps", 0, H5T_STD_I64LE, H5T_NATIVE_LLONG, &steps));
  PetscCall(write_string_attr(grp, path, p, "date", t->date));
  PetscCall(write_attr(grp, path, p, "seed", 0, H5T_STD_U64LE, H5T_NATIVE_UINT64, &t->seed));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDModelWriteContents(hid_t file, const char path[], const void *ctx)
{
  const nn_model *m = (const nn_model *) ctx;

  const int       version = DEEPCD_MODEL_VERSION;
  const long long nparams = (long long) m->nparams;
  hid_t           grp;
  PetscErrorCode  ierr;

  PetscFunctionBegin;
  PetscCall(write_string_attr(file, path, "", "format", DEEPCD_MODEL_FORMAT));
  PetscCall(write_attr(file, path, "", "version", 0, H5T_STD_I32LE, H5T_NATIVE_INT, &version));
  PetscCall(write_string_attr(file, path, "", "arch", m->arch));
  PetscCall(write_attr(file, path, "", "input", 0, H5T_STD_I32LE, H5T_NATIVE_INT, &m->input));
  PetscCall(write_attr(file, path, "", "output", 0, H5T_STD_I32LE, H5T_NATIVE_INT, &m->output));
  PetscCall(write_attr(file, path, "", "nparams", 0, H5T_STD_I64LE, H5T_NATIVE_LLONG, &nparams));
  PetscCall(write_tables(file, m, path));
  PetscCall(create_group(file, path, "weights", &grp));
  ierr = write_weights(grp, m, path);
  H5Gclose(grp);
  PetscCall(ierr);
  PetscCall(create_group(file, path, "training", &grp));
  ierr = write_training(grp, &m->training, path);
  H5Gclose(grp);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A fixed-size char field must hold a terminated string. */
static PetscErrorCode check_field(const char path[], const char field[], const char value[], size_t size)
{
  PetscFunctionBegin;
  PetscCheck(strnlen(value, size) < size, PETSC_COMM_SELF, PETSC_ERR_ARG_CORRUPT, "%s: the model's %s is not a terminated string of at most %zu characters", path, field, size - 1);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The checks made before a model is written. */
PetscErrorCode DeepCDModelCheckWritable(const nn_model *m, const char path[])
{
  PetscFunctionBegin;
  PetscAssertPointer(m, 1);
  PetscCheck(path && path[0], PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "model file name is empty");
  PetscCheck(nn_model_validate(m) == NN_SUCCESS, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "%s: cannot write an invalid model: %s", path, nn_error_message());
  PetscCheck(m->nparams <= (size_t) INT64_MAX, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s: too many parameters", path);
  PetscCheck(m->training.steps >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s: the training record has %ld steps", path, m->training.steps);
  for (int d = 0; d < 3; d++) PetscCheck(m->training.grid[d] >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s: the training record's grid has a negative size", path);
  PetscCall(check_field(path, "arch", m->arch, sizeof(m->arch)));
  PetscCall(check_field(path, "training data", m->training.data, sizeof(m->training.data)));
  PetscCall(check_field(path, "training loss", m->training.loss, sizeof(m->training.loss)));
  PetscCall(check_field(path, "training date", m->training.date, sizeof(m->training.date)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDModelWrite - writes a CNN model as a model file (format v1, docs/formats.md).

  Not Collective: call it on one process only

  Input Parameters:
+ m    - the model; it must pass `nn_model_validate()` (graph, offsets, finite parameters)
- path - the file to write (replaced if it exists)

  Notes:
  The file holds the graph (`tensors`, `layers`), one kernel and one bias dataset per convolution in the group
  `weights`, and the training record in the group `training`. It is written to the temporary name
  "path.tmp.<host>.<pid>" with the serial HDF5 API and renamed to `path` when complete, so a failure never leaves a
  partial file behind (the temporary file is removed). HDF5's own error printing is turned off during the call;
  failures are one-line PETSc errors that name the file and the item. The file carries no modification times,
  so the same model gives a byte-identical file.

  Level: intermediate

.seealso: `DeepCDModelRead()`, `DeepCDModelView()`, `nn_model_create_arch()`, `nn_model_init_he()`
@*/
PetscErrorCode DeepCDModelWrite(const nn_model *m, const char path[])
{
  PetscFunctionBegin;
  PetscCall(DeepCDModelCheckWritable(m, path));
  /* float32 parameters and HDF5's metadata, plus 1 MiB */
  PetscCall(DeepCDH5WriteAtomic(path, "model", 8.0 * (double) m->nparams + 1048576.0, DeepCDModelWriteContents, m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- reading: every rank reads the whole file and runs the same checks ---- */

typedef struct {
  MPI_Comm    comm;
  const char *file;
  hid_t       fid, wid, tid; /* the file, the groups `weights` and `training` */
  nn_model   *m;
  long long  *tensors, *layers; /* the tables as read */
  int         ntensors, nlayers;
  long long   nparams; /* the attribute */
} ModelReader;

/* Is the optional attribute `name` of loc there? */
static PetscErrorCode attr_present(ModelReader *r, hid_t loc, const char name[], const char label[], PetscBool *present)
{
  deepcd_h5_error e;
  int             x = 0;

  PetscFunctionBegin;
  PetscCall(DeepCDH5Raise(r->comm, deepcd_h5_attr_exists(loc, r->file, name, label, &x, &e), &e));
  *present = x ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A string attribute of at most len-1 characters; buf is left unchanged when the attribute is optional and absent. */
static PetscErrorCode read_attr_string(ModelReader *r, hid_t loc, const char name[], const char label[], PetscBool optional, char buf[], size_t len)
{
  deepcd_h5_error e;
  PetscBool       present = PETSC_TRUE;

  PetscFunctionBegin;
  if (optional) PetscCall(attr_present(r, loc, name, label, &present));
  if (present) PetscCall(DeepCDH5Raise(r->comm, deepcd_h5_read_attr_string(loc, r->file, name, label, buf, len, &e), &e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* `n` integer values of any integer type, as long long (unsigned ones must not exceed LLONG_MAX). */
static PetscErrorCode read_attr_ints(ModelReader *r, hid_t loc, const char name[], const char label[], PetscBool optional, int n, long long v[])
{
  deepcd_h5_error e;
  PetscBool       present = PETSC_TRUE;

  PetscFunctionBegin;
  if (optional) PetscCall(attr_present(r, loc, name, label, &present));
  if (present) PetscCall(DeepCDH5Raise(r->comm, deepcd_h5_read_attr_ints(loc, r->file, name, label, n, v, &e), &e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* An integer attribute in [lo, hi]. */
static PetscErrorCode read_attr_int_range(ModelReader *r, hid_t loc, const char name[], const char label[], PetscBool optional, long long lo, long long hi, long long *v)
{
  PetscFunctionBegin;
  PetscCall(read_attr_ints(r, loc, name, label, optional, 1, v));
  PetscCheck(*v >= lo && *v <= hi, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' = %lld is out of range (%lld..%lld)", r->file, label, *v, lo, hi);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The optional training seed (any integer type, non-negative) and loss value. */
static PetscErrorCode read_attr_seed_loss(ModelReader *r, hid_t loc, uint64_t *seed, double *loss)
{
  deepcd_h5_error e;
  PetscBool       present;

  PetscFunctionBegin;
  PetscCall(attr_present(r, loc, "seed", "training/seed", &present));
  if (present) PetscCall(DeepCDH5Raise(r->comm, deepcd_h5_read_attr_u64(loc, r->file, "seed", "training/seed", seed, &e), &e));
  PetscCall(attr_present(r, loc, "loss_value", "training/loss_value", &present));
  if (present) PetscCall(DeepCDH5Raise(r->comm, deepcd_h5_read_attr_double(loc, r->file, "loss_value", "training/loss_value", loss, &e), &e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Reads a whole dataset; a read failure on any rank is an error on all of them. */
static PetscErrorCode read_all(ModelReader *r, const char name[], hid_t memtype, void *buf)
{
  PetscBool ok, allok;

  PetscFunctionBegin;
  ok = deepcd_h5_read_whole(r->fid, name, memtype, buf) ? PETSC_FALSE : PETSC_TRUE;
  PetscCall(MPIU_Allreduce(&ok, &allok, 1, DEEPCD_MPI_BOOL, MPI_LAND, r->comm));
  PetscCheck(allok, r->comm, PETSC_ERR_FILE_READ, "%s: dataset '%s': read failed (corrupt or truncated data)", r->file, name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* An integer table of `ncols` columns and at least one row, read as long long. */
static PetscErrorCode read_table(ModelReader *r, const char name[], const char rowname[], int ncols, const char columns[], long long **v, int *nrows)
{
  DeepCDH5Info info;

  PetscFunctionBegin;
  PetscCall(DeepCDH5DatasetInfo(r->comm, r->file, r->fid, name, &info));
  PetscCheck(info.exists, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' is missing", r->file, name);
  PetscCheck(info.rank == 2, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': has %d dimension%s, expected 2 (one row %s per %s)", r->file, name, info.rank, info.rank == 1 ? "" : "s", columns, rowname);
  PetscCheck(info.dims[1] == (hsize_t) ncols, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': has %llu columns, expected %d %s", r->file, name, (unsigned long long) info.dims[1], ncols, columns);
  PetscCheck(info.dims[0] >= 1, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': has no rows", r->file, name);
  PetscCheck(info.dims[0] <= 1000000, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': has %llu rows, at most 1000000 are supported", r->file, name, (unsigned long long) info.dims[0]);
  if (info.tclass != H5T_INTEGER) {
    char type[32];

    deepcd_h5_type_name(&info, type, sizeof(type));
    SETERRQ(r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': type is %s, expected an integer type", r->file, name, type);
  }
  *nrows = (int) info.dims[0];
  PetscCall(PetscMalloc1((size_t) *nrows * (size_t) ncols, v));
  PetscCall(read_all(r, name, H5T_NATIVE_LLONG, *v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static const char *op_name(long long op)
{
  return op >= NN_OP_CONV && op <= NN_OP_UPSAMPLE2 ? nn_op_name((nn_op) op) : "unknown";
}

/* The root attributes and the two tables, checked row by row, into r->m. */
static PetscErrorCode read_graph(ModelReader *r)
{
  nn_model *m = r->m;
  long long input, output;
  size_t    next = 0;

  PetscFunctionBegin;
  PetscCall(DeepCDH5Open(r->comm, r->file, &r->fid));
  PetscCall(DeepCDH5CheckHeader(r->comm, r->file, r->fid, 1, (const char *const[]){ DEEPCD_MODEL_FORMAT }, (const int[]){ DEEPCD_MODEL_VERSION }, "model file", NULL));
  PetscCall(read_attr_string(r, r->fid, "arch", "arch", PETSC_TRUE, m->arch, sizeof(m->arch)));
  PetscCall(read_attr_ints(r, r->fid, "input", "input", PETSC_FALSE, 1, &input));
  PetscCall(read_attr_ints(r, r->fid, "output", "output", PETSC_FALSE, 1, &output));
  PetscCall(read_attr_int_range(r, r->fid, "nparams", "nparams", PETSC_FALSE, 0, LLONG_MAX, &r->nparams));

  /* tensors */
  PetscCall(read_table(r, "tensors", "tensor", MODEL_TENSOR_COLUMNS, TensorColumns, &r->tensors, &r->ntensors));
  for (int t = 0; t < r->ntensors; t++) {
    const long long c = r->tensors[MODEL_TENSOR_COLUMNS * t], lv = r->tensors[MODEL_TENSOR_COLUMNS * t + 1];

    PetscCheck(c >= 1 && c <= MODEL_MAX_CHANNELS && lv >= 0 && lv <= MODEL_MAX_LEVEL, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'tensors': row %d: %lld channels at level %lld (channels must be 1..%d, level 0..%d)", r->file, t, c, lv, MODEL_MAX_CHANNELS, MODEL_MAX_LEVEL);
  }
  m->tensors = calloc((size_t) (unsigned) r->ntensors, sizeof(*m->tensors));
  PetscCheck(m->tensors, PETSC_COMM_SELF, PETSC_ERR_MEM, "%s: out of memory for %d tensors", r->file, r->ntensors);
  m->ntensors = r->ntensors;
  for (int t = 0; t < r->ntensors; t++) {
    m->tensors[t].channels = (int) r->tensors[MODEL_TENSOR_COLUMNS * t];
    m->tensors[t].level    = (int) r->tensors[MODEL_TENSOR_COLUMNS * t + 1];
  }
  {
    const char     *names[2] = { "input", "output" };
    const long long idx[2]   = { input, output };

    for (int i = 0; i < 2; i++) {
      PetscCheck(idx[i] >= 0 && idx[i] < m->ntensors, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' = %lld is not a tensor index (0..%d)", r->file, names[i], idx[i], m->ntensors - 1);
      PetscCheck(m->tensors[idx[i]].channels == 1 && m->tensors[idx[i]].level == 0, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s': tensor %lld has %d channels at level %d, expected 1 channel at level 0", r->file, names[i], idx[i], m->tensors[idx[i]].channels, m->tensors[idx[i]].level);
    }
    m->input  = (int) input;
    m->output = (int) output;
  }

  /* layers */
  PetscCall(read_table(r, "layers", "layer", MODEL_LAYER_COLUMNS, LayerColumns, &r->layers, &r->nlayers));
  m->layers = calloc((size_t) (unsigned) r->nlayers, sizeof(*m->layers));
  PetscCheck(m->layers, PETSC_COMM_SELF, PETSC_ERR_MEM, "%s: out of memory for %d layers", r->file, r->nlayers);
  for (int l = 0; l < r->nlayers; l++) {
    const long long *row = r->layers + MODEL_LAYER_COLUMNS * l;
    const long long  op = row[0], in = row[1], in2 = row[2], out = row[3], cin = row[4], cout = row[5], k = row[6], act = row[7];
    const char      *nm = op_name(op);
    nn_layer        *L  = &m->layers[l];

    PetscCheck(op >= NN_OP_CONV && op <= NN_OP_UPSAMPLE2, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'layers': row %d: unknown op code %lld (0 conv, 1 add, 2 avgpool2, 3 upsample2)", r->file, l, op);
    PetscCheck(act == NN_ACT_NONE || act == NN_ACT_RELU, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'layers': row %d (%s): unknown activation %lld (0 none, 1 relu)", r->file, l, nm, act);
    PetscCheck(in >= 0 && in < m->ntensors, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'layers': row %d (%s): 'in' = %lld is not a tensor index (0..%d)", r->file, l, nm, in, m->ntensors - 1);
    PetscCheck(in2 >= -1 && in2 < m->ntensors, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'layers': row %d (%s): 'in2' = %lld is neither -1 nor a tensor index (0..%d)", r->file, l, nm, in2, m->ntensors - 1);
    PetscCheck(out >= 0 && out < m->ntensors, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'layers': row %d (%s): 'out' = %lld is not a tensor index (0..%d)", r->file, l, nm, out, m->ntensors - 1);
    if (op == NN_OP_CONV) {
      PetscCheck(k == 1 || k == 3, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'layers': row %d (conv): kernel size %lld (1 or 3)", r->file, l, k);
      PetscCheck(cin >= 1 && cin <= MODEL_MAX_CHANNELS && cout >= 1 && cout <= MODEL_MAX_CHANNELS, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'layers': row %d (conv): %lld -> %lld channels (each must be 1..%d)", r->file, l, cin, cout, MODEL_MAX_CHANNELS);
    } else {
      const int c = m->tensors[in].channels;

      PetscCheck(k == 0 && act == NN_ACT_NONE, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'layers': row %d (%s): k = %lld and act = %lld, both must be 0 for this op", r->file, l, nm, k, act);
      PetscCheck(cin == c && cout == c, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset 'layers': row %d (%s): cin, cout = %lld, %lld, expected the %d channels of tensor %lld", r->file, l, nm, cin, cout, c, in);
    }
    L->op   = (nn_op) op;
    L->in   = (int) in;
    L->in2  = (int) in2;
    L->out  = (int) out;
    L->cin  = (int) cin;
    L->cout = (int) cout;
    L->k    = (int) k;
    L->act  = (nn_act) act;
    /* parameters: each conv's kernel, then its bias, in layer order */
    if (op == NN_OP_CONV) {
      L->weight = next;
      L->bias   = next + (size_t) (cout * cin * k * k * k);
      next      = L->bias + (size_t) cout;
    }
  }
  m->nlayers = r->nlayers;
  m->nparams = next;
  m->params  = calloc(next ? next : 1, sizeof(float));
  PetscCheck(m->params, PETSC_COMM_SELF, PETSC_ERR_MEM, "%s: out of memory for %zu parameters", r->file, next);
  /* the graph: order of computation, shapes, levels (the parameters are zero, so finite, here) */
  PetscCheck(nn_model_validate(m) == NN_SUCCESS, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: layers: %s", r->file, nn_error_message());
  PetscCheck((unsigned long long) r->nparams == (unsigned long long) next, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute 'nparams' = %lld, but the layers have %zu parameters", r->file, r->nparams, next);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A float32 dataset `weights/NAME` of the given shape, read into buf and checked for NaN/Inf. */
static PetscErrorCode read_weight(ModelReader *r, const char name[], int rank, const hsize_t dims[], const char shapename[], float *buf)
{
  char                path[64];
  deepcd_h5_read_spec s = { .name = path, .tclass = H5T_FLOAT, .tsize = 4, .expect = "float32 (model weights are float32 only)", .shape_name = shapename, .index_name = "(cout, cin, z, y, x)", .memtype = H5T_NATIVE_FLOAT, .rank = rank, .check_finite = 1 };

  PetscFunctionBegin;
  snprintf(path, sizeof(path), "weights/%s", name);
  for (int d = 0; d < rank; d++) s.dims[d] = dims[d];
  PetscCall(DeepCDH5ReadChecked(r->comm, r->file, r->fid, &s, buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Is `name` the kernel or bias dataset of a conv layer of m? */
static PetscBool is_weight_name(const nn_model *m, const char name[])
{
  char  expect[32];
  char *end;
  long  l;

  if (strncmp(name, "conv", 4) && strncmp(name, "bias", 4)) return PETSC_FALSE;
  errno = 0;
  l     = strtol(name + 4, &end, 10);
  if (errno || *end || end == name + 4 || l < 0 || l >= m->nlayers || m->layers[l].op != NN_OP_CONV) return PETSC_FALSE;
  weight_name(expect, sizeof(expect), name[0] == 'c' ? "conv" : "bias", (int) l);
  return strcmp(expect, name) ? PETSC_FALSE : PETSC_TRUE;
}

static PetscErrorCode read_weights(ModelReader *r)
{
  nn_model  *m = r->m;
  htri_t     e;
  H5G_info_t ginfo;
  int        nconv = 0;

  PetscFunctionBegin;
  e = H5Lexists(r->fid, "weights", H5P_DEFAULT);
  PetscCheck(e >= 0, r->comm, PETSC_ERR_FILE_READ, "%s: group 'weights': cannot be queried", r->file);
  PetscCheck(e, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: group 'weights' is missing", r->file);
  r->wid = H5Gopen2(r->fid, "weights", H5P_DEFAULT);
  PetscCheck(r->wid >= 0, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: 'weights' is not a group", r->file);
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer *L = &m->layers[l];
    hsize_t         dims[5];
    char            name[32];

    if (L->op != NN_OP_CONV) continue;
    nconv++;
    dims[0] = (hsize_t) L->cout;
    dims[1] = (hsize_t) L->cin;
    dims[2] = dims[3] = dims[4] = (hsize_t) L->k;
    weight_name(name, sizeof(name), "conv", l);
    PetscCall(read_weight(r, name, 5, dims, "(cout, cin, k, k, k)", m->params + L->weight));
    weight_name(name, sizeof(name), "bias", l);
    PetscCall(read_weight(r, name, 1, dims, "(cout)", m->params + L->bias));
  }
  /* anything else in the group belongs to another model */
  PetscCheck(H5Gget_info(r->wid, &ginfo) >= 0, r->comm, PETSC_ERR_FILE_READ, "%s: group 'weights': cannot be listed", r->file);
  for (hsize_t i = 0; ginfo.nlinks != (hsize_t) (2 * nconv) && i < ginfo.nlinks; i++) {
    char    name[64] = "";
    ssize_t len      = H5Lget_name_by_idx(r->wid, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof(name), H5P_DEFAULT);

    PetscCheck(len >= 0, r->comm, PETSC_ERR_FILE_READ, "%s: group 'weights': cannot be listed", r->file);
    PetscCheck(is_weight_name(m, name), r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: group 'weights': unexpected object '%s%s' (not the kernel or bias of a conv layer)", r->file, name, (size_t) len >= sizeof(name) ? "..." : "");
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The optional group `training`; each of its attributes is optional too. */
static PetscErrorCode read_training(ModelReader *r)
{
  nn_training *t = &r->m->training;
  htri_t       e;
  long long    grid[3] = { 0, 0, 0 }, steps = 0;

  PetscFunctionBegin;
  e = H5Lexists(r->fid, "training", H5P_DEFAULT);
  PetscCheck(e >= 0, r->comm, PETSC_ERR_FILE_READ, "%s: group 'training': cannot be queried", r->file);
  if (!e) PetscFunctionReturn(PETSC_SUCCESS);
  r->tid = H5Gopen2(r->fid, "training", H5P_DEFAULT);
  PetscCheck(r->tid >= 0, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: 'training' is not a group", r->file);
  PetscCall(read_attr_ints(r, r->tid, "grid", "training/grid", PETSC_TRUE, 3, grid));
  for (int d = 0; d < 3; d++) {
    PetscCheck(grid[d] >= 0 && grid[d] <= INT_MAX, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute 'training/grid' = (%lld, %lld, %lld): each must be in 0..%d", r->file, grid[0], grid[1], grid[2], INT_MAX);
    t->grid[d] = (int) grid[d];
  }
  PetscCall(read_attr_string(r, r->tid, "data", "training/data", PETSC_TRUE, t->data, sizeof(t->data)));
  PetscCall(read_attr_string(r, r->tid, "loss", "training/loss", PETSC_TRUE, t->loss, sizeof(t->loss)));
  PetscCall(read_attr_int_range(r, r->tid, "steps", "training/steps", PETSC_TRUE, 0, LONG_MAX, &steps));
  t->steps = (long) steps;
  PetscCall(read_attr_string(r, r->tid, "date", "training/date", PETSC_TRUE, t->date, sizeof(t->date)));
  PetscCall(read_attr_seed_loss(r, r->tid, &t->seed, &t->loss_value));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDModelRead - reads a model file (format v1, docs/formats.md) into a new CNN model.

  Collective

  Input Parameters:
+ comm - the processes that need the model; every one of them reads the whole file (read-only, independently)
- path - the HDF5 model file

  Output Parameter:
. m - the model; free it with `nn_model_destroy()`

  Notes:
  The file is checked in a fixed order and the first problem found is raised as a PETSc error whose message is
  one line naming the file and the item: the file itself, the root attributes (`format`, `version`, `arch`,
  `input`, `output`, `nparams`), the tables `tensors` and `layers` (shape, integer type, each row's op code,
  activation, tensor indices, kernel size, channels), the graph (`nn_model_validate()`: order of computation,
  shapes, levels), `nparams` against the layers, each kernel and bias in `weights` (present, shape, float32, no
  NaN/Inf), stray objects in `weights`, and the optional `training` record. Every process sees the same file, so
  every process raises the same error. HDF5's own error printing is off during the call and restored after.

  Level: intermediate

.seealso: `DeepCDModelWrite()`, `DeepCDModelView()`, `nn_model_destroy()`
@*/
PetscErrorCode DeepCDModelRead(MPI_Comm comm, const char path[], nn_model **m)
{
  ModelReader     r;
  deepcd_h5_quiet q;
  PetscErrorCode  ierr;

  PetscFunctionBegin;
  PetscAssertPointer(path, 2);
  PetscAssertPointer(m, 3);
  *m = NULL;
  PetscCall(PetscMemzero(&r, sizeof(r)));
  r.comm = comm;
  r.file = path;
  r.fid = r.wid = r.tid = H5I_INVALID_HID;
  PetscCheck(nn_model_create(&r.m) == NN_SUCCESS, PETSC_COMM_SELF, PETSC_ERR_MEM, "%s: %s", path, nn_error_message());

  /* our one-line messages replace HDF5's stack dumps; the caller's setting is restored */
  deepcd_h5_quiet_push(&q);
  ierr = read_graph(&r);
  if (!ierr) ierr = read_weights(&r);
  if (!ierr) ierr = read_training(&r);
  if (r.tid >= 0) H5Gclose(r.tid);
  if (r.wid >= 0) H5Gclose(r.wid);
  if (r.fid >= 0) H5Fclose(r.fid);
  deepcd_h5_quiet_pop(&q);
  PetscCall(PetscFree(r.tensors));
  PetscCall(PetscFree(r.layers));
  if (ierr) nn_model_destroy(&r.m);
  PetscCall(ierr);
  *m = r.m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDModelTrainingSmooth - The smoothing steps a model was trained with (`deepcd train --smooth N`), from its
  training record.

  Not Collective

  Input Parameter:
. m - the model

  Output Parameter:
. n - N of `--smooth N`; 0 when the model was trained on the network's raw output or has no training record

  Note:
  `deepcd train --smooth N` records the loss as `dcdm, smoothed by N chebyshev/jacobi`; KSPDEEPCD uses N as its
  default `-ksp_deepcd_smooth` (with a Chebyshev smoother, as in training).

  Level: developer

.seealso: `DeepCDModelRead()`, `KSPDeepCDSetSmooth()`
@*/
PetscErrorCode DeepCDModelTrainingSmooth(const nn_model *m, PetscInt *n)
{
  const char *s;
  long        v;
  char       *end;

  PetscFunctionBegin;
  PetscAssertPointer(m, 1);
  PetscAssertPointer(n, 2);
  *n = 0;
  s  = strstr(m->training.loss, "smoothed by ");
  if (!s) PetscFunctionReturn(PETSC_SUCCESS);
  errno = 0;
  v     = strtol(s + strlen("smoothed by "), &end, 10);
  if (!errno && end != s + strlen("smoothed by ") && v > 0 && v <= INT_MAX) *n = (PetscInt) v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- viewing ---- */

/*@C
  DeepCDModelView - prints a summary of a CNN model: architecture, layer table, parameter count, cost and
  training record.

  Collective on the viewer

  Input Parameters:
+ m      - the model
- viewer - an ASCII viewer (NULL: `PETSC_VIEWER_STDOUT_SELF`); other viewer types print nothing

  Note:
  The layer table has one row per layer: index, operation, input -> output tensor, channels, kernel size,
  activation, the added tensor (the residual of a conv, the second operand of an add, the skip of an
  upsampling) and the level of the output. The cost is `nn_model_flops_per_voxel()` (FLOP = 2 multiply-adds),
  also given for the grids 64^3, 128^3 and 256^3.

  Level: intermediate

.seealso: `DeepCDModelRead()`, `DeepCDModelWrite()`
@*/
PetscErrorCode DeepCDModelView(const nn_model *m, PetscViewer viewer)
{
  PetscBool   isascii;
  const int   ns[3] = { 64, 128, 256 };
  char        buf[256], fl[3][32];
  double      fpv;
  int         levels, nconv = 0;
  const char *actnames[2] = { "none", "relu" };

  PetscFunctionBegin;
  PetscAssertPointer(m, 1);
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(PETSC_COMM_SELF, &viewer));
  PetscValidHeaderSpecific(viewer, PETSC_VIEWER_CLASSID, 2);
  PetscCall(PetscObjectTypeCompare((PetscObject) viewer, PETSCVIEWERASCII, &isascii));
  if (!isascii) PetscFunctionReturn(PETSC_SUCCESS);
  levels = nn_model_levels(m);
  fpv    = nn_model_flops_per_voxel(m);
  for (int l = 0; l < m->nlayers; l++) nconv += m->layers[l].op == NN_OP_CONV;

  PetscCall(PetscViewerASCIIPrintf(viewer, "model: arch %s, %d layers (%d conv), %d tensors, %zu parameters (float32)\n", m->arch[0] ? m->arch : "(none)", m->nlayers, nconv, m->ntensors, m->nparams));
  PetscCall(PetscViewerASCIIPrintf(viewer, "  input tensor %d, output tensor %d, %d pooling level%s (grid sizes must be divisible by %d)\n", m->input, m->output, levels, levels == 1 ? "" : "s", 1 << levels));
  snprintf(buf, sizeof(buf), "  %5s  %-9s  %-10s  %-9s  %-6s  %-4s  %-8s  %s\n", "layer", "op", "tensors", "channels", "kernel", "act", "residual", "level");
  PetscCall(PetscViewerASCIIPrintf(viewer, "%s", buf));
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer *L = &m->layers[l];
    char            tens[32], chan[32], kern[16], adds[32];
    int             lv = (L->out >= 0 && L->out < m->ntensors) ? m->tensors[L->out].level : -1;

    snprintf(tens, sizeof(tens), "%d -> %d", L->in, L->out);
    if (L->op == NN_OP_CONV) {
      snprintf(chan, sizeof(chan), "%d -> %d", L->cin, L->cout);
      snprintf(kern, sizeof(kern), "%dx%dx%d", L->k, L->k, L->k);
    } else {
      snprintf(chan, sizeof(chan), "%d", L->cout);
      snprintf(kern, sizeof(kern), "-");
    }
    if (L->in2 >= 0)
      snprintf(adds, sizeof(adds), "+ t%d", L->in2);
    else
      snprintf(adds, sizeof(adds), "-");
    snprintf(buf, sizeof(buf), "  %5d  %-9s  %-10s  %-9s  %-6s  %-4s  %-8s  %d\n", l, nn_op_name(L->op), tens, chan, kern, L->op == NN_OP_CONV && (L->act == NN_ACT_NONE || L->act == NN_ACT_RELU) ? actnames[L->act] : "-", adds, lv);
    PetscCall(PetscViewerASCIIPrintf(viewer, "%s", buf));
  }
  /* plain C formatting: PETSc's %g differs */
  for (int i = 0; i < 3; i++) snprintf(fl[i], sizeof(fl[i]), "%.3g", fpv * ns[i] * ns[i] * ns[i] / 1e12);
  snprintf(buf, sizeof(buf), "  cost: %.4g FLOP per voxel (FLOP = 2 multiply-adds); 64^3: %s TFLOP, 128^3: %s TFLOP, 256^3: %s TFLOP\n", fpv, fl[0], fl[1], fl[2]);
  PetscCall(PetscViewerASCIIPrintf(viewer, "%s", buf));
  {
    const nn_training *t = &m->training;

    if (!t->grid[0] && !t->grid[1] && !t->grid[2] && !t->steps) {
      PetscCall(PetscViewerASCIIPrintf(viewer, "  training: none (initialisation seed %llu)\n", (unsigned long long) t->seed));
    } else {
      snprintf(buf, sizeof(buf), "%.6g", t->loss_value);
      PetscCall(PetscViewerASCIIPrintf(viewer, "  training: grid %dx%dx%d, data '%s', loss %s = %s, %ld steps, date %s, seed %llu\n", t->grid[0], t->grid[1], t->grid[2], t->data, t->loss[0] ? t->loss : "(unnamed)", buf, t->steps, t->date[0] ? t->date : "(none)", (unsigned long long) t->seed));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
