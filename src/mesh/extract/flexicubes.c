/* FlexiCubes extraction (inference and training triangulation, forward only).

   The grid is swept one layer of cubes at a time along z, so the working
   memory is a few layers (O(nx*ny)) besides the output:
   - vertex layers Kv, Kv+1, Kv+2: the values (pointers into the field, or
     padded copies in close mode), and per cube column the 4 sign bits of
     the cube face in that layer;
   - cube layers K-1, K, K+1: the cases (the resolution of layer K looks at
     its neighbours' cases above and below);
   - cube layers K-1, K: the table row used and the first dual vertex.
   One pass over cube layer K makes each surface cube's dual vertices and
   then the quads of the three grid edges at its corner 0, whose other cubes
   come earlier in the sweep. Runs of 8 cubes with case 0 or 255 are skipped
   a word at a time. In close mode the sweep runs over the grid padded by
   one vertex layer on every side, whose value is iso + close_value. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/meshimpl.h>

mesh_err mesh_flexicubes_options_default(mesh_flexicubes_options *opt)
{
  MESH_CHECK(opt, MESH_ERR_ARG, "mesh_flexicubes_options_default: NULL options");
  memset(opt, 0, sizeof(*opt));
  opt->weight_scale = 0.99;
  opt->close_value  = INFINITY;
  return MESH_SUCCESS;
}

typedef struct {
  const mesh_grid        *grid;
  const double           *field;
  mesh_flexicubes_options opt;
  const mesh_dmc_table   *table;
  int                     pad;        /* 1 in close mode */
  int                     NX, NY, NZ; /* cubes of the swept (padded) grid */
  size_t                  W;          /* vertices per row of the swept grid: NX + 1 */
  /* layer ring buffers (see the file comment) */
  const double *val[3];    /* vertex layer values (raw field values; inside is < iso) */
  double       *padded[3]; /* close mode: the padded copies val[] points to */
  uint8_t      *sign[2];   /* scratch: inside flags of two vertex rows */
  uint8_t      *face[3];
  uint8_t      *cases[3];
  uint8_t      *tcase[2];
  int32_t      *first[2];
  /* outputs and their capacities */
  double           *verts;
  size_t            cverts;
  mesh_dual_vertex *dual;
  size_t            cdual;
  double           *gam; /* gamma' of each dual vertex */
  size_t            cgam;
  mesh_quad        *quads;
  size_t            cquads;
  int32_t          *tris;
  size_t            ctris;
  double           *centres;
  size_t            ccentres;
  size_t            ndual, nquads, ntris;
} extractor;

static void extractor_free(extractor *ex)
{
  for (int i = 0; i < 2; i++) free(ex->sign[i]);
  for (int i = 0; i < 3; i++) {
    free(ex->padded[i]);
    free(ex->face[i]);
    free(ex->cases[i]);
  }
  for (int i = 0; i < 2; i++) {
    free(ex->tcase[i]);
    free(ex->first[i]);
  }
  free(ex->verts);
  free(ex->dual);
  free(ex->gam);
  free(ex->quads);
  free(ex->tris);
  free(ex->centres);
  memset(ex, 0, sizeof(*ex));
}

/* Inside flags of one row of vertex values. */
MESH_VECTOR_KERNEL static void row_signs(const double *v, size_t n, double iso, uint8_t *sg)
{
  for (size_t i = 0; i < n; i++) sg[i] = v[i] < iso;
}

/* Non-zero if a value is NaN or infinite (exponent bits all set; integer
   operations, so the loop vectorises). */
MESH_VECTOR_KERNEL static int row_not_finite(const double *v, size_t n)
{
  const uint64_t exp = 0x7ff0000000000000u;
  uint64_t       bad = 0;

  for (size_t i = 0; i < n; i++) {
    uint64_t u;
    memcpy(&u, v + i, sizeof(u));
    bad |= (u & exp) == exp;
  }
  return bad != 0;
}

