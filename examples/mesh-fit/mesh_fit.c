/* examples/mesh-fit: gradient-based mesh optimisation with FlexiCubes.

   Fits a grid's scalar field, per-cube weights (alpha, beta, gamma) and
   per-vertex deformation so that the extracted mesh matches a target shape
   (an analytic SDF or a closed OBJ mesh), with Adam on

     L = Chamfer(points sampled on the extracted mesh, points on the target)
         + ldev * mean(L_dev) + wreg * mean |alpha, beta|

   Chamfer is the mean squared distance to the nearest point, summed over
   both directions. Points on the extracted mesh are drawn area-weighted
   with fixed barycentric coordinates, so the loss is differentiable in the
   vertex positions; flexicubes_backward() and flexicubes_ldev() carry the
   gradient to the inputs. The deformation is the reference's bounded form
   x + (1 - 1e-8) h/2 tanh(delta) per axis.

     mesh_fit [--target box|sphere|torus|FILE.obj] [--n 32] [--iters 300]
              [--lr 0.01] [--samples 2000] [--ldev 0.5] [--wreg 0.1]
              [--init-radius 0.6] [--seed 1] [--print 10]
              [-o result.obj|.ply] [--loss loss.dat] [--target-out target.obj]
              [--require-drop F]

   Plain C11 on the deepcd_mesh library only (no PETSc). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <deepcd/mesh.h>
#include <deepcd/private/adam.h>
#include "fit_h5.h"

typedef struct {
  const char *target, *out, *loss, *target_out, *weights_out, *field_out;
  int         n, iters, samples, eval_samples, print;
  double      lr, ldev, wreg, init_radius, require_drop;
  uint64_t    seed;
} fit_options;

/* Prints "mesh_fit: <message>" on stderr; returns 1. */
static int fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static int fail(const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "mesh_fit: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 1;
}

static int mesh_fail(const char *what)
{
  return fail("%s: %s", what, mesh_error_message());
}

/* ---- random numbers (splitmix64: reproducible across platforms) ---------- */

static double uniform01(uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15u);
  z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z          = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  z ^= z >> 31;
  return (double) (z >> 11) * 0x1.0p-53;
}

/* ---- analytic targets (after Inigo Quilez's distance functions) ---------- */

static double target_sdf(const char *name, const double p[3])
{
  if (!strcmp(name, "sphere")) return sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]) - 0.7;
  if (!strcmp(name, "torus")) { /* around the y axis */
    const double q = sqrt(p[0] * p[0] + p[2] * p[2]) - 0.55;
    return sqrt(q * q + p[1] * p[1]) - 0.25;
  }
  { /* box with half sizes (0.6, 0.45, 0.5) */
    const double b[3] = { 0.6, 0.45, 0.5 };
    double       o = 0, m = -1e300;
    for (int a = 0; a < 3; a++) {
      const double q = fabs(p[a]) - b[a];
      o += q > 0 ? q * q : 0;
      m = q > m ? q : m;
    }
    return sqrt(o) + (m < 0 ? m : 0);
  }
}

static mesh_grid cube_grid(int n)
{
  mesh_grid g;
  for (int a = 0; a < 3; a++) {
    g.dims[a]    = n;
    g.origin[a]  = -1.0;
    g.spacing[a] = 2.0 / n;
  }
  return g;
}

static size_t grid_nverts(const mesh_grid *g)
{
  return (size_t) (g->dims[0] + 1) * (size_t) (g->dims[1] + 1) * (size_t) (g->dims[2] + 1);
}

static size_t grid_ncubes(const mesh_grid *g)
{
  return (size_t) g->dims[0] * (size_t) g->dims[1] * (size_t) g->dims[2];
}

static void grid_point(const mesh_grid *g, size_t v, double p[3])
{
  const size_t nx = (size_t) g->dims[0] + 1, ny = (size_t) g->dims[1] + 1;
  const size_t idx[3] = { v % nx, (v / nx) % ny, v / (nx * ny) };
  for (int a = 0; a < 3; a++) p[a] = g->origin[a] + g->spacing[a] * (double) idx[a];
}

/* The target as a triangle mesh: an analytic SDF extracted at 128^3, or an
   OBJ file scaled into [-0.8, 0.8]^3 (aspect kept). */
