/* Tetrahedral mesh of the inside region of a FlexiCubes surface (paper
   section 4.5), built from grid indices so that no step depends on the order
   of a sort (the reference implementations sort the 4 cubes around each
   edge with an unstable sort, which leaves zero-volume and overlapping tets).

   The grid is the swept grid of the extraction (padded by one layer in close
   mode). Every grid edge with an inside end is one of:
   - crossed (one end inside): its quad and the inside end p make a pyramid,
     cut into tets (p, t0, t1, t2) by the quad's surface triangles;
   - inside (both ends e0, e1 inside): a ring of tets (w_j, w_j+1, e0, e1)
     around it, where the 4 cubes are visited counter-clockwise about the
     edge and each cube contributes the vertex of the face it shares with
     the previous cube, then that of the face it shares with the next one
     (one vertex when they are the same). The vertex of (cube, face) is the
     cube's centre for a fully inside cube, else the dual vertex of the
     patch that owns the face's crossed edges (or, for a face with no
     crossed edge, the patch of a crossed edge leaving one of its corners).
   Every cube's vertex lies in that cube, so a tet whose two ring vertices
   come from neighbouring cubes has a positive volume; one between two
   patches of the same cube is positive when their dual vertices sit in the
   order of their faces about the edge (docs/mesh.md says when not).
   Neighbouring constructions share the faces (w, w', p): both sides of a
   cube face use the same (cube, face) vertices.

   One more piece: where the ambiguity resolution flipped a pair of cubes,
   the inside connects across their shared face between the two inside
   corners p, p' on its diagonal, and the patches on either side of the
   face differ; a ring of 4 tets around the diagonal p p' fills it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/meshimpl.h>

typedef struct {
  const mesh_grid        *grid;
  const double           *field;
  mesh_flexicubes_options opt;
  const mesh_dmc_table   *table;
  const mesh_surface     *surface;
  int                     pad;
  int                     NX, NY, NZ; /* cubes of the swept grid */
  size_t                  W, WH;      /* vertices per row and per layer of the swept grid */
  int32_t                *vidx;       /* per swept vertex: its tet vertex, or -1 when outside */
  int32_t                *cube;       /* per swept cube: first dual vertex (>= 0), -1 (outside), or -2 - centre vertex */
  uint8_t                *tcase;      /* per surface cube: the table row used */
  int8_t                  face_group[256][6];
  int8_t                  edge_of[8][8];
  mesh_tet_arrays         m;    /* the vertices and tets being built */
  int32_t                *tris; /* the boundary triangles: the surface's, some quads split the other way */
  int32_t                 nresplit;
  int32_t                 ncentres, nflips, nsteiner;
} tet_builder;

static void builder_free(tet_builder *b)
{
  free(b->vidx);
  free(b->cube);
  free(b->tcase);
  free(b->m.verts);
  free(b->m.tets);
  free(b->tris);
  memset(b, 0, sizeof(*b));
}

/* The patch of each (table row, face) that the tets of that face use: the
   group of the face's first crossed edge, else of the first crossed edge
   leaving one of the face's corners; -1 when the cube has no crossed edge. */
static void make_face_groups(tet_builder *b)
{
  memset(b->edge_of, -1, sizeof(b->edge_of));
  for (int e = 0; e < 12; e++) {
    const int u = mesh_cube_edge_corners[e][0], v = mesh_cube_edge_corners[e][1];
    b->edge_of[u][v] = b->edge_of[v][u] = (int8_t) e;
  }
  for (int tc = 0; tc < 256; tc++)
    for (int f = 0; f < 6; f++) {
      const mesh_dmc_case *dc = &b->table->cases[tc];
      const int8_t        *fc = b->table->face_corners[f];
      int                  g  = -1;
      for (int i = 0; i < 4 && g < 0; i++) g = dc->edge_group[b->edge_of[fc[i]][fc[(i + 1) % 4]]];
      for (int i = 0; i < 4 && g < 0; i++) g = dc->edge_group[b->edge_of[fc[i]][fc[i] ^ (1 << (f / 2))]];
      b->face_group[tc][f] = (int8_t) g;
    }
}

static size_t vertex_at(const tet_builder *b, int I, int J, int K)
{
  return ((size_t) K * (size_t) (b->NY + 1) + (size_t) J) * b->W + (size_t) I;
}

static size_t cube_at(const tet_builder *b, int I, int J, int K)
{
  return ((size_t) K * (size_t) b->NY + (size_t) J) * (size_t) b->NX + (size_t) I;
}

