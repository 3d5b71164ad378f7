/* The "cnn" direction generator: z = f(r/||r||) with f a convolutional
   network (src/nn) run on each rank's own box of the DMDA. Before every
   3x3x3 convolution the 1-cell halo of all channels is exchanged with the
   neighbouring ranks through a DMDA of that resolution and channel count
   (box stencil, ghosted walls kept at zero = the network's zero padding).
   The network's grid is the problem grid padded to a multiple of 2^levels at
   the far end; every rank's range starts at a multiple of 2^levels, so
   pooling never straddles ranks and 1 and N ranks compute the same. */
#include <petsc/private/petscimpl.h>
#include <petscdmda.h>
#include <deepcd/dirgen.h>
#include <deepcd/ksp.h>
#include <deepcd/model_io.h>
#include <deepcd/nn.h>

PetscLogEvent DEEPCD_Inference = 0, DEEPCD_Halo = 0;

#define MAXLEVEL 8

typedef struct {
  DM  da[MAXLEVEL + 1][2]; /* per level, [1 channel, wide]: ghosted box-stencil grids */
  Vec g[MAXLEVEL + 1][2], l[MAXLEVEL + 1][2];
  int wide; /* the channel count of the wide grids */
} HaloGrids;

typedef struct {
  char           backend[16], precision[8];
  nn_model      *model;
  nn_net        *net;
  float         *in, *out;
  unsigned char *mask;
  PetscInt       n; /* local cells */
  PetscBool      distributed;
  HaloGrids      halo;
  double         flops; /* per forward on this rank */
  PetscReal      scale; /* sqrt(cells of the whole grid): the network sees unit RMS, not unit norm */
} DirGen_CNN;

static PetscErrorCode nn_to_petsc(MPI_Comm comm, nn_err err, const char what[])
{
  PetscFunctionBegin;
  PetscCheck(!err, comm, err == NN_ERR_UNSUPPORTED ? PETSC_ERR_SUP : PETSC_ERR_LIB, "%s: %s", what, nn_error_message());
  PetscFunctionReturn(0);
}

/* nn halo callback: buf holds the padded tensor (interior written). */
static nn_err halo_exchange(void *ctx, int level, int channels, float *buf)
{
  HaloGrids         *h = (HaloGrids *) ctx;
  int                w = channels == 1 ? 0 : 1;
  PetscScalar       *ga;
  const PetscScalar *la;
  PetscInt           xs, ys, zs, xm, ym, zm, gxm, gym, gzm;
  PetscErrorCode     ierr;

  if (level > MAXLEVEL || (w && channels != h->wide) || !h->da[level][w]) return 1;
  ierr = PetscLogEventBegin(DEEPCD_Halo, 0, 0, 0, 0);
  if (ierr) return 1;
  DMDAGetCorners(h->da[level][w], &xs, &ys, &zs, &xm, &ym, &zm);
  gxm = xm + 2;
  gym = ym + 2;
  gzm = zm + 2;
  if (VecGetArray(h->g[level][w], &ga)) return 1;
  for (PetscInt z = 0; z < zm; z++)
    for (PetscInt y = 0; y < ym; y++)
      for (PetscInt x = 0; x < xm; x++)
        for (int c = 0; c < channels; c++) ga[((z * ym + y) * xm + x) * channels + c] = buf[(((z + 1) * gym + y + 1) * gxm + x + 1) * channels + c];
  if (VecRestoreArray(h->g[level][w], &ga)) return 1;
  if (DMGlobalToLocal(h->da[level][w], h->g[level][w], INSERT_VALUES, h->l[level][w])) return 1;
  if (VecGetArrayRead(h->l[level][w], &la)) return 1;
  /* only the 1-cell border changes (the walls' ghosts were zeroed at
     creation and are never written): whole rows on the z/y faces, the two
     end cells of every other row */
  for (PetscInt z = 0; z < gzm; z++)
    for (PetscInt y = 0; y < gym; y++) {
      PetscInt row = (z * gym + y) * gxm * channels;

      if (z == 0 || z == gzm - 1 || y == 0 || y == gym - 1) {
        for (PetscInt i = 0; i < gxm * channels; i++) buf[row + i] = (float) PetscRealPart(la[row + i]);
      } else {
        for (int c = 0; c < channels; c++) {
          buf[row + c]                        = (float) PetscRealPart(la[row + c]);
          buf[row + (gxm - 1) * channels + c] = (float) PetscRealPart(la[row + (gxm - 1) * channels + c]);
        }
      }
    }
  if (VecRestoreArrayRead(h->l[level][w], &la)) return 1;
  ierr = PetscLogEventEnd(DEEPCD_Halo, 0, 0, 0, 0);
  return ierr ? 1 : 0;
}

