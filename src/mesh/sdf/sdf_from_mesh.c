/* Signed distance to a closed triangle mesh at the vertices of a grid, and a
   Wavefront OBJ reader (docs/mesh.md). Plain C11.

   Distance: exact point-triangle distance (Ericson, Real-Time Collision
   Detection, 5.1.5), nearest triangle found with a bounding-volume
   hierarchy (median split, branch and bound, warm-started with the previous
   vertex's nearest triangle). Sign: the generalised winding number (Jacobson
   et al. 2013), summed over the same hierarchy with the far-field dipole
   approximation of Barill et al. 2018 (a node whose bounding sphere is far
   from the point contributes its area-weighted normal as one dipole); inside
   is winding > 1/2, and the signed distance is negative there. */
#define _POSIX_C_SOURCE 200809L /* strtok_r */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/meshimpl.h>

/* ---- OBJ reader ---------------------------------------------------------------- */

/* Parses one face corner "a", "a/b", "a//c", "a/b/c": the vertex index. */
static int obj_parse_index(const char *tok, long nv_so_far, long *index)
{
  char *end;
  long  v;

  errno = 0;
  v     = strtol(tok, &end, 10);
  if (end == tok || errno || (*end && *end != '/') || v == 0) return 0;
  *index = v > 0 ? v - 1 : nv_so_far + v; /* -1 is the last vertex defined so far */
  return 1;
}