/* Position of real grid vertex (i, j, k), deformation included. */
static mesh_err grid_position(const tet_builder *b, int i, int j, int k, double x[3])
{
  const mesh_grid *g      = b->grid;
  const int        idx[3] = { i, j, k };

  for (int a = 0; a < 3; a++) x[a] = g->origin[a] + g->spacing[a] * (double) idx[a];
  if (b->opt.deform) {
    const double *d = b->opt.deform + 3 * (((size_t) k * (size_t) (g->dims[1] + 1) + (size_t) j) * (size_t) (g->dims[0] + 1) + (size_t) i);
    for (int a = 0; a < 3; a++) {
      MESH_CHECK(isfinite(d[a]), MESH_ERR_ARG, "mesh_tets_build: deformation of vertex (%d, %d, %d) is %g", i, j, k, d[a]);
      x[a] += d[a];
    }
  }
  return MESH_SUCCESS;
}

static mesh_err add_vertex(tet_builder *b, const double x[3], int32_t *index)
{
  return mesh_tet_arrays_add_vertex(&b->m, x, index);
}

static mesh_err add_tet(tet_builder *b, int32_t v0, int32_t v1, int32_t v2, int32_t v3)
{
  return mesh_tet_arrays_add_tet(&b->m, v0, v1, v2, v3);
}

/* The inside grid vertices (a closed surface keeps them off the boundary of
   the unpadded grid). */
static mesh_err index_grid_vertices(tet_builder *b)
{
  const mesh_grid *g = b->grid;

  for (int K = 0; K <= b->NZ; K++)
    for (int J = 0; J <= b->NY; J++)
      for (int I = 0; I <= b->NX; I++) {
        const int i = I - b->pad, j = J - b->pad, k = K - b->pad;
        int32_t  *v = b->vidx + vertex_at(b, I, J, K);
        double    x[3], s;
        *v = -1;
        if (i < 0 || j < 0 || k < 0 || i > g->dims[0] || j > g->dims[1] || k > g->dims[2]) continue;
        s = b->field[((size_t) k * (size_t) (g->dims[1] + 1) + (size_t) j) * (size_t) (g->dims[0] + 1) + (size_t) i];
        MESH_CHECK(isfinite(s), MESH_ERR_ARG, "mesh_tets_build: field at vertex (%d, %d, %d) is %g (must be finite)", i, j, k, s);
        if (!(s < b->opt.iso)) continue;
        MESH_CHECK(b->pad || (i > 0 && j > 0 && k > 0 && i < g->dims[0] && j < g->dims[1] && k < g->dims[2]), MESH_ERR_ARG,
                   "mesh_tets_build: inside vertex (%d, %d, %d) lies on the grid boundary, so the surface is open there; use close", i, j, k);
        MESH_CALL(grid_position(b, i, j, k, x));
        MESH_CALL(add_vertex(b, x, v));
      }
  return MESH_SUCCESS;
}

/* Per cube: the first dual vertex and table row (surface cubes, from the
   surface's provenance), or the centre (fully inside cubes). */
static mesh_err index_cubes(tet_builder *b)
{
  const mesh_surface *s      = b->surface;
  const size_t        ncubes = (size_t) b->NX * (size_t) b->NY * (size_t) b->NZ;

  for (size_t c = 0; c < ncubes; c++) b->cube[c] = -1;
  for (int32_t v = 0; v < s->ndual; v++) {
    const mesh_dual_vertex *d = s->dual + v;
    const int               I = d->cube[0] + b->pad, J = d->cube[1] + b->pad, K = d->cube[2] + b->pad;
    MESH_CHECK(I >= 0 && J >= 0 && K >= 0 && I < b->NX && J < b->NY && K < b->NZ && d->group < b->table->cases[d->table_case].ngroups, MESH_ERR_ARG,
               "mesh_tets_build: dual vertex %d (cube %d, %d, %d) does not fit the grid (surface from other options?)", v, d->cube[0], d->cube[1], d->cube[2]);
    if (d->group) continue;
    b->cube[cube_at(b, I, J, K)]  = v;
    b->tcase[cube_at(b, I, J, K)] = d->table_case;
  }
  for (int K = 0; K < b->NZ; K++)
    for (int J = 0; J < b->NY; J++)
      for (int I = 0; I < b->NX; I++) {
        const size_t c  = cube_at(b, I, J, K);
        int          id = 0;
        for (int k = 0; k < 8; k++) id |= (b->vidx[vertex_at(b, I + (k & 1), J + (k >> 1 & 1), K + (k >> 2 & 1))] >= 0) << k;
        if (id == 0 || id == 255) {
          MESH_CHECK(b->cube[c] < 0, MESH_ERR_ARG, "mesh_tets_build: cube (%d, %d, %d) has dual vertices but no crossed edge (surface from another field?)", I - b->pad, J - b->pad, K - b->pad);
        } else
          MESH_CHECK(b->cube[c] >= 0 && (b->tcase[c] == id || b->tcase[c] == 255 - id), MESH_ERR_ARG, "mesh_tets_build: cube (%d, %d, %d) has case %d but the surface has %s (surface from another field or iso?)", I - b->pad,
                     J - b->pad, K - b->pad, id, b->cube[c] >= 0 ? "another case" : "no dual vertex there");
        if (id == 255) {
          double  x[3] = { 0, 0, 0 }, y[3];
          int32_t ci;
          for (int k = 0; k < 8; k++) {
            MESH_CALL(grid_position(b, I - b->pad + (k & 1), J - b->pad + (k >> 1 & 1), K - b->pad + (k >> 2 & 1), y));
            for (int a = 0; a < 3; a++) x[a] += 0.125 * y[a];
          }
          MESH_CALL(add_vertex(b, x, &ci));
          b->cube[c] = -2 - ci;
          b->ncentres++;
        }
      }
  return MESH_SUCCESS;
}