/* The 4 sign bits of the cube faces between two rows of inside flags. */
MESH_VECTOR_KERNEL static void face_bits(const uint8_t *lo, const uint8_t *hi, uint8_t *f, int n)
{
  for (int I = 0; I < n; I++) f[I] = (uint8_t) (lo[I] | lo[I + 1] << 1 | hi[I] << 2 | hi[I + 1] << 3);
}

/* Vertex layer Kv of the swept grid: values and face sign bits. */
static mesh_err load_vertex_layer(extractor *ex, int Kv)
{
  const mesh_grid *g  = ex->grid;
  const int        nx = g->dims[0], ny = g->dims[1], nz = g->dims[2], p = ex->pad;
  const int        k  = Kv - p;
  const size_t     nl = (size_t) (nx + 1) * (size_t) (ny + 1);
  uint8_t         *fc = ex->face[Kv % 3];

  if (!p)
    ex->val[Kv % 3] = ex->field + (size_t) k * nl;
  else {
    /* a padded copy: rows and ends outside the grid hold iso + close_value */
    const double pv  = ex->opt.iso + ex->opt.close_value;
    double      *dst = ex->padded[Kv % 3];
    for (int Jv = 0; Jv <= ex->NY; Jv++) {
      const int j   = Jv - p;
      double   *row = dst + (size_t) Jv * ex->W;
      if (j < 0 || j > ny || k < 0 || k > nz) {
        for (size_t Iv = 0; Iv < ex->W; Iv++) row[Iv] = pv;
        continue;
      }
      row[0] = row[ex->W - 1] = pv;
      memcpy(row + 1, ex->field + (size_t) k * nl + (size_t) j * (size_t) (nx + 1), (size_t) (nx + 1) * sizeof(double));
    }
    ex->val[Kv % 3] = dst;
  }
  for (int Jv = 0; Jv <= ex->NY; Jv++) {
    const double *row = ex->val[Kv % 3] + (size_t) Jv * ex->W;
    uint8_t      *lo = ex->sign[Jv % 2], *hi = ex->sign[(Jv + 1) % 2];
    const int     j = Jv - p;
    row_signs(row, ex->W, ex->opt.iso, hi);
    if (j >= 0 && j <= ny && k >= 0 && k <= nz && row_not_finite(row + p, (size_t) nx + 1))
      for (int i = 0; i <= nx; i++) MESH_CHECK(isfinite(row[i + p]), MESH_ERR_ARG, "flexicubes_extract: field at vertex (%d, %d, %d) is %g (must be finite)", i, j, k, row[i + p]);
    if (Jv == 0) continue;
    /* the face bits of cube column (I, Jv - 1) from rows Jv - 1 (lo) and Jv (hi) */
    uint8_t *f = fc + (size_t) (Jv - 1) * (size_t) ex->NX;
    face_bits(lo, hi, f, ex->NX);
  }
  return MESH_SUCCESS;
}

/* Cases of cube layer K from the face bits of vertex layers K and K+1. */
MESH_VECTOR_KERNEL static void compute_cases(extractor *ex, int K)
{
  const uint8_t *lo = ex->face[K % 3], *hi = ex->face[(K + 1) % 3];
  uint8_t       *c = ex->cases[K % 3];
  const size_t   n = (size_t) ex->NX * (size_t) ex->NY;

  for (size_t i = 0; i < n; i++) c[i] = (uint8_t) (lo[i] | hi[i] << 4);
}

/* Position of vertex (Iv, Jv, Kv) of the swept grid. A padding vertex sits
   one spacing outside the (displaced) boundary vertex next to it. */