mesh_err mesh_read_obj(const char *path, int32_t *nverts_out, double **verts_out, int32_t *ntris_out, int32_t **tris_out)
{
  FILE    *f;
  char    *line = NULL;
  size_t   lcap = 0, vcap = 0, tcap = 0, lncap = 0;
  double  *verts = NULL;
  int32_t *tris  = NULL;
  long    *tline = NULL; /* line of each triangle, for range errors */
  long     nv = 0, nt = 0, lineno = 0;
  mesh_err err = MESH_SUCCESS;

  MESH_CHECK(path && nverts_out && verts_out && ntris_out && tris_out, MESH_ERR_ARG, "mesh_read_obj: bad argument");
  *nverts_out = *ntris_out = 0;
  *verts_out               = NULL;
  *tris_out                = NULL;
  f                        = fopen(path, "r");
  MESH_CHECK(f, MESH_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
#define OBJ_FAIL(code, ...)                    \
  do {                                         \
    err = mesh_error_set((code), __VA_ARGS__); \
    goto done;                                 \
  } while (0)
  for (;;) {
    size_t len = 0;
    int    c;
    char  *p, *save = NULL, *tok;

    /* read a whole line, any length */
    while ((c = fgetc(f)) != EOF && c != '\n') {
      if (len + 2 > lcap) {
        char *nl = realloc(line, lcap ? 2 * lcap : 256);
        if (!nl) OBJ_FAIL(MESH_ERR_MEM, "%s: out of memory", path);
        line = nl;
        lcap = lcap ? 2 * lcap : 256;
      }
      line[len++] = (char) c;
    }
    if (c == EOF && len == 0) break;
    lineno++;
    if (!line) continue;
    line[len] = 0;
    if (len && line[len - 1] == '\r') line[len - 1] = 0;
    p = line;
    while (isspace((unsigned char) *p)) p++;
    if (!*p || *p == '#') continue;
    tok = strtok_r(p, " \t", &save);
    if (!strcmp(tok, "v")) {
      double x[3];
      for (int d = 0; d < 3; d++) {
        char *e;
        tok = strtok_r(NULL, " \t", &save);
        if (!tok) OBJ_FAIL(MESH_ERR_IO, "%s:%ld: vertex needs 3 coordinates", path, lineno);
        x[d] = strtod(tok, &e);
        if (e == tok || *e || !isfinite(x[d])) OBJ_FAIL(MESH_ERR_IO, "%s:%ld: bad vertex coordinate '%s'", path, lineno, tok);
      }
      if (nv >= INT32_MAX) OBJ_FAIL(MESH_ERR_LIMIT, "%s:%ld: too many vertices", path, lineno);
      if ((size_t) (nv + 1) * 3 > vcap) {
        size_t  nc  = vcap ? 2 * vcap : 3 * 1024;
        double *nvb = realloc(verts, nc * sizeof(*verts));
        if (!nvb) OBJ_FAIL(MESH_ERR_MEM, "%s: out of memory", path);
        verts = nvb;
        vcap  = nc;
      }
      memcpy(verts + 3 * nv, x, sizeof(x));
      nv++;
    } else if (!strcmp(tok, "f")) {
      long first = -1, prev = -1, idx, n = 0;
      while ((tok = strtok_r(NULL, " \t", &save))) {
        if (!obj_parse_index(tok, nv, &idx)) OBJ_FAIL(MESH_ERR_IO, "%s:%ld: bad face index '%s'", path, lineno, tok);
        if (idx < 0) OBJ_FAIL(MESH_ERR_IO, "%s:%ld: face index '%s' is before the first vertex", path, lineno, tok);
        if (n == 0)
          first = idx;
        else if (n >= 2) {
          /* fan triangulation: (first, prev, idx) */
          if (nt >= INT32_MAX) OBJ_FAIL(MESH_ERR_LIMIT, "%s:%ld: too many triangles", path, lineno);
          if ((size_t) (nt + 1) * 3 > tcap) {
            size_t   nc  = tcap ? 2 * tcap : 3 * 1024;
            int32_t *ntb = realloc(tris, nc * sizeof(*tris));
            if (!ntb) OBJ_FAIL(MESH_ERR_MEM, "%s: out of memory", path);
            tris = ntb;
            tcap = nc;
          }
          if ((size_t) (nt + 1) > lncap) {
            size_t nc  = lncap ? 2 * lncap : 1024;
            long  *nlb = realloc(tline, nc * sizeof(*tline));
            if (!nlb) OBJ_FAIL(MESH_ERR_MEM, "%s: out of memory", path);
            tline = nlb;
            lncap = nc;
          }
          tris[3 * nt]     = (int32_t) first;
          tris[3 * nt + 1] = (int32_t) prev;
          tris[3 * nt + 2] = (int32_t) (idx > INT32_MAX ? INT32_MAX : idx);
          tline[nt++]      = lineno;
        }
        if (idx > INT32_MAX) OBJ_FAIL(MESH_ERR_IO, "%s:%ld: face index '%s' out of range", path, lineno, tok);
        prev = idx;
        n++;
      }
      if (n < 3) OBJ_FAIL(MESH_ERR_IO, "%s:%ld: face needs at least 3 vertices", path, lineno);
    }
    /* vt, vn, o, g, s, usemtl, mtllib, l, ...: ignored */
  }
  if (ferror(f)) OBJ_FAIL(MESH_ERR_IO, "%s: read error", path);
  for (long t = 0; t < nt; t++)
    for (int c = 0; c < 3; c++)
      if (tris[3 * t + c] >= nv) OBJ_FAIL(MESH_ERR_IO, "%s:%ld: face index %ld but only %ld vertices", path, tline[t], (long) tris[3 * t + c] + 1, nv);
  if (nt == 0) OBJ_FAIL(MESH_ERR_IO, "%s: no faces", path);
  *nverts_out = (int32_t) nv;
  *ntris_out  = (int32_t) nt;
  *verts_out  = verts;
  *tris_out   = tris;
  verts       = NULL;
  tris        = NULL;
done:
#undef OBJ_FAIL
  fclose(f);
  free(line);
  free(tline);
  free(verts);
  free(tris);
  return err;
}

/* ---- geometry ------------------------------------------------------------------- */

static inline double dot3(const double a[3], const double b[3])
{
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
static inline void sub3(const double a[3], const double b[3], double r[3])
{
  r[0] = a[0] - b[0];
  r[1] = a[1] - b[1];
  r[2] = a[2] - b[2];
}
static inline void cross3(const double a[3], const double b[3], double r[3])
{
  r[0] = a[1] * b[2] - a[2] * b[1];
  r[1] = a[2] * b[0] - a[0] * b[2];
  r[2] = a[0] * b[1] - a[1] * b[0];
}

/* Squared distance from p to triangle abc (Ericson 5.1.5). */
static double point_triangle_dist2(const double p[3], const double a[3], const double b[3], const double c[3])
{
  double ab[3], ac[3], ap[3], bp[3], cp[3], q[3], d[3];
  double d1, d2, d3, d4, d5, d6, va, vb, vc, v, w, denom;

  sub3(b, a, ab);
  sub3(c, a, ac);
  sub3(p, a, ap);
  d1 = dot3(ab, ap);
  d2 = dot3(ac, ap);
  if (d1 <= 0 && d2 <= 0) return dot3(ap, ap);
  sub3(p, b, bp);
  d3 = dot3(ab, bp);
  d4 = dot3(ac, bp);
  if (d3 >= 0 && d4 <= d3) return dot3(bp, bp);
  vc = d1 * d4 - d3 * d2;
  if (vc <= 0 && d1 >= 0 && d3 <= 0) {
    v = d1 / (d1 - d3);
    for (int k = 0; k < 3; k++) q[k] = a[k] + v * ab[k];
    sub3(p, q, d);
    return dot3(d, d);
  }
  sub3(p, c, cp);
  d5 = dot3(ab, cp);
  d6 = dot3(ac, cp);
  if (d6 >= 0 && d5 <= d6) return dot3(cp, cp);
  vb = d5 * d2 - d1 * d6;
  if (vb <= 0 && d2 >= 0 && d6 <= 0) {
    w = d2 / (d2 - d6);
    for (int k = 0; k < 3; k++) q[k] = a[k] + w * ac[k];
    sub3(p, q, d);
    return dot3(d, d);
  }
  va = d3 * d6 - d5 * d4;
  if (va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0) {
    w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
    for (int k = 0; k < 3; k++) q[k] = b[k] + w * (c[k] - b[k]);
    sub3(p, q, d);
    return dot3(d, d);
  }
  denom = 1.0 / (va + vb + vc);
  v     = vb * denom;
  w     = vc * denom;
  for (int k = 0; k < 3; k++) q[k] = a[k] + ab[k] * v + ac[k] * w;
  sub3(p, q, d);
  return dot3(d, d);
}

/* Solid angle of triangle abc seen from p (Van Oosterom and Strackee). */
static double solid_angle(const double p[3], const double a[3], const double b[3], const double c[3])
{
  double x[3], y[3], z[3], yz[3], lx, ly, lz, num, den;

  sub3(a, p, x);
  sub3(b, p, y);
  sub3(c, p, z);
  lx = sqrt(dot3(x, x));
  ly = sqrt(dot3(y, y));
  lz = sqrt(dot3(z, z));
  cross3(y, z, yz);
  num = dot3(x, yz);
  den = lx * ly * lz + dot3(x, y) * lz + dot3(x, z) * ly + dot3(y, z) * lx;
  return 2.0 * atan2(num, den);
}

/* ---- bounding-volume hierarchy -------------------------------------------------- */

#define BVH_LEAF 4

typedef struct {
  double  lo[3], hi[3];
  double  centre[3], radius; /* area-weighted centroid; radius of a sphere about it holding the node */
  double  normal[3];         /* sum of the area vectors (area times unit normal) */
  int32_t left, right;       /* children, or -1 for a leaf */
  int32_t first, count;      /* leaf: triangles order[first .. first+count) */
} bvh_node;

typedef struct {
  const double  *verts;
  const int32_t *tris;
  int32_t       *order;
  double        *cent; /* triangle centroids */
  bvh_node      *nodes;
  int32_t        nnodes;
} bvh;

static int32_t bvh_build_rec(bvh *b, int32_t first, int32_t count)
{
  int32_t   id   = b->nnodes++;
  bvh_node *n    = &b->nodes[id];
  double    area = 0, r2 = 0;

  for (int k = 0; k < 3; k++) {
    n->lo[k]     = INFINITY;
    n->hi[k]     = -INFINITY;
    n->centre[k] = n->normal[k] = 0;
  }
  for (int32_t i = first; i < first + count; i++) {
    const int32_t *t = b->tris + 3 * b->order[i];
    const double  *a = b->verts + 3 * t[0], *bb = b->verts + 3 * t[1], *c = b->verts + 3 * t[2];
    double         e1[3], e2[3], nv[3], A;

    for (int v = 0; v < 3; v++)
      for (int k = 0; k < 3; k++) {
        double x = b->verts[3 * t[v] + k];
        if (x < n->lo[k]) n->lo[k] = x;
        if (x > n->hi[k]) n->hi[k] = x;
      }
    sub3(bb, a, e1);
    sub3(c, a, e2);
    cross3(e1, e2, nv);
    A = 0.5 * sqrt(dot3(nv, nv));
    for (int k = 0; k < 3; k++) {
      n->normal[k] += 0.5 * nv[k];
      n->centre[k] += A * b->cent[3 * b->order[i] + k];
    }
    area += A;
  }
  for (int k = 0; k < 3; k++) n->centre[k] = area > 0 ? n->centre[k] / area : 0.5 * (n->lo[k] + n->hi[k]);
  for (int cc = 0; cc < 8; cc++) {
    double q[3], d2 = 0;
    for (int k = 0; k < 3; k++) {
      q[k] = ((cc >> k) & 1) ? n->hi[k] : n->lo[k];
      d2 += (q[k] - n->centre[k]) * (q[k] - n->centre[k]);
    }
    if (d2 > r2) r2 = d2;
  }
  n->radius = sqrt(r2);
  n->first  = first;
  n->count  = count;
  n->left = n->right = -1;
  if (count > BVH_LEAF) {
    /* split at the median of the centroids along the longest axis (quickselect) */
    int     axis = 0;
    int32_t lo = first, hi = first + count - 1, mid = first + count / 2;
    for (int k = 1; k < 3; k++)
      if (n->hi[k] - n->lo[k] > n->hi[axis] - n->lo[axis]) axis = k;
    while (lo < hi) {
      double  pivot = b->cent[3 * b->order[(lo + hi) / 2] + axis];
      int32_t i = lo, j = hi;
      while (i <= j) {
        while (b->cent[3 * b->order[i] + axis] < pivot) i++;
        while (b->cent[3 * b->order[j] + axis] > pivot) j--;
        if (i <= j) {
          int32_t t     = b->order[i];
          b->order[i++] = b->order[j];
          b->order[j--] = t;
        }
      }
      if (mid <= j)
        hi = j;
      else if (mid >= i)
        lo = i;
      else
        break;
    }
    {
      int32_t l          = bvh_build_rec(b, first, mid - first);
      int32_t r          = bvh_build_rec(b, mid, first + count - mid);
      b->nodes[id].left  = l;
      b->nodes[id].right = r;
    }
  }
  return id;
}

static double box_dist2(const bvh_node *n, const double p[3])
{
  double d2 = 0;
  for (int k = 0; k < 3; k++) {
    double d = p[k] < n->lo[k] ? n->lo[k] - p[k] : (p[k] > n->hi[k] ? p[k] - n->hi[k] : 0);
    d2 += d * d;
  }
  return d2;
}

static double tri_dist2(const bvh *b, int32_t t, const double p[3])
{
  const int32_t *v = b->tris + 3 * t;
  return point_triangle_dist2(p, b->verts + 3 * v[0], b->verts + 3 * v[1], b->verts + 3 * v[2]);
}

/* Nearest triangle: squared distance; *best_tri in/out (a warm start, or -1). */
static double bvh_nearest(const bvh *b, const double p[3], int32_t *best_tri, int32_t *stack)
{
  double  best = INFINITY;
  int32_t sp   = 0;

  if (*best_tri >= 0) best = tri_dist2(b, *best_tri, p);
  stack[sp++] = 0;
  while (sp) {
    const bvh_node *n = &b->nodes[stack[--sp]];
    if (box_dist2(n, p) >= best) continue;
    if (n->left < 0) {
      for (int32_t i = n->first; i < n->first + n->count; i++) {
        double d2 = tri_dist2(b, b->order[i], p);
        if (d2 < best) {
          best      = d2;
          *best_tri = b->order[i];
        }
      }
    } else {
      double dl = box_dist2(&b->nodes[n->left], p), dr = box_dist2(&b->nodes[n->right], p);
      /* push the farther first so the nearer is searched first */
      if (dl < dr) {
        if (dr < best) stack[sp++] = n->right;
        if (dl < best) stack[sp++] = n->left;
      } else {
        if (dl < best) stack[sp++] = n->left;
        if (dr < best) stack[sp++] = n->right;
      }
    }
  }
  return best;
}

/* Generalised winding number at p: exact near p, dipole far away (beta = 2). */
static double bvh_winding(const bvh *b, const double p[3], int32_t *stack)
{
  const double beta = 2.0;
  double       w    = 0;
  int32_t      sp   = 0;

  stack[sp++] = 0;
  while (sp) {
    const bvh_node *n = &b->nodes[stack[--sp]];
    double          r[3], d2;

    sub3(n->centre, p, r);
    d2 = dot3(r, r);
    if (d2 > beta * beta * n->radius * n->radius) {
      w += dot3(n->normal, r) / (d2 * sqrt(d2));
    } else if (n->left < 0) {
      for (int32_t i = n->first; i < n->first + n->count; i++) {
        const int32_t *v = b->tris + 3 * b->order[i];
        w += solid_angle(p, b->verts + 3 * v[0], b->verts + 3 * v[1], b->verts + 3 * v[2]);
      }
    } else {
      stack[sp++] = n->left;
      stack[sp++] = n->right;
    }
  }
  return w / (4 * 3.14159265358979323846);
}

#define SDF_MAX_COORD 1e100

mesh_err sdf_from_mesh(const mesh_grid *grid, int32_t nverts, const double *verts, int32_t ntris, const int32_t *tris, double *sdf)
{
  bvh      b     = { 0 };
  int32_t *stack = NULL, depth_cap;
  int64_t  nx, ny, nz;
  int32_t  warm = -1;
  mesh_err err  = MESH_SUCCESS;

  MESH_CHECK(grid && verts && tris && sdf && nverts > 0 && ntris > 0, MESH_ERR_ARG, "sdf_from_mesh: bad argument");
  for (int k = 0; k < 3; k++)
    MESH_CHECK(grid->dims[k] >= 1 && grid->spacing[k] > 0, MESH_ERR_ARG, "sdf_from_mesh: bad grid");
  for (int64_t i = 0; i < 3 * (int64_t) ntris; i++)
    MESH_CHECK(tris[i] >= 0 && tris[i] < nverts, MESH_ERR_ARG, "sdf_from_mesh: triangle %lld has vertex index %d out of range", (long long) (i / 3), tris[i]);
  for (int64_t i = 0; i < 3 * (int64_t) nverts; i++) MESH_CHECK(isfinite(verts[i]), MESH_ERR_ARG, "sdf_from_mesh: vertex %lld is not finite", (long long) (i / 3));
  /* the winding number multiplies three distances: beyond SDF_MAX_COORD they overflow to Inf */
  for (int64_t i = 0; i < 3 * (int64_t) nverts; i++)
    MESH_CHECK(fabs(verts[i]) <= SDF_MAX_COORD, MESH_ERR_ARG, "sdf_from_mesh: vertex %lld has the coordinate %g, beyond %g (distances and winding numbers would overflow); scale the mesh into the domain", (long long) (i / 3) + 1, verts[i], SDF_MAX_COORD);
  nx = grid->dims[0];
  ny = grid->dims[1];
  nz = grid->dims[2];

  b.verts   = verts;
  b.tris    = tris;
  b.order   = malloc((size_t) ntris * sizeof(*b.order));
  b.cent    = malloc((size_t) ntris * 3 * sizeof(*b.cent));
  b.nodes   = malloc((size_t) 2 * ntris * sizeof(*b.nodes));
  depth_cap = 2 * ntris + 64; /* the stack can never hold more than the nodes */
  stack     = malloc((size_t) depth_cap * sizeof(*stack));
  if (!b.order || !b.cent || !b.nodes || !stack) {
    err = mesh_error_set(MESH_ERR_MEM, "sdf_from_mesh: out of memory (%d triangles)", ntris);
    goto done;
  }
  for (int32_t t = 0; t < ntris; t++) {
    b.order[t] = t;
    for (int k = 0; k < 3; k++) b.cent[3 * t + k] = (verts[3 * tris[3 * t] + k] + verts[3 * tris[3 * t + 1] + k] + verts[3 * tris[3 * t + 2] + k]) / 3.0;
  }
  bvh_build_rec(&b, 0, ntris);

  for (int64_t k = 0; k <= nz; k++)
    for (int64_t j = 0; j <= ny; j++)
      for (int64_t i = 0; i <= nx; i++) {
        const double p[3] = { grid->origin[0] + i * grid->spacing[0], grid->origin[1] + j * grid->spacing[1], grid->origin[2] + k * grid->spacing[2] };
        double       d    = sqrt(bvh_nearest(&b, p, &warm, stack));
        double       w    = bvh_winding(&b, p, stack);

        if (!isfinite(d) || !isfinite(w)) {
          err = mesh_error_set(MESH_ERR_ARG, "sdf_from_mesh: the distance or winding number at grid vertex (%lld, %lld, %lld) is not finite (mesh far too large for the grid?)", (long long) i, (long long) j, (long long) k);
          goto done;
        }
        sdf[(k * (ny + 1) + j) * (nx + 1) + i] = w > 0.5 ? -d : d;
      }
done:
  free(b.order);
  free(b.cent);
  free(b.nodes);
  free(stack);
  return err;
}