/* Non-zero when the tets (p, t) of both triangles t of a quad split are positive. */
static int split_positive(const double *x, int32_t p, const int32_t tri[6])
{
  const int32_t t0[4] = { p, tri[0], tri[1], tri[2] }, t1[4] = { p, tri[3], tri[4], tri[5] };
  return mesh_tet_volume(x, t0) > 0 && mesh_tet_volume(x, t1) > 0;
}

/* A training-mode quad d0..d3 with centre c and its inside end p bound an
   octahedron: faces (p, d_r, d_r+1) shared with the neighbours, and the
   surface triangles T_r = (d_r, d_r+1, c). Its tets, the first that are all
   positive:
   - the fan (p, T_r): positive iff c, seen from p, lies in the kernel of
     the quad (not so when c sits near the midpoint of a diagonal that would
     invert a tet of the inference split);
   - the 4 tets around a diagonal d_i d_i+2: (p, d_i, d_i+1, d_i+2),
     (p, d_i+2, d_i+3, d_i) and the caps (d_i+2, T_i), (d_i, T_i+2);
   - else the fan. On every tested field that case has an edge p d_r
     through the surface (docs/mesh.md), so no tets with these faces can all
     be positive; a Steiner point cannot help either (the octahedron's
     kernel is then empty).
   None changes a face shared with a neighbour or a surface triangle. */
static void octahedron_tets(const double *x, int32_t p, const int32_t d[4], int32_t c, int32_t tet[4][4])
{
  for (int r = 0; r < 4; r++) {
    const int32_t t[4] = { p, d[r], d[(r + 1) % 4], c };
    memcpy(tet[r], t, sizeof(t));
  }
  if (mesh_min_tet_volume(x, (const int32_t(*)[4]) tet, 4) > 0) return;
  for (int i = 0; i < 2; i++) {
    const int32_t a = d[i], b = d[i + 1], e = d[i + 2], f = d[(i + 3) % 4];
    const int32_t t[4][4] = { { p, a, b, e }, { p, e, f, a }, { e, a, b, c }, { a, e, f, c } };
    if (mesh_min_tet_volume(x, t, 4) > 0) {
      memcpy(tet, t, sizeof(t));
      return;
    }
  }
}

/* Tets of the pyramid of each quad: (inside end, triangle). In inference
   mode a quad whose split would leave a tet of the pyramid inverted is split
   along its other diagonal when that makes both positive: the projection of
   the quad from its inside end is a simple polygon around the edge, so one
   of its diagonals always works when the dual vertices are inside their
   cubes. The boundary triangles are those of the surface but for these.
   In training mode see octahedron_tets. */