static mesh_err vertex_position(const extractor *ex, int Iv, int Jv, int Kv, double x[3])
{
  const mesh_grid *g      = ex->grid;
  const int        idx[3] = { Iv - ex->pad, Jv - ex->pad, Kv - ex->pad };
  int              c[3];

  for (int a = 0; a < 3; a++) {
    c[a] = idx[a] < 0 ? 0 : idx[a] > g->dims[a] ? g->dims[a]
                                                : idx[a];
    x[a] = g->origin[a] + g->spacing[a] * (double) idx[a];
  }
  if (ex->opt.deform) {
    const double *d = ex->opt.deform + 3 * (((size_t) c[2] * (size_t) (g->dims[1] + 1) + (size_t) c[1]) * (size_t) (g->dims[0] + 1) + (size_t) c[0]);
    for (int a = 0; a < 3; a++) {
      MESH_CHECK(isfinite(d[a]), MESH_ERR_ARG, "flexicubes_extract: deformation of vertex (%d, %d, %d) is %g", c[0], c[1], c[2], d[a]);
      x[a] += d[a];
    }
  }
  return MESH_SUCCESS;
}

static double weight_tanh(double raw, double w)
{
  return 1.0 + w * tanh(raw);
}

static double weight_sigmoid(double raw, double w)
{
  return w / (1.0 + exp(-raw)) + 0.5 * (1.0 - w);
}

/* The dual vertices of surface cube (I, J, K) with table row `tc`. */
static mesh_err make_cube_duals(extractor *ex, int I, int J, int K, int tc, int flipped)
{
  const mesh_grid     *g     = ex->grid;
  const mesh_dmc_case *dc    = &ex->table->cases[tc];
  const double         w     = ex->opt.weight_scale;
  const int            ci[3] = { I - ex->pad, J - ex->pad, K - ex->pad };
  const int            real  = ci[0] >= 0 && ci[0] < g->dims[0] && ci[1] >= 0 && ci[1] < g->dims[1] && ci[2] >= 0 && ci[2] < g->dims[2];
  const size_t         cube  = real ? ((size_t) ci[2] * (size_t) g->dims[1] + (size_t) ci[1]) * (size_t) g->dims[0] + (size_t) ci[0] : 0;
  double               s[8], x[8][3], gamma = 1.0;

  for (int c = 0; c < 8; c++) {
    const int dx = c & 1, dy = (c >> 1) & 1, dz = (c >> 2) & 1;
    s[c] = ex->val[(K + dz) % 3][(size_t) (J + dy) * ex->W + (size_t) (I + dx)] - ex->opt.iso;
    MESH_CALL(vertex_position(ex, I + dx, J + dy, K + dz, x[c]));
  }
  /* alpha' scales the corner values: the crossing moves towards the corner with the smaller alpha' */
  if (ex->opt.alpha && real)
    for (int c = 0; c < 8; c++) {
      double a = ex->opt.alpha[8 * cube + (size_t) c];
      MESH_CHECK(!isnan(a), MESH_ERR_ARG, "flexicubes_extract: alpha[%d] of cube (%d, %d, %d) is NaN", c, ci[0], ci[1], ci[2]);
      s[c] *= weight_tanh(a, w);
    }
  if (ex->opt.gamma) {
    double r = real ? ex->opt.gamma[cube] : 0.0; /* padding cubes take the weights of a raw 0 */
    MESH_CHECK(!isnan(r), MESH_ERR_ARG, "flexicubes_extract: gamma of cube (%d, %d, %d) is NaN", ci[0], ci[1], ci[2]);
    gamma = weight_sigmoid(r, w);
  }
  MESH_CHECK(ex->ndual + dc->ngroups <= INT32_MAX, MESH_ERR_LIMIT, "flexicubes_extract: more than %d dual vertices", INT32_MAX);
  MESH_RESERVE(ex->verts, ex->cverts, 3 * (ex->ndual + dc->ngroups));
  MESH_RESERVE(ex->dual, ex->cdual, ex->ndual + dc->ngroups);
  MESH_RESERVE(ex->gam, ex->cgam, ex->ndual + dc->ngroups);
  for (int gi = 0; gi < dc->ngroups; gi++) {
    double acc[3] = { 0, 0, 0 }, bsum = 0;
    for (int n = 0; n < dc->group_size[gi]; n++) {
      const int e = dc->group_edges[gi][n], a = mesh_cube_edge_corners[e][0], b = mesh_cube_edge_corners[e][1];
      /* crossing x_a + t (x_b - x_a), t = s_a / (s_a - s_b); an infinite (padding) value pins it to the other end */
      const double t    = isinf(s[a]) ? 1.0 : isinf(s[b]) ? 0.0
                                                          : s[a] / (s[a] - s[b]);
      double       beta = 1.0;
      if (ex->opt.beta && real) {
        double r = ex->opt.beta[12 * cube + (size_t) e];
        MESH_CHECK(!isnan(r), MESH_ERR_ARG, "flexicubes_extract: beta[%d] of cube (%d, %d, %d) is NaN", e, ci[0], ci[1], ci[2]);
        beta = weight_tanh(r, w);
      }
      for (int d = 0; d < 3; d++) acc[d] += beta * (x[a][d] + t * (x[b][d] - x[a][d]));
      bsum += beta;
    }
    double           *v  = ex->verts + 3 * ex->ndual;
    mesh_dual_vertex *dv = ex->dual + ex->ndual;
    for (int d = 0; d < 3; d++) v[d] = acc[d] / bsum;
    memset(dv, 0, sizeof(*dv));
    for (int d = 0; d < 3; d++) dv->cube[d] = ci[d];
    dv->table_case     = (uint8_t) tc;
    dv->group          = (uint8_t) gi;
    dv->flipped        = (uint8_t) flipped;
    ex->gam[ex->ndual] = gamma;
    ex->ndual++;
  }
  return MESH_SUCCESS;
}

