/* mesh_fit's HDF5 outputs, for `deepcd mesh FIELD.h5 --weights W.h5`
   (docs/formats.md: section 1 for the problem file, "Mesh weights" for the
   weights): plain HDF5, written under PATH.tmp and renamed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hdf5.h>
#include "fit_h5.h"
#include <deepcd/private/h5plain.h>

static int dims_attrs(hid_t fid, const char *format, const int dims[3])
{
  const int   version  = 1;
  const char *names[3] = { "nx", "ny", "nz" };
  int         err      = DeepCDH5WriteAttrString(fid, "format", format) || DeepCDH5WriteAttr(fid, "version", H5T_STD_I32LE, H5T_NATIVE_INT, &version);

  for (int a = 0; a < 3 && !err; a++) err = DeepCDH5WriteAttr(fid, names[a], H5T_STD_I32LE, H5T_NATIVE_INT, &dims[a]);
  return err;
}

typedef int (*fill_fn)(hid_t fid, const void *ctx);

/* Creates PATH.tmp, fills it and renames it to PATH; 0 on success, else 1
   with a one-line message on stderr and no file left. */
static int write_atomic(const char *path, fill_fn fill, const void *ctx)
{
  const size_t len = strlen(path) + 5;
  char        *tmp = malloc(len);
  hid_t        fid;
  int          err = 1;

  if (!tmp) {
    fprintf(stderr, "mesh_fit: %s: out of memory\n", path);
    return 1;
  }
  snprintf(tmp, len, "%s.tmp", path);
  fid = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (fid >= 0) {
    err = fill(fid, ctx);
    err |= H5Fclose(fid) < 0;
    if (!err) err = rename(tmp, path) != 0;
  }
  if (err) {
    remove(tmp);
    fprintf(stderr, "mesh_fit: %s: cannot write the HDF5 file\n", path);
  }
  free(tmp);
  return err;
}

typedef struct {
  const mesh_grid *g;
  const double    *alpha, *beta, *gamma, *deform, *field;
  double           weight_scale;
} fit_h5_data;

static int fill_weights(hid_t fid, const void *ctx)
{
  const fit_h5_data *d      = ctx;
  const hsize_t      ncubes = (hsize_t) d->g->dims[0] * d->g->dims[1] * d->g->dims[2];
  const hsize_t      nverts = (hsize_t) (d->g->dims[0] + 1) * (d->g->dims[1] + 1) * (d->g->dims[2] + 1);
  const hsize_t      da[2] = { ncubes, 8 }, db[2] = { ncubes, 12 }, dg[1] = { ncubes }, dd[2] = { nverts, 3 };

  return dims_attrs(fid, "deepcd-mesh-weights", d->g->dims) || DeepCDH5WriteAttrReal(fid, "weight_scale", d->weight_scale) || DeepCDH5WriteWhole(fid, "alpha", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, da, d->alpha) || DeepCDH5WriteWhole(fid, "beta", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, db, d->beta) ||
         DeepCDH5WriteWhole(fid, "gamma", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dg, d->gamma) || DeepCDH5WriteWhole(fid, "deform", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dd, d->deform);
}

int fit_write_weights(const char *path, const mesh_grid *g, const double *alpha, const double *beta, const double *gamma, const double *deform, double weight_scale)
{
  const fit_h5_data d = { g, alpha, beta, gamma, deform, NULL, weight_scale };

  if (!path || !g || !alpha || !beta || !gamma || !deform) return 1;
  return write_atomic(path, fill_weights, &d);
}

static int fill_problem(hid_t fid, const void *ctx)
{
  const fit_h5_data *d     = ctx;
  const int         *n     = d->g->dims;
  const hsize_t      dr[3] = { (hsize_t) n[2], (hsize_t) n[1], (hsize_t) n[0] }, ds[3] = { (hsize_t) n[2] + 1, (hsize_t) n[1] + 1, (hsize_t) n[0] + 1 };
  const double       h   = d->g->spacing[0];
  double            *rhs = calloc((size_t) n[0] * (size_t) n[1] * (size_t) n[2], sizeof(double));
  int                err;

  if (!rhs) return 1;
  err = dims_attrs(fid, "deepcd-problem", n) || DeepCDH5WriteAttrReal(fid, "h", h) || DeepCDH5WriteWhole(fid, "rhs", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, dr, rhs) || DeepCDH5WriteWhole(fid, "sdf", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, ds, d->field);
  free(rhs);
  return err;
}

int fit_write_problem(const char *path, const mesh_grid *g, const double *field)
{
  const fit_h5_data d = { g, NULL, NULL, NULL, NULL, field, 0 };

  if (!path || !g || !field || g->spacing[0] != g->spacing[1] || g->spacing[0] != g->spacing[2]) return 1;
  return write_atomic(path, fill_problem, &d);
}