static int load_target(const char *target, int32_t *nv, double **verts, int32_t *nt, int32_t **tris)
{
  const size_t len = strlen(target);

  if (len > 4 && !strcmp(target + len - 4, ".obj")) {
    double lo[3] = { INFINITY, INFINITY, INFINITY }, hi[3] = { -INFINITY, -INFINITY, -INFINITY }, ext = 0;
    if (mesh_read_obj(target, nv, verts, nt, tris)) return mesh_fail("target");
    if (*nt == 0) return fail("%s: no triangles", target);
    for (int32_t v = 0; v < *nv; v++)
      for (int a = 0; a < 3; a++) {
        lo[a] = fmin(lo[a], (*verts)[3 * v + a]);
        hi[a] = fmax(hi[a], (*verts)[3 * v + a]);
      }
    for (int a = 0; a < 3; a++) ext = fmax(ext, hi[a] - lo[a]);
    if (!(ext > 0)) return fail("%s: degenerate bounding box", target);
    for (int32_t v = 0; v < *nv; v++)
      for (int a = 0; a < 3; a++) (*verts)[3 * v + a] = ((*verts)[3 * v + a] - 0.5 * (lo[a] + hi[a])) * 1.6 / ext;
    return 0;
  }
  if (strcmp(target, "box") && strcmp(target, "sphere") && strcmp(target, "torus")) return fail("--target '%s': not box, sphere, torus or a .obj file", target);
  {
    const mesh_grid g = cube_grid(128);
    double         *f = malloc(grid_nverts(&g) * sizeof(double));
    mesh_surface   *s = NULL;
    if (!f) return fail("out of memory");
    for (size_t v = 0; v < grid_nverts(&g); v++) {
      double p[3];
      grid_point(&g, v, p);
      f[v] = target_sdf(target, p);
    }
    if (flexicubes_extract(&g, f, NULL, &s)) {
      free(f);
      return mesh_fail("target");
    }
    free(f);
    *nv      = s->nverts;
    *nt      = s->ntris;
    *verts   = s->verts;
    *tris    = s->tris;
    s->verts = NULL;
    s->tris  = NULL;
    mesh_surface_destroy(&s);
    return 0;
  }
}

/* ---- points on a triangle mesh ------------------------------------------ */

typedef struct {
  int32_t tri;
  double  b[3]; /* barycentric coordinates */
} sample_point;

/* n points, area-weighted (cumulative areas + binary search), uniform in
   each triangle (the square-root rule). */
static int sample_surface(int32_t nt, const int32_t *tris, const double *verts, int n, uint64_t *rng, sample_point *sp, double *pts)
{
  double *cum = malloc((size_t) nt * sizeof(double)), total = 0;

  if (!cum) return fail("out of memory");
  for (int32_t t = 0; t < nt; t++) {
    const double *a = verts + 3 * tris[3 * t], *b = verts + 3 * tris[3 * t + 1], *c = verts + 3 * tris[3 * t + 2];
    const double  u[3] = { b[0] - a[0], b[1] - a[1], b[2] - a[2] }, v[3] = { c[0] - a[0], c[1] - a[1], c[2] - a[2] };
    const double  x = u[1] * v[2] - u[2] * v[1], y = u[2] * v[0] - u[0] * v[2], z = u[0] * v[1] - u[1] * v[0];
    total += 0.5 * sqrt(x * x + y * y + z * z);
    cum[t] = total;
  }
  if (!(total > 0)) {
    free(cum);
    return fail("the mesh has zero area");
  }
  for (int i = 0; i < n; i++) {
    const double r = uniform01(rng) * total, r1 = sqrt(uniform01(rng)), r2 = uniform01(rng);
    int32_t      lo = 0, hi = nt - 1;
    while (lo < hi) {
      const int32_t mid = lo + (hi - lo) / 2;
      if (cum[mid] < r)
        lo = mid + 1;
      else
        hi = mid;
    }
    sp[i].tri  = lo;
    sp[i].b[0] = 1.0 - r1;
    sp[i].b[1] = r1 * (1.0 - r2);
    sp[i].b[2] = r1 * r2;
    for (int a = 0; a < 3; a++) {
      pts[3 * i + a] = 0;
      for (int k = 0; k < 3; k++) pts[3 * i + a] += sp[i].b[k] * verts[3 * tris[3 * lo + k] + a];
    }
  }
  free(cum);
  return 0;
}