/* The grids of every level for the halo exchange. */
static PetscErrorCode halo_setup(DM da, const nn_model *m, HaloGrids *h)
{
  MPI_Comm        comm = PetscObjectComm((PetscObject) da);
  PetscInt        M, N, P, mp, np, pp, L = nn_model_levels(m), mult;
  const PetscInt *lr[3];
  PetscInt       *l[3], np3[3], G[3];

  PetscFunctionBegin;
  PetscCheck(L <= MAXLEVEL, comm, PETSC_ERR_SUP, "the model has %" PetscInt_FMT " pooling levels; at most %d are supported", L, MAXLEVEL);
  mult = (PetscInt) 1 << L;
  PetscCall(DMDAGetInfo(da, NULL, &M, &N, &P, &mp, &np, &pp, NULL, NULL, NULL, NULL, NULL, NULL));
  PetscCall(DMDAGetOwnershipRanges(da, &lr[0], &lr[1], &lr[2]));
  np3[0]  = mp;
  np3[1]  = np;
  np3[2]  = pp;
  G[0]    = M;
  G[1]    = N;
  G[2]    = P;
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
  for (PetscInt lev = 0; lev <= L; lev++) {
    for (int w = 0; w < 2; w++) {
      PetscInt  dof  = w ? h->wide : 1, *ll[3], Gl[3];
      PetscBool used = PETSC_FALSE;

      for (int t = 0; t < m->ntensors; t++)
        if (m->tensors[t].level == lev && (m->tensors[t].channels == 1) == (w == 0)) used = PETSC_TRUE;
      if (!used || !dof) continue;
      for (int d = 0; d < 3; d++) {
        PetscCall(PetscMalloc1(np3[d], &ll[d]));
        Gl[d] = 0;
        for (PetscInt r = 0; r < np3[d]; r++) {
          ll[d][r] = l[d][r] >> lev;
          Gl[d] += ll[d][r];
        }
      }
      PetscCall(DMDACreate3d(comm, DM_BOUNDARY_GHOSTED, DM_BOUNDARY_GHOSTED, DM_BOUNDARY_GHOSTED, DMDA_STENCIL_BOX, Gl[0], Gl[1], Gl[2], mp, np, pp, dof, 1, ll[0], ll[1], ll[2], &h->da[lev][w]));
      PetscCall(DMSetUp(h->da[lev][w]));
      PetscCall(DMCreateGlobalVector(h->da[lev][w], &h->g[lev][w]));
      PetscCall(DMCreateLocalVector(h->da[lev][w], &h->l[lev][w]));
      PetscCall(VecSet(h->l[lev][w], 0.0));
      for (int d = 0; d < 3; d++) PetscCall(PetscFree(ll[d]));
    }
  }
  for (int d = 0; d < 3; d++) PetscCall(PetscFree(l[d]));
  (void) G;
  PetscFunctionReturn(0);
}