/* The quad of the crossed grid edge from swept vertex (Iv, Jv, Kv) along
   `axis`, and its triangles. The 4 cubes around the edge are visited
   counter-clockwise about +axis, (b, c) = (axis+1, axis+2) offsets
   (-1,-1) (0,-1) (0,0) (-1,0), which makes the right-hand normal point
   along +axis; the ring is reversed when the low end is outside. */
static mesh_err emit_quad(extractor *ex, int axis, int Iv, int Jv, int Kv, int low_inside)
{
  static const int ring_b[4] = { -1, 0, 0, -1 }, ring_c[4] = { -1, -1, 0, 0 };
  const int        b = (axis + 1) % 3, c = (axis + 2) % 3;
  int32_t          d[4];
  mesh_quad       *q;

  for (int r = 0; r < 4; r++) {
    int off[3]      = { 0, 0, 0 }, e, gi;
    off[b]          = ring_b[r];
    off[c]          = ring_c[r];
    const int     I = Iv + off[0], J = Jv + off[1], K = Kv + off[2];
    const size_t  col = (size_t) J * (size_t) ex->NX + (size_t) I;
    const int32_t f   = ex->first[K % 2][col];
    e                 = ex->table->edge_at[axis][-ring_b[r]][-ring_c[r]];
    gi                = f >= 0 ? ex->table->cases[ex->tcase[K % 2][col]].edge_group[e] : -1;
    MESH_CHECK(gi >= 0, MESH_ERR_BUG, "flexicubes_extract: cube (%d, %d, %d) has no dual vertex on its edge %d", I - ex->pad, J - ex->pad, K - ex->pad, e);
    d[r] = f + gi;
  }
  if (!low_inside) {
    int32_t t = d[1];
    d[1]      = d[3];
    d[3]      = t;
  }
  MESH_CHECK(ex->nquads < INT32_MAX && ex->ndual + ex->nquads < INT32_MAX && ex->ntris + 4 <= INT32_MAX, MESH_ERR_LIMIT, "flexicubes_extract: more than %d triangles or vertices", INT32_MAX);
  MESH_RESERVE(ex->quads, ex->cquads, ex->nquads + 1);
  MESH_RESERVE(ex->tris, ex->ctris, 3 * (ex->ntris + 4));
  q = ex->quads + ex->nquads;
  memset(q, 0, sizeof(*q));
  q->vertex[0] = Iv - ex->pad;
  q->vertex[1] = Jv - ex->pad;
  q->vertex[2] = Kv - ex->pad;
  q->axis      = (int8_t) axis;
  memcpy(q->dual, d, sizeof(d));

  const double g02 = ex->gam[d[0]] * ex->gam[d[2]], g13 = ex->gam[d[1]] * ex->gam[d[3]];
  int32_t     *t = ex->tris + 3 * ex->ntris;
  if (!ex->opt.training) {
    /* ties (uniform gamma) take the 1-3 diagonal: the cubes at (0,-1) and
       (-1,0), whatever the orientation (the reference's tie diagonal
       depends on which end of the edge is inside) */
    q->split = g02 > g13 ? 0 : 1;
    if (q->split == 0) {
      const int32_t tt[6] = { d[0], d[1], d[2], d[0], d[2], d[3] };
      memcpy(t, tt, sizeof(tt));
    } else {
      const int32_t tt[6] = { d[0], d[1], d[3], d[1], d[2], d[3] };
      memcpy(t, tt, sizeof(tt));
    }
    ex->ntris += 2;
  } else {
    /* centre = gamma-weighted mean of the two diagonals' midpoints; its index
       is ndual + quad, offset once all dual vertices are known */
    const int32_t ci = (int32_t) ex->nquads;
    double       *cp;
    MESH_RESERVE(ex->centres, ex->ccentres, 3 * (ex->nquads + 1));
    cp = ex->centres + 3 * ex->nquads;
    for (int k = 0; k < 3; k++) {
      const double m02 = 0.5 * (ex->verts[3 * d[0] + k] + ex->verts[3 * d[2] + k]);
      const double m13 = 0.5 * (ex->verts[3 * d[1] + k] + ex->verts[3 * d[3] + k]);
      cp[k]            = (g02 * m02 + g13 * m13) / (g02 + g13);
    }
    for (int r = 0; r < 4; r++) {
      t[3 * r]     = d[r];
      t[3 * r + 1] = d[(r + 1) % 4];
      t[3 * r + 2] = ci;
    }
    ex->ntris += 4;
  }
  ex->nquads++;
  return MESH_SUCCESS;
}

