/* deepcd mesh --weights: per-cube FlexiCubes weights and a grid deformation
   read from an HDF5 file (include/deepcd/mesh_output.h, docs/formats.md
   "Mesh weights"). Serial, plain HDF5. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <deepcd/mesh_output.h>
#include <deepcd/private/h5util.h>
#include <deepcd/private/petsccompat.h>

/* Reads the optional dataset `name` of shape (rows, cols) (cols = 0: one
   dimension of rows), finite, as double into a new array (*out stays NULL
   when the file has no such dataset). */
static PetscErrorCode weights_read(const char file[], hid_t fid, const char name[], size_t rows, size_t cols, double **out)
{
  DeepCDH5Info        info;
  deepcd_h5_read_spec s = { .name = name, .tclass = H5T_FLOAT, .expect = "float64 or float32", .index_name = "(row, column)", .memtype = H5T_NATIVE_DOUBLE, .rank = cols ? 2 : 1, .dims = { rows, cols }, .check_finite = 1 };

  PetscFunctionBegin;
  *out = NULL;
  PetscCall(DeepCDH5DatasetInfo(PETSC_COMM_SELF, file, fid, name, &info));
  if (!info.exists) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc1(rows * (cols ? cols : 1) + 1, out));
  PetscCall(DeepCDH5ReadChecked(PETSC_COMM_SELF, file, fid, &s, *out));
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  const char        *file;
  const mesh_grid   *grid;
  DeepCDMeshWeights *w;
} WeightsRead;

/* The body of DeepCDH5WithFile. */
static PetscErrorCode weights_load(hid_t fid, void *ctx)
{
  const char        *file = ((WeightsRead *) ctx)->file;
  const mesh_grid   *grid = ((WeightsRead *) ctx)->grid;
  DeepCDMeshWeights *w    = ((WeightsRead *) ctx)->w;
  MPI_Comm           comm = PETSC_COMM_SELF;
  PetscBool          exists;
  PetscInt           dims[3];
  const char        *names[3] = { "nx", "ny", "nz" };
  const size_t       ncubes   = (size_t) grid->dims[0] * (size_t) grid->dims[1] * (size_t) grid->dims[2];
  const size_t       nverts   = (size_t) (grid->dims[0] + 1) * (size_t) (grid->dims[1] + 1) * (size_t) (grid->dims[2] + 1);

  PetscFunctionBegin;
  PetscCall(DeepCDH5CheckHeader(comm, file, fid, 1, (const char *const[]){ DEEPCD_MESH_WEIGHTS_FORMAT }, (const int[]){ DEEPCD_MESH_WEIGHTS_VERSION }, "mesh weights file", NULL));
  for (int a = 0; a < 3; a++) PetscCall(DeepCDH5ReadAttrInt(comm, file, fid, names[a], &dims[a]));
  PetscCheck(dims[0] == grid->dims[0] && dims[1] == grid->dims[1] && dims[2] == grid->dims[2], comm, PETSC_ERR_FILE_UNEXPECTED,
             "%s: attributes 'nx', 'ny', 'nz' = %" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT " do not match the field's grid of %d x %d x %d cubes", file, dims[0], dims[1], dims[2], grid->dims[0], grid->dims[1], grid->dims[2]);
  w->weight_scale = 0.99;
  PetscCall(DeepCDH5AttrExists(comm, file, fid, "weight_scale", &exists));
  if (exists) {
    PetscReal s;

    PetscCall(DeepCDH5ReadAttrReal(comm, file, fid, "weight_scale", &s));
    if (!(s >= 0 && s < 1)) {
      char v[64];

      snprintf(v, sizeof(v), "%g", (double) s);
      SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute 'weight_scale' = %s must be in [0, 1)", file, v);
    }
    w->weight_scale = (double) s;
  }
  PetscCall(weights_read(file, fid, "alpha", ncubes, 8, &w->alpha));
  PetscCall(weights_read(file, fid, "beta", ncubes, 12, &w->beta));
  PetscCall(weights_read(file, fid, "gamma", ncubes, 0, &w->gamma));
  PetscCall(weights_read(file, fid, "deform", nverts, 3, &w->deform));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMeshWeightsLoad - Reads FlexiCubes weights and a deformation for
  `grid` from `file` (serial). See include/deepcd/mesh_output.h.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMeshWeightsLoad(const char file[], const mesh_grid *grid, DeepCDMeshWeights *w)
{
  WeightsRead    c = { file, grid, w };
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCheck(file && grid && w, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "DeepCDMeshWeightsLoad: NULL argument");
  PetscCall(PetscMemzero(w, sizeof(*w)));
  /* HDF5's own error stack would print pages; the checks give one line */
  ierr = DeepCDH5WithFile(PETSC_COMM_SELF, file, weights_load, &c);
  if (ierr) {
    PetscCall(DeepCDMeshWeightsDestroy(w));
    PetscCall(ierr);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDMeshWeightsDestroy(DeepCDMeshWeights *w)
{
  PetscFunctionBegin;
  if (!w) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(w->alpha));
  PetscCall(PetscFree(w->beta));
  PetscCall(PetscFree(w->gamma));
  PetscCall(PetscFree(w->deform));
  PetscFunctionReturn(PETSC_SUCCESS);
}