/* Nearest-neighbour queries on a point set: the points bucketed in a
   uniform grid of about 2 points per cell, searched in growing shells of
   cells around the query. */
typedef struct {
  const double *pts;
  int           n, dims[3];
  double        lo[3], cell;
  int          *start, *order; /* points of cell c: order[start[c] .. start[c+1]) */
} point_grid;

static void point_grid_cell(const point_grid *pg, const double *x, int c[3])
{
  for (int a = 0; a < 3; a++) {
    const int i = (int) floor((x[a] - pg->lo[a]) / pg->cell);
    c[a]        = i < 0 ? 0 : i >= pg->dims[a] ? pg->dims[a] - 1
                                               : i;
  }
}

static int point_grid_build(point_grid *pg, int n, const double *pts)
{
  double hi[3] = { -INFINITY, -INFINITY, -INFINITY }, vol = 1, ext = 0;
  size_t ncells;

  memset(pg, 0, sizeof(*pg));
  pg->pts = pts;
  pg->n   = n;
  for (int a = 0; a < 3; a++) pg->lo[a] = INFINITY;
  for (int i = 0; i < n; i++)
    for (int a = 0; a < 3; a++) {
      pg->lo[a] = fmin(pg->lo[a], pts[3 * i + a]);
      hi[a]     = fmax(hi[a], pts[3 * i + a]);
    }
  for (int a = 0; a < 3; a++) {
    vol *= fmax(hi[a] - pg->lo[a], 1e-9);
    ext = fmax(ext, hi[a] - pg->lo[a]);
  }
  /* about 2 points per cell, at most 257 cells per axis (so every point lies in its cell) */
  pg->cell = fmax(fmax(cbrt(2.0 * vol / n), ext / 256), 1e-9);
  ncells   = 1;
  for (int a = 0; a < 3; a++) {
    pg->dims[a] = (int) floor((hi[a] - pg->lo[a]) / pg->cell) + 1;
    ncells *= (size_t) pg->dims[a];
  }
  pg->start = calloc(ncells + 1, sizeof(int));
  pg->order = malloc((size_t) n * sizeof(int));
  if (!pg->start || !pg->order) return fail("out of memory");
  for (int i = 0; i < n; i++) {
    int c[3];
    point_grid_cell(pg, pts + 3 * i, c);
    pg->start[((size_t) c[2] * (size_t) pg->dims[1] + (size_t) c[1]) * (size_t) pg->dims[0] + (size_t) c[0] + 1]++;
  }
  for (size_t c = 0; c < ncells; c++) pg->start[c + 1] += pg->start[c];
  for (int i = 0; i < n; i++) { /* counting sort; start[] is shifted back below */
    int c[3];
    point_grid_cell(pg, pts + 3 * i, c);
    pg->order[pg->start[((size_t) c[2] * (size_t) pg->dims[1] + (size_t) c[1]) * (size_t) pg->dims[0] + (size_t) c[0]]++] = i;
  }
  for (size_t c = ncells; c > 0; c--) pg->start[c] = pg->start[c - 1];
  pg->start[0] = 0;
  return 0;
}

static void point_grid_destroy(point_grid *pg)
{
  free(pg->start);
  free(pg->order);
}

