/* PCNEURALMG: the learned parameters. A small network, applied to every cell
   of every level, maps features of the level's stencil scaled by its diagonal
   to the cell's smoother weight w_i = m_i / a_ii, m_i in (1/2, 3/2); four
   scalars (coarse-grid correction scalings, Chebyshev interval) complete the
   cycle. Weights stay positive and the Chebyshev interval follows the
   Gershgorin bound of W A, so the cycle is SPD whatever the parameters
   (docs/pc-neuralmg.md). Model files: docs/formats.md, "neuralmg model". */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <deepcd/private/pcneuralmgimpl.h>
#include <deepcd/private/h5util.h>
#include <deepcd/private/modelioimpl.h>
#include <deepcd/private/petsccompat.h>

#define NMG_MODEL_FORMAT  "deepcd-neuralmg-model"
#define NMG_MODEL_VERSION 1

/* The bounds of the scalars: the training moves them only inside. */
static const struct {
  const char *name;
  PetscReal   lo, hi, classical;
} NMGScalars[NMG_NSCALAR] = {
  { "alpha", 0.5, 3.5, 1.0 },
  { "alpha2", 0.2, 2.0, 1.0 },
  { "alpha_exact", 0.5, 2.0, 1.0 },
  { "cheb_lower", 0.03, 0.5, 0.1 },
};

static PetscReal *NMGScalar(NMGModel *m, int q)
{
  PetscReal *v[NMG_NSCALAR] = { &m->alpha, &m->alpha2, &m->alpha_exact, &m->cheb_lower };
  return v[q];
}

/* The classical parameters: Jacobi weights (the network's output layer is
   zero, so m_i = 1), corrections unscaled, PETSc's Chebyshev interval [0.1, 1]. */
void NMGModelClassical(NMGModel *m)
{
  memset(m, 0, sizeof(*m));
  for (int q = 0; q < NMG_NSCALAR; q++) *NMGScalar(m, q) = NMGScalars[q].classical;
  m->learned = PETSC_FALSE;
  strcpy(m->source, "none");
}

/* Parameter vector: w1 (row major), b1, w2, b2, then each scalar as the logit
   of its place in its interval. */
void NMGModelToParameters(const NMGModel *m, PetscReal th[NMG_NPARAM])
{
  PetscInt k = 0;

  for (int h = 0; h < NMG_NHIDDEN; h++)
    for (int f = 0; f < NMG_NFEAT; f++) th[k++] = m->w1[h][f];
  for (int h = 0; h < NMG_NHIDDEN; h++) th[k++] = m->b1[h];
  for (int h = 0; h < NMG_NHIDDEN; h++) th[k++] = m->w2[h];
  th[k++] = m->b2;
  for (int q = 0; q < NMG_NSCALAR; q++) {
    const PetscReal u = (*NMGScalar((NMGModel *) m, q) - NMGScalars[q].lo) / (NMGScalars[q].hi - NMGScalars[q].lo);
    const PetscReal c = PetscMin(PetscMax(u, 1e-6), 1 - 1e-6);
    th[k++]           = PetscLogReal(c / (1 - c));
  }
}

void NMGModelFromParameters(const PetscReal th[NMG_NPARAM], NMGModel *m)
{
  PetscInt k = 0;

  for (int h = 0; h < NMG_NHIDDEN; h++)
    for (int f = 0; f < NMG_NFEAT; f++) m->w1[h][f] = (float) th[k++];
  for (int h = 0; h < NMG_NHIDDEN; h++) m->b1[h] = (float) th[k++];
  for (int h = 0; h < NMG_NHIDDEN; h++) m->w2[h] = (float) th[k++];
  m->b2 = (float) th[k++];
  for (int q = 0; q < NMG_NSCALAR; q++, k++) *NMGScalar(m, q) = NMGScalars[q].lo + (NMGScalars[q].hi - NMGScalars[q].lo) / (1 + PetscExpReal(-th[k]));
  m->learned = PETSC_TRUE;
}

/* softsign: bounded like tanh, but a division instead of an exponential */
static inline float NMGSoftsign(float u)
{
  return u / (1.0f + fabsf(u));
}

