/* mesh_fit's HDF5 outputs, for `deepcd mesh FIELD.h5 --weights W.h5`
   (docs/formats.md: section 1 for the problem file, "Mesh weights" for the
   weights): plain HDF5, written under PATH.tmp.HOST.PID and renamed (src/sys/hdf5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hdf5.h>
#include "fit_h5.h"
#include <deepcd/private/h5.h>

static int dims_attrs(hid_t fid, const char *format, const int dims[3])
{
  const char *names[3] = { "nx", "ny", "nz" };
  int         err      = deepcd_h5_write_attr_string(fid, "format", format) || deepcd_h5_write_attr(fid, "version", H5T_STD_I32LE, H5T_NATIVE_INT, 0, &(const int){ 1 });

  for (int a = 0; a < 3 && !err; a++) err = deepcd_h5_write_attr(fid, names[a], H5T_STD_I32LE, H5T_NATIVE_INT, 0, &dims[a]);
  return err;
}

/* The layer's PATH.tmp.HOST.PID and rename; 0 on success, else 1 with a one-line message on stderr and no file left. */
static int write_atomic(const char *path, deepcd_h5_fill_fn fill, const void *ctx)
{
  deepcd_h5_error e;

  if (!deepcd_h5_write_atomic(path, fill, ctx, &e)) return 0;
  fprintf(stderr, "mesh_fit: %s\n", e.msg);
  return 1;
}

typedef struct {
  const mesh_grid *g;
  const double    *alpha, *beta, *gamma, *deform, *field;
  double           weight_scale;
} fit_h5_data;

static int fill_weights(hid_t fid, const char *path, const void *ctx, deepcd_h5_error *e)
{
  const fit_h5_data *d      = ctx;
  const hsize_t      ncubes = (hsize_t) d->g->dims[0] * d->g->dims[1] * d->g->dims[2];
  const hsize_t      nverts = (hsize_t) (d->g->dims[0] + 1) * (d->g->dims[1] + 1) * (d->g->dims[2] + 1);
  const hsize_t      da[2] = { ncubes, 8 }, db[2] = { ncubes, 12 }, dg[1] = { ncubes }, dd[2] = { nverts, 3 };

  return dims_attrs(fid, "deepcd-mesh-weights", d->g->dims) || deepcd_h5_write_attr_real(fid, "weight_scale", d->weight_scale) || deepcd_h5_write_whole(fid, "alpha", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, da, d->alpha) || deepcd_h5_write_whole(fid, "beta", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, db, d->beta) ||
         deepcd_h5_write_whole(fid, "gamma", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dg, d->gamma) || deepcd_h5_write_whole(fid, "deform", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dd, d->deform);
}

int fit_write_weights(const char *path, const mesh_grid *g, const double *alpha, const double *beta, const double *gamma, const double *deform, double weight_scale)
{
  const fit_h5_data d = { g, alpha, beta, gamma, deform, NULL, weight_scale };

  if (!path || !g || !alpha || !beta || !gamma || !deform) return 1;
  return write_atomic(path, fill_weights, &d);
}

static int fill_problem(hid_t fid, const char *path, const void *ctx, deepcd_h5_error *e)
{
  const fit_h5_data *d     = ctx;
  const int         *n     = d->g->dims;
  const hsize_t      dr[3] = { (hsize_t) n[2], (hsize_t) n[1], (hsize_t) n[0] }, ds[3] = { (hsize_t) n[2] + 1, (hsize_t) n[1] + 1, (hsize_t) n[0] + 1 };
  const double       h   = d->g->spacing[0];
  double            *rhs = calloc((size_t) n[0] * (size_t) n[1] * (size_t) n[2], sizeof(double));
  int                err;

  if (!rhs) return 1;
  err = dims_attrs(fid, "deepcd-problem", n) || deepcd_h5_write_attr_real(fid, "h", h) || deepcd_h5_write_whole(fid, "rhs", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, dr, rhs) || deepcd_h5_write_whole(fid, "sdf", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, ds, d->field);
  free(rhs);
  return err;
}

int fit_write_problem(const char *path, const mesh_grid *g, const double *field)
{
  const fit_h5_data d = { g, NULL, NULL, NULL, NULL, field, 0 };

  if (!path || !g || !field || g->spacing[0] != g->spacing[1] || g->spacing[0] != g->spacing[2]) return 1;
  return write_atomic(path, fill_problem, &d);
}