static mesh_err pyramid_tets(tet_builder *b)
{
  const mesh_surface *s   = b->surface;
  const int           tpq = s->training ? 4 : 2;

  MESH_CHECK((int64_t) s->ntris == (int64_t) tpq * s->nquads, MESH_ERR_ARG, "mesh_tets_build: %d triangles for %d quads", s->ntris, s->nquads);
  if (s->ntris) {
    b->tris = malloc(3 * (size_t) s->ntris * sizeof(int32_t));
    MESH_CHECK(b->tris, MESH_ERR_MEM, "mesh_tets_build: out of memory (%d triangles)", s->ntris);
    memcpy(b->tris, s->tris, 3 * (size_t) s->ntris * sizeof(int32_t));
  }
  for (int32_t q = 0; q < s->nquads; q++) {
    const mesh_quad *qd = s->quads + q;
    int              lo[3], hi[3];
    int32_t          p, *tri = b->tris + 3 * (size_t) tpq * (size_t) q;
    for (int a = 0; a < 3; a++) lo[a] = hi[a] = qd->vertex[a] + b->pad;
    hi[qd->axis]++;
    MESH_CHECK(lo[0] >= 0 && lo[1] >= 0 && lo[2] >= 0 && hi[0] <= b->NX && hi[1] <= b->NY && hi[2] <= b->NZ, MESH_ERR_ARG, "mesh_tets_build: quad %d is off the grid", q);
    p = b->vidx[vertex_at(b, lo[0], lo[1], lo[2])];
    if (p < 0) p = b->vidx[vertex_at(b, hi[0], hi[1], hi[2])];
    MESH_CHECK(p >= 0, MESH_ERR_ARG, "mesh_tets_build: the grid edge of quad %d has no inside end (surface from another field?)", q);
    if (s->training) {
      int32_t tet[4][4];
      octahedron_tets(b->m.verts, p, qd->dual, s->ndual + q, tet);
      for (int t = 0; t < 4; t++) MESH_CALL(add_tet(b, tet[t][0], tet[t][1], tet[t][2], tet[t][3]));
      continue;
    }
    if (!split_positive(b->m.verts, p, tri)) {
      const int32_t *d = qd->dual;
      /* the other diagonal (the surface's splits are as in flexicubes.c) */
      const int32_t  other[2][6] = { { d[0], d[1], d[3], d[1], d[2], d[3] }, { d[0], d[1], d[2], d[0], d[2], d[3] } };
      const int32_t *alt         = other[qd->split ? 1 : 0];
      if (split_positive(b->m.verts, p, alt)) {
        memcpy(tri, alt, sizeof(other[0]));
        b->nresplit++;
      }
    }
    for (int t = 0; t < tpq; t++) MESH_CALL(add_tet(b, p, tri[3 * t], tri[3 * t + 1], tri[3 * t + 2]));
  }
  return MESH_SUCCESS;
}

/* The tet vertex of cube c for its face f. */
static int32_t face_vertex(const tet_builder *b, size_t c, int f)
{
  const int32_t v = b->cube[c];
  if (v <= -2) return -2 - v;
  return v >= 0 && b->face_group[b->tcase[c]][f] >= 0 ? v + b->face_group[b->tcase[c]][f] : -1;
}

/* The ring of tets around the inside edge from swept vertex (I, J, K) along
   `axis`. Cubes at offsets (-1,-1) (0,-1) (0,0) (-1,0) along (axis+1,
   axis+2): counter-clockwise about +axis. Each contributes the vertex of
   its entry face, then of its exit face. */
static mesh_err edge_ring(tet_builder *b, int axis, int I, int J, int K, int32_t e0, int32_t e1)
{
  static const int ring_b[4] = { -1, 0, 0, -1 }, ring_c[4] = { -1, -1, 0, 0 };
  const int        bx = (axis + 1) % 3, cx = (axis + 2) % 3;
  const int        entry[4] = { 2 * cx + 1, 2 * bx, 2 * cx, 2 * bx + 1 }, exit_[4] = { 2 * bx + 1, 2 * cx + 1, 2 * bx, 2 * cx };
  int32_t          w[8];
  int              n = 0;

  for (int r = 0; r < 4; r++) {
    int off[3]       = { 0, 0, 0 };
    off[bx]          = ring_b[r];
    off[cx]          = ring_c[r];
    const size_t  c  = cube_at(b, I + off[0], J + off[1], K + off[2]);
    const int32_t in = face_vertex(b, c, entry[r]), out = face_vertex(b, c, exit_[r]);
    MESH_CHECK(in >= 0 && out >= 0, MESH_ERR_BUG, "mesh_tets_build: cube (%d, %d, %d) has no vertex for a face with an inside edge", I + off[0] - b->pad, J + off[1] - b->pad, K + off[2] - b->pad);
    if (!n || w[n - 1] != in) w[n++] = in;
    if (w[n - 1] != out) w[n++] = out;
  }
  if (n > 1 && w[n - 1] == w[0]) n--;
  MESH_CHECK(n >= 3, MESH_ERR_BUG, "mesh_tets_build: the ring around an edge at (%d, %d, %d) has %d vertices", I - b->pad, J - b->pad, K - b->pad, n);
  for (int j = 0; j < n; j++) MESH_CALL(add_tet(b, w[j], w[(j + 1) % n], e0, e1));
  return MESH_SUCCESS;
}

static mesh_err inside_edge_tets(tet_builder *b)
{
  for (int K = 0; K <= b->NZ; K++)
    for (int J = 0; J <= b->NY; J++)
      for (int I = 0; I <= b->NX; I++) {
        const int32_t e0 = b->vidx[vertex_at(b, I, J, K)];
        if (e0 < 0) continue;
        /* an inside vertex is never on the swept grid's boundary, so its 4 cubes exist */
        const int32_t ex = b->vidx[vertex_at(b, I + 1, J, K)], ey = b->vidx[vertex_at(b, I, J + 1, K)], ez = b->vidx[vertex_at(b, I, J, K + 1)];
        if (ex >= 0) MESH_CALL(edge_ring(b, 0, I, J, K, e0, ex));
        if (ey >= 0) MESH_CALL(edge_ring(b, 1, I, J, K, e0, ey));
        if (ez >= 0) MESH_CALL(edge_ring(b, 2, I, J, K, e0, ez));
      }
  return MESH_SUCCESS;
}