/* The nearest point to x: its index, and the squared distance in *d2. */
static int point_grid_nearest(const point_grid *pg, const double *x, double *d2)
{
  int c[3], best = -1, rmax = pg->dims[0];

  double out = 0; /* squared distance from x to the grid's box */

  for (int a = 1; a < 3; a++) rmax = pg->dims[a] > rmax ? pg->dims[a] : rmax;
  for (int a = 0; a < 3; a++) {
    const double e = fmax(fmax(pg->lo[a] - x[a], x[a] - (pg->lo[a] + pg->cell * pg->dims[a])), 0);
    out += e * e;
  }
  point_grid_cell(pg, x, c);
  *d2 = INFINITY;
  for (int r = 0; r <= rmax; r++) {
    /* a point in shell r or beyond is at least (r - 1) cells from x projected
       on the box, so its squared distance is at least out + ((r - 1) cell)^2 */
    if (best >= 0 && r > 0 && *d2 <= out + ((double) (r - 1) * pg->cell) * ((double) (r - 1) * pg->cell)) break;
    for (int k = c[2] - r; k <= c[2] + r; k++)
      for (int j = c[1] - r; j <= c[1] + r; j++)
        for (int i = c[0] - r; i <= c[0] + r; i++) {
          if (i < 0 || j < 0 || k < 0 || i >= pg->dims[0] || j >= pg->dims[1] || k >= pg->dims[2]) continue;
          if (abs(i - c[0]) != r && abs(j - c[1]) != r && abs(k - c[2]) != r) continue; /* the shell only */
          const size_t cell = ((size_t) k * (size_t) pg->dims[1] + (size_t) j) * (size_t) pg->dims[0] + (size_t) i;
          for (int m = pg->start[cell]; m < pg->start[cell + 1]; m++) {
            const double *q = pg->pts + 3 * pg->order[m];
            const double  d = (x[0] - q[0]) * (x[0] - q[0]) + (x[1] - q[1]) * (x[1] - q[1]) + (x[2] - q[2]) * (x[2] - q[2]);
            if (d < *d2) *d2 = d, best = pg->order[m];
          }
        }
  }
  return best;
}

/* Chamfer distance between point sets P (n) and Q (m): mean_i min_j |p_i - q_j|^2
   + mean_j min_i |p_i - q_j|^2, and its gradient with respect to P (gp, 3n;
   may be NULL). `qgrid` holds Q. */
static int chamfer(int n, const double *P, int m, const double *Q, const point_grid *qgrid, double *value, double *gp)
{
  point_grid pgrid;
  double     sp = 0, sq = 0;

  if (point_grid_build(&pgrid, n, P)) {
    point_grid_destroy(&pgrid);
    return 1;
  }
  if (gp) memset(gp, 0, 3 * (size_t) n * sizeof(double));
  for (int i = 0; i < n; i++) {
    double    d;
    const int j = point_grid_nearest(qgrid, P + 3 * i, &d);
    sp += d;
    if (gp)
      for (int a = 0; a < 3; a++) gp[3 * i + a] += 2.0 * (P[3 * i + a] - Q[3 * j + a]) / n;
  }
  for (int j = 0; j < m; j++) {
    double    d;
    const int i = point_grid_nearest(&pgrid, Q + 3 * j, &d);
    sq += d;
    if (gp)
      for (int a = 0; a < 3; a++) gp[3 * i + a] += 2.0 * (P[3 * i + a] - Q[3 * j + a]) / m;
  }
  point_grid_destroy(&pgrid);
  *value = sp / n + sq / m;
  return 0;
}

/* ---- the optimised parameters ---------------------------------------------- */

/* One flat vector: field (nv), alpha (8nc), beta (12nc), gamma (nc), delta (3nv). */
typedef struct {
  mesh_grid g;
  size_t    nv, nc, size;
  double   *x, *grad, *m, *v; /* parameters, gradient, Adam moments */
  double   *deform;           /* 3nv: the deformation from delta */
  double   *field, *alpha, *beta, *gamma, *delta;
  double   *gfield, *galpha, *gbeta, *ggamma, *gdelta;
  double   *gdeform; /* 3nv: dL/d(deform), before the tanh */
} fit_params;

static int params_create(int n, double radius, fit_params *p)
{
  memset(p, 0, sizeof(*p));
  p->g       = cube_grid(n);
  p->nv      = grid_nverts(&p->g);
  p->nc      = grid_ncubes(&p->g);
  p->size    = 4 * p->nv + 21 * p->nc;
  p->x       = calloc(p->size, sizeof(double));
  p->grad    = calloc(p->size, sizeof(double));
  p->m       = calloc(p->size, sizeof(double));
  p->v       = calloc(p->size, sizeof(double));
  p->deform  = calloc(3 * p->nv, sizeof(double));
  p->gdeform = calloc(3 * p->nv, sizeof(double));
  if (!p->x || !p->grad || !p->m || !p->v || !p->deform || !p->gdeform) return fail("out of memory (grid %d^3)", n);
  p->field  = p->x;
  p->alpha  = p->field + p->nv;
  p->beta   = p->alpha + 8 * p->nc;
  p->gamma  = p->beta + 12 * p->nc;
  p->delta  = p->gamma + p->nc;
  p->gfield = p->grad;
  p->galpha = p->gfield + p->nv;
  p->gbeta  = p->galpha + 8 * p->nc;
  p->ggamma = p->gbeta + 12 * p->nc;
  p->gdelta = p->ggamma + p->nc;
  for (size_t v = 0; v < p->nv; v++) { /* a sphere to start from */
    double q[3];
    grid_point(&p->g, v, q);
    p->field[v] = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]) - radius;
  }
  return 0;
}

