/* Local repair of inverted tets (mesh_tets_build, docs/mesh.md
   "Tetrahedral output"): 2-3 flips with a neighbour, then a Steiner point at
   the kernel centre of a cavity around the inverted tet (the shell of one of
   its edges, or the union of those shells) joined to the cavity's outer
   faces. Each step keeps every face on the outside of what it replaces, so
   the mesh stays conforming and its boundary triangles stay; a step is taken
   only when all the tets it makes are positive. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/meshimpl.h>

mesh_err mesh_tet_arrays_add_vertex(mesh_tet_arrays *m, const double x[3], int32_t *index)
{
  MESH_CHECK(m->nverts < INT32_MAX, MESH_ERR_LIMIT, "mesh_tets_build: more than %d vertices", INT32_MAX);
  MESH_RESERVE(m->verts, m->cverts, 3 * (m->nverts + 1));
  memcpy(m->verts + 3 * m->nverts, x, 3 * sizeof(double));
  *index = (int32_t) m->nverts++;
  return MESH_SUCCESS;
}

mesh_err mesh_tet_arrays_add_tet(mesh_tet_arrays *m, int32_t v0, int32_t v1, int32_t v2, int32_t v3)
{
  int32_t *t;

  MESH_CHECK(m->ntets < INT32_MAX, MESH_ERR_LIMIT, "mesh_tets_build: more than %d tets", INT32_MAX);
  MESH_RESERVE(m->tets, m->ctets, 4 * (m->ntets + 1));
  t    = m->tets + 4 * m->ntets++;
  t[0] = v0;
  t[1] = v1;
  t[2] = v2;
  t[3] = v3;
  return MESH_SUCCESS;
}

double mesh_tet_volume(const double *x, const int32_t *t)
{
  const double *a = x + 3 * t[0], *b = x + 3 * t[1], *c = x + 3 * t[2], *d = x + 3 * t[3];
  const double  u[3] = { b[0] - a[0], b[1] - a[1], b[2] - a[2] }, v[3] = { c[0] - a[0], c[1] - a[1], c[2] - a[2] }, w[3] = { d[0] - a[0], d[1] - a[1], d[2] - a[2] };
  return (u[0] * (v[1] * w[2] - v[2] * w[1]) - u[1] * (v[0] * w[2] - v[2] * w[0]) + u[2] * (v[0] * w[1] - v[1] * w[0])) / 6.0;
}

/* The smallest signed volume of n tets. */
double mesh_min_tet_volume(const double *x, const int32_t (*t)[4], int n)
{
  double m = INFINITY;
  for (int i = 0; i < n; i++) m = fmin(m, mesh_tet_volume(x, t[i]));
  return m;
}

/* Apex and outward face of each face of a tet (t0, t1, t2, t3). */
const int mesh_tet_faces[4][4] = { { 0, 1, 2, 3 }, { 1, 0, 3, 2 }, { 2, 0, 1, 3 }, { 3, 0, 2, 1 } };

static uint64_t face_key(int32_t x, int32_t y, int32_t z)
{
  int32_t t;
  if (x > y) t = x, x = y, y = t;
  if (y > z) t = y, y = z, z = t;
  if (x > y) t = x, x = y, y = t;
  /* a hash of the sorted triple (the table compares the triples themselves) */
  return ((uint64_t) (uint32_t) x * 0x9e3779b97f4a7c15u) ^ ((uint64_t) (uint32_t) y * 0xc2b2ae3d27d4eb4fu) ^ ((uint64_t) (uint32_t) z * 0x165667b19e3779f9u);
}

static int same_triple(int32_t a, int32_t b, int32_t c, int32_t x, int32_t y, int32_t z)
{
  return (a == x || a == y || a == z) && (b == x || b == y || b == z) && (c == x || c == y || c == z);
}

/* Non-zero when tet t has the vertices x, y, z. */
static int has_face(const int32_t *t, int32_t x, int32_t y, int32_t z)
{
  int n = 0;
  for (int k = 0; k < 4; k++) n += t[k] == x || t[k] == y || t[k] == z;
  return n == 3;
}

/* 2-3 flips of the inverted tets: an inverted tet (u; x, y, z) and its
   neighbour (w; z, y, x) across one of its faces become (u, x, y, w),
   (u, y, z, w), (u, z, x, w) when all three are positive (the segment u w
   then passes through the triangle x y z). The outer faces stay, so the
   mesh stays conforming; nothing else changes. The neighbours are found in
   one pass over the tets with a small hash table of the inverted tets'
   faces. Sets *nflips. */