/* A pair of cubes flipped by the ambiguity resolution, r below s across
   r's face f (+axis side): the ring a_r, a_s, b_s, b_r around the face
   diagonal between its inside corners p, p', where a, b are the patches of
   the crossed edges at the face's outside corners q, q'. Orientation from
   lattice stand-ins (cube centre + corner)/2 for the dual vertices. */
static mesh_err flipped_face_ring(tet_builder *b, int I, int J, int K, int f)
{
  const int     axis = f / 2, bit = 1 << axis;
  const int     off[3] = { axis == 0, axis == 1, axis == 2 };
  const size_t  r = cube_at(b, I, J, K), s = cube_at(b, I + off[0], J + off[1], K + off[2]);
  const int8_t *fc = b->table->face_corners[f];
  int           p = -1, q = -1, pp = -1, qq = -1;
  int32_t       ring[4], P, PP;

  for (int i = 0; i < 4; i++) {
    const int c = fc[i];
    if (b->vidx[vertex_at(b, I + (c & 1), J + (c >> 1 & 1), K + (c >> 2 & 1))] >= 0) {
      if (p < 0)
        p = c;
      else
        pp = c;
    } else if (q < 0)
      q = c;
    else
      qq = c;
  }
  MESH_CHECK(p >= 0 && pp >= 0 && q >= 0 && qq >= 0 && (p ^ pp) == (q ^ qq), MESH_ERR_BUG, "mesh_tets_build: flipped face of cube (%d, %d, %d) is not ambiguous", I - b->pad, J - b->pad, K - b->pad);
  {
    const mesh_dmc_case *cr = &b->table->cases[b->tcase[r]], *cs = &b->table->cases[b->tcase[s]];
    const int            ar = cr->edge_group[b->edge_of[p][q]], br = cr->edge_group[b->edge_of[p][qq]];
    const int            as = cs->edge_group[b->edge_of[p ^ bit][q ^ bit]], bs = cs->edge_group[b->edge_of[p ^ bit][qq ^ bit]];
    MESH_CHECK(ar >= 0 && br >= 0 && as >= 0 && bs >= 0, MESH_ERR_BUG, "mesh_tets_build: flipped face of cube (%d, %d, %d) has an uncrossed edge", I - b->pad, J - b->pad, K - b->pad);
    ring[0] = b->cube[r] + ar;
    ring[1] = b->cube[s] + as;
    ring[2] = b->cube[s] + bs;
    ring[3] = b->cube[r] + br;
    /* a patch holding both segments would make this ring degenerate */
    if (ring[0] == ring[3] || ring[1] == ring[2]) return MESH_SUCCESS;
  }
  P  = b->vidx[vertex_at(b, I + (p & 1), J + (p >> 1 & 1), K + (p >> 2 & 1))];
  PP = b->vidx[vertex_at(b, I + (pp & 1), J + (pp >> 1 & 1), K + (pp >> 2 & 1))];
  {
    /* doubled lattice coordinates in cube r's frame: corner c at 2*(c bits), centres of r and s at 1 (and 3 along axis) */
    double x0[3], x1[3], d[3], u[3], v[3];
    for (int a = 0; a < 3; a++) {
      const double cr = 1.0, cs = a == axis ? 3.0 : 1.0, qa = 2.0 * ((q >> a) & 1), pa = 2.0 * ((p >> a) & 1), ppa = 2.0 * ((pp >> a) & 1);
      x0[a] = 0.5 * (cr + qa);
      x1[a] = 0.5 * (cs + qa);
      u[a]  = x0[a] - pa;
      v[a]  = x1[a] - pa;
      d[a]  = ppa - pa;
    }
    if (u[0] * (v[1] * d[2] - v[2] * d[1]) - u[1] * (v[0] * d[2] - v[2] * d[0]) + u[2] * (v[0] * d[1] - v[1] * d[0]) < 0) {
      int32_t t = P;
      P         = PP;
      PP        = t;
    }
  }
  for (int j = 0; j < 4; j++) MESH_CALL(add_tet(b, ring[j], ring[(j + 1) % 4], P, PP));
  return MESH_SUCCESS;
}

