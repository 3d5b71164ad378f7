/* The Dual Marching Cubes tables, generated from the Marching Cubes face
   rule (nothing here is a typed-in table except the edge numbering, which is
   the reference implementation's so that per-edge weights mean the same).

   For a sign configuration of the 8 corners, every crossed edge lies on two
   cube faces. On each face the contour joins the crossed edges in pairs: a
   face with 2 crossed edges has one segment; an ambiguous face (4 crossed
   edges, inside corners on a diagonal) has two, each cutting off one inside
   corner. Since every crossed edge then has exactly two partners, the
   segments form disjoint closed loops; each loop bounds one surface patch
   of the cube and is one dual vertex (Nielson's Dual Marching Cubes). The
   face rule depends only on the signs, so both cubes sharing a face agree
   on its segments and the rule commutes with the 48 cube symmetries.

   One defect remains (the reference's cases C16/C19): when a patch holds
   both segments of an ambiguous face, and the patch of the neighbouring cube
   across that face does too, the two dual vertices are joined by 4 quads, a
   non-manifold edge. Such a case records the face; the extractor then
   flips both cubes to the row of the complementary case, which is the same
   loops with the opposite rule on that (their only) ambiguous face. */
#include <stdatomic.h>
#include <string.h>
#include <deepcd/private/meshimpl.h>

const int8_t mesh_cube_edge_corners[12][2] = {
  { 0, 1 }, { 1, 5 }, { 4, 5 }, { 0, 4 }, { 2, 3 }, { 3, 7 }, { 6, 7 }, { 2, 6 }, { 2, 0 }, { 3, 1 }, { 7, 5 }, { 6, 4 }
};

/* Records that crossed edges e1 and e2 are joined by a contour segment. */
static mesh_err join(int8_t link[12][2], int e1, int e2)
{
  int ends[2] = { e1, e2 };

  for (int i = 0; i < 2; i++) {
    int e = ends[i], o = ends[1 - i];
    if (link[e][0] < 0)
      link[e][0] = (int8_t) o;
    else if (link[e][1] < 0)
      link[e][1] = (int8_t) o;
    else
      return mesh_error_set(MESH_ERR_BUG, "mc_table_generate: edge %d has more than two segments", e);
  }
  return MESH_SUCCESS;
}

static mesh_err generate_case(mesh_dmc_table *t, const int edge_of[8][8], int id)
{
  mesh_dmc_case *dc = &t->cases[id];
  int8_t         link[12][2];
  int            crossed[12], visited[12] = { 0 };

  memset(link, -1, sizeof(link));
  memset(dc->group_edges, -1, sizeof(dc->group_edges));
  memset(dc->edge_group, -1, sizeof(dc->edge_group));
  dc->ambiguous_face = -1;
  for (int e = 0; e < 12; e++) {
    crossed[e] = ((id >> mesh_cube_edge_corners[e][0]) & 1) != ((id >> mesh_cube_edge_corners[e][1]) & 1);
    dc->nedges += (uint8_t) crossed[e];
  }

  /* contour segments on the faces */
  for (int f = 0; f < 6; f++) {
    int fe[4], in[4], n = 0;
    for (int i = 0; i < 4; i++) {
      fe[i] = edge_of[t->face_corners[f][i]][t->face_corners[f][(i + 1) % 4]];
      in[i] = (id >> t->face_corners[f][i]) & 1;
      n += crossed[fe[i]];
    }
    MESH_CHECK(n == 0 || n == 2 || n == 4, MESH_ERR_BUG, "mc_table_generate: case %d face %d has %d crossed edges", id, f, n);
    if (n == 2) {
      int a = -1, b = -1;
      for (int i = 0; i < 4; i++)
        if (crossed[fe[i]]) {
          if (a < 0)
            a = fe[i];
          else
            b = fe[i];
        }
      MESH_CALL(join(link, a, b));
    } else if (n == 4) {
      /* corner i lies between face edges i-1 and i: cut off each inside corner */
      for (int i = 0; i < 4; i++)
        if (in[i]) MESH_CALL(join(link, fe[(i + 3) % 4], fe[i]));
    }
  }

  /* trace the loops; groups come in the order of their smallest edge */
  for (int e = 0; e < 12; e++) {
    int g, prev, cur, size = 0;
    if (!crossed[e] || visited[e]) continue;
    MESH_CHECK(link[e][0] >= 0 && link[e][1] >= 0, MESH_ERR_BUG, "mc_table_generate: case %d edge %d is not on a loop", id, e);
    MESH_CHECK(dc->ngroups < MESH_DMC_MAX_GROUPS, MESH_ERR_BUG, "mc_table_generate: case %d has more than %d loops", id, MESH_DMC_MAX_GROUPS);
    g    = dc->ngroups++;
    prev = -1;
    cur  = e;
    do {
      int next;
      MESH_CHECK(size < MESH_DMC_MAX_GROUP_EDGES, MESH_ERR_BUG, "mc_table_generate: case %d has a loop of more than %d edges", id, MESH_DMC_MAX_GROUP_EDGES);
      dc->group_edges[g][size++] = (int8_t) cur;
      dc->edge_group[cur]        = (int8_t) g;
      visited[cur]               = 1;
      /* first step towards the smaller neighbour, so the order is deterministic */
      if (prev < 0)
        next = link[cur][0] < link[cur][1] ? link[cur][0] : link[cur][1];
      else
        next = link[cur][0] == prev ? link[cur][1] : link[cur][0];
      prev = cur;
      cur  = next;
    } while (cur != e);
    dc->group_size[g] = (uint8_t) size;
  }
  for (int e = 0; e < 12; e++) MESH_CHECK(!crossed[e] || visited[e], MESH_ERR_BUG, "mc_table_generate: case %d edge %d is in no group", id, e);

  /* a face whose two segments belong to one patch */
  for (int f = 0; f < 6; f++) {
    int fe[4], n = 0, same = 1;
    for (int i = 0; i < 4; i++) {
      fe[i] = edge_of[t->face_corners[f][i]][t->face_corners[f][(i + 1) % 4]];
      n += crossed[fe[i]];
    }
    if (n != 4) continue;
    for (int i = 1; i < 4; i++) same &= dc->edge_group[fe[i]] == dc->edge_group[fe[0]];
    if (!same) continue;
    MESH_CHECK(dc->ambiguous_face < 0, MESH_ERR_BUG, "mc_table_generate: case %d has two faces to resolve", id);
    dc->ambiguous_face = (int8_t) f;
  }
  return MESH_SUCCESS;
}