static mesh_err flip_inverted(mesh_tet_arrays *b, const size_t *bad, size_t nbad, int32_t *nflips)
{
  size_t   cap  = 16;
  int64_t *slot = NULL, *nbr = NULL; /* slot: 4 * bad + face, or -1; nbr: the neighbour tet of each bad face */
  uint8_t *mark = NULL;              /* the vertices of the inverted tets: a neighbour has 3 of them */
  mesh_err err  = MESH_SUCCESS;

  *nflips = 0;
  if (!nbad) return MESH_SUCCESS;
  while (cap < 8 * nbad) cap *= 2;
  slot = malloc(cap * sizeof(*slot));
  nbr  = malloc(4 * nbad * sizeof(*nbr));
  mark = calloc(b->nverts, 1);
  if (!slot || !nbr || !mark) {
    err = mesh_error_set(MESH_ERR_MEM, "mesh_tets_build: out of memory (%zu inverted tets)", nbad);
    goto done;
  }
  for (size_t h = 0; h < cap; h++) slot[h] = -1;
  for (size_t k = 0; k < 4 * nbad; k++) {
    const int32_t *t = b->tets + 4 * bad[k / 4];
    const int     *f = mesh_tet_faces[k % 4];
    size_t         h = face_key(t[f[1]], t[f[2]], t[f[3]]) & (cap - 1);
    while (slot[h] >= 0) h = (h + 1) & (cap - 1);
    slot[h] = (int64_t) k;
    nbr[k]  = -1;
  }
  for (size_t k = 0; k < nbad; k++)
    for (int i = 0; i < 4; i++) mark[b->tets[4 * bad[k] + i]] = 1;
  for (size_t j = 0; j < b->ntets; j++) {
    const int32_t *o = b->tets + 4 * j;
    if (mark[o[0]] + mark[o[1]] + mark[o[2]] + mark[o[3]] < 3) continue;
    for (int f = 0; f < 4; f++) {
      const int32_t x = o[mesh_tet_faces[f][1]], y = o[mesh_tet_faces[f][2]], z = o[mesh_tet_faces[f][3]];
      for (size_t h = face_key(x, y, z) & (cap - 1); slot[h] >= 0; h = (h + 1) & (cap - 1)) {
        const size_t   k = (size_t) slot[h];
        const int32_t *t = b->tets + 4 * bad[k / 4];
        const int     *g = mesh_tet_faces[k % 4];
        if (bad[k / 4] != j && same_triple(t[g[1]], t[g[2]], t[g[3]], x, y, z)) nbr[k] = (int64_t) j;
      }
    }
  }
  for (size_t k = 0; k < nbad; k++)
    for (int f = 0; f < 4; f++) {
      int32_t *t = b->tets + 4 * bad[k];
      int32_t *o, u, x, y, z, w = -1;
      if (mesh_tet_volume(b->verts, t) > 0) break;
      if (nbr[4 * k + (size_t) f] < 0) continue;
      u = t[mesh_tet_faces[f][0]];
      x = t[mesh_tet_faces[f][1]];
      y = t[mesh_tet_faces[f][2]];
      z = t[mesh_tet_faces[f][3]];
      o = b->tets + 4 * (size_t) nbr[4 * k + (size_t) f];
      /* an earlier flip may have replaced the neighbour */
      if (!has_face(o, x, y, z)) continue;
      for (int i = 0; i < 4; i++)
        if (o[i] != x && o[i] != y && o[i] != z) w = o[i];
      {
        const int32_t nt[3][4] = { { u, x, y, w }, { u, y, z, w }, { u, z, x, w } };
        if (!(mesh_min_tet_volume(b->verts, nt, 3) > 0)) continue;
        memcpy(o, nt[1], sizeof(nt[1]));
        memcpy(t, nt[0], sizeof(nt[0]));
        if ((err = mesh_tet_arrays_add_tet(b, u, z, x, w))) goto done;
        (*nflips)++;
      }
    }
done:
  free(mark);
  free(slot);
  free(nbr);
  return err;
}