/* The table row of surface cube (I, J) of layer K with case c: c, or its
   complement when c and the neighbour across its ambiguous face both hold
   that face's two segments in one patch. */
static int resolve_case(const extractor *ex, int I, int J, int K, int c)
{
  const int f    = ex->table->cases[c].ambiguous_face;
  int       n[3] = { I, J, K }, nc;

  if (f < 0 || ex->opt.no_ambiguity_resolution) return c;
  n[f / 2] += f % 2 ? 1 : -1;
  if (n[0] < 0 || n[0] >= ex->NX || n[1] < 0 || n[1] >= ex->NY || n[2] < 0 || n[2] >= ex->NZ) return c;
  nc = ex->cases[n[2] % 3][(size_t) n[1] * (size_t) ex->NX + (size_t) n[0]];
  return ex->table->cases[nc].ambiguous_face == (f ^ 1) ? 255 - c : c;
}

/* Cube layer K: dual vertices of each surface cube, then the quads of the
   x, y and z grid edges at its corner 0 (when crossed and interior). */
static mesh_err sweep_layer(extractor *ex, int K)
{
  const uint8_t *cur   = ex->cases[K % 3];
  uint8_t       *tcase = ex->tcase[K % 2];
  int32_t       *first = ex->first[K % 2];
  const size_t   n     = (size_t) ex->NX * (size_t) ex->NY;

  for (size_t col = 0; col < n; col++) {
    uint64_t w;
    int      c, I, J;
    /* skip 8 cubes at once when none has a crossed edge */
    if (col % 8 == 0 && col + 8 <= n) {
      memcpy(&w, cur + col, sizeof(w));
      if (w == 0 || w == ~(uint64_t) 0) {
        for (int i = 0; i < 8; i++) first[col + (size_t) i] = -1;
        col += 7;
        continue;
      }
    }
    c = cur[col];
    if (c == 0 || c == 255) {
      first[col] = -1;
      continue;
    }
    I          = (int) (col % (size_t) ex->NX);
    J          = (int) (col / (size_t) ex->NX);
    tcase[col] = (uint8_t) resolve_case(ex, I, J, K, c);
    first[col] = (int32_t) ex->ndual;
    MESH_CALL(make_cube_duals(ex, I, J, K, tcase[col], tcase[col] != c));
    /* corner 0 is the low end of the cube's edges (0,1), (0,2), (0,4) */
    if (J > 0 && K > 0 && ((c ^ c >> 1) & 1)) MESH_CALL(emit_quad(ex, 0, I, J, K, c & 1));
    if (I > 0 && K > 0 && ((c ^ c >> 2) & 1)) MESH_CALL(emit_quad(ex, 1, I, J, K, c & 1));
    if (I > 0 && J > 0 && ((c ^ c >> 4) & 1)) MESH_CALL(emit_quad(ex, 2, I, J, K, c & 1));
  }
  return MESH_SUCCESS;
}