/* Features of cell n of a level (the stencil's halo current): with s the sum of
   the |couplings| and d the diagonal, s/d - 1 (0 for a zero row sum), how much
   one coupling dominates, the stiffest and the softest coupled neighbour's
   diagonal against d, the missing neighbours (walls, solids), and the level. */
static inline void NMGFeatures(const NMGLevel *L, PetscInt level, const PetscReal *D, const PetscReal *CX, const PetscReal *CY, const PetscReal *CZ, PetscInt n, float phi[NMG_NFEAT], PetscBool *coupled)
{
  const PetscReal c[6]   = { PetscAbsReal(CX[n]), PetscAbsReal(CX[n - 1]), PetscAbsReal(CY[n]), PetscAbsReal(CY[n - L->sy]), PetscAbsReal(CZ[n]), PetscAbsReal(CZ[n - L->sz]) };
  const PetscInt  off[6] = { 1, -1, L->sy, -L->sy, L->sz, -L->sz };
  const PetscReal d      = D[n];
  PetscReal       s = 0, cmax = 0, dmax = 0, dmin = PETSC_MAX_REAL;
  int             nc = 0;

  for (int q = 0; q < 6; q++) {
    if (c[q] == 0) continue;
    s += c[q];
    cmax = PetscMax(cmax, c[q]);
    dmax = PetscMax(dmax, PetscAbsReal(D[n + off[q]]));
    dmin = PetscMin(dmin, PetscAbsReal(D[n + off[q]]));
    nc++;
  }
  *coupled = (PetscBool) (nc > 0 && d > 0);
  if (!*coupled) return;
  phi[0] = (float) PetscMin(s / d - 1, 1.0);
  phi[1] = (float) ((6 * cmax / s - 1) / 5);
  phi[2] = (float) (2 * dmax / (dmax + d) - 1);
  phi[3] = (float) (2 * dmin / (dmin + d) - 1);
  phi[4] = (float) (nc / 6.0 - 1);
  phi[5] = (float) (PetscMin(level, 3) / 3.0);
}

static inline float NMGNetwork(const NMGModel *m, const float phi[NMG_NFEAT])
{
  float z = m->b2;

  for (int h = 0; h < NMG_NHIDDEN; h++) {
    float u = m->b1[h];
    for (int f = 0; f < NMG_NFEAT; f++) u += m->w1[h][f] * phi[f];
    z += m->w2[h] * NMGSoftsign(u);
  }
  return 1.0f + 0.5f * NMGSoftsign(z);
}

/* The smoother weights of a level: w_i = m_i / a_ii on the coupled cells
   (0 on masked and decoupled ones). Runs of cells with the same features
   (most of a grid) evaluate the network once. */