/* Solves the 4x4 system A y = r (partial pivoting); non-zero when singular. */
static int solve4(double A[4][4], double r[4], double y[4])
{
  for (int c = 0; c < 4; c++) {
    int piv = c;
    for (int i = c + 1; i < 4; i++)
      if (fabs(A[i][c]) > fabs(A[piv][c])) piv = i;
    if (!(fabs(A[piv][c]) > 0)) return 1;
    for (int j = 0; j < 4; j++) {
      const double tmp = A[c][j];
      A[c][j]          = A[piv][j];
      A[piv][j]        = tmp;
    }
    {
      const double tmp = r[c];
      r[c]             = r[piv];
      r[piv]           = tmp;
    }
    for (int i = c + 1; i < 4; i++) {
      const double f = A[i][c] / A[c][c];
      for (int j = c; j < 4; j++) A[i][j] -= f * A[c][j];
      r[i] -= f * r[c];
    }
  }
  for (int i = 3; i >= 0; i--) {
    double v = r[i];
    for (int j = i + 1; j < 4; j++) v -= A[i][j] * y[j];
    y[i] = v / A[i][i];
  }
  return 0;
}

#define CAVITY_MAX 16 /* tets a Steiner step replaces */
#define FACES_MAX  16 /* outer faces of such a cavity (the LP costs C(n, 4)) */

/* The Chebyshev centre of the kernel of a closed triangulated surface given
   by its n outward faces: the point s farthest inside all the face planes,
   by the small LP max t s.t. m_k.(s - a_k) >= |m_k| t (m_k the inward
   normal), solved at its vertices (every choice of 4 planes). Returns t:
   > 0 when s sees every face from inside. */
static double kernel_centre(const double *x, int n, const int32_t (*face)[3], double s[3])
{
  double m[FACES_MAX][4], off[FACES_MAX], best = -INFINITY;

  for (int k = 0; k < n; k++) {
    const double *o = x + 3 * face[k][0], *u = x + 3 * face[k][1], *w = x + 3 * face[k][2];
    const double  e[3] = { u[0] - o[0], u[1] - o[1], u[2] - o[2] }, f[3] = { w[0] - o[0], w[1] - o[1], w[2] - o[2] };
    /* tet (s, face) is positive iff (s - o).(e x f) < 0: the inward normal is -(e x f) */
    m[k][0] = -(e[1] * f[2] - e[2] * f[1]);
    m[k][1] = -(e[2] * f[0] - e[0] * f[2]);
    m[k][2] = -(e[0] * f[1] - e[1] * f[0]);
    m[k][3] = sqrt(m[k][0] * m[k][0] + m[k][1] * m[k][1] + m[k][2] * m[k][2]);
    off[k]  = m[k][0] * o[0] + m[k][1] * o[1] + m[k][2] * o[2];
  }
  for (int i0 = 0; i0 < n; i0++)
    for (int i1 = i0 + 1; i1 < n; i1++)
      for (int i2 = i1 + 1; i2 < n; i2++)
        for (int i3 = i2 + 1; i3 < n; i3++) {
          const int idx[4] = { i0, i1, i2, i3 };
          double    A[4][4], r[4], y[4];
          int       ok = 1;
          for (int k = 0; k < 4; k++) {
            A[k][0] = m[idx[k]][0];
            A[k][1] = m[idx[k]][1];
            A[k][2] = m[idx[k]][2];
            A[k][3] = -m[idx[k]][3];
            r[k]    = off[idx[k]];
          }
          if (solve4(A, r, y) || !(y[3] > best)) continue;
          for (int k = 0; k < n && ok; k++) ok = m[k][0] * y[0] + m[k][1] * y[1] + m[k][2] * y[2] - off[k] >= m[k][3] * y[3] * (1 - 1e-9);
          if (ok) {
            best = y[3];
            memcpy(s, y, 3 * sizeof(double));
          }
        }
  return best;
}

/* Replaces the cavity cav[0..ncav) (distinct tets) by tets joining a new
   vertex s, the centre of the cavity's kernel, to its outer faces (the tet
   faces whose reverse is not in the cavity), when those form a closed
   surface (every directed edge matched by its reverse), there are at most
   FACES_MAX of them and at least ncav, every vertex of the cavity is on
   them (none would be left unused) and every new tet is positive. New tets
   take the
   cavity's slots, then are appended (their indices to cand). Sets *done. */