static PetscErrorCode halo_destroy(HaloGrids *h)
{
  PetscFunctionBegin;
  for (int lev = 0; lev <= MAXLEVEL; lev++)
    for (int w = 0; w < 2; w++) {
      PetscCall(VecDestroy(&h->g[lev][w]));
      PetscCall(VecDestroy(&h->l[lev][w]));
      PetscCall(DMDestroy(&h->da[lev][w]));
    }
  PetscFunctionReturn(0);
}

static PetscErrorCode DeepCDDirGenSetFromOptions_CNN(DeepCDDirGen gen, PetscOptionItems *PetscOptionsObject)
{
  DirGen_CNN        *cnn          = (DirGen_CNN *) gen->data;
  static const char *backends[]   = { "auto", "cpu", "cuda", "ref" };
  static const char *precisions[] = { "fp32", "tf32", "bf16", "fp16" };
  PetscInt           b = 0, p = 0;
  PetscBool          flg;

  PetscFunctionBegin;
  for (PetscInt i = 0; i < 4; i++) {
    if (!strcmp(cnn->backend, backends[i])) b = i;
    if (!strcmp(cnn->precision, precisions[i])) p = i;
  }
  PetscCall(PetscOptionsEList("-ksp_deepcd_backend", "Where the network runs: auto, cpu (oneDNN), cuda (cuDNN), ref (plain loops, test oracle)", "KSPDEEPCD", backends, 4, backends[b], &b, &flg));
  if (flg) PetscCall(PetscStrncpy(cnn->backend, backends[b], sizeof(cnn->backend)));
  PetscCall(PetscOptionsEList("-ksp_deepcd_precision", "Network arithmetic: fp32, tf32, bf16, fp16", "KSPDEEPCD", precisions, 4, precisions[p], &p, &flg));
  if (flg) PetscCall(PetscStrncpy(cnn->precision, precisions[p], sizeof(cnn->precision)));
  PetscFunctionReturn(0);
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
        PetscFunctionReturn(0);
      }
    SETERRQ(comm, PETSC_ERR_SUP, "-ksp_deepcd_backend auto: no backend runs precision %s here", nn_precision_names[prec]);
  }
  PetscCall(nn_to_petsc(comm, nn_backend_check(cnn->backend, prec), "-ksp_deepcd_backend"));
  PetscFunctionReturn(0);
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
  PetscCall(DeepCDModelRead(comm, model, &cnn->model));
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
  PetscFunctionReturn(0);
}

static PetscErrorCode DeepCDDirGenApply_CNN(DeepCDDirGen gen, Vec r, Vec z)
{
  DirGen_CNN        *cnn = (DirGen_CNN *) gen->data;
  const PetscScalar *ra;
  PetscScalar       *za;
  nn_err             err;

  PetscFunctionBegin;
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
  PetscFunctionReturn(0);
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
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode DeepCDDirGenReset_CNN(DeepCDDirGen gen)
{
  DirGen_CNN *cnn = (DirGen_CNN *) gen->data;

  PetscFunctionBegin;
  nn_net_destroy(&cnn->net);
  nn_model_destroy(&cnn->model);
  PetscCall(PetscFree3(cnn->in, cnn->out, cnn->mask));
  PetscCall(halo_destroy(&cnn->halo));
  PetscFunctionReturn(0);
}

static PetscErrorCode DeepCDDirGenDestroy_CNN(DeepCDDirGen gen)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(gen->data));
  PetscFunctionReturn(0);
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
  gen->data               = cnn;
  gen->linear             = PETSC_FALSE;
  gen->ops.setfromoptions = DeepCDDirGenSetFromOptions_CNN;
  gen->ops.setup          = DeepCDDirGenSetUp_CNN;
  gen->ops.apply          = DeepCDDirGenApply_CNN;
  gen->ops.view           = DeepCDDirGenView_CNN;
  gen->ops.reset          = DeepCDDirGenReset_CNN;
  gen->ops.destroy        = DeepCDDirGenDestroy_CNN;
  PetscFunctionReturn(0);
}
