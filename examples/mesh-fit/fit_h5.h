/* mesh_fit's HDF5 outputs (fit_h5.c). Both return 0 on success, else 1
   after a one-line message on stderr, with no file left behind. */
#ifndef MESH_FIT_H5_H
#define MESH_FIT_H5_H

#include <deepcd/mesh.h>

/* The weights file of `deepcd mesh --weights` (docs/formats.md "Mesh
   weights"): raw alpha, beta, gamma and the displacement actually added to
   the lattice, for grid g. */
int fit_write_weights(const char *path, const mesh_grid *g, const double *alpha, const double *beta, const double *gamma, const double *deform, double weight_scale);

/* A deepcd problem file (docs/formats.md section 1) on g's cubes with cell
   size h = g's (cubic) spacing: zero rhs and sdf = field. deepcd places its
   grid at the origin, so its meshes are this grid's shifted by -g->origin. */
int fit_write_problem(const char *path, const mesh_grid *g, const double *field);

#endif