static mesh_err flipped_face_tets(tet_builder *b)
{
  for (int K = 0; K < b->NZ; K++)
    for (int J = 0; J < b->NY; J++)
      for (int I = 0; I < b->NX; I++) {
        const size_t c  = cube_at(b, I, J, K);
        int          id = 0, f;
        if (b->cube[c] < 0) continue;
        for (int k = 0; k < 8; k++) id |= (b->vidx[vertex_at(b, I + (k & 1), J + (k >> 1 & 1), K + (k >> 2 & 1))] >= 0) << k;
        if (b->tcase[c] == id) continue;
        f = b->table->cases[id].ambiguous_face;
        MESH_CHECK(f >= 0, MESH_ERR_BUG, "mesh_tets_build: cube (%d, %d, %d) is flipped but has no ambiguous face", I - b->pad, J - b->pad, K - b->pad);
        if (f % 2 == 1) MESH_CALL(flipped_face_ring(b, I, J, K, f));
      }
  return MESH_SUCCESS;
}

static mesh_err build(tet_builder *b)
{
  const size_t        nv = b->WH * (size_t) (b->NZ + 1), nc = (size_t) b->NX * (size_t) b->NY * (size_t) b->NZ;
  const mesh_surface *s = b->surface;

  b->vidx  = malloc(nv * sizeof(int32_t));
  b->cube  = malloc(nc * sizeof(int32_t));
  b->tcase = calloc(nc, 1);
  MESH_CHECK(b->vidx && b->cube && b->tcase, MESH_ERR_MEM, "mesh_tets_build: out of memory (%zu vertices, %zu cubes)", nv, nc);
  if (s->nverts) {
    MESH_RESERVE(b->m.verts, b->m.cverts, 3 * (size_t) s->nverts);
    memcpy(b->m.verts, s->verts, 3 * (size_t) s->nverts * sizeof(double));
    b->m.nverts = (size_t) s->nverts;
  }
  MESH_CALL(index_grid_vertices(b));
  {
    /* about 12 tets per inside grid vertex (3 edges, rings of 4) plus the
       pyramids: reserving once saves the copies of geometric growth */
    const size_t ngrid = b->m.nverts - (size_t) s->nverts, guess = 12 * ngrid + (size_t) s->ntris + 64;
    if (guess <= INT32_MAX) MESH_RESERVE(b->m.tets, b->m.ctets, 4 * guess);
  }
  MESH_CALL(index_cubes(b));
  MESH_CALL(pyramid_tets(b));
  MESH_CALL(inside_edge_tets(b));
  MESH_CALL(flipped_face_tets(b));
  MESH_CALL(mesh_tets_repair(&b->m, &b->nflips, &b->nsteiner));
  return MESH_SUCCESS;
}

mesh_err mesh_tets_build(const mesh_grid *grid, const double *field, const mesh_flexicubes_options *opt, const mesh_surface *surface, mesh_tets **tets)
{
  mesh_flexicubes_options defaults;
  tet_builder             b;
  mesh_tets              *t;
  mesh_err                err;

  MESH_CHECK(tets, MESH_ERR_ARG, "mesh_tets_build: NULL output");
  *tets = NULL;
  MESH_CHECK(grid && field && surface, MESH_ERR_ARG, "mesh_tets_build: NULL %s", !grid ? "grid" : !field ? "field"
                                                                                                         : "surface");
  if (!opt) {
    MESH_CALL(mesh_flexicubes_options_default(&defaults));
    opt = &defaults;
  }
  for (int a = 0; a < 3; a++) MESH_CHECK(grid->dims[a] >= 1 && grid->dims[a] <= INT32_MAX - 4, MESH_ERR_ARG, "mesh_tets_build: %d cubes along axis %d", grid->dims[a], a);
  MESH_CHECK((double) (grid->dims[0] + 3) * (double) (grid->dims[1] + 3) * (double) (grid->dims[2] + 3) < 9e15, MESH_ERR_ARG, "mesh_tets_build: grid too large");
  MESH_CHECK(isfinite(opt->iso), MESH_ERR_ARG, "mesh_tets_build: iso %g", opt->iso);
  MESH_CHECK(!opt->close || (isfinite(opt->close_value) && opt->close_value > 0), MESH_ERR_ARG,
             "mesh_tets_build: close_value %g: tets in close mode need a finite close_value > 0 (with +inf the caps lie flat on the boundary vertices)", opt->close_value);
  MESH_CHECK(surface->nverts >= surface->ndual && surface->ndual >= 0 && surface->nquads >= 0 && (surface->dual || !surface->ndual) && (surface->quads || !surface->nquads) && (surface->tris || !surface->ntris) &&
                 (surface->training == 0 || surface->training == 1) && surface->training == opt->training,
             MESH_ERR_ARG, "mesh_tets_build: the surface does not come from flexicubes_extract with these options");
  memset(&b, 0, sizeof(b));
  b.grid    = grid;
  b.field   = field;
  b.opt     = *opt;
  b.surface = surface;
  b.pad     = opt->close ? 1 : 0;
  b.NX      = grid->dims[0] + 2 * b.pad;
  b.NY      = grid->dims[1] + 2 * b.pad;
  b.NZ      = grid->dims[2] + 2 * b.pad;
  b.W       = (size_t) b.NX + 1;
  b.WH      = b.W * (size_t) (b.NY + 1);
  MESH_CALL(mesh_dmc_table_get(&b.table));
  make_face_groups(&b);
  err = build(&b);
  if (!err && !(t = calloc(1, sizeof(*t)))) err = mesh_error_set(MESH_ERR_MEM, "mesh_tets_build: out of memory");
  if (err) {
    builder_free(&b);
    return err;
  }
  t->nverts     = (int32_t) b.m.nverts;
  t->nsurface   = surface->nverts;
  t->ngrid      = 0;
  t->ntets      = (int32_t) b.m.ntets;
  t->min_volume = b.m.ntets ? INFINITY : 0;
  for (size_t i = 0; i < b.m.ntets; i++) {
    const double v = mesh_tet_volume(b.m.verts, b.m.tets + 4 * i);
    t->volume += v;
    t->nonpositive += v <= 0;
    if (v < t->min_volume) t->min_volume = v;
  }
  for (size_t v = 0; v < b.WH * (size_t) (b.NZ + 1); v++) t->ngrid += b.vidx[v] >= 0;
  t->ncentres = b.ncentres;
  t->verts    = b.m.verts;
  t->tets     = b.m.tets;
  t->ntris    = surface->ntris;
  t->tris     = b.tris;
  t->nresplit = b.nresplit;
  t->nflips   = b.nflips;
  t->nsteiner = b.nsteiner;
  b.m.verts   = NULL;
  b.m.tets    = NULL;
  b.tris      = NULL;
  builder_free(&b);
  *tets = t;
  return MESH_SUCCESS;
}