static void params_destroy(fit_params *p)
{
  free(p->x);
  free(p->grad);
  free(p->m);
  free(p->v);
  free(p->deform);
  free(p->gdeform);
}

static double deform_scale(const fit_params *p, int a)
{
  return 0.5 * p->g.spacing[a] * (1.0 - 1e-8);
}

static void params_update_deform(fit_params *p)
{
  for (size_t i = 0; i < 3 * p->nv; i++) p->deform[i] = deform_scale(p, (int) (i % 3)) * tanh(p->delta[i]);
}

static mesh_flexicubes_options params_options(const fit_params *p, int training)
{
  mesh_flexicubes_options o;
  mesh_flexicubes_options_default(&o);
  o.alpha    = p->alpha;
  o.beta     = p->beta;
  o.gamma    = p->gamma;
  o.deform   = p->deform;
  o.training = training;
  return o;
}

/* Adam (Kingma and Ba), bias-corrected, step t >= 1: the nn library's (private/adam.h). */
static void adam_step(fit_params *p, double lr, int t)
{
  const deepcd_adam_hparams h = { 0.9, 0.999, 1e-8, 0.0 };

  deepcd_adam_update_f64(&h, t, lr, p->size, p->x, p->m, p->v, p->grad);
}

/* The Chamfer distance of the current parameters' inference-mode mesh to the
   target points (fresh samples). */
static int evaluate(const fit_params *p, int n, int m, const double *Q, const point_grid *qgrid, uint64_t *rng, double *cd, mesh_surface **out)
{
  mesh_flexicubes_options o  = params_options(p, 0);
  sample_point           *sp = malloc((size_t) n * sizeof(*sp));
  double                 *P  = malloc(3 * (size_t) n * sizeof(double));
  int                     rc = 0;

  *out = NULL;
  if (!sp || !P)
    rc = fail("out of memory");
  else if (flexicubes_extract(&p->g, p->field, &o, out))
    rc = mesh_fail("extract");
  else if ((*out)->ntris == 0)
    rc = fail("the extracted surface is empty");
  else
    rc = sample_surface((*out)->ntris, (*out)->tris, (*out)->verts, n, rng, sp, P) || chamfer(n, P, m, Q, qgrid, cd, NULL);
  free(sp);
  free(P);
  return rc;
}

/* Two references for the final Chamfer distance: plain Dual Marching Cubes
   of the target's exact SDF (sdf_from_mesh) on the same grid, and the
   sampling floor (the target against a fresh sample of itself). */
static int references(const fit_params *p, int32_t tnv, const double *tverts, int32_t tnt, const int32_t *ttris, int n, int m, const double *Q, const point_grid *qgrid, uint64_t *rng, sample_point *sp, double *P, double *dmc, double *floor_cd)
{
  double       *f = malloc(p->nv * sizeof(double));
  mesh_surface *s = NULL;
  int           rc;

  if (!f) return fail("out of memory");
  if (sdf_from_mesh(&p->g, tnv, tverts, tnt, ttris, f))
    rc = mesh_fail("sdf_from_mesh");
  else if (flexicubes_extract(&p->g, f, NULL, &s))
    rc = mesh_fail("extract");
  else if (s->ntris == 0)
    rc = fail("the target's SDF has no surface on the grid");
  else
    rc = sample_surface(s->ntris, s->tris, s->verts, n, rng, sp, P) || chamfer(n, P, m, Q, qgrid, dmc, NULL) || sample_surface(tnt, ttris, tverts, n, rng, sp, P) || chamfer(n, P, m, Q, qgrid, floor_cd, NULL);
  mesh_surface_destroy(&s);
  free(f);
  return rc;
}

