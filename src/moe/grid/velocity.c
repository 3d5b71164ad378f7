/* The velocity of a vorticity on a periodic 2-D grid (see deepcd/moe_grid.h):
   lap psi = -w, v = (psi_y, -psi_x), per time level and column, by real
   FFTs (FFTW). With k = 2 pi (m_x/Lx, m_y/Ly) the symbols are

     v_x^ = i k_y / |k|^2 w^,   v_y^ = -i k_x / |k|^2 w^,

   0 at k = 0 and on the Nyquist modes of an even size (so that the maps are
   exactly real). The velocity is linear in w, so the hard constraint
   treats it as two more fields of the basis; its transpose (the backward
   pass) has the conjugate symbols, i.e. it is minus the same map. */
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

#include <fftw3.h>

typedef struct {
  PetscInt   nx, ny, nc, S, ncols;
  fftw_plan  r2c, c2r;
  double    *r;           /* nx*ny x ncols */
  double    *c, *cx, *cy; /* S x ncols complex (pairs) */
  PetscReal *sx, *sy;     /* the symbols' imaginary parts, per complex value */
} Velocity;

/* fftw_malloc (SIMD-aligned) into *p, an error when it fails (also for reference_ns.c) */
PetscErrorCode DeepCDMoeFFTWMalloc(void *p, size_t bytes)
{
  PetscFunctionBegin;
  *(void **) p = fftw_malloc(bytes);
  PetscCheck(*(void **) p, PETSC_COMM_SELF, PETSC_ERR_MEM, "moe: FFTW could not allocate %zu bytes", bytes);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode vel_setup(const DeepCDMoeGrid *g, PetscInt ncols, Velocity *v)
{
  const PetscInt  nx = g->nx, ny = g->ny;
  const PetscReal Lx = g->xhi - g->xlo, Ly = g->yhi - g->ylo;

  PetscFunctionBegin;
  PetscCheck(g->periodic && ny > 1, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "moe grid: the velocity needs a periodic 2-D grid");
  PetscCheck(ncols >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe grid velocity: %" PetscInt_FMT " columns", ncols);
  PetscCall(PetscMemzero(v, sizeof(*v)));
  v->nx = nx, v->ny = ny, v->nc = nx / 2 + 1, v->S = ny * v->nc, v->ncols = ncols;
  PetscCall(DeepCDMoeFFTWMalloc(&v->r, sizeof(double) * (size_t) (nx * ny * ncols)));
  PetscCall(DeepCDMoeFFTWMalloc(&v->c, 2 * sizeof(double) * (size_t) (v->S * ncols)));
  PetscCall(DeepCDMoeFFTWMalloc(&v->cx, 2 * sizeof(double) * (size_t) (v->S * ncols)));
  PetscCall(DeepCDMoeFFTWMalloc(&v->cy, 2 * sizeof(double) * (size_t) (v->S * ncols)));
  PetscCall(PetscMalloc2(v->S, &v->sx, v->S, &v->sy));
  for (PetscInt b = 0; b < ny; b++)
    for (PetscInt a = 0; a < v->nc; a++) DeepCDMoeVelocitySymbol(nx, ny, Lx, Ly, a, b, &v->sx[b * v->nc + a], &v->sy[b * v->nc + a]);
  {
    const int n[2] = { (int) ny, (int) nx }, h = (int) ncols;
    v->r2c = fftw_plan_many_dft_r2c(2, n, h, v->r, NULL, h, 1, (fftw_complex *) v->c, NULL, h, 1, FFTW_ESTIMATE);
    v->c2r = fftw_plan_many_dft_c2r(2, n, h, (fftw_complex *) v->c, NULL, h, 1, v->r, NULL, h, 1, FFTW_ESTIMATE);
    PetscCheck(v->r2c && v->c2r, PETSC_COMM_SELF, PETSC_ERR_LIB, "moe grid velocity: FFTW could not plan %" PetscInt_FMT "x%" PetscInt_FMT " transforms", nx, ny);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode vel_destroy(Velocity *v)
{
  PetscFunctionBegin;
  if (v->r2c) fftw_destroy_plan(v->r2c);
  if (v->c2r) fftw_destroy_plan(v->c2r);
  fftw_free(v->r);
  fftw_free(v->c);
  fftw_free(v->cx);
  fftw_free(v->cy);
  PetscCall(PetscFree2(v->sx, v->sy));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* out = i s * in (complex pairs, ncols per complex value), scaled */
static void times_i(const Velocity *v, const PetscReal *s, PetscReal scale, const double *in, double *out)
{
  for (PetscInt q = 0; q < v->S; q++)
    for (PetscInt col = 0; col < v->ncols; col++) {
      const PetscInt  z = 2 * (q * v->ncols + col);
      const PetscReal f = scale * s[q], re = in[z], im = in[z + 1];

      out[z]     = -im * f;
      out[z + 1] = re * f;
    }
}

/*@C
  DeepCDMoeGridVelocity - The velocity (v_x, v_y) = (psi_y, -psi_x), lap psi = -W, of every column of a field on a periodic 2-D grid, per time level, by FFT.

  Not Collective

  Input Parameters:
+ g     - the grid (periodic, 2-D)
. ncols - columns of the field (N for a basis, 1 for u)
- W     - the field, row-major nx*ny*nt x ncols

  Output Parameters:
+ VX - v_x, same layout
- VY - v_y, same layout

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeGridVelocity(const DeepCDMoeGrid *g, PetscInt ncols, const PetscReal W[], PetscReal VX[], PetscReal VY[])
{
  Velocity       v;
  const PetscInt n = g->nx * g->ny * ncols;

  PetscFunctionBegin;
  PetscCall(vel_setup(g, ncols, &v));
  for (PetscInt j = 0; j < g->nt; j++) {
    const PetscReal scale = 1.0 / (PetscReal) (g->nx * g->ny);

    PetscCall(PetscArraycpy(v.r, W + j * n, n));
    fftw_execute_dft_r2c(v.r2c, v.r, (fftw_complex *) v.c);
    times_i(&v, v.sx, scale, v.c, v.cx);
    times_i(&v, v.sy, scale, v.c, v.cy);
    fftw_execute_dft_c2r(v.c2r, (fftw_complex *) v.cx, v.r);
    PetscCall(PetscArraycpy(VX + j * n, v.r, n));
    fftw_execute_dft_c2r(v.c2r, (fftw_complex *) v.cy, v.r);
    PetscCall(PetscArraycpy(VY + j * n, v.r, n));
  }
  PetscCall(PetscLogFlops(10.0 * g->nt * n * PetscLog2Real((PetscReal) (g->nx * g->ny))));
  PetscCall(vel_destroy(&v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeGridVelocityTranspose - The transpose of DeepCDMoeGridVelocity(): adds V_x^T VXbar + V_y^T VYbar to Wbar.

  Not Collective

  Input Parameters:
+ g     - the grid (periodic, 2-D)
. ncols - columns
. VXbar - row-major nx*ny*nt x ncols (NULL: 0)
- VYbar - same (NULL: 0)

  Output Parameter:
. Wbar - the sum is ADDED to it

  Notes:
  The symbols are odd and imaginary, so the transpose is minus the map itself.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeGridVelocityTranspose(const DeepCDMoeGrid *g, PetscInt ncols, const PetscReal VXbar[], const PetscReal VYbar[], PetscReal Wbar[])
{
  Velocity       v;
  const PetscInt n = g->nx * g->ny * ncols;

  PetscFunctionBegin;
  if (!VXbar && !VYbar) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(vel_setup(g, ncols, &v));
  for (PetscInt j = 0; j < g->nt; j++) {
    const PetscReal scale = -1.0 / (PetscReal) (g->nx * g->ny);

    PetscCall(PetscArrayzero(v.cx, 2 * v.S * ncols));
    if (VXbar) {
      PetscCall(PetscArraycpy(v.r, VXbar + j * n, n));
      fftw_execute_dft_r2c(v.r2c, v.r, (fftw_complex *) v.c);
      times_i(&v, v.sx, scale, v.c, v.cx);
    }
    if (VYbar) {
      PetscCall(PetscArraycpy(v.r, VYbar + j * n, n));
      fftw_execute_dft_r2c(v.r2c, v.r, (fftw_complex *) v.c);
      times_i(&v, v.sy, scale, v.c, v.cy);
      for (PetscInt z = 0; z < 2 * v.S * ncols; z++) v.cx[z] += v.cy[z];
    }
    fftw_execute_dft_c2r(v.c2r, (fftw_complex *) v.cx, v.r);
    for (PetscInt l = 0; l < n; l++) Wbar[j * n + l] += v.r[l];
  }
  PetscCall(vel_destroy(&v));
  PetscFunctionReturn(PETSC_SUCCESS);
}