static mesh_err restar_cavity(mesh_tet_arrays *m, const size_t *cav, int ncav, size_t **cand, size_t *ncand, size_t *ccand, int *done)
{
  int32_t all[4 * CAVITY_MAX][3], face[FACES_MAX][3], si;
  int     na = 0, nf = 0;
  double  s[3];

  *done = 0;
  if (ncav < 1 || ncav > CAVITY_MAX) return MESH_SUCCESS;
  for (int k = 0; k < ncav; k++)
    for (int f = 0; f < 4; f++) {
      const int32_t *t = m->tets + 4 * cav[k];
      all[na][0]       = t[mesh_tet_faces[f][1]];
      all[na][1]       = t[mesh_tet_faces[f][2]];
      all[na][2]       = t[mesh_tet_faces[f][3]];
      na++;
    }
  for (int i = 0; i < na; i++) {
    int inner = 0;
    for (int j = 0; j < na && !inner; j++)
      for (int r = 0; r < 3 && !inner; r++) /* the reverse (x, z, y) in any rotation */
        inner = all[j][r] == all[i][0] && all[j][(r + 1) % 3] == all[i][2] && all[j][(r + 2) % 3] == all[i][1];
    if (inner) continue;
    if (nf == FACES_MAX) return MESH_SUCCESS;
    memcpy(face[nf++], all[i], sizeof(all[i]));
  }
  /* closed: each directed edge (x, y) of an outer face has exactly one
     outer face with the edge (y, x) */
  for (int i = 0; i < nf; i++)
    for (int e = 0; e < 3; e++) {
      const int32_t x = face[i][e], y = face[i][(e + 1) % 3];
      int           n = 0;
      for (int j = 0; j < nf; j++)
        for (int r = 0; r < 3; r++) n += face[j][r] == y && face[j][(r + 1) % 3] == x;
      if (n != 1) return MESH_SUCCESS;
    }
  /* every cavity tet's slot is reused, and no vertex may end up unused */
  if (nf < 4 || nf < ncav) return MESH_SUCCESS;
  for (int i = 0; i < na; i++)
    for (int v = 0; v < 3; v++) {
      int on = 0;
      for (int j = 0; j < nf && !on; j++) on = face[j][0] == all[i][v] || face[j][1] == all[i][v] || face[j][2] == all[i][v];
      if (!on) return MESH_SUCCESS;
    }
  if (!(kernel_centre(m->verts, nf, (const int32_t(*)[3]) face, s) > 0)) return MESH_SUCCESS;
  {
    /* check before changing anything */
    double        x[3 * 4];
    const int32_t t4[4] = { 0, 1, 2, 3 };
    for (int k = 0; k < nf; k++) {
      memcpy(x, s, sizeof(s));
      for (int v = 0; v < 3; v++) memcpy(x + 3 * (v + 1), m->verts + 3 * face[k][v], 3 * sizeof(double));
      if (!(mesh_tet_volume(x, t4) > 0)) return MESH_SUCCESS;
    }
  }
  MESH_CALL(mesh_tet_arrays_add_vertex(m, s, &si));
  for (int k = 0; k < nf; k++) {
    size_t slot;
    if (k < ncav)
      slot = cav[k];
    else {
      MESH_CALL(mesh_tet_arrays_add_tet(m, 0, 0, 0, 0));
      slot = m->ntets - 1;
      MESH_RESERVE(*cand, *ccand, *ncand + 1);
      (*cand)[(*ncand)++] = slot;
    }
    m->tets[4 * slot]     = si;
    m->tets[4 * slot + 1] = face[k][0];
    m->tets[4 * slot + 2] = face[k][1];
    m->tets[4 * slot + 3] = face[k][2];
  }
  *done = 1;
  return MESH_SUCCESS;
}

/* Adds to cav the tets of cand that hold both a and b (b < 0: that hold a),
   once each. Returns 0 when the cavity would exceed CAVITY_MAX. */
static int cavity_add(const mesh_tet_arrays *m, const size_t *cand, size_t ncand, int32_t a, int32_t b, size_t *cav, int *ncav)
{
  for (size_t c = 0; c < ncand; c++) {
    const int32_t *t  = m->tets + 4 * cand[c];
    int            ha = 0, hb = b < 0, dup = 0;
    for (int k = 0; k < 4; k++) ha |= t[k] == a, hb |= t[k] == b;
    if (!ha || !hb) continue;
    for (int k = 0; k < *ncav && !dup; k++) dup = cav[k] == cand[c];
    if (dup) continue;
    if (*ncav == CAVITY_MAX) return 0;
    cav[(*ncav)++] = cand[c];
  }
  return 1;
}

/* For each inverted tet, a Steiner point: first in the shell of one of its
   6 edges (the tets around the edge), then in the union of the shells of
   all 6. The candidates for the cavities are found in one pass: the tets
   with two vertices of inverted tets. */