static int parse_args(int argc, char **argv, fit_options *o)
{
  o->target = "box";
  o->out = o->loss = o->target_out = o->weights_out = o->field_out = NULL;
  o->n                                                             = 32;
  o->iters                                                         = 300;
  o->samples                                                       = 5000;
  o->eval_samples                                                  = 20000;
  o->print                                                         = 10;
  o->lr                                                            = 0.01;
  o->ldev                                                          = 0.5;
  o->wreg                                                          = 0.1;
  o->init_radius                                                   = 0.6;
  o->require_drop                                                  = 0;
  o->seed                                                          = 1;
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    char       *end;
    double      d;
    if (!strcmp(k, "-h") || !strcmp(k, "--help")) {
      printf("usage: mesh_fit [--target box|sphere|torus|FILE.obj] [--n 32] [--iters 300] [--lr 0.01] [--samples 5000]\n"
             "                [--eval-samples 20000] [--ldev 0.5] [--wreg 0.1] [--init-radius 0.6] [--seed 1] [--print 10]\n"
             "                [-o result.obj|.ply] [--loss loss.dat] [--target-out target.obj] [--require-drop F]\n"
             "                [--field-out field.h5 --weights-out weights.h5]\n"
             "  --field-out writes the fitted field as a deepcd problem file (sdf) and --weights-out the\n"
             "  fitted weights and deformation: 'deepcd mesh field.h5 --weights weights.h5 -o out.obj'\n"
             "  re-extracts the result (shifted by +1 along each axis: deepcd's grid starts at 0)\n");
      exit(0);
    }
    if (!val) return fail("%s: missing value", k);
    i++;
    if (!strcmp(k, "--target")) {
      o->target = val;
      continue;
    }
    if (!strcmp(k, "-o")) {
      o->out = val;
      continue;
    }
    if (!strcmp(k, "--loss")) {
      o->loss = val;
      continue;
    }
    if (!strcmp(k, "--target-out")) {
      o->target_out = val;
      continue;
    }
    if (!strcmp(k, "--weights-out")) {
      o->weights_out = val;
      continue;
    }
    if (!strcmp(k, "--field-out")) {
      o->field_out = val;
      continue;
    }
    errno = 0;
    d     = strtod(val, &end);
    if (end == val || *end || errno || !isfinite(d)) return fail("%s: '%s' is not a number", k, val);
    if (!strcmp(k, "--n") && d >= 2 && d <= 256 && d == floor(d))
      o->n = (int) d;
    else if (!strcmp(k, "--iters") && d >= 0 && d <= 1e6 && d == floor(d))
      o->iters = (int) d;
    else if (!strcmp(k, "--samples") && d >= 10 && d <= 1e6 && d == floor(d))
      o->samples = (int) d;
    else if (!strcmp(k, "--eval-samples") && d >= 10 && d <= 1e7 && d == floor(d))
      o->eval_samples = (int) d;
    else if (!strcmp(k, "--print") && d >= 1 && d <= 1e6 && d == floor(d))
      o->print = (int) d;
    else if (!strcmp(k, "--seed") && d >= 0 && d == floor(d))
      o->seed = (uint64_t) d;
    else if (!strcmp(k, "--lr") && d > 0)
      o->lr = d;
    else if (!strcmp(k, "--ldev") && d >= 0)
      o->ldev = d;
    else if (!strcmp(k, "--wreg") && d >= 0)
      o->wreg = d;
    else if (!strcmp(k, "--init-radius") && d > 0 && d < 1)
      o->init_radius = d;
    else if (!strcmp(k, "--require-drop") && d >= 0)
      o->require_drop = d;
    else
      return fail("%s %s: unknown option or value out of range (see --help)", k, val);
  }
  return 0;
}