mesh_err mesh_tets_destroy(mesh_tets **tets)
{
  if (!tets || !*tets) return MESH_SUCCESS;
  free((*tets)->verts);
  free((*tets)->tets);
  free((*tets)->tris);
  free(*tets);
  *tets = NULL;
  return MESH_SUCCESS;
}

/* ---- the checker ------------------------------------------------------------- */

/* The smallest dihedral angle of a tet, in degrees: at edge (a, b) the angle
   between (b - a) x (c - a) and (b - a) x (d - a). */
static double min_dihedral_deg(const double *x, const int32_t *t)
{
  static const int edges[6][4] = { { 0, 1, 2, 3 }, { 0, 2, 1, 3 }, { 0, 3, 1, 2 }, { 1, 2, 0, 3 }, { 1, 3, 0, 2 }, { 2, 3, 0, 1 } };
  double           best        = 180.0;

  for (int e = 0; e < 6; e++) {
    const double *a = x + 3 * t[edges[e][0]], *b = x + 3 * t[edges[e][1]], *c = x + 3 * t[edges[e][2]], *d = x + 3 * t[edges[e][3]];
    const double  u[3] = { b[0] - a[0], b[1] - a[1], b[2] - a[2] }, v[3] = { c[0] - a[0], c[1] - a[1], c[2] - a[2] }, w[3] = { d[0] - a[0], d[1] - a[1], d[2] - a[2] };
    const double  n1[3] = { u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0] };
    const double  n2[3] = { u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0] };
    const double  dot = n1[0] * n2[0] + n1[1] * n2[1] + n1[2] * n2[2], cr = sqrt((n1[0] * n1[0] + n1[1] * n1[1] + n1[2] * n1[2]) * (n2[0] * n2[0] + n2[1] * n2[1] + n2[2] * n2[2]));
    const double  ang = cr > 0 ? acos(fmax(-1.0, fmin(1.0, dot / cr))) * (180.0 / 3.14159265358979323846) : 0.0;
    if (ang < best) best = ang;
  }
  return best;
}

typedef struct {
  int32_t v[3];   /* sorted */
  int8_t  parity; /* 0: the directed face is an even permutation of v, 1: odd */
  int8_t  tet;    /* 1: a tet face, 0: a surface triangle */
  int8_t  pad_[2];
} face_rec;

static int face_cmp(const void *pa, const void *pb)
{
  const face_rec *a = pa, *b = pb;
  for (int i = 0; i < 3; i++)
    if (a->v[i] != b->v[i]) return a->v[i] < b->v[i] ? -1 : 1;
  return 0;
}