static mesh_err extract(extractor *ex)
{
  const size_t nvl = ex->W * (size_t) (ex->NY + 1), ncl = (size_t) ex->NX * (size_t) ex->NY;

  for (int i = 0; i < 3; i++) {
    ex->face[i]  = malloc(ncl);
    ex->cases[i] = malloc(ncl);
    MESH_CHECK(ex->face[i] && ex->cases[i], MESH_ERR_MEM, "flexicubes_extract: out of memory (layers of %zu cubes)", ncl);
    if (ex->pad) {
      ex->padded[i] = malloc(nvl * sizeof(double));
      MESH_CHECK(ex->padded[i], MESH_ERR_MEM, "flexicubes_extract: out of memory (layers of %zu vertices)", nvl);
    }
  }
  for (int i = 0; i < 2; i++) {
    ex->sign[i]  = malloc(ex->W);
    ex->tcase[i] = malloc(ncl);
    ex->first[i] = malloc(ncl * sizeof(int32_t));
    MESH_CHECK(ex->sign[i] && ex->tcase[i] && ex->first[i], MESH_ERR_MEM, "flexicubes_extract: out of memory (layers of %zu cubes)", ncl);
  }
  MESH_CALL(load_vertex_layer(ex, 0));
  MESH_CALL(load_vertex_layer(ex, 1));
  compute_cases(ex, 0);
  for (int K = 0; K < ex->NZ; K++) {
    if (K + 1 < ex->NZ) {
      MESH_CALL(load_vertex_layer(ex, K + 2));
      compute_cases(ex, K + 1);
    }
    MESH_CALL(sweep_layer(ex, K));
  }
  return MESH_SUCCESS;
}

static mesh_err check_inputs(const mesh_grid *grid, const double *field, const mesh_flexicubes_options *opt)
{
  MESH_CHECK(grid && field, MESH_ERR_ARG, "flexicubes_extract: NULL %s", grid ? "field" : "grid");
  for (int a = 0; a < 3; a++) {
    MESH_CHECK(grid->dims[a] >= 1 && grid->dims[a] <= INT32_MAX - 4, MESH_ERR_ARG, "flexicubes_extract: %d cubes along axis %d", grid->dims[a], a);
    MESH_CHECK(isfinite(grid->spacing[a]) && grid->spacing[a] > 0, MESH_ERR_ARG, "flexicubes_extract: spacing %g along axis %d (must be > 0)", grid->spacing[a], a);
    MESH_CHECK(isfinite(grid->origin[a]), MESH_ERR_ARG, "flexicubes_extract: origin %g along axis %d", grid->origin[a], a);
  }
  MESH_CHECK((double) (grid->dims[0] + 3) * (double) (grid->dims[1] + 3) * (double) (grid->dims[2] + 3) < 9e15, MESH_ERR_ARG, "flexicubes_extract: grid %dx%dx%d too large", grid->dims[0], grid->dims[1], grid->dims[2]);
  MESH_CHECK(isfinite(opt->iso), MESH_ERR_ARG, "flexicubes_extract: iso %g", opt->iso);
  MESH_CHECK(opt->weight_scale >= 0 && opt->weight_scale < 1, MESH_ERR_ARG, "flexicubes_extract: weight_scale %g (must be in [0, 1))", opt->weight_scale);
  MESH_CHECK(opt->training == 0 || opt->training == 1, MESH_ERR_ARG, "flexicubes_extract: training %d (0 or 1)", opt->training);
  MESH_CHECK(opt->close == 0 || opt->close == 1, MESH_ERR_ARG, "flexicubes_extract: close %d (0 or 1)", opt->close);
  MESH_CHECK(!opt->close || opt->close_value > 0, MESH_ERR_ARG, "flexicubes_extract: close_value %g (must be > 0)", opt->close_value);
  return MESH_SUCCESS;
}

