/* Internals shared by the FlexiCubes backward pass (flexicubes_backward.c)
   and the L_dev regulariser (ldev.c): the corners of a dual vertex's cube as
   the forward pass saw them, and the backward of the weighted dual vertex. */
#ifndef DEEPCD_MESH_FLEXICUBES_GRAD_IMPL_H
#define DEEPCD_MESH_FLEXICUBES_GRAD_IMPL_H

#include <deepcd/private/meshimpl.h>

/* The 8 corners of one cube of the (possibly padded) grid. */
typedef struct {
  double s[8];    /* field - iso, unscaled (a padding corner: close_value, possibly +inf) */
  double x[8][3]; /* position, deformation included */
  size_t vid[8];  /* grid vertex whose deformation moves the corner (the nearest one for a padding corner) */
  int    in[8];   /* 1 when the corner is a grid vertex (its value is field[vid]) */
  int    real;    /* 1 when the cube is a grid cube (not padding): its weights apply */
  size_t cube;    /* its index when real */
} fc_corners;

/* Checks the extraction inputs and that `surface` has the shape of their
   output (counts, provenance in range). `what` names the caller in errors. */
mesh_err fc_check_surface(const char *what, const mesh_grid *grid, const double *field, const mesh_flexicubes_options *opt, const mesh_surface *surface);
/* The corners of the cube of dual vertex `dv`. */
void fc_cube_corners(const mesh_grid *grid, const double *field, const mesh_flexicubes_options *opt, const mesh_dual_vertex *dv, fc_corners *cc);
/* Parameter t of the crossing on edge (a, b) for corner values sa, sb (one
   of them may be +inf: the crossing is then pinned to the other end), and
   dt/dsa, dt/dsb (0 when pinned). */
double fc_crossing(double sa, double sb, double *dta, double *dtb);
/* Adds the gradient g of a corner position (3) to grad->deform. */
void fc_add_position_grad(const mesh_flexicubes_grad *grad, const fc_corners *cc, int c, const double g[3]);
/* Backward of one dual vertex v = sum beta'_e u_e / sum beta'_e with
   alpha-weighted crossings u_e: adds gv . dv/d(input) to the field, alpha,
   beta and deform gradients. */
void fc_dual_backward(const mesh_flexicubes_options *opt, const mesh_dmc_case *dc, int group, const fc_corners *cc, const double gv[3], const mesh_flexicubes_grad *grad);

#endif
