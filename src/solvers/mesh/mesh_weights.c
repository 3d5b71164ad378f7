/* deepcd mesh --weights: per-cube FlexiCubes weights and a grid deformation
   read from an HDF5 file (include/deepcd/mesh_output.h, docs/formats.md
   "Mesh weights"). Serial, plain HDF5. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <deepcd/mesh_output.h>
#include <deepcd/private/h5util.h>

/* Reads the optional dataset `name` of shape (rows, cols) (cols = 0: one
   dimension of rows) as double into a new array (*out stays NULL when the
   file has no such dataset). */
static PetscErrorCode weights_read(const char file[], hid_t fid, const char name[], size_t rows, size_t cols, double **out)
{
  MPI_Comm     comm = PETSC_COMM_SELF;
  DeepCDH5Info info;
  const size_t n = rows * (cols ? cols : 1);
  hid_t        did;
  herr_t       st;

  PetscFunctionBegin;
  *out = NULL;
  PetscCall(DeepCDH5DatasetInfo(comm, file, fid, name, &info));
  if (!info.exists) PetscFunctionReturn(0);
  PetscCheck(info.tclass == H5T_FLOAT && (info.tsize == 4 || info.tsize == 8), comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': type is not float64 or float32", file, name);
  PetscCheck(info.rank == (cols ? 2 : 1), comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': has %d dimensions, expected %d", file, name, info.rank, cols ? 2 : 1);
  if (cols)
    PetscCheck(info.dims[0] == (hsize_t) rows && info.dims[1] == (hsize_t) cols, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': shape (%llu, %llu), expected (%zu, %zu)", file, name, (unsigned long long) info.dims[0], (unsigned long long) info.dims[1], rows, cols);
  else
    PetscCheck(info.dims[0] == (hsize_t) rows, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': shape (%llu), expected (%zu)", file, name, (unsigned long long) info.dims[0], rows);
  PetscCall(PetscMalloc1(n ? n : 1, out));
  did = H5Dopen2(fid, name, H5P_DEFAULT);
  PetscCheck(did >= 0, comm, PETSC_ERR_FILE_READ, "%s: dataset '%s': cannot be opened", file, name);
  st = H5Dread(did, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out);
  H5Dclose(did);
  PetscCheck(st >= 0, comm, PETSC_ERR_FILE_READ, "%s: dataset '%s': read failed (corrupt or truncated data)", file, name);
  for (size_t i = 0; i < n; i++) {
    const double v = (*out)[i];

    if (!isfinite(v)) {
      const size_t c = cols ? cols : 1;

      SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s': %s at row %zu, column %zu", file, name, isnan(v) ? "NaN" : "Inf", i / c, i % c);
    }
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode weights_load(const char file[], hid_t fid, const mesh_grid *grid, DeepCDMeshWeights *w)
{
  MPI_Comm     comm = PETSC_COMM_SELF;
  char         format[64];
  PetscBool    exists;
  PetscInt     version, dims[3];
  const char  *names[3] = { "nx", "ny", "nz" };
  const size_t ncubes   = (size_t) grid->dims[0] * (size_t) grid->dims[1] * (size_t) grid->dims[2];
  const size_t nverts   = (size_t) (grid->dims[0] + 1) * (size_t) (grid->dims[1] + 1) * (size_t) (grid->dims[2] + 1);

  PetscFunctionBegin;
  PetscCall(DeepCDH5AttrExists(comm, file, fid, "format", &exists));
  PetscCheck(exists, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute 'format' is missing (not a deepcd mesh weights file)", file);
  PetscCall(DeepCDH5ReadAttrString(comm, file, fid, "format", format, sizeof(format)));
  PetscCheck(!strcmp(format, DEEPCD_MESH_WEIGHTS_FORMAT), comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute 'format' is '%s', expected '%s'", file, format, DEEPCD_MESH_WEIGHTS_FORMAT);
  PetscCall(DeepCDH5ReadAttrInt(comm, file, fid, "version", &version));
  PetscCheck(version == DEEPCD_MESH_WEIGHTS_VERSION, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute 'version' is %" PetscInt_FMT ", this deepcd reads version %d", file, version, DEEPCD_MESH_WEIGHTS_VERSION);
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
  PetscFunctionReturn(0);
}

/*@C
  DeepCDMeshWeightsLoad - Reads FlexiCubes weights and a deformation for
  `grid` from `file` (serial). See include/deepcd/mesh_output.h.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMeshWeightsLoad(const char file[], const mesh_grid *grid, DeepCDMeshWeights *w)
{
  H5E_auto2_t    func;
  void          *data;
  hid_t          fid = -1;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCheck(file && grid && w, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "DeepCDMeshWeightsLoad: NULL argument");
  PetscCall(PetscMemzero(w, sizeof(*w)));
  /* HDF5's own error stack would print pages; the checks give one line */
  H5Eget_auto2(H5E_DEFAULT, &func, &data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  ierr = DeepCDH5Open(PETSC_COMM_SELF, file, &fid);
  if (!ierr) {
    ierr = weights_load(file, fid, grid, w);
    (void) DeepCDH5Close(fid);
  }
  H5Eset_auto2(H5E_DEFAULT, func, data);
  if (ierr) {
    PetscCall(DeepCDMeshWeightsDestroy(w));
    PetscCall(ierr);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode DeepCDMeshWeightsDestroy(DeepCDMeshWeights *w)
{
  PetscFunctionBegin;
  if (!w) PetscFunctionReturn(0);
  PetscCall(PetscFree(w->alpha));
  PetscCall(PetscFree(w->beta));
  PetscCall(PetscFree(w->gamma));
  PetscCall(PetscFree(w->deform));
  PetscFunctionReturn(0);
}