mesh_err flexicubes_extract(const mesh_grid *grid, const double *field, const mesh_flexicubes_options *opt, mesh_surface **surface)
{
  mesh_flexicubes_options defaults;
  extractor               ex;
  mesh_surface           *s = NULL;
  mesh_err                err;

  MESH_CHECK(surface, MESH_ERR_ARG, "flexicubes_extract: NULL output");
  *surface = NULL;
  if (!opt) {
    MESH_CALL(mesh_flexicubes_options_default(&defaults));
    opt = &defaults;
  }
  MESH_CALL(check_inputs(grid, field, opt));
  memset(&ex, 0, sizeof(ex));
  ex.grid  = grid;
  ex.field = field;
  ex.opt   = *opt;
  ex.pad   = opt->close ? 1 : 0;
  ex.NX    = grid->dims[0] + 2 * ex.pad;
  ex.NY    = grid->dims[1] + 2 * ex.pad;
  ex.NZ    = grid->dims[2] + 2 * ex.pad;
  ex.W     = (size_t) ex.NX + 1;
  MESH_CALL(mesh_dmc_table_get(&ex.table));
  err = extract(&ex);
  if (!err && !(s = calloc(1, sizeof(*s)))) err = mesh_error_set(MESH_ERR_MEM, "flexicubes_extract: out of memory");
  if (!err && opt->training && ex.nquads) { /* append the quad centres after the dual vertices */
    void *p  = ex.verts;
    err      = mesh_reserve(&p, &ex.cverts, 3 * (ex.ndual + ex.nquads), sizeof(double));
    ex.verts = p;
    if (err) free(s);
  }
  if (err) {
    extractor_free(&ex);
    return err;
  }
  if (opt->training) {
    if (ex.nquads) memcpy(ex.verts + 3 * ex.ndual, ex.centres, 3 * ex.nquads * sizeof(double));
    for (size_t t = 0; t < ex.ntris; t++) ex.tris[3 * t + 2] += (int32_t) ex.ndual;
  }
  s->nverts   = (int32_t) (ex.ndual + (opt->training ? ex.nquads : 0));
  s->ntris    = (int32_t) ex.ntris;
  s->ndual    = (int32_t) ex.ndual;
  s->nquads   = (int32_t) ex.nquads;
  s->training = opt->training;
  /* hand the arrays over (NULL when empty) */
  s->verts = s->nverts ? ex.verts : NULL;
  s->dual  = s->ndual ? ex.dual : NULL;
  s->tris  = s->ntris ? ex.tris : NULL;
  s->quads = s->nquads ? ex.quads : NULL;
  if (s->verts) ex.verts = NULL;
  if (s->dual) ex.dual = NULL;
  if (s->tris) ex.tris = NULL;
  if (s->quads) ex.quads = NULL;
  extractor_free(&ex);
  *surface = s;
  return MESH_SUCCESS;
}

mesh_err mesh_surface_destroy(mesh_surface **surface)
{
  if (!surface || !*surface) return MESH_SUCCESS;
  free((*surface)->verts);
  free((*surface)->tris);
  free((*surface)->dual);
  free((*surface)->quads);
  free(*surface);
  *surface = NULL;
  return MESH_SUCCESS;
}
