// Tetrahedral output of FlexiCubes (mesh_tets_build) and its checker
// (mesh_tets_check): on analytic fields (sphere, torus, box, a sphere cut by
// the grid with close) at several resolutions and on non-cubic grids, and on
// random fields with random weights, every tet has a positive volume, every
// interior face is shared by exactly 2 tets with opposite orientations, the
// boundary faces are exactly the boundary triangles, and the total volume is
// the enclosed volume. The figures are counted here independently of the
// library's checker, which is tested separately on broken meshes.
#include <gtest/gtest.h>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>
#include <deepcd/mesh.h>
#include "test_mesh_util.h"

namespace {

using mesh_test::Field;
using mesh_test::Grid;
using mesh_test::Sample;
using mesh_test::Vec;

struct Meshes {
  mesh_surface *s        = nullptr;
  mesh_tets    *t        = nullptr;
  Meshes()               = default;
  Meshes(const Meshes &) = delete;
  ~Meshes()
  {
    mesh_tets_destroy(&t);
    mesh_surface_destroy(&s);
  }
};

size_t NumVertices(const mesh_grid &g)
{
  return (size_t) (g.dims[0] + 1) * (g.dims[1] + 1) * (g.dims[2] + 1);
}

const Vec kCentre = { 0.0123, -0.0217, 0.0311 };

double Sphere(const Vec &p, double r)
{
  return std::sqrt((p[0] - kCentre[0]) * (p[0] - kCentre[0]) + (p[1] - kCentre[1]) * (p[1] - kCentre[1]) + (p[2] - kCentre[2]) * (p[2] - kCentre[2])) - r;
}

double Torus(const Vec &p, double R, double r)
{
  const double x = p[0] - kCentre[0], y = p[1] - kCentre[1], z = p[2] - kCentre[2];
  const double q = std::sqrt(x * x + z * z) - R;
  return std::sqrt(q * q + y * y) - r;
}

double Box(const Vec &p, Vec b)
{
  double q[3], out = 0, in = -1e300;
  for (int a = 0; a < 3; a++) {
    q[a] = std::fabs(p[a] - kCentre[a]) - b[a];
    out += std::max(q[a], 0.0) * std::max(q[a], 0.0);
    in = std::max(in, q[a]);
  }
  return std::sqrt(out) + std::min(in, 0.0);
}

mesh_flexicubes_options Options()
{
  mesh_flexicubes_options o;
  EXPECT_EQ(mesh_flexicubes_options_default(&o), MESH_SUCCESS);
  return o;
}

void Build(const mesh_grid &g, const std::vector<double> &f, const mesh_flexicubes_options &o, Meshes &m)
{
  ASSERT_EQ(flexicubes_extract(&g, f.data(), &o, &m.s), MESH_SUCCESS) << mesh_error_message();
  ASSERT_EQ(mesh_tets_build(&g, f.data(), &o, m.s, &m.t), MESH_SUCCESS) << mesh_error_message();
}

double TetVolume(const double *x, const int32_t *t)
{
  const double *a = x + 3 * t[0], *b = x + 3 * t[1], *c = x + 3 * t[2], *d = x + 3 * t[3];
  const double  u[3] = { b[0] - a[0], b[1] - a[1], b[2] - a[2] }, v[3] = { c[0] - a[0], c[1] - a[1], c[2] - a[2] }, w[3] = { d[0] - a[0], d[1] - a[1], d[2] - a[2] };
  return (u[0] * (v[1] * w[2] - v[2] * w[1]) - u[1] * (v[0] * w[2] - v[2] * w[0]) + u[2] * (v[0] * w[1] - v[1] * w[0])) / 6.0;
}

// A directed triangle as its rotation that starts at the smallest index
// (two rotations of one directed triangle compare equal; reversed ones don't).
using Tri = std::array<int32_t, 3>;
Tri Directed(int32_t a, int32_t b, int32_t c)
{
  if (b < a && b < c) return { b, c, a };
  if (c < a && c < b) return { c, a, b };
  return { a, b, c };
}

Tri Reversed(const Tri &t)
{
  return Directed(t[0], t[2], t[1]);
}

// The test's own count of what mesh_tets_check counts.
struct Count {
  long              nonpositive = 0, interior = 0, boundary = 0, bad_faces = 0, uncovered = 0;
  double            volume = 0, min_volume = 1e300;
  std::vector<long> nonpositive_tets;
};

Count Independent(int32_t nverts, const double *x, int32_t ntets, const int32_t *tets, int32_t ntris, const int32_t *tris)
{
  Count              c;
  std::map<Tri, int> faces; // directed tet faces
  for (int32_t i = 0; i < ntets; i++) {
    const int32_t *t = tets + 4 * (size_t) i;
    const double   v = TetVolume(x, t);
    for (int k = 0; k < 4; k++) EXPECT_TRUE(t[k] >= 0 && t[k] < nverts);
    c.volume += v;
    c.min_volume = std::min(c.min_volume, v);
    if (v <= 0) {
      c.nonpositive++;
      c.nonpositive_tets.push_back(i);
    }
    faces[Directed(t[1], t[2], t[3])]++;
    faces[Directed(t[0], t[3], t[2])]++;
    faces[Directed(t[0], t[1], t[3])]++;
    faces[Directed(t[0], t[2], t[1])]++;
  }
  std::map<Tri, int> surface;
  for (int32_t i = 0; i < ntris; i++) surface[Directed(tris[3 * i], tris[3 * i + 1], tris[3 * i + 2])]++;
  for (const auto &[f, n] : faces) {
    auto r = faces.find(Reversed(f));
    if (n != 1)
      c.bad_faces++; // the same directed face twice: overlapping tets
    else if (r != faces.end()) {
      if (r->second == 1 && f < r->first) c.interior++;
    } else if (surface.count(f) == 1 && surface[f] == 1)
      c.boundary++;
    else
      c.bad_faces++;
  }
  for (const auto &[f, n] : surface)
    if (n != 1 || !faces.count(f) || faces.count(Reversed(f))) c.uncovered++;
  return c;
}

double EnclosedVolume(const mesh_tets *t)
{
  mesh_stats st;
  EXPECT_EQ(mesh_stats_compute(t->nverts, t->verts, t->ntris, t->tris, 0.0, &st), MESH_SUCCESS);
  EXPECT_TRUE(st.closed_manifold);
  return st.volume;
}

// Non-zero when segment (a, b) passes through the inside of triangle
// (t0, t1, t2), away from its edges and from the segment's ends.
bool SegmentCrossesTriangle(const double *a, const double *b, const double *t0, const double *t1, const double *t2)
{
  const double e1[3] = { t1[0] - t0[0], t1[1] - t0[1], t1[2] - t0[2] }, e2[3] = { t2[0] - t0[0], t2[1] - t0[1], t2[2] - t0[2] };
  const double d[3] = { b[0] - a[0], b[1] - a[1], b[2] - a[2] }, s[3] = { a[0] - t0[0], a[1] - t0[1], a[2] - t0[2] };
  const double h[3] = { d[1] * e2[2] - d[2] * e2[1], d[2] * e2[0] - d[0] * e2[2], d[0] * e2[1] - d[1] * e2[0] };
  const double det  = e1[0] * h[0] + e1[1] * h[1] + e1[2] * h[2];
  if (std::fabs(det) < 1e-30) return false;
  const double q[3] = { s[1] * e1[2] - s[2] * e1[1], s[2] * e1[0] - s[0] * e1[2], s[0] * e1[1] - s[1] * e1[0] };
  const double u = (s[0] * h[0] + s[1] * h[1] + s[2] * h[2]) / det, v = (d[0] * q[0] + d[1] * q[1] + d[2] * q[2]) / det, t = (e2[0] * q[0] + e2[1] * q[1] + e2[2] * q[2]) / det;
  const double eps = 1e-9;
  return u > eps && v > eps && u + v < 1 - eps && t > eps && t < 1 - eps;
}

// Non-zero when an edge of tet i passes through a boundary triangle: the
// edge leaves the region, so no valid tet mesh has it, and the tets around
// it cannot all be positive (docs/mesh.md, "Where positivity is not
// guaranteed").
bool EdgeCrossesBoundary(const mesh_tets *t, long i)
{
  const int32_t *v = t->tets + 4 * i;
  for (int a = 0; a < 4; a++)
    for (int b = a + 1; b < 4; b++)
      for (int32_t k = 0; k < t->ntris; k++) {
        const int32_t *tr = t->tris + 3 * (size_t) k;
        if (SegmentCrossesTriangle(t->verts + 3 * v[a], t->verts + 3 * v[b], t->verts + 3 * tr[0], t->verts + 3 * tr[1], t->verts + 3 * tr[2])) return true;
      }
  return false;
}

// Everything the tet mesh must satisfy, counted independently and by the
// library's checker (which must agree). With allowed = true (training mode)
// a tet may be inverted only where one of its edges passes through the
// boundary.
long ExpectValidTets(const Meshes &m, const std::string &what, bool allowed = false)
{
  const mesh_tets *t = m.t;
  EXPECT_GT(t->ntets, 0) << what;
  EXPECT_EQ(t->nverts, t->nsurface + t->ngrid + t->ncentres + t->nsteiner) << what;
  EXPECT_EQ(t->nsurface, m.s->nverts) << what;
  {
    // every vertex is used by a tet (a repair must not orphan one)
    std::vector<char> used(t->nverts, 0);
    for (long i = 0; i < 4 * (long) t->ntets; i++)
      if (t->tets[i] >= 0 && t->tets[i] < t->nverts) used[t->tets[i]] = 1;
    EXPECT_EQ(std::count(used.begin(), used.end(), 1), (long) t->nverts) << what;
  }
  Count c = Independent(t->nverts, t->verts, t->ntets, t->tets, t->ntris, t->tris);
  if (allowed)
    for (long i : c.nonpositive_tets) EXPECT_TRUE(EdgeCrossesBoundary(t, i)) << what << ": tet " << i;
  else
    EXPECT_EQ(c.nonpositive, 0) << what << " (min volume " << c.min_volume << ")";
  EXPECT_EQ(c.bad_faces, 0) << what;
  EXPECT_EQ(c.uncovered, 0) << what;
  EXPECT_EQ(c.boundary, t->ntris) << what;
  EXPECT_EQ(4 * (long) t->ntets, 2 * c.interior + c.boundary) << what;
  const double enclosed = EnclosedVolume(t);
  // to rounding: the sums run over up to ~1e5 terms
  EXPECT_NEAR(c.volume, enclosed, 1e-11 * std::fabs(enclosed)) << what;
  EXPECT_NEAR(t->volume, c.volume, 1e-11 * std::fabs(c.volume)) << what;
  EXPECT_EQ(t->nonpositive, c.nonpositive) << what;
  EXPECT_DOUBLE_EQ(t->min_volume, c.min_volume) << what;

  mesh_tets_stats st;
  EXPECT_EQ(mesh_tets_check(t->nverts, t->verts, t->ntets, t->tets, t->ntris, t->tris, 0.0, &st), MESH_SUCCESS) << mesh_error_message();
  EXPECT_EQ(st.valid, c.nonpositive == 0) << what;
  EXPECT_EQ(st.nonpositive, c.nonpositive) << what;
  EXPECT_EQ(st.interior_faces, c.interior) << what;
  EXPECT_EQ(st.boundary_faces, c.boundary) << what;
  EXPECT_EQ(st.nonmanifold_faces + st.misoriented_faces + st.unmatched_faces + st.uncovered_triangles + st.degenerate_tets, 0) << what;
  return c.nonpositive;
}

// The boundary triangles are the surface's, but for quads split the other
// way (nresplit of them, in inference mode only).
void ExpectSurfaceKept(const Meshes &m, const std::string &what)
{
  const mesh_surface *s = m.s;
  const mesh_tets    *t = m.t;
  ASSERT_EQ(t->ntris, s->ntris) << what;
  for (int32_t v = 0; v < s->nverts; v++)
    for (int a = 0; a < 3; a++) ASSERT_EQ(t->verts[3 * v + a], s->verts[3 * v + a]) << what;
  const int tpq     = s->training ? 4 : 2;
  int       changed = 0;
  for (int32_t q = 0; q < s->nquads; q++) {
    bool same = true;
    for (int i = 0; i < 3 * tpq; i++) same &= t->tris[3 * tpq * q + i] == s->tris[3 * tpq * q + i];
    if (same) continue;
    changed++;
    // the other diagonal of the same 4 dual vertices
    std::vector<int32_t> a(t->tris + 3 * tpq * q, t->tris + 3 * tpq * (q + 1)), b(s->tris + 3 * tpq * q, s->tris + 3 * tpq * (q + 1));
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_NE(a, b) << what;
    a.erase(std::unique(a.begin(), a.end()), a.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
    EXPECT_EQ(a, b) << what;
  }
  EXPECT_EQ(changed, t->nresplit) << what;
  if (s->training) EXPECT_EQ(t->nresplit, 0) << what;
}

long InsideVertices(const std::vector<double> &f, double iso)
{
  return (long) std::count_if(f.begin(), f.end(), [iso](double v) { return v < iso; });
}

long FullyInsideCubes(const mesh_grid &g, const std::vector<double> &f, double iso)
{
  long n = 0;
  for (int k = 0; k < g.dims[2]; k++)
    for (int j = 0; j < g.dims[1]; j++)
      for (int i = 0; i < g.dims[0]; i++) {
        bool in = true;
        for (int c = 0; c < 8; c++) in &= f[((size_t) (k + (c >> 2 & 1)) * (g.dims[1] + 1) + j + (c >> 1 & 1)) * (g.dims[0] + 1) + i + (c & 1)] < iso;
        n += in;
      }
  return n;
}

struct AnalyticCase {
  std::string name;
  mesh_grid   g;
  Field       f;
};

// The sphere, the torus (non-cubic grid) and the box (n x 3/4 n x 5/4 n) at n.
std::vector<AnalyticCase> AnalyticCases(int n)
{
  return {
    { "sphere", Grid(n, n, n, { -1, -1, -1 }, { 1, 1, 1 }), [](const Vec &p) { return Sphere(p, 0.8); } },
    { "torus", Grid(n, n * 3 / 4, n, { -1, -0.75, -1 }, { 1, 0.75, 1 }), [](const Vec &p) { return Torus(p, 0.6, 0.25); } },
    { "box, non-cubic grid", Grid(n, n * 3 / 4, n * 5 / 4, { -1, -1, -1 }, { 1, 1, 1 }), [](const Vec &p) { return Box(p, { 0.7, 0.5, 0.8 }); } },
  };
}

TEST(MeshTets, SphereTorusBoxAtSeveralResolutions)
{
  long resplit = 0, quads = 0;
  for (int n : { 8, 16, 32 }) {
    const auto cases = AnalyticCases(n);
    for (const auto &c : cases) {
      auto   f = Sample(c.g, c.f);
      Meshes m;
      Build(c.g, f, Options(), m);
      std::string what = c.name + " n=" + std::to_string(n);
      ExpectValidTets(m, what);
      ExpectSurfaceKept(m, what);
      EXPECT_EQ(m.t->nflips + m.t->nsteiner, 0) << what;
      EXPECT_EQ(m.t->ngrid, InsideVertices(f, 0.0)) << what;
      EXPECT_EQ(m.t->ncentres, FullyInsideCubes(c.g, f, 0.0)) << what;
      resplit += m.t->nresplit;
      quads += m.s->nquads;
      mesh_tets_stats st;
      ASSERT_EQ(mesh_tets_check(m.t->nverts, m.t->verts, m.t->ntets, m.t->tets, m.t->ntris, m.t->tris, 0.0, &st), MESH_SUCCESS);
      EXPECT_GT(st.min_dihedral_deg, 0.0) << what;
      EXPECT_LT(st.min_dihedral_deg, 70.53) << what; // a regular tet's angle is the largest possible minimum
      std::printf("[ tets     ] %-20s n=%3d  %7d tets, min volume %.2e h^3, min dihedral %.2f deg, %d of %d quads split the other way\n", c.name.c_str(), n, m.t->ntets,
                  m.t->min_volume / (c.g.spacing[0] * c.g.spacing[1] * c.g.spacing[2]), st.min_dihedral_deg, m.t->nresplit, m.s->nquads);
    }
  }
  // the surface's own split inverts a tet on curved surfaces: the re-split is exercised
  EXPECT_GT(resplit, 0);
  EXPECT_LT(resplit, quads / 10);
}

// A sphere cut by the grid, closed with a finite close_value: the caps lie
// just outside the grid's faces.
TEST(MeshTets, CloseCutSphere)
{
  for (int n : { 10, 21 }) {
    mesh_grid g = Grid(n, n + 3, n - 2, { -0.7, -0.8, -0.6 }, { 0.7, 0.8, 0.6 });
    auto      f = Sample(g, [](const Vec &p) { return Sphere(p, 0.8); });
    auto      o = Options();
    o.close     = 1;
    for (double cv : { 0.05, 1.0 }) {
      o.close_value = cv;
      Meshes m;
      Build(g, f, o, m);
      std::string what = "cut sphere n=" + std::to_string(n) + " close_value " + std::to_string(cv);
      ExpectValidTets(m, what);
      ExpectSurfaceKept(m, what);
      EXPECT_EQ(m.t->ngrid, InsideVertices(f, 0.0)) << what;
    }
  }
}

// Random fields: every ambiguous configuration, flipped pairs of cubes
// (filled across their shared face), random weights; iso not at 0.
TEST(MeshTets, RandomFieldsWithRandomWeights)
{
  long flipped = 0, resplit = 0, inverted[2] = { 0, 0 }, tets[2] = { 0, 0 }, blocked[2] = { 0, 0 }, repaired[2] = { 0, 0 };
  for (unsigned seed = 0; seed < 60; seed++) {
    mesh_grid                              g      = Grid(5 + seed % 4, 6, 4 + seed % 3, { 0, 0, 0 }, { 1, 1.3, 0.8 });
    size_t                                 ncubes = (size_t) g.dims[0] * g.dims[1] * g.dims[2];
    std::mt19937                           gen(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::normal_distribution<double>       nd(0.0, 2.0);
    std::vector<double>                    f(NumVertices(g)), alpha(8 * ncubes), beta(12 * ncubes), gamma(ncubes);
    for (auto &x : f) x = u(gen);
    for (auto &x : alpha) x = nd(gen);
    for (auto &x : beta) x = nd(gen);
    for (auto &x : gamma) x = nd(gen);
    for (int mode = 0; mode < 3; mode++) {
      auto o        = Options();
      o.training    = mode == 2;
      o.close       = 1;
      o.close_value = 0.5;
      o.iso         = 0.1 * (seed % 5) - 0.2;
      if (mode >= 1) {
        o.alpha = alpha.data();
        o.beta  = beta.data();
        o.gamma = gamma.data();
      }
      Meshes m;
      Build(g, f, o, m);
      std::string what = "seed " + std::to_string(seed) + " mode " + std::to_string(mode);
      ExpectValidTets(m, what, mode == 2);
      ExpectSurfaceKept(m, what);
      if (mode == 0) EXPECT_EQ(m.t->nflips + m.t->nsteiner, 0) << what; // nothing to repair
      repaired[0] += m.t->nflips;
      repaired[1] += m.t->nsteiner;
      for (int32_t v = 0; v < m.s->ndual; v++) flipped += m.s->dual[v].flipped;
      resplit += m.t->nresplit;
      if (mode >= 1) {
        for (int32_t i = 0; i < m.t->ntets; i++)
          if (TetVolume(m.t->verts, m.t->tets + 4 * (size_t) i) <= 0) {
            inverted[mode - 1]++;
            blocked[mode - 1] += EdgeCrossesBoundary(m.t, i);
          }
        tets[mode - 1] += m.t->ntets;
      }
    }
  }
  std::printf("[ tets     ] random fields: %ld dual vertices of flipped cubes, %ld quads split the other way; "
              "with random weights %ld of %ld tets inverted; training mode with random weights %ld of %ld inverted (%ld with an edge "
              "through the boundary); %ld 2-3 flips and %ld Steiner points repaired inverted tets\n",
              flipped, resplit, inverted[0], tets[0], inverted[1], tets[1], blocked[1], repaired[0], repaired[1]);
  EXPECT_GT(flipped, 100);   // the flipped-face rings are exercised
  EXPECT_GT(repaired[1], 0); // and the Steiner repair
}

// A small deformation of the grid keeps the tets valid.
TEST(MeshTets, DeformedGrid)
{
  mesh_grid                              g = Grid(14, 12, 16, { -1, -1, -1 }, { 1, 1, 1 });
  auto                                   f = Sample(g, [](const Vec &p) { return Torus(p, 0.55, 0.3); });
  std::vector<double>                    d(3 * NumVertices(g));
  std::mt19937                           gen(7);
  std::uniform_real_distribution<double> u(-0.1, 0.1);
  for (size_t i = 0; i < d.size(); i++) d[i] = u(gen) * g.spacing[i % 3];
  auto o   = Options();
  o.deform = d.data();
  Meshes m;
  Build(g, f, o, m);
  ExpectValidTets(m, "deformed torus");
}

// Training-mode surfaces (4 triangles around a centre per quad): the tets
// conform, their volume is the enclosed volume, and a tet is inverted only
// where an edge from the inside end to a dual vertex passes through the
// surface (then no tets with that edge can be positive; docs/mesh.md).
TEST(MeshTets, TrainingModeInvertedOnlyWhereAnEdgeLeavesTheRegion)
{
  long flips = 0, steiner = 0;
  for (int n : { 8, 16 }) {
    const auto cases = AnalyticCases(n);
    for (const auto &c : cases) {
      auto f     = Sample(c.g, c.f);
      auto o     = Options();
      o.training = 1;
      Meshes m;
      Build(c.g, f, o, m);
      std::string what = "training " + c.name + " n=" + std::to_string(n);
      ExpectSurfaceKept(m, what);
      const long bad = ExpectValidTets(m, what, true);
      std::printf("[ tets     ] training %-20s n=%3d  %ld of %d tets inverted, %d repaired by 2-3 flips, %d by Steiner points\n", c.name.c_str(), n, bad, m.t->ntets, m.t->nflips, m.t->nsteiner);
      flips += m.t->nflips;
      steiner += m.t->nsteiner;
    }
  }
  EXPECT_GT(flips, 0); // the flips are exercised (and ExpectValidTets checked the meshes after them)
  EXPECT_GT(steiner, 0);
}

// The checker sees a flipped tet, a missing one, a duplicated one, a face
// that is not a surface triangle, and a degenerate tet.
TEST(MeshTets, CheckerDetectsBrokenMeshes)
{
  mesh_grid g = Grid(10, 10, 10, { -1, -1, -1 }, { 1, 1, 1 });
  auto      f = Sample(g, [](const Vec &p) { return Sphere(p, 0.7); });
  Meshes    m;
  Build(g, f, Options(), m);
  const mesh_tets     *t = m.t;
  std::vector<int32_t> tets(t->tets, t->tets + 4 * (size_t) t->ntets);
  std::vector<int32_t> tris(t->tris, t->tris + 3 * (size_t) t->ntris);
  mesh_tets_stats      st;
  auto                 check = [&](const std::vector<int32_t> &tt, const std::vector<int32_t> &tr) {
    EXPECT_EQ(mesh_tets_check(t->nverts, t->verts, (int32_t) (tt.size() / 4), tt.data(), (int32_t) (tr.size() / 3), tr.data(), 0.0, &st), MESH_SUCCESS);
    return st;
  };
  EXPECT_TRUE(check(tets, tris).valid);
  {
    // the corner tet (0,0,0) (1,0,0) (0,1,0) (0,0,1): dihedral angles 90 and 54.74 degrees
    const double    x[12]  = { 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 };
    const int32_t   one[4] = { 0, 1, 2, 3 };
    mesh_tets_stats q;
    ASSERT_EQ(mesh_tets_check(4, x, 1, one, 0, nullptr, 0.0, &q), MESH_SUCCESS);
    EXPECT_NEAR(q.min_dihedral_deg, std::acos(1.0 / std::sqrt(3.0)) * 180.0 / M_PI, 1e-9);
    EXPECT_NEAR(q.volume, 1.0 / 6.0, 1e-15);
    EXPECT_EQ(q.unmatched_faces, 4); // no surface given: its 4 faces match nothing
  }

  auto flipped = tets; // swap two vertices of a tet in the middle of the list
  std::swap(flipped[4 * 100 + 1], flipped[4 * 100 + 2]);
  check(flipped, tris);
  EXPECT_FALSE(st.valid);
  EXPECT_EQ(st.nonpositive, 1);
  EXPECT_GT(st.misoriented_faces + st.unmatched_faces, 0);
  Count c = Independent(t->nverts, t->verts, (int32_t) (flipped.size() / 4), flipped.data(), t->ntris, tris.data());
  EXPECT_EQ(c.nonpositive, 1);
  EXPECT_GT(c.bad_faces, 0);

  auto missing = tets;
  missing.erase(missing.begin() + 4 * 50, missing.begin() + 4 * 51);
  check(missing, tris);
  EXPECT_FALSE(st.valid);
  EXPECT_EQ(st.nonpositive, 0);
  EXPECT_GT(st.unmatched_faces + st.uncovered_triangles, 0);

  auto doubled = tets;
  doubled.insert(doubled.end(), tets.begin() + 4 * 7, tets.begin() + 4 * 8);
  check(doubled, tris);
  EXPECT_FALSE(st.valid);
  EXPECT_EQ(st.nonmanifold_faces + st.misoriented_faces, 4);

  auto reversed = tris; // one surface triangle the wrong way round
  std::swap(reversed[1], reversed[2]);
  check(tets, reversed);
  EXPECT_FALSE(st.valid);
  EXPECT_EQ(st.unmatched_faces, 1);
  EXPECT_EQ(st.uncovered_triangles, 1);

  auto degenerate = tets;
  degenerate[3]   = degenerate[0];
  check(degenerate, tris);
  EXPECT_FALSE(st.valid);
  EXPECT_EQ(st.degenerate_tets, 1);

  std::vector<int32_t> bad = tets;
  bad[5]                   = t->nverts;
  EXPECT_EQ(mesh_tets_check(t->nverts, t->verts, t->ntets, bad.data(), t->ntris, tris.data(), 0.0, &st), MESH_ERR_ARG);
}

TEST(MeshTets, ArgumentErrors)
{
  mesh_grid g = Grid(8, 8, 8, { -1, -1, -1 }, { 1, 1, 1 });
  // a sphere cut by the grid: open without close
  auto       f = Sample(g, [](const Vec &p) { return Sphere(p, 1.2); });
  Meshes     m;
  mesh_tets *t = nullptr;
  auto       o = Options();
  ASSERT_EQ(flexicubes_extract(&g, f.data(), &o, &m.s), MESH_SUCCESS);
  EXPECT_EQ(mesh_tets_build(&g, f.data(), &o, m.s, &t), MESH_ERR_ARG);
  EXPECT_NE(std::string(mesh_error_message()).find("grid boundary"), std::string::npos) << mesh_error_message();
  EXPECT_EQ(t, nullptr);
  mesh_surface_destroy(&m.s);

  // close with the default (infinite) close_value: flat caps
  o.close = 1;
  ASSERT_EQ(flexicubes_extract(&g, f.data(), &o, &m.s), MESH_SUCCESS);
  EXPECT_EQ(mesh_tets_build(&g, f.data(), &o, m.s, &t), MESH_ERR_ARG);
  EXPECT_NE(std::string(mesh_error_message()).find("close_value"), std::string::npos) << mesh_error_message();
  mesh_surface_destroy(&m.s);

  // a surface from another field, or other options
  auto small = Sample(g, [](const Vec &p) { return Sphere(p, 0.5); });
  auto big   = Sample(g, [](const Vec &p) { return Sphere(p, 0.7); });
  o          = Options();
  ASSERT_EQ(flexicubes_extract(&g, small.data(), &o, &m.s), MESH_SUCCESS);
  EXPECT_EQ(mesh_tets_build(&g, big.data(), &o, m.s, &t), MESH_ERR_ARG);
  EXPECT_NE(std::string(mesh_error_message()).find("another field"), std::string::npos) << mesh_error_message();
  o.training = 1;
  EXPECT_EQ(mesh_tets_build(&g, small.data(), &o, m.s, &t), MESH_ERR_ARG);
  o.training = 0;
  EXPECT_EQ(mesh_tets_build(&g, small.data(), &o, nullptr, &t), MESH_ERR_ARG);
  EXPECT_EQ(mesh_tets_build(&g, nullptr, &o, m.s, &t), MESH_ERR_ARG);
  EXPECT_EQ(mesh_tets_build(&g, small.data(), &o, m.s, nullptr), MESH_ERR_ARG);
  auto nan = small;
  nan[0]   = NAN;
  EXPECT_EQ(mesh_tets_build(&g, nan.data(), &o, m.s, &t), MESH_ERR_ARG);
  EXPECT_EQ(t, nullptr);
  // the right field works, with NULL options meaning the defaults
  ASSERT_EQ(mesh_tets_build(&g, small.data(), nullptr, m.s, &t), MESH_SUCCESS);
  EXPECT_GT(t->ntets, 0);
  mesh_tets_destroy(&t);
  EXPECT_EQ(t, nullptr);
  EXPECT_EQ(mesh_tets_destroy(&t), MESH_SUCCESS);
}

} // namespace