/* One iteration: loss terms and the gradient in p->grad. */
static int fit_step(fit_params *p, const fit_options *fo, int m, const double *Q, const point_grid *qgrid, uint64_t *rng, sample_point *sp, double *P, double *gP, double terms[3])
{
  mesh_flexicubes_options o = params_options(p, 1);
  mesh_surface           *s = NULL;
  double                 *dverts;
  mesh_flexicubes_grad    gr;
  const double            nw = 20.0 * (double) p->nc;
  int                     rc = 0;

  params_update_deform(p);
  if (flexicubes_extract(&p->g, p->field, &o, &s)) return mesh_fail("extract");
  if (s->ntris == 0) {
    mesh_surface_destroy(&s);
    return fail("the extracted surface vanished");
  }
  dverts = calloc(3 * (size_t) s->nverts, sizeof(double));
  if (!dverts) {
    mesh_surface_destroy(&s);
    return fail("out of memory");
  }
  rc = sample_surface(s->ntris, s->tris, s->verts, fo->samples, rng, sp, P) || chamfer(fo->samples, P, m, Q, qgrid, &terms[0], gP);
  if (!rc) {
    for (int i = 0; i < fo->samples; i++)
      for (int k = 0; k < 3; k++)
        for (int a = 0; a < 3; a++) dverts[3 * s->tris[3 * sp[i].tri + k] + a] += sp[i].b[k] * gP[3 * i + a];
    memset(p->grad, 0, p->size * sizeof(double));
    memset(p->gdeform, 0, 3 * p->nv * sizeof(double));
    gr = (mesh_flexicubes_grad){ p->gfield, p->galpha, p->gbeta, p->ggamma, p->gdeform };
    if (flexicubes_backward(&p->g, p->field, &o, s, dverts, &gr) || flexicubes_ldev(&p->g, p->field, &o, s, fo->ldev, &terms[1], &gr)) rc = mesh_fail("backward");
  }
  if (!rc) {
    /* through the bounded deformation */
    for (size_t i = 0; i < 3 * p->nv; i++) {
      const double t = tanh(p->delta[i]);
      p->gdelta[i]   = p->gdeform[i] * deform_scale(p, (int) (i % 3)) * (1.0 - t * t);
    }
    /* wreg * mean |alpha, beta| (the 20 tanh weights per cube) */
    terms[2] = 0;
    for (size_t i = 0; i < 20 * p->nc; i++) {
      const double w = p->alpha[i]; /* alpha and beta are contiguous */
      terms[2] += fabs(w) / nw;
      p->galpha[i] += fo->wreg * (w > 0 ? 1.0 : w < 0 ? -1.0
                                                      : 0.0) /
                      nw;
    }
  }
  free(dverts);
  mesh_surface_destroy(&s);
  return rc;
}

