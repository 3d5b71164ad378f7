/* The "cnn" direction generator: z = f(r/||r||) with f a convolutional
   network (src/nn) run on each rank's own box of the DMDA. Before every
   3x3x3 convolution the 1-cell halo of all channels is exchanged with the
   neighbouring ranks (box stencil) by a PetscSF per level and channel count
   that writes the neighbours' cells, in float32, straight into the border of
   the padded tensor; wall ghosts stay zero (the network's zero padding).
   The network's grid is the problem grid padded to a multiple of 2^levels at
   the far end; every rank's range starts at a multiple of 2^levels, so
   pooling never straddles ranks and 1 and N ranks compute the same. */
#include <petsc/private/petscimpl.h>
#include <petscdmda.h>
#include <petscsf.h>
#include <deepcd/private/dirgenimpl.h>
#include <deepcd/ksp.h>
#include <deepcd/model_io.h>
#include <deepcd/private/modelioimpl.h>
#include <deepcd/nn.h>
#include <deepcd/private/petsccompat.h>

PetscLogEvent DEEPCD_Inference = 0, DEEPCD_Halo = 0;

#define MAXLEVEL 8

typedef struct {
  PetscSF      sf[MAXLEVEL + 1][2]; /* per level, [1 channel, wide]: border cells <- neighbours' cells */
  MPI_Datatype wideunit;            /* a cell of a wide tensor: wide floats (1 channel: MPI_FLOAT) */
  int          wide;                /* the channel count of the wide tensors */
} HaloSF;

typedef struct {
  char            backend[16], precision[8];
  const nn_model *model; /* shared: DeepCDModelCacheGet() */
  nn_net         *net;
  float          *in, *out;
  unsigned char  *mask;
  PetscInt        n; /* local cells */
  PetscBool       distributed;
  HaloSF          halo;
  double          flops;  /* per forward on this rank */
  PetscReal       scale;  /* sqrt(cells of the whole grid): the network sees unit RMS, not unit norm */
  PetscBool       device; /* the backend's buffers are device memory: CUDA vectors go in and out directly */
} DirGen_CNN;