mesh_err mc_table_generate(mesh_dmc_table *t)
{
  int edge_of[8][8];

  MESH_CHECK(t, MESH_ERR_ARG, "mc_table_generate: NULL table");
  memset(t, 0, sizeof(*t));
  memset(edge_of, -1, sizeof(edge_of));
  for (int e = 0; e < 12; e++) {
    int a = mesh_cube_edge_corners[e][0], b = mesh_cube_edge_corners[e][1], d = a ^ b, axis, lo;
    MESH_CHECK(d == 1 || d == 2 || d == 4, MESH_ERR_BUG, "mc_table_generate: edge %d is not a cube edge", e);
    axis = d == 1 ? 0 : d == 2 ? 1
                               : 2;
    lo   = a & ~d;
    MESH_CHECK(edge_of[a][b] < 0, MESH_ERR_BUG, "mc_table_generate: edge %d listed twice", e);
    edge_of[a][b] = edge_of[b][a]                                                = e;
    t->edge_axis[e]                                                              = (int8_t) axis;
    t->edge_at[axis][(lo >> ((axis + 1) % 3)) & 1][(lo >> ((axis + 2) % 3)) & 1] = (int8_t) e;
  }
  for (int f = 0; f < 6; f++) {
    int a = f / 2, s = f % 2, b = (a + 1) % 3, c = (a + 2) % 3;
    /* (0,0) (1,0) (1,1) (0,1) in the two other axes: a cycle around the face */
    static const int ob[4] = { 0, 1, 1, 0 }, oc[4] = { 0, 0, 1, 1 };
    for (int i = 0; i < 4; i++) t->face_corners[f][i] = (int8_t) (s << a | ob[i] << b | oc[i] << c);
  }
  for (int id = 0; id < 256; id++) {
    MESH_CALL(generate_case(t, (const int(*)[8]) edge_of, id));
    t->nambiguous += t->cases[id].ambiguous_face >= 0;
    t->ngroups_histogram[t->cases[id].ngroups]++;
  }
  return MESH_SUCCESS;
}

static mesh_dmc_table cached_table;
static atomic_int     cached_state; /* 0: not generated, 1: generating, 2: ready */

mesh_err mesh_dmc_table_get(const mesh_dmc_table **table)
{
  int expected = 0;

  MESH_CHECK(table, MESH_ERR_ARG, "mesh_dmc_table_get: NULL output");
  *table = NULL;
  if (atomic_load_explicit(&cached_state, memory_order_acquire) != 2) {
    if (atomic_compare_exchange_strong(&cached_state, &expected, 1)) {
      mesh_err err = mc_table_generate(&cached_table);
      atomic_store_explicit(&cached_state, err ? 0 : 2, memory_order_release);
      if (err) return err;
    } else {
      /* another thread generates (well under a millisecond) */
      while ((expected = atomic_load_explicit(&cached_state, memory_order_acquire)) == 1) {}
      MESH_CHECK(expected == 2, MESH_ERR_BUG, "mesh_dmc_table_get: table generation failed in another thread");
    }
  }
  *table = &cached_table;
  return MESH_SUCCESS;
}