static mesh_err steiner_inverted(mesh_tet_arrays *m, const size_t *bad, size_t nbad, int32_t *nsteiner)
{
  static const int edges[6][2] = { { 0, 1 }, { 0, 2 }, { 0, 3 }, { 1, 2 }, { 1, 3 }, { 2, 3 } };
  size_t           ncand = 0, ccand = 0, *cand = NULL;
  uint8_t         *mark = NULL;
  mesh_err         err  = MESH_SUCCESS;

  *nsteiner = 0;
  if (!nbad) return MESH_SUCCESS;
  mark = calloc(m->nverts, 1);
  if (!mark) {
    err = mesh_error_set(MESH_ERR_MEM, "mesh_tets_build: out of memory (%zu vertices)", m->nverts);
    goto done;
  }
  for (size_t k = 0; k < nbad; k++)
    for (int i = 0; i < 4; i++) mark[m->tets[4 * bad[k] + i]] = 1;
  for (size_t i = 0; i < m->ntets; i++) {
    const int32_t *t = m->tets + 4 * i;
    if (mark[t[0]] + mark[t[1]] + mark[t[2]] + mark[t[3]] < 2) continue;
    {
      void *p = cand;
      if ((err = mesh_reserve(&p, &ccand, ncand + 1, sizeof(*cand)))) goto done;
      cand = p;
    }
    cand[ncand++] = i;
  }
  for (size_t k = 0; k < nbad; k++) {
    int32_t v[4];
    size_t  cav[CAVITY_MAX];
    int     ncav, ok = 0, fits = 1;
    if (mesh_tet_volume(m->verts, m->tets + 4 * bad[k]) > 0) continue;
    memcpy(v, m->tets + 4 * bad[k], sizeof(v));
    for (int e = 0; e < 6 && !ok; e++) {
      ncav = 0;
      if (cavity_add(m, cand, ncand, v[edges[e][0]], v[edges[e][1]], cav, &ncav) && (err = restar_cavity(m, cav, ncav, &cand, &ncand, &ccand, &ok))) goto done;
    }
    ncav = 0;
    for (int e = 0; e < 6 && !ok && fits; e++) fits = cavity_add(m, cand, ncand, v[edges[e][0]], v[edges[e][1]], cav, &ncav);
    if (!ok && fits && (err = restar_cavity(m, cav, ncav, &cand, &ncand, &ccand, &ok))) goto done;
    *nsteiner += ok;
  }
done:
  free(mark);
  free(cand);
  return err;
}

/* Keeps the tets of bad[0..*nbad) that are still inverted. */
static void still_inverted(const mesh_tet_arrays *m, size_t *bad, size_t *nbad)
{
  size_t n = 0;
  for (size_t k = 0; k < *nbad; k++)
    if (!(mesh_tet_volume(m->verts, m->tets + 4 * bad[k]) > 0)) bad[n++] = bad[k];
  *nbad = n;
}

mesh_err mesh_tets_repair(mesh_tet_arrays *m, int32_t *nflips, int32_t *nsteiner)
{
  size_t   nbad = 0, *bad;
  mesh_err err  = MESH_SUCCESS;

  MESH_CHECK(m && nflips && nsteiner, MESH_ERR_ARG, "mesh_tets_repair: NULL argument");
  *nflips = *nsteiner = 0;
  for (size_t i = 0; i < m->ntets; i++) nbad += !(mesh_tet_volume(m->verts, m->tets + 4 * i) > 0);
  if (!nbad) return MESH_SUCCESS;
  bad = malloc(nbad * sizeof(*bad));
  MESH_CHECK(bad, MESH_ERR_MEM, "mesh_tets_build: out of memory (%zu inverted tets)", nbad);
  nbad = 0;
  for (size_t i = 0; i < m->ntets; i++)
    if (!(mesh_tet_volume(m->verts, m->tets + 4 * i) > 0)) bad[nbad++] = i;
  /* a step can open the way for another: repeat while something changes
     (the steps make positive tets only, so the list of inverted ones only
     shrinks; a repaired tet's slot may hold a new, positive tet) */
  for (int pass = 0; pass < 4 && nbad && !err; pass++) {
    int32_t f = 0, s = 0;
    err = flip_inverted(m, bad, nbad, &f);
    still_inverted(m, bad, &nbad);
    if (!err) err = steiner_inverted(m, bad, nbad, &s);
    still_inverted(m, bad, &nbad);
    *nflips += f;
    *nsteiner += s;
    if (!f && !s) break;
  }
  free(bad);
  return err;
}
