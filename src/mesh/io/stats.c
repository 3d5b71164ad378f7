/* Topology and geometry figures of a triangle mesh: edge valences,
   orientation, vertex fans, Euler characteristic, degenerate faces, signed
   volume and area. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/meshimpl.h>

typedef struct {
  uint64_t key; /* (min << 32) | max of the edge's vertices */
  int32_t  dir; /* +1 when the triangle runs min -> max */
} edge_use;

static int edge_use_cmp(const void *a, const void *b)
{
  const edge_use *x = a, *y = b;
  return x->key < y->key ? -1 : x->key > y->key ? 1
                                                : x->dir - y->dir;
}

static int32_t uf_find(int32_t *parent, int32_t i)
{
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

/* Counts the vertices whose incident triangles do not form one fan (two
   triangles at v are in the same fan when they share an edge at v). */
static mesh_err count_nonmanifold_vertices(int32_t nverts, int32_t ntris, const int32_t *tris, int64_t *count)
{
  int32_t *start = calloc((size_t) nverts + 1, sizeof(int32_t));
  int32_t *inc   = malloc(3 * (size_t) ntris * sizeof(int32_t) + 1);
  int32_t *fill = NULL, *parent = NULL;
  int32_t  maxdeg = 0;

  *count = 0;
  if (!start || !inc) goto oom;
  for (int64_t i = 0; i < 3 * (int64_t) ntris; i++) start[tris[i] + 1]++;
  for (int32_t v = 0; v < nverts; v++) {
    if (start[v + 1] > maxdeg) maxdeg = start[v + 1];
    start[v + 1] += start[v];
  }
  fill   = malloc(((size_t) nverts + 1) * sizeof(int32_t));
  parent = malloc(((size_t) maxdeg + 1) * sizeof(int32_t));
  if (!fill || !parent) goto oom;
  memcpy(fill, start, ((size_t) nverts + 1) * sizeof(int32_t));
  for (int32_t t = 0; t < ntris; t++)
    for (int k = 0; k < 3; k++) inc[fill[tris[3 * t + k]]++] = t;
  for (int32_t v = 0; v < nverts; v++) {
    const int32_t *T    = inc + start[v];
    const int32_t  n    = start[v + 1] - start[v];
    int32_t        fans = 0;
    for (int32_t i = 0; i < n; i++) parent[i] = i;
    for (int32_t i = 0; i < n; i++)
      for (int32_t j = i + 1; j < n; j++) {
        int shared = 0;
        for (int a = 0; a < 3; a++)
          for (int b = 0; b < 3; b++) shared |= tris[3 * T[i] + a] == tris[3 * T[j] + b] && tris[3 * T[i] + a] != v;
        if (shared) parent[uf_find(parent, i)] = uf_find(parent, j);
      }
    for (int32_t i = 0; i < n; i++) fans += uf_find(parent, i) == i;
    *count += fans > 1;
  }
  free(start);
  free(inc);
  free(fill);
  free(parent);
  return MESH_SUCCESS;
oom:
  free(start);
  free(inc);
  free(fill);
  free(parent);
  return mesh_error_set(MESH_ERR_MEM, "mesh_stats_compute: out of memory (%d triangles)", ntris);
}

mesh_err mesh_stats_compute(int32_t nverts, const double *verts, int32_t ntris, const int32_t *tris, double area_tol, mesh_stats *st)
{
  edge_use *uses;
  uint8_t  *used;
  double    o[3] = { 0, 0, 0 }, lo[3] = { INFINITY, INFINITY, INFINITY }, hi[3] = { -INFINITY, -INFINITY, -INFINITY };
  size_t    nuse = 3 * (size_t) (ntris > 0 ? ntris : 0);
  mesh_err  err;

  MESH_CHECK(st, MESH_ERR_ARG, "mesh_stats_compute: NULL output");
  memset(st, 0, sizeof(*st));
  MESH_CHECK(nverts >= 0 && ntris >= 0, MESH_ERR_ARG, "mesh_stats_compute: %d vertices, %d triangles", nverts, ntris);
  MESH_CHECK((verts || !nverts) && (tris || !ntris), MESH_ERR_ARG, "mesh_stats_compute: NULL arrays");
  for (size_t i = 0; i < nuse; i++) MESH_CHECK(tris[i] >= 0 && tris[i] < nverts, MESH_ERR_ARG, "mesh_stats_compute: triangle %zu has vertex %d (of %d)", i / 3, tris[i], nverts);

  used = calloc((size_t) nverts + 1, 1);
  uses = malloc(nuse * sizeof(edge_use) + 1);
  if (!used || !uses) {
    free(used);
    free(uses);
    return mesh_error_set(MESH_ERR_MEM, "mesh_stats_compute: out of memory (%d triangles)", ntris);
  }
  for (size_t i = 0; i < nuse; i++) used[tris[i]] = 1;
  for (int32_t v = 0; v < nverts; v++) {
    if (!used[v]) {
      st->unreferenced_vertices++;
      continue;
    }
    st->nverts++;
    for (int a = 0; a < 3; a++) {
      lo[a] = fmin(lo[a], verts[3 * v + a]);
      hi[a] = fmax(hi[a], verts[3 * v + a]);
    }
  }
  /* volumes relative to the box centre lose less to cancellation */
  if (st->nverts)
    for (int a = 0; a < 3; a++) o[a] = 0.5 * (lo[a] + hi[a]);
  for (int32_t t = 0; t < ntris; t++) {
    const int32_t *T = tris + 3 * t;
    double         p[3][3], e1[3], e2[3], n[3];
    for (int k = 0; k < 3; k++) {
      const int32_t a = T[k], b = T[(k + 1) % 3];
      uses[3 * t + k].key = a < b ? (uint64_t) a << 32 | (uint64_t) b : (uint64_t) b << 32 | (uint64_t) a;
      uses[3 * t + k].dir = a < b ? 1 : -1;
      for (int d = 0; d < 3; d++) p[k][d] = verts[3 * T[k] + d] - o[d];
    }
    for (int d = 0; d < 3; d++) {
      e1[d] = p[1][d] - p[0][d];
      e2[d] = p[2][d] - p[0][d];
    }
    n[0]              = e1[1] * e2[2] - e1[2] * e2[1];
    n[1]              = e1[2] * e2[0] - e1[0] * e2[2];
    n[2]              = e1[0] * e2[1] - e1[1] * e2[0];
    const double area = 0.5 * sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    st->area += area;
    st->volume += (p[0][0] * (p[1][1] * p[2][2] - p[1][2] * p[2][1]) - p[0][1] * (p[1][0] * p[2][2] - p[1][2] * p[2][0]) + p[0][2] * (p[1][0] * p[2][1] - p[1][1] * p[2][0])) / 6.0;
    st->degenerate_triangles += T[0] == T[1] || T[1] == T[2] || T[0] == T[2] || area <= area_tol;
  }
  qsort(uses, nuse, sizeof(edge_use), edge_use_cmp);
  for (size_t i = 0; i < nuse;) {
    size_t j = i;
    while (j < nuse && uses[j].key == uses[i].key) j++;
    st->nedges++;
    if (j - i == 1)
      st->boundary_edges++;
    else if (j - i > 2)
      st->nonmanifold_edges++;
    else if (uses[i].dir == uses[i + 1].dir)
      st->misoriented_edges++;
    i = j;
  }
  free(uses);
  free(used);
  st->ntris = ntris;
  st->euler = st->nverts - st->nedges + st->ntris;
  err       = count_nonmanifold_vertices(nverts, ntris, tris, &st->nonmanifold_vertices);
  if (err) return err;
  st->closed_manifold = !st->boundary_edges && !st->nonmanifold_edges && !st->misoriented_edges && !st->nonmanifold_vertices;
  return MESH_SUCCESS;
}