int main(int argc, char **argv)
{
  fit_options   fo;
  fit_params    p;
  int32_t       tnv = 0, tnt = 0, *ttris = NULL;
  double       *tverts = NULL, *Q = NULL, *P = NULL, *gP = NULL, cd0 = 0, cd1 = 0, cdmc = 0, cfloor = 0;
  sample_point *sp = NULL, *tsp = NULL;
  mesh_surface *res  = NULL;
  FILE         *lf   = NULL;
  char         *ltmp = NULL;
  uint64_t      rng;
  int           rc, m, np;
  point_grid    qgrid;
  clock_t       t0 = clock();

  memset(&qgrid, 0, sizeof(qgrid));
  if (parse_args(argc, argv, &fo)) return 1;
  rng = fo.seed * 0x2545f4914f6cdd1du + 1;
  m   = fo.eval_samples;
  np  = fo.samples > fo.eval_samples ? fo.samples : fo.eval_samples;
  if ((rc = params_create(fo.n, fo.init_radius, &p))) goto done;
  if ((rc = load_target(fo.target, &tnv, &tverts, &tnt, &ttris))) goto done;
  if (fo.target_out && mesh_write_obj(fo.target_out, tnv, tverts, tnt, ttris)) {
    rc = mesh_fail("--target-out");
    goto done;
  }
  Q   = malloc(3 * (size_t) m * sizeof(double));
  P   = malloc(3 * (size_t) np * sizeof(double));
  gP  = malloc(3 * (size_t) np * sizeof(double));
  sp  = malloc((size_t) np * sizeof(*sp));
  tsp = malloc((size_t) m * sizeof(*tsp));
  if (!Q || !P || !gP || !sp || !tsp) {
    rc = fail("out of memory");
    goto done;
  }
  if ((rc = sample_surface(tnt, ttris, tverts, m, &rng, tsp, Q))) goto done;
  if ((rc = point_grid_build(&qgrid, m, Q))) goto done;
  params_update_deform(&p);
  if ((rc = evaluate(&p, fo.eval_samples, m, Q, &qgrid, &rng, &cd0, &res))) goto done;
  mesh_surface_destroy(&res);
  if (fo.loss) {
    const size_t len = strlen(fo.loss) + 5;
    if (!(ltmp = malloc(len))) {
      rc = fail("out of memory");
      goto done;
    }
    snprintf(ltmp, len, "%s.tmp", fo.loss);
    if (!(lf = fopen(ltmp, "w"))) {
      rc = fail("%s: cannot write (%s)", ltmp, strerror(errno));
      goto done;
    }
    fprintf(lf, "# iteration loss chamfer ldev mean|w|\n");
  }
  printf("mesh_fit: target %s (%d triangles), grid %d^3, %d samples (%d on the target), Adam lr %g, L_dev weight %g, weight reg %g\n", fo.target, tnt, fo.n, fo.samples, m, fo.lr, fo.ldev, fo.wreg);
  printf("%6s %12s %12s %12s %12s\n", "iter", "loss", "chamfer", "L_dev", "mean|w|");
  for (int it = 0; it < fo.iters; it++) {
    double terms[3], loss;
    if ((rc = fit_step(&p, &fo, m, Q, &qgrid, &rng, sp, P, gP, terms))) {
      fprintf(stderr, "mesh_fit: at iteration %d\n", it);
      goto done;
    }
    loss = terms[0] + fo.ldev * terms[1] + fo.wreg * terms[2];
    if (it % fo.print == 0 || it == fo.iters - 1) printf("%6d %12.5e %12.5e %12.5e %12.5e\n", it, loss, terms[0], terms[1], terms[2]);
    if (lf) fprintf(lf, "%d %.8e %.8e %.8e %.8e\n", it, loss, terms[0], terms[1], terms[2]);
    adam_step(&p, fo.lr, it + 1);
  }
  params_update_deform(&p);
  if ((rc = evaluate(&p, fo.eval_samples, m, Q, &qgrid, &rng, &cd1, &res))) goto done;
  if (lf) {
    int bad = ferror(lf);
    bad |= fclose(lf) != 0;
    lf = NULL;
    if (bad || rename(ltmp, fo.loss)) {
      rc = fail("%s: cannot write (%s)", fo.loss, strerror(errno));
      goto done;
    }
  }
  if (fo.out && mesh_surface_write(res, fo.out)) {
    rc = mesh_fail("-o");
    goto done;
  }
  if (fo.field_out && (rc = fit_write_problem(fo.field_out, &p.g, p.field))) goto done;
  if (fo.weights_out) {
    const mesh_flexicubes_options o = params_options(&p, 0);
    if ((rc = fit_write_weights(fo.weights_out, &p.g, p.alpha, p.beta, p.gamma, p.deform, o.weight_scale))) goto done;
  }
  if ((rc = references(&p, tnv, tverts, tnt, ttris, fo.eval_samples, m, Q, &qgrid, &rng, sp, P, &cdmc, &cfloor))) goto done;
  printf("mesh_fit: references: plain DMC of the target's exact SDF on the same grid %.5e; sampling floor (target vs itself) %.5e\n", cdmc, cfloor);
  printf("mesh_fit: chamfer initial %.5e final %.5e (drop x%.1f), %d vertices, %d triangles, %.1f s\n", cd0, cd1, cd0 / cd1, res->nverts, res->ntris, (double) (clock() - t0) / CLOCKS_PER_SEC);
  if (fo.require_drop > 0 && !(cd0 >= fo.require_drop * cd1)) rc = fail("the Chamfer distance dropped by x%.2f, less than the required x%g", cd0 / cd1, fo.require_drop);
done:
  if (lf) {
    fclose(lf);
    remove(ltmp);
  }
  free(ltmp);
  mesh_surface_destroy(&res);
  point_grid_destroy(&qgrid);
  params_destroy(&p);
  free(tverts);
  free(ttris);
  free(Q);
  free(P);
  free(gP);
  free(sp);
  free(tsp);
  return rc ? 1 : 0;
}