PetscErrorCode NMGModelWeights(const NMGModel *m, PetscInt level, NMGLevel *L, const PetscReal *D, const PetscReal *CX, const PetscReal *CY, const PetscReal *CZ, const float *mask)
{
  PetscBool used = PETSC_FALSE, jacobi = (PetscBool) (m->b2 == 0);
  float     last[NMG_NFEAT] = { 0 }, lastm = 1;

  PetscFunctionBegin;
  for (int h = 0; h < NMG_NHIDDEN; h++)
    if (m->w2[h] != 0) jacobi = PETSC_FALSE;
  for (PetscInt k = 1; k <= L->xm[2]; k++)
    for (PetscInt j = 1; j <= L->xm[1]; j++)
      for (PetscInt i = 1; i <= L->xm[0]; i++) {
        const PetscInt n = k * L->sz + j * L->sy + i;
        float          phi[NMG_NFEAT], mi = 1;
        PetscBool      coupled;

        L->w[n] = 0;
        if (mask && mask[n] == 0) continue;
        if (jacobi) { /* the output layer is zero (untrained, classical): m_i = 1 */
          L->w[n] = D[n] > 0 ? (float) (1.0 / D[n]) : 0.0f;
          continue;
        }
        NMGFeatures(L, level, D, CX, CY, CZ, n, phi, &coupled);
        if (!coupled) { /* an isolated cell (aggregate): solved exactly */
          L->w[n] = D[n] > 0 ? (float) (1.0 / D[n]) : 0.0f;
          continue;
        }
        if (used && !memcmp(phi, last, sizeof(phi)))
          mi = lastm;
        else {
          mi = NMGNetwork(m, phi);
          memcpy(last, phi, sizeof(phi));
          lastm = mi;
          used  = PETSC_TRUE;
        }
        L->w[n] = (float) (mi / D[n]);
      }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- model files ----------------------------------------------------------- */

static PetscErrorCode NMGModelContents(hid_t fid, const char path[], const void *ctx)
{
  const NMGModel *m     = (const NMGModel *) ctx;
  const hsize_t   d1[2] = { NMG_NHIDDEN, NMG_NFEAT }, dh[1] = { NMG_NHIDDEN }, d0[1] = { 1 };

  PetscFunctionBegin;
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr_string(fid, "format", NMG_MODEL_FORMAT), path, "attribute", "format"));
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr_int(fid, "version", NMG_MODEL_VERSION), path, "attribute", "version"));
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr_int(fid, "features", NMG_NFEAT), path, "attribute", "features"));
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr_int(fid, "hidden", NMG_NHIDDEN), path, "attribute", "hidden"));
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr_string(fid, "activation", "softsign"), path, "attribute", "activation"));
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr_string(fid, "training", m->training), path, "attribute", "training"));
  for (int q = 0; q < NMG_NSCALAR; q++) PetscCall(DeepCDH5Wrote(deepcd_h5_write_attr_real(fid, NMGScalars[q].name, *NMGScalar((NMGModel *) m, q)), path, "attribute", NMGScalars[q].name));
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_whole(fid, "w1", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d1, m->w1), path, "dataset", "w1"));
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_whole(fid, "b1", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dh, m->b1), path, "dataset", "b1"));
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_whole(fid, "w2", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dh, m->w2), path, "dataset", "w2"));
  PetscCall(DeepCDH5Wrote(deepcd_h5_write_whole(fid, "b2", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d0, &m->b2), path, "dataset", "b2"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Writes a model file atomically (one process). */
PetscErrorCode NMGModelWrite(const NMGModel *m, const char path[])
{
  PetscFunctionBegin;
  PetscCall(DeepCDH5WriteAtomic(path, "neuralmg model", 1048576.0, NMGModelContents, m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  MPI_Comm    comm;
  const char *file;
  NMGModel   *m;
} NMGModelRead;

static PetscErrorCode NMGModelReadBody(hid_t fid, void *ctx)
{
  NMGModelRead       *r    = (NMGModelRead *) ctx;
  const char         *file = r->file;
  NMGModel           *m    = r->m;
  PetscInt            nf, nh;
  char                act[32];
  PetscBool           has;
  deepcd_h5_read_spec w1 = { .name = "w1", .tclass = H5T_FLOAT, .expect = "float32 or float64", .shape_name = "(hidden, features)", .index_name = "(hidden, feature)", .memtype = H5T_NATIVE_FLOAT, .rank = 2, .dims = { NMG_NHIDDEN, NMG_NFEAT }, .check_finite = 1 };
  deepcd_h5_read_spec b1 = { .name = "b1", .tclass = H5T_FLOAT, .expect = "float32 or float64", .shape_name = "(hidden)", .memtype = H5T_NATIVE_FLOAT, .rank = 1, .dims = { NMG_NHIDDEN }, .check_finite = 1 };
  deepcd_h5_read_spec w2 = b1, b2 = b1;

  PetscFunctionBegin;
  w2.name       = "w2";
  b2.name       = "b2";
  b2.shape_name = "(1)";
  b2.dims[0]    = 1;
  PetscCall(DeepCDH5CheckHeader(r->comm, file, fid, 1, (const char *const[]){ NMG_MODEL_FORMAT }, (const int[]){ NMG_MODEL_VERSION }, "neuralmg model", NULL));
  PetscCall(DeepCDH5ReadAttrInt(r->comm, file, fid, "features", &nf));
  PetscCall(DeepCDH5ReadAttrInt(r->comm, file, fid, "hidden", &nh));
  PetscCheck(nf == NMG_NFEAT && nh == NMG_NHIDDEN, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attributes 'features' = %" PetscInt_FMT " and 'hidden' = %" PetscInt_FMT ": this version of PCNEURALMG reads models with %d features and %d hidden units", file, nf, nh, NMG_NFEAT, NMG_NHIDDEN);
  PetscCall(DeepCDH5ReadAttrString(r->comm, file, fid, "activation", act, sizeof(act)));
  PetscCheck(!strcmp(act, "softsign"), r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute 'activation' = '%s', expected 'softsign'", file, act);
  for (int q = 0; q < NMG_NSCALAR; q++) {
    PetscReal v;

    PetscCall(DeepCDH5ReadAttrReal(r->comm, file, fid, NMGScalars[q].name, &v));
    PetscCheck(v >= NMGScalars[q].lo && v <= NMGScalars[q].hi, r->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' = %g must lie in [%g, %g]", file, NMGScalars[q].name, (double) v, (double) NMGScalars[q].lo, (double) NMGScalars[q].hi);
    *NMGScalar(m, q) = v;
  }
  PetscCall(DeepCDH5ReadChecked(r->comm, file, fid, &w1, m->w1));
  PetscCall(DeepCDH5ReadChecked(r->comm, file, fid, &b1, m->b1));
  PetscCall(DeepCDH5ReadChecked(r->comm, file, fid, &w2, m->w2));
  PetscCall(DeepCDH5ReadChecked(r->comm, file, fid, &b2, &m->b2));
  PetscCall(DeepCDH5AttrExists(r->comm, file, fid, "training", &has));
  if (has) PetscCall(DeepCDH5ReadAttrString(r->comm, file, fid, "training", m->training, sizeof(m->training)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Reads a model file (every rank reads it); m is untouched on error. */
PetscErrorCode NMGModelLoad(MPI_Comm comm, const char file[], NMGModel *m)
{
  NMGModel     t;
  NMGModelRead r = { comm, file, &t };

  PetscFunctionBegin;
  NMGModelClassical(&t);
  PetscCall(DeepCDH5WithFile(comm, file, NMGModelReadBody, &r));
  t.learned = PETSC_TRUE;
  PetscCall(PetscStrncpy(t.source, file, sizeof(t.source)));
  *m = t;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NMGModelReadNew(MPI_Comm comm, const char file[], void **obj)
{
  NMGModel *m;

  PetscFunctionBegin;
  PetscCall(PetscNew(&m));
  {
    PetscErrorCode ierr = NMGModelLoad(comm, file, m);

    if (ierr) PetscCall(PetscFree(m));
    PetscCall(ierr);
  }
  *obj = m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void NMGModelFreeCached(void **obj)
{
  (void) PetscFree(*obj);
}

/* NMGModelLoad() through the per-process file cache: a batch sets up one PC
   per problem with the same model file, which is read once. */
PetscErrorCode NMGModelLoadCached(MPI_Comm comm, const char file[], NMGModel *m)
{
  const void *obj;

  PetscFunctionBegin;
  PetscCall(DeepCDFileCacheGet(comm, file, NMGModelReadNew, NMGModelFreeCached, &obj));
  *m = *(const NMGModel *) obj;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The shipped model: share/deepcd/models/neuralmg.h5 beside the lib/ folder of
   the library holding this code (the install tree, and the build tree, where
   CMake copies it). */
PetscErrorCode NMGModelShippedPath(char path[], size_t len, PetscBool *found)
{
  Dl_info info;

  PetscFunctionBegin;
  *found  = PETSC_FALSE;
  path[0] = 0;
  if (dladdr((void *) &NMGModelShippedPath, &info) && info.dli_fname && strchr(info.dli_fname, '/')) {
    const char *slash = strrchr(info.dli_fname, '/');

    PetscCall(PetscSNPrintf(path, len, "%.*s/../%s", (int) (slash - info.dli_fname), info.dli_fname, NMG_SHIPPED_NAME));
    *found = (PetscBool) (access(path, R_OK) == 0);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