static face_rec make_face(int32_t x, int32_t y, int32_t z, int tet)
{
  face_rec f;
  int      swaps = 0;
  int32_t  t;

  f.v[0] = x;
  f.v[1] = y;
  f.v[2] = z;
  /* sort the three, counting transpositions */
  if (f.v[0] > f.v[1]) t = f.v[0], f.v[0] = f.v[1], f.v[1] = t, swaps++;
  if (f.v[1] > f.v[2]) t = f.v[1], f.v[1] = f.v[2], f.v[2] = t, swaps++;
  if (f.v[0] > f.v[1]) t = f.v[0], f.v[0] = f.v[1], f.v[1] = t, swaps++;
  f.parity  = (int8_t) (swaps & 1);
  f.tet     = (int8_t) tet;
  f.pad_[0] = f.pad_[1] = 0;
  return f;
}

mesh_err mesh_tets_check(int32_t nverts, const double *verts, int32_t ntets, const int32_t *tets, int32_t ntris, const int32_t *tris, double vol_tol, mesh_tets_stats *st)
{
  face_rec *f;
  size_t    n = 0;

  MESH_CHECK(st, MESH_ERR_ARG, "mesh_tets_check: NULL stats");
  memset(st, 0, sizeof(*st));
  MESH_CHECK(nverts >= 0 && ntets >= 0 && ntris >= 0 && (verts || !nverts) && (tets || !ntets) && (tris || !ntris), MESH_ERR_ARG, "mesh_tets_check: bad sizes or NULL arrays");
  for (int64_t i = 0; i < 4 * (int64_t) ntets; i++) MESH_CHECK(tets[i] >= 0 && tets[i] < nverts, MESH_ERR_ARG, "mesh_tets_check: tet %lld has vertex %d (of %d)", (long long) (i / 4), tets[i], nverts);
  for (int64_t i = 0; i < 3 * (int64_t) ntris; i++) MESH_CHECK(tris[i] >= 0 && tris[i] < nverts, MESH_ERR_ARG, "mesh_tets_check: triangle %lld has vertex %d (of %d)", (long long) (i / 3), tris[i], nverts);
  f = malloc((4 * (size_t) ntets + (size_t) ntris + 1) * sizeof(*f));
  MESH_CHECK(f, MESH_ERR_MEM, "mesh_tets_check: out of memory (%d tets)", ntets);
  st->ntets            = ntets;
  st->min_volume       = ntets ? INFINITY : 0;
  st->min_dihedral_deg = ntets ? 180.0 : 0;
  for (int32_t i = 0; i < ntets; i++) {
    const int32_t *t = tets + 4 * (size_t) i;
    const double   v = mesh_tet_volume(verts, t);
    st->volume += v;
    st->nonpositive += v <= vol_tol;
    if (v < st->min_volume) st->min_volume = v;
    st->min_dihedral_deg = fmin(st->min_dihedral_deg, min_dihedral_deg(verts, t));
    if (t[0] == t[1] || t[0] == t[2] || t[0] == t[3] || t[1] == t[2] || t[1] == t[3] || t[2] == t[3]) {
      st->degenerate_tets++;
      continue;
    }
    /* the outward faces of a positive tet (a, b, c, d) */
    f[n++] = make_face(t[1], t[2], t[3], 1);
    f[n++] = make_face(t[0], t[3], t[2], 1);
    f[n++] = make_face(t[0], t[1], t[3], 1);
    f[n++] = make_face(t[0], t[2], t[1], 1);
  }
  for (int32_t i = 0; i < ntris; i++) f[n++] = make_face(tris[3 * (size_t) i], tris[3 * (size_t) i + 1], tris[3 * (size_t) i + 2], 0);
  qsort(f, n, sizeof(*f), face_cmp);
  for (size_t i = 0; i < n;) {
    size_t j    = i;
    int    ntet = 0, nsurf = 0, tpar[2] = { 0, 0 }, spar[2] = { 0, 0 };
    while (j < n && !face_cmp(f + i, f + j)) {
      if (f[j].tet) {
        ntet++;
        tpar[f[j].parity]++;
      } else {
        nsurf++;
        spar[f[j].parity]++;
      }
      j++;
    }
    if (ntet >= 3)
      st->nonmanifold_faces++;
    else if (ntet == 2) {
      if (tpar[0] == 1)
        st->interior_faces++;
      else
        st->misoriented_faces++;
      st->uncovered_triangles += nsurf;
    } else if (ntet == 1) {
      if (nsurf == 1 && spar[tpar[0] ? 0 : 1] == 1)
        st->boundary_faces++;
      else {
        st->unmatched_faces++;
        st->uncovered_triangles += nsurf;
      }
    } else
      st->uncovered_triangles += nsurf;
    i = j;
  }
  free(f);
  st->valid = !st->nonpositive && !st->nonmanifold_faces && !st->misoriented_faces && !st->unmatched_faces && !st->uncovered_triangles && !st->degenerate_tets;
  return MESH_SUCCESS;
}