static PetscErrorCode nn_to_petsc(MPI_Comm comm, nn_err err, const char what[])
{
  PetscFunctionBegin;
  PetscCheck(!err, comm, err == NN_ERR_UNSUPPORTED ? PETSC_ERR_SUP : PETSC_ERR_LIB, "%s: %s", what, nn_error_message());
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* nn halo callback: buf holds the padded tensor (interior written, border
   zeroed by the backend's pad). The star forest writes the neighbours'
   cells into the border; wall ghosts are no leaves and stay zero. */
static nn_err halo_exchange(void *ctx, int level, int channels, float *buf)
{
  HaloSF        *h = (HaloSF *) ctx;
  int            w = channels == 1 ? 0 : 1;
  PetscErrorCode ierr;

  if (level > MAXLEVEL || (w && channels != h->wide) || !h->sf[level][w]) return 1;
  ierr = PetscLogEventBegin(DEEPCD_Halo, 0, 0, 0, 0);
  if (!ierr) ierr = PetscSFBcastBegin(h->sf[level][w], w ? h->wideunit : MPI_FLOAT, buf, buf, MPI_REPLACE);
  if (!ierr) ierr = PetscSFBcastEnd(h->sf[level][w], w ? h->wideunit : MPI_FLOAT, buf, buf, MPI_REPLACE);
  if (!ierr) ierr = PetscLogEventEnd(DEEPCD_Halo, 0, 0, 0, 0);
  return ierr ? 1 : 0;
}

/* The star forest of one level: leaves are the border cells of this rank's
   padded tensor that lie in a neighbour's box, roots the cells of the
   padded tensors (index = cell, unit = all channels of a cell). start[d][r]
   and size[d][r]: the level's boxes along dimension d (0 = x). */
static PetscErrorCode halo_sf_create(MPI_Comm comm, const PetscInt np3[3], PetscInt *start[3], PetscInt *size[3], PetscSF *sf)
{
  PetscMPIInt  rank;
  PetscInt     me[3], n[3], nleaves = 0, ncells;
  PetscInt    *ilocal;
  PetscSFNode *iremote;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  me[0] = rank % np3[0];
  me[1] = (rank / np3[0]) % np3[1];
  me[2] = rank / (np3[0] * np3[1]);
  for (int d = 0; d < 3; d++) n[d] = size[d][me[d]] + 2;
  ncells = n[0] * n[1] * n[2];
  PetscCall(PetscMalloc1(ncells - (n[0] - 2) * (n[1] - 2) * (n[2] - 2), &ilocal));
  PetscCall(PetscMalloc1(ncells - (n[0] - 2) * (n[1] - 2) * (n[2] - 2), &iremote));
  for (PetscInt z = 0; z < n[2]; z++)
    for (PetscInt y = 0; y < n[1]; y++)
      for (PetscInt x = 0; x < n[0]; x++) {
        PetscInt  g[3]   = { x, y, z }, owner[3], loc[3];
        PetscBool border = PETSC_FALSE, wall = PETSC_FALSE;

        for (int d = 0; d < 3 && !wall; d++) {
          owner[d] = me[d];
          loc[d]   = g[d];
          if (g[d] == 0)
            owner[d]--;
          else if (g[d] == n[d] - 1)
            owner[d]++;
          if (owner[d] == me[d]) continue;
          border = PETSC_TRUE;
          if (owner[d] < 0 || owner[d] >= np3[d])
            wall = PETSC_TRUE;
          else
            loc[d] = start[d][me[d]] + g[d] - start[d][owner[d]]; /* global cell start+g-1, +1 for the owner's padding */
        }
        if (!border || wall) continue;
        ilocal[nleaves]        = (z * n[1] + y) * n[0] + x;
        iremote[nleaves].rank  = owner[0] + np3[0] * (owner[1] + np3[1] * owner[2]); /* the DMDA's rank order */
        iremote[nleaves].index = (loc[2] * (size[1][owner[1]] + 2) + loc[1]) * (size[0][owner[0]] + 2) + loc[0];
        nleaves++;
      }
  PetscCall(PetscSFCreate(comm, sf));
  PetscCall(PetscSFSetGraph(*sf, ncells, nleaves, ilocal, PETSC_OWN_POINTER, iremote, PETSC_OWN_POINTER));
  PetscCall(PetscSFSetUp(*sf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The star forests of every level for the halo exchange. */
static PetscErrorCode halo_setup(DM da, const nn_model *m, HaloSF *h)
{
  MPI_Comm        comm = PetscObjectComm((PetscObject) da);
  PetscInt        mp, np, pp, L = nn_model_levels(m), mult;
  const PetscInt *lr[3];
  PetscInt       *l[3], np3[3];

  PetscFunctionBegin;
  PetscCheck(L <= MAXLEVEL, comm, PETSC_ERR_SUP, "the model has %" PetscInt_FMT " pooling levels; at most %d are supported", L, MAXLEVEL);
  mult = (PetscInt) 1 << L;
  PetscCall(DMDAGetInfo(da, NULL, NULL, NULL, NULL, &mp, &np, &pp, NULL, NULL, NULL, NULL, NULL, NULL));
  PetscCall(DMDAGetOwnershipRanges(da, &lr[0], &lr[1], &lr[2]));
  np3[0]  = mp;
  np3[1]  = np;
  np3[2]  = pp;
  h->wide = 0;
  for (int t = 0; t < m->ntensors; t++)
    if (m->tensors[t].channels > 1) {
      PetscCheck(!h->wide || h->wide == m->tensors[t].channels, comm, PETSC_ERR_SUP, "distributed inference supports one channel count besides 1 (the model has %d and %d)", h->wide, m->tensors[t].channels);
      h->wide = m->tensors[t].channels;
    }
  for (int d = 0; d < 3; d++) {
    PetscInt start = 0;

    PetscCall(PetscMalloc1(np3[d], &l[d]));
    for (PetscInt r = 0; r < np3[d]; r++) {
      PetscBool last = r == np3[d] - 1 ? PETSC_TRUE : PETSC_FALSE;

      PetscCheck(start % mult == 0 && (last || lr[d][r] % mult == 0), comm, PETSC_ERR_SUP, "rank range %" PetscInt_FMT "..%" PetscInt_FMT " in dimension %d is not aligned to 2^%" PetscInt_FMT " cells, which the model's pooling needs", start, start + lr[d][r], d, L);
      l[d][r] = last ? (lr[d][r] + mult - 1) / mult * mult : lr[d][r]; /* the far end is padded */
      start += lr[d][r];
    }
  }
  if (h->wide) {
    PetscCallMPI(MPI_Type_contiguous(h->wide, MPI_FLOAT, &h->wideunit));
    PetscCallMPI(MPI_Type_commit(&h->wideunit));
  }
  for (PetscInt lev = 0; lev <= L; lev++) {
    PetscInt *start[3], *size[3];

    for (int d = 0; d < 3; d++) {
      PetscCall(PetscMalloc2(np3[d], &start[d], np3[d], &size[d]));
      for (PetscInt r = 0; r < np3[d]; r++) {
        size[d][r]  = l[d][r] >> lev;
        start[d][r] = r ? start[d][r - 1] + size[d][r - 1] : 0;
      }
    }
    for (int w = 0; w < 2; w++) {
      PetscBool used = PETSC_FALSE;

      for (int t = 0; t < m->ntensors; t++)
        if (m->tensors[t].level == lev && (m->tensors[t].channels == 1) == (w == 0)) used = PETSC_TRUE;
      if (used && (w == 0 || h->wide)) PetscCall(halo_sf_create(comm, np3, start, size, &h->sf[lev][w]));
    }
    for (int d = 0; d < 3; d++) PetscCall(PetscFree2(start[d], size[d]));
  }
  for (int d = 0; d < 3; d++) PetscCall(PetscFree(l[d]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode halo_destroy(HaloSF *h)
{
  PetscFunctionBegin;
  for (int lev = 0; lev <= MAXLEVEL; lev++)
    for (int w = 0; w < 2; w++) PetscCall(PetscSFDestroy(&h->sf[lev][w]));
  if (h->wideunit != MPI_DATATYPE_NULL && h->wideunit) PetscCallMPI(MPI_Type_free(&h->wideunit)); /* 0: never made */
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The lists come from the nn library's own tables: "auto" plus the backends
   compiled in, and the precisions. Under the generator's prefix (the KSP's
   prefix and ksp_deepcd_) the keys read -ksp_deepcd_backend and
   -ksp_deepcd_precision. */
static PetscErrorCode DeepCDDirGenSetFromOptions_CNN(DeepCDDirGen gen, DeepCDOptionItems PetscOptionsObject)
{
  DirGen_CNN *cnn = (DirGen_CNN *) gen->data;
  const char *backends[8], *precisions[NN_PRECISION_COUNT];
  PetscInt    nb = 0, b = 0, p = 0;
  PetscBool   flg;
  char        help[256] = "Where the network runs:";

  PetscFunctionBegin;
  backends[nb++] = "auto";
  for (int i = 0; i < nn_backend_count() && nb < (PetscInt) (sizeof(backends) / sizeof(backends[0])); i++) backends[nb++] = nn_backend_name(i);
  for (PetscInt i = 0; i < nb; i++) {
    if (!strcmp(cnn->backend, backends[i])) b = i;
    PetscCall(PetscStrlcat(help, i ? ", " : " ", sizeof(help)));
    PetscCall(PetscStrlcat(help, backends[i], sizeof(help)));
  }
  for (PetscInt i = 0; i < NN_PRECISION_COUNT; i++) {
    precisions[i] = nn_precision_names[i];
    if (!strcmp(cnn->precision, precisions[i])) p = i;
  }
  PetscOptionsHeadBegin(PetscOptionsObject, "KSP DeepCD cnn direction generator options");
  PetscCall(PetscOptionsEList("-backend", help, "KSPDEEPCD", backends, nb, backends[b], &b, &flg));
  if (flg) PetscCall(PetscStrncpy(cnn->backend, backends[b], sizeof(cnn->backend)));
  PetscCall(PetscOptionsEList("-precision", "Network arithmetic", "KSPDEEPCD", precisions, NN_PRECISION_COUNT, precisions[p], &p, &flg));
  if (flg) PetscCall(PetscStrncpy(cnn->precision, precisions[p], sizeof(cnn->precision)));
  PetscOptionsHeadEnd();
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* auto: cuda, then cpu, then ref, whichever is usable with the precision. */
static PetscErrorCode choose_backend(MPI_Comm comm, DirGen_CNN *cnn, nn_precision prec)
{
  PetscFunctionBegin;
  if (!strcmp(cnn->backend, "auto")) {
    const char *order[] = { "cuda", "cpu", "ref" };

    for (int i = 0; i < 3; i++)
      if (!nn_backend_check(order[i], prec)) {
        PetscCall(PetscStrncpy(cnn->backend, order[i], sizeof(cnn->backend)));
        PetscCall(PetscInfo(NULL, "-ksp_deepcd_backend auto: using %s\n", order[i]));
        PetscFunctionReturn(PETSC_SUCCESS);
      }
    SETERRQ(comm, PETSC_ERR_SUP, "-ksp_deepcd_backend auto: no backend runs precision %s here", nn_precision_names[prec]);
  }
  PetscCall(nn_to_petsc(comm, nn_backend_check(cnn->backend, prec), "-ksp_deepcd_backend"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode DeepCDDirGenSetUp_CNN(DeepCDDirGen gen)
{
  DirGen_CNN  *cnn  = (DirGen_CNN *) gen->data;
  MPI_Comm     comm = PetscObjectComm((PetscObject) gen->ksp);
  DM           da;
  const char  *model;
  PetscInt     dim, dof, xs, ys, zs, xm, ym, zm;
  PetscMPIInt  size;
  nn_precision prec = NN_FP32;
  int          dims[3];
  Vec          solid;

  PetscFunctionBegin;
  PetscCall(KSPDeepCDGetModel(gen->ksp, &model));
  PetscCheck(model && model[0], comm, PETSC_ERR_ARG_WRONGSTATE, "the cnn direction generator needs a model: -ksp_deepcd_model FILE.h5");
  PetscCall(KSPGetDM(gen->ksp, &da));
  {
    PetscBool isda;

    PetscCall(PetscObjectTypeCompare((PetscObject) da, DMDA, &isda));
    PetscCheck(isda, comm, PETSC_ERR_ARG_WRONG, "the cnn direction generator needs the problem's 3-D DMDA on the KSP (KSPSetDM)");
  }
  PetscCall(DMDAGetInfo(da, &dim, NULL, NULL, NULL, NULL, NULL, NULL, &dof, NULL, NULL, NULL, NULL, NULL));
  PetscCheck(dim == 3 && dof == 1, comm, PETSC_ERR_ARG_WRONG, "the cnn direction generator needs a 3-D DMDA with 1 dof (got %" PetscInt_FMT "-D, %" PetscInt_FMT " dof)", dim, dof);
  for (int i = 0; i < 4; i++)
    if (!strcmp(cnn->precision, nn_precision_names[i])) prec = (nn_precision) i;
  PetscCall(choose_backend(comm, cnn, prec));
  PetscCall(DeepCDModelCacheGet(comm, model, &cnn->model));       /* read once per process and file */
  PetscCall(DeepCDModelTrainingSmooth(cnn->model, &gen->smooth)); /* the KSP's default -ksp_deepcd_smooth */
  PetscCall(DMDAGetCorners(da, &xs, &ys, &zs, &xm, &ym, &zm));
  cnn->n  = xm * ym * zm;
  dims[0] = (int) zm;
  dims[1] = (int) ym;
  dims[2] = (int) xm;
  PetscCall(nn_to_petsc(comm, nn_net_create(cnn->model, cnn->backend, prec, dims, &cnn->net), "cnn direction generator"));
  PetscCall(PetscMalloc3(cnn->n, &cnn->in, cnn->n, &cnn->out, cnn->n, &cnn->mask));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  cnn->distributed = size > 1 ? PETSC_TRUE : PETSC_FALSE;
  if (cnn->distributed) {
    PetscCall(halo_setup(da, cnn->model, &cnn->halo));
    PetscCall(nn_to_petsc(comm, nn_net_set_halo(cnn->net, halo_exchange, &cnn->halo), "cnn halo"));
  }
  /* solid cells: the output is masked to zero there (the problem composes its solid mask on the DM) */
  PetscCall(PetscObjectQuery((PetscObject) da, "deepcd_solid", (PetscObject *) &solid));
  PetscCall(PetscArrayzero(cnn->mask, cnn->n));
  if (solid) {
    const PetscScalar *s;

    PetscCall(VecGetArrayRead(solid, &s));
    for (PetscInt i = 0; i < cnn->n; i++) cnn->mask[i] = PetscRealPart(s[i]) != 0 ? 1 : 0;
    PetscCall(VecRestoreArrayRead(solid, &s));
  }
  /* the device path (nn_net_forward_device) masks on the device: the mask goes there once */
  cnn->device = nn_net_device_memory(cnn->net) ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(nn_to_petsc(comm, nn_net_set_mask(cnn->net, cnn->mask), "cnn mask"));
  cnn->flops = nn_model_flops_per_voxel(cnn->model) * (double) cnn->n;
  {
    PetscInt M, N, P;

    /* the KSP gives r/||r||; its entries shrink as 1/sqrt(cells), so one
       network would see different magnitudes on different grids (its biases
       make it not scale-invariant). Unit RMS keeps them O(1) on every grid,
       as in training (DeepCDTrain). */
    PetscCall(DMDAGetInfo(da, NULL, &M, &N, &P, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL));
    cnn->scale = PetscSqrtReal((PetscReal) M * (PetscReal) N * (PetscReal) P);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* With a device backend and vectors in CUDA memory (a PETSc built with CUDA
   and a program that gives the KSP CUDA vectors, e.g. DMSetVecType(da,
   VECCUDA); deepcd solve makes host vectors): the residual's device array goes
   into the network and the direction comes out into z's device array, no
   host copies (nn_net_forward_device scales, converts, pads, crops and masks
   on the device). *done: PETSC_FALSE when either vector is not in CUDA
   memory (then the host path runs). Only for real double PetscScalar, which
   is what the device path takes. */
static PetscErrorCode apply_device(DeepCDDirGen gen, Vec r, Vec z, PetscBool *done)
{
#if defined(PETSC_USE_REAL_DOUBLE) && !defined(PETSC_USE_COMPLEX)
  DirGen_CNN        *cnn = (DirGen_CNN *) gen->data;
  const PetscScalar *ra;
  PetscScalar       *za;
  PetscMemType       rt, zt;
  nn_err             err = NN_SUCCESS;
#endif

  PetscFunctionBegin;
  *done = PETSC_FALSE;
#if defined(PETSC_USE_REAL_DOUBLE) && !defined(PETSC_USE_COMPLEX)
  PetscCall(VecGetArrayReadAndMemType(r, &ra, &rt));
  if (PetscMemTypeCUDA(rt)) {
    PetscCall(VecGetArrayWriteAndMemType(z, &za, &zt));
    if (PetscMemTypeCUDA(zt)) {
      PetscCall(PetscLogEventBegin(DEEPCD_Inference, 0, 0, 0, 0));
      err = nn_net_forward_device(cnn->net, ra, cnn->scale, za);
      PetscCall(PetscLogFlops(cnn->flops));
      PetscCall(PetscLogEventEnd(DEEPCD_Inference, 0, 0, 0, 0));
      *done = PETSC_TRUE;
    }
    PetscCall(VecRestoreArrayWriteAndMemType(z, &za));
  }
  PetscCall(VecRestoreArrayReadAndMemType(r, &ra));
  PetscCall(nn_to_petsc(PetscObjectComm((PetscObject) gen->ksp), err, "cnn inference"));
#else
  (void) gen;
  (void) r;
  (void) z;
#endif
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode DeepCDDirGenApply_CNN(DeepCDDirGen gen, Vec r, Vec z)
{
  DirGen_CNN        *cnn = (DirGen_CNN *) gen->data;
  const PetscScalar *ra;
  PetscScalar       *za;
  nn_err             err;

  PetscFunctionBegin;
  if (cnn->device) {
    PetscBool done;

    PetscCall(apply_device(gen, r, z, &done));
    if (done) PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* host memory: through float arrays; a device backend stages them through its pinned buffers */
  PetscCall(VecGetArrayRead(r, &ra));
  for (PetscInt i = 0; i < cnn->n; i++) cnn->in[i] = (float) (cnn->scale * PetscRealPart(ra[i]));
  PetscCall(VecRestoreArrayRead(r, &ra));
  PetscCall(PetscLogEventBegin(DEEPCD_Inference, 0, 0, 0, 0));
  err = nn_net_forward(cnn->net, cnn->in, cnn->mask, cnn->out);
  PetscCall(PetscLogFlops(cnn->flops));
  PetscCall(PetscLogEventEnd(DEEPCD_Inference, 0, 0, 0, 0));
  PetscCall(nn_to_petsc(PetscObjectComm((PetscObject) gen->ksp), err, "cnn inference"));
  PetscCall(VecGetArray(z, &za));
  for (PetscInt i = 0; i < cnn->n; i++) za[i] = cnn->out[i];
  PetscCall(VecRestoreArray(z, &za));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode DeepCDDirGenView_CNN(DeepCDDirGen gen, PetscViewer viewer)
{
  DirGen_CNN *cnn = (DirGen_CNN *) gen->data;
  const char *model;

  PetscFunctionBegin;
  PetscCall(KSPDeepCDGetModel(gen->ksp, &model));
  PetscCall(PetscViewerASCIIPrintf(viewer, "model: %s\n", model));
  PetscCall(PetscViewerASCIIPrintf(viewer, "backend: %s, precision: %s\n", cnn->net ? nn_net_backend(cnn->net) : cnn->backend, cnn->precision));
  if (cnn->model) {
    PetscCall(PetscViewerASCIIPrintf(viewer, "architecture: %s, %d layers, %zu parameters, %.4g FLOP per voxel\n", cnn->model->arch[0] ? cnn->model->arch : "custom", cnn->model->nlayers, cnn->model->nparams, nn_model_flops_per_voxel(cnn->model)));
    PetscCall(PetscViewerASCIIPrintf(viewer, "halo exchange between ranks: %s\n", cnn->distributed ? "yes" : "no (one rank)"));
    if (cnn->model->training.steps > 0) {
      const nn_training *t = &cnn->model->training;
      PetscInt           ns;

      PetscCall(PetscViewerASCIIPrintf(viewer, "trained: %ld steps at %dx%dx%d, loss %s\n", t->steps, t->grid[0], t->grid[1], t->grid[2], t->loss));
      /* a model trained on smoothed directions (deepcd train --smooth) is meant to be used with smoothing:
         the KSP takes it as its default, so this only shows when the user turned it off */
      PetscCall(KSPDeepCDGetSmooth(gen->ksp, &ns));
      if (!ns && gen->smooth) PetscCall(PetscViewerASCIIPrintf(viewer, "note: this model was trained for directions smoothed by %" PetscInt_FMT " Chebyshev/Jacobi steps, which -ksp_deepcd_smooth 0 turned off; it may stall without them\n", gen->smooth));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode DeepCDDirGenReset_CNN(DeepCDDirGen gen)
{
  DirGen_CNN *cnn = (DirGen_CNN *) gen->data;

  PetscFunctionBegin;
  nn_net_destroy(&cnn->net);
  cnn->model = NULL; /* the cache's */
  PetscCall(PetscFree3(cnn->in, cnn->out, cnn->mask));
  PetscCall(halo_destroy(&cnn->halo));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode DeepCDDirGenDestroy_CNN(DeepCDDirGen gen)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(gen->data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDDirGenCreate_CNN - The direction generator that applies a convolutional network.

  Options Database Keys:
+ -ksp_deepcd_model <file>       - the model (selects this generator)
. -ksp_deepcd_backend <auto>     - auto, cpu, cuda, ref
- -ksp_deepcd_precision <fp32>   - fp32, tf32, bf16, fp16

  Level: developer
@*/
PetscErrorCode DeepCDDirGenCreate_CNN(DeepCDDirGen gen)
{
  DirGen_CNN *cnn;

  PetscFunctionBegin;
  PetscCall(PetscNew(&cnn));
  PetscCall(PetscStrncpy(cnn->backend, "auto", sizeof(cnn->backend)));
  PetscCall(PetscStrncpy(cnn->precision, "fp32", sizeof(cnn->precision)));
  gen->data                = cnn;
  gen->linear              = PETSC_FALSE;
  gen->ops->setfromoptions = DeepCDDirGenSetFromOptions_CNN;
  gen->ops->setup          = DeepCDDirGenSetUp_CNN;
  gen->ops->apply          = DeepCDDirGenApply_CNN;
  gen->ops->view           = DeepCDDirGenView_CNN;
  gen->ops->reset          = DeepCDDirGenReset_CNN;
  gen->ops->destroy        = DeepCDDirGenDestroy_CNN;
  PetscFunctionReturn(PETSC_SUCCESS);
}
