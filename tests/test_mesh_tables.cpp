// The generated Dual Marching Cubes tables: structure, the known DMC counts,
// the 48 cube symmetries, complements, the ambiguous (C16/C19) cases, and an
// independent regrouping by union-find over the face segments.
#include <gtest/gtest.h>
#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <set>
#include <vector>
#include <deepcd/mesh.h>

namespace {

using Groups = std::set<std::set<int>>;

int EdgeOf(int a, int b)
{
  for (int e = 0; e < 12; e++)
    if ((mesh_cube_edge_corners[e][0] == a && mesh_cube_edge_corners[e][1] == b) || (mesh_cube_edge_corners[e][0] == b && mesh_cube_edge_corners[e][1] == a)) return e;
  return -1;
}

bool Inside(int id, int corner)
{
  return (id >> corner) & 1;
}

bool Crossed(int id, int e)
{
  return Inside(id, mesh_cube_edge_corners[e][0]) != Inside(id, mesh_cube_edge_corners[e][1]);
}

// Corners of face f = 2*axis + side in cyclic order, built here from scratch.
std::array<int, 4> FaceCycle(int f)
{
  int a = f / 2, s = f % 2, b = (a + 1) % 3, c = (a + 2) % 3;
  return { s << a, s << a | 1 << b, s << a | 1 << b | 1 << c, s << a | 1 << c };
}

Groups TableGroups(const mesh_dmc_case &dc)
{
  Groups g;
  for (int i = 0; i < dc.ngroups; i++) g.insert(std::set<int>(dc.group_edges[i], dc.group_edges[i] + dc.group_size[i]));
  return g;
}

// Groups by union-find: on a face with 2 crossed edges they are joined; on
// an ambiguous face each inside corner's two edges are joined, or each
// outside corner's when bit f of `joined_inside` is set.
Groups UnionFindGroups(int id, int joined_inside)
{
  int parent[12];
  for (int e = 0; e < 12; e++) parent[e] = e;
  auto find = [&](int e) {
    while (parent[e] != e) e = parent[e];
    return e;
  };
  for (int f = 0; f < 6; f++) {
    auto             cyc = FaceCycle(f);
    std::vector<int> crossed;
    for (int i = 0; i < 4; i++)
      if (Crossed(id, EdgeOf(cyc[i], cyc[(i + 1) % 4]))) crossed.push_back(EdgeOf(cyc[i], cyc[(i + 1) % 4]));
    if (crossed.size() == 2) parent[find(crossed[0])] = find(crossed[1]);
    if (crossed.size() == 4)
      for (int i = 0; i < 4; i++) {
        // an XOR, not a ?: of the two cases: GCC 12.2 -O2 (its early VRP pass) miscompiles that form here
        bool cut = Inside(id, cyc[i]) != (((joined_inside >> f) & 1) != 0);
        if (cut) parent[find(EdgeOf(cyc[(i + 3) % 4], cyc[i]))] = find(EdgeOf(cyc[i], cyc[(i + 1) % 4]));
      }
  }
  std::vector<std::set<int>> comp(12);
  for (int e = 0; e < 12; e++)
    if (Crossed(id, e)) comp[find(e)].insert(e);
  Groups g;
  for (auto &c : comp)
    if (!c.empty()) g.insert(c);
  return g;
}

// The 48 symmetries of the cube as corner permutations (axis permutation, then reflections).
std::vector<std::array<int, 8>> CubeSymmetries()
{
  std::vector<std::array<int, 8>> syms;
  std::array<int, 3>              perm = { 0, 1, 2 };
  do {
    for (int flip = 0; flip < 8; flip++) {
      std::array<int, 8> m;
      for (int k = 0; k < 8; k++) {
        int to = 0;
        for (int a = 0; a < 3; a++) to |= (((k >> a) & 1) ^ ((flip >> a) & 1)) << perm[a];
        m[k] = to;
      }
      syms.push_back(m);
    }
  } while (std::next_permutation(perm.begin(), perm.end()));
  return syms;
}

const mesh_dmc_table *Table()
{
  const mesh_dmc_table *t = nullptr;
  EXPECT_EQ(mesh_dmc_table_get(&t), MESH_SUCCESS) << mesh_error_message();
  return t;
}

TEST(MeshTables, CachedEqualsFreshlyGenerated)
{
  const mesh_dmc_table *a = Table(), *b = Table();
  ASSERT_TRUE(a);
  EXPECT_EQ(a, b);
  auto fresh = std::make_unique<mesh_dmc_table>();
  ASSERT_EQ(mc_table_generate(fresh.get()), MESH_SUCCESS);
  EXPECT_EQ(std::memcmp(a, fresh.get(), sizeof(mesh_dmc_table)), 0);
  EXPECT_EQ(mc_table_generate(nullptr), MESH_ERR_ARG);
  EXPECT_NE(std::string(mesh_error_message()).find("NULL"), std::string::npos);
  EXPECT_EQ(mesh_dmc_table_get(nullptr), MESH_ERR_ARG);
}

// The counts of the reference: 0 dual vertices in 2 cases, 1 in 162, 2 in 82, 3 in 8, 4 in 2; 36 flagged cases.
TEST(MeshTables, KnownDmcCounts)
{
  const mesh_dmc_table *t           = Table();
  int                   hist[5]     = { 0 };
  const int             expected[5] = { 2, 162, 82, 8, 2 };
  int                   nflag       = 0;
  int                   max_group   = 0;
  for (int id = 0; id < 256; id++) {
    ASSERT_LE(t->cases[id].ngroups, 4);
    hist[t->cases[id].ngroups]++;
    nflag += t->cases[id].ambiguous_face >= 0;
    for (int g = 0; g < t->cases[id].ngroups; g++) max_group = std::max(max_group, (int) t->cases[id].group_size[g]);
  }
  for (int n = 0; n < 5; n++) {
    EXPECT_EQ(hist[n], expected[n]) << n << " groups";
    EXPECT_EQ(t->ngroups_histogram[n], expected[n]);
  }
  EXPECT_EQ(nflag, 36);
  EXPECT_EQ(t->nambiguous, 36);
  EXPECT_EQ(max_group, 7);
  // the 4-vertex cases are the two checkerboards, the 3-vertex ones three isolated inside corners
  EXPECT_EQ(t->cases[0x69].ngroups, 4);
  EXPECT_EQ(t->cases[0x96].ngroups, 4);
  for (int id = 0; id < 256; id++)
    if (t->cases[id].ngroups == 3) {
      EXPECT_EQ(__builtin_popcount(id), 3) << id;
    }
}

TEST(MeshTables, GeometryTables)
{
  const mesh_dmc_table *t = Table();
  for (int e = 0; e < 12; e++) {
    int a = mesh_cube_edge_corners[e][0], b = mesh_cube_edge_corners[e][1], d = a ^ b;
    ASSERT_TRUE(d == 1 || d == 2 || d == 4);
    int axis = d == 1 ? 0 : d == 2 ? 1
                                   : 2,
        lo   = a & ~d;
    EXPECT_EQ(t->edge_axis[e], axis);
    EXPECT_EQ(t->edge_at[axis][(lo >> ((axis + 1) % 3)) & 1][(lo >> ((axis + 2) % 3)) & 1], e);
  }
  std::set<int> all;
  for (int a = 0; a < 3; a++)
    for (int ob = 0; ob < 2; ob++)
      for (int oc = 0; oc < 2; oc++) all.insert(t->edge_at[a][ob][oc]);
  EXPECT_EQ(all.size(), 12u);
  for (int f = 0; f < 6; f++) {
    auto cyc = FaceCycle(f);
    for (int i = 0; i < 4; i++) EXPECT_EQ(t->face_corners[f][i], cyc[i]) << "face " << f;
  }
}

// Every crossed edge in exactly one group, no other edge in any; each group a
// closed loop whose consecutive edges share a face.
TEST(MeshTables, GroupsPartitionTheCrossedEdgesIntoLoops)
{
  const mesh_dmc_table *t = Table();
  for (int id = 0; id < 256; id++) {
    const mesh_dmc_case &dc        = t->cases[id];
    int                  count[12] = { 0 }, total = 0, ncrossed = 0;
    for (int e = 0; e < 12; e++) ncrossed += Crossed(id, e);
    EXPECT_EQ(dc.nedges, ncrossed);
    for (int g = 0; g < dc.ngroups; g++) {
      ASSERT_GE(dc.group_size[g], 3) << id;
      ASSERT_LE(dc.group_size[g], MESH_DMC_MAX_GROUP_EDGES);
      for (int n = 0; n < MESH_DMC_MAX_GROUP_EDGES; n++) {
        int e = dc.group_edges[g][n];
        if (n >= dc.group_size[g]) {
          EXPECT_EQ(e, -1);
          continue;
        }
        ASSERT_TRUE(e >= 0 && e < 12);
        EXPECT_TRUE(Crossed(id, e)) << "case " << id << " edge " << e;
        EXPECT_EQ(dc.edge_group[e], g);
        count[e]++;
        total++;
        // consecutive edges of the loop lie on a common face
        int next   = dc.group_edges[g][(n + 1) % dc.group_size[g]];
        int common = 0;
        for (int f = 0; f < 6; f++) {
          auto cyc = FaceCycle(f);
          int  on  = 0;
          for (int i = 0; i < 4; i++) {
            int fe = EdgeOf(cyc[i], cyc[(i + 1) % 4]);
            on += fe == e || fe == next;
          }
          common += on == 2;
        }
        EXPECT_EQ(common, 1) << "case " << id << " edges " << e << ", " << next;
      }
    }
    for (int e = 0; e < 12; e++) {
      EXPECT_EQ(count[e], Crossed(id, e) ? 1 : 0) << "case " << id << " edge " << e;
      if (!Crossed(id, e)) {
        EXPECT_EQ(dc.edge_group[e], -1);
      }
    }
    EXPECT_EQ(total, ncrossed);
    for (int g = dc.ngroups; g < 4; g++) EXPECT_EQ(dc.group_size[g], 0);
  }
}

// An independent regrouping (union-find, not loop tracing) gives the same groups.
TEST(MeshTables, GroupsMatchUnionFindOfTheFaceSegments)
{
  const mesh_dmc_table *t = Table();
  for (int id = 0; id < 256; id++) EXPECT_EQ(TableGroups(t->cases[id]), UnionFindGroups(id, 0)) << "case " << id;
}

// The face rule depends only on the signs: every symmetry maps the groups of
// a case onto the groups of the mapped case, and the flagged face too.
TEST(MeshTables, RotationsAndReflectionsConsistent)
{
  const mesh_dmc_table *t    = Table();
  auto                  syms = CubeSymmetries();
  ASSERT_EQ(syms.size(), 48u);
  for (const auto &m : syms) {
    int emap[12], fmap[6];
    for (int e = 0; e < 12; e++) {
      emap[e] = EdgeOf(m[mesh_cube_edge_corners[e][0]], m[mesh_cube_edge_corners[e][1]]);
      ASSERT_GE(emap[e], 0);
    }
    for (int f = 0; f < 6; f++) {
      // the face whose corners are the images of f's corners
      std::set<int> img;
      for (int c : FaceCycle(f)) img.insert(m[c]);
      fmap[f] = -1;
      for (int h = 0; h < 6; h++) {
        auto cyc = FaceCycle(h);
        if (std::set<int>(cyc.begin(), cyc.end()) == img) fmap[f] = h;
      }
      ASSERT_GE(fmap[f], 0);
    }
    for (int id = 0; id < 256; id++) {
      int mid = 0;
      for (int k = 0; k < 8; k++)
        if (Inside(id, k)) mid |= 1 << m[k];
      Groups mapped;
      for (const auto &g : TableGroups(t->cases[id])) {
        std::set<int> h;
        for (int e : g) h.insert(emap[e]);
        mapped.insert(h);
      }
      ASSERT_EQ(TableGroups(t->cases[mid]), mapped) << "case " << id << " -> " << mid;
      int f = t->cases[id].ambiguous_face;
      ASSERT_EQ(t->cases[mid].ambiguous_face, f < 0 ? -1 : fmap[f]) << "case " << id;
    }
  }
}

// Complements: same crossed edges; identical groups unless an ambiguous face
// is present, and then the complement's groups are the case's own loops with
// the opposite rule on its ambiguous faces (inside joined across).
TEST(MeshTables, ComplementsMirror)
{
  const mesh_dmc_table *t       = Table();
  int                   differs = 0;
  for (int id = 0; id < 256; id++) {
    const int comp = 255 - id;
    int       amb  = 0;
    for (int e = 0; e < 12; e++) EXPECT_EQ(Crossed(id, e), Crossed(comp, e));
    for (int f = 0; f < 6; f++) {
      auto cyc = FaceCycle(f);
      int  n   = 0;
      for (int i = 0; i < 4; i++) n += Crossed(id, EdgeOf(cyc[i], cyc[(i + 1) % 4]));
      if (n == 4) amb |= 1 << f;
    }
    EXPECT_EQ(TableGroups(t->cases[comp]), UnionFindGroups(id, amb)) << "case " << id;
    if (!amb) {
      EXPECT_EQ(TableGroups(t->cases[comp]), TableGroups(t->cases[id])) << "case " << id;
    }
    differs += TableGroups(t->cases[comp]) != TableGroups(t->cases[id]);
  }
  EXPECT_GT(differs, 0);
}

// The flagged cases: one group holds all 4 edges of an ambiguous face (two
// inside corners on its diagonal, joined through the cube: 5 or 6 inside
// corners); the complement's row splits them; the cube mirrored across the
// face is flagged on the opposite face, so a pair of such neighbours both flip.
TEST(MeshTables, AmbiguousCasesAndTheirResolution)
{
  const mesh_dmc_table *t = Table();
  for (int id = 0; id < 256; id++) {
    const mesh_dmc_case &dc          = t->cases[id];
    int                  f           = dc.ambiguous_face;
    int                  expect_face = -1;
    for (int h = 0; h < 6; h++) {
      auto cyc = FaceCycle(h);
      int  n = 0, g0 = dc.edge_group[EdgeOf(cyc[0], cyc[1])], same = 1;
      for (int i = 0; i < 4; i++) {
        int e = EdgeOf(cyc[i], cyc[(i + 1) % 4]);
        n += Crossed(id, e);
        same &= dc.edge_group[e] == g0;
      }
      if (n == 4 && same) {
        EXPECT_EQ(expect_face, -1) << "case " << id << " has two such faces";
        expect_face = h;
      }
    }
    ASSERT_EQ(f, expect_face) << "case " << id;
    if (f < 0) continue;
    EXPECT_TRUE(__builtin_popcount(id) == 5 || __builtin_popcount(id) == 6) << id;
    // the complement's row puts the face's edges in two groups
    auto          cyc = FaceCycle(f);
    std::set<int> g;
    for (int i = 0; i < 4; i++) g.insert(t->cases[255 - id].edge_group[EdgeOf(cyc[i], cyc[(i + 1) % 4])]);
    EXPECT_EQ(g.size(), 2u) << id;
    EXPECT_LT(t->cases[255 - id].ambiguous_face, 0);
    // the neighbour holding the mirror image across that face is flagged on the opposite face
    int axis = f / 2, mirror = 0;
    for (int k = 0; k < 8; k++)
      if (Inside(id, k)) mirror |= 1 << (k ^ (1 << axis));
    EXPECT_EQ(t->cases[mirror].ambiguous_face, f ^ 1) << id;
  }
}

} // namespace
