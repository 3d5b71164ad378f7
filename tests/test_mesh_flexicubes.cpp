// FlexiCubes extraction: analytic fields (sphere, torus, box) at several
// resolutions, the close option, random fields (the ambiguous cases), the
// weights, the deformation, provenance, and an independent plain Dual
// Marching Cubes that the default weights must reproduce exactly.
#include <gtest/gtest.h>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>
#include <deepcd/mesh.h>
#include "test_mesh_util.h"

namespace {

using mesh_test::Field;
using mesh_test::Grid;
using mesh_test::Sample;
using mesh_test::Surface;
using mesh_test::Vec;

size_t VertexIndex(const mesh_grid &g, int i, int j, int k)
{
  return ((size_t) k * (g.dims[1] + 1) + j) * (g.dims[0] + 1) + i;
}

Vec Position(const mesh_grid &g, int i, int j, int k)
{
  return { g.origin[0] + g.spacing[0] * i, g.origin[1] + g.spacing[1] * j, g.origin[2] + g.spacing[2] * k };
}

std::vector<double> RandomField(const mesh_grid &g, unsigned seed)
{
  std::mt19937                           gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double>                    v((size_t) (g.dims[0] + 1) * (g.dims[1] + 1) * (g.dims[2] + 1));
  for (auto &x : v) x = u(gen);
  return v;
}

// Analytic SDFs (after Inigo Quilez), centres slightly off the grid's symmetry.
const Vec kCentre = { 0.0123, -0.0217, 0.0311 };

double Sphere(const Vec &p, Vec c, double r)
{
  return std::sqrt((p[0] - c[0]) * (p[0] - c[0]) + (p[1] - c[1]) * (p[1] - c[1]) + (p[2] - c[2]) * (p[2] - c[2])) - r;
}

double Torus(const Vec &p, double R, double r) // around the y axis
{
  double x = p[0] - kCentre[0], y = p[1] - kCentre[1], z = p[2] - kCentre[2];
  double q = std::sqrt(x * x + z * z) - R;
  return std::sqrt(q * q + y * y) - r;
}

double Box(const Vec &p, Vec b)
{
  double q[3], m = -1e300, o = 0;
  for (int a = 0; a < 3; a++) {
    q[a] = std::fabs(p[a] - kCentre[a]) - b[a];
    m    = std::max(m, q[a]);
    o += std::max(q[a], 0.0) * std::max(q[a], 0.0);
  }
  return std::sqrt(o) + std::min(m, 0.0);
}

mesh_flexicubes_options Options()
{
  mesh_flexicubes_options o;
  EXPECT_EQ(mesh_flexicubes_options_default(&o), MESH_SUCCESS);
  return o;
}

void Extract(const mesh_grid &g, const std::vector<double> &f, const mesh_flexicubes_options *o, Surface &s)
{
  ASSERT_EQ(flexicubes_extract(&g, f.data(), o, &s.s), MESH_SUCCESS) << mesh_error_message();
  ASSERT_NE(s.s, nullptr);
}

// Independent of the library's mesh_stats_compute: edge uses sorted in a vector.
struct Topology {
  long   boundary = 0, nonmanifold = 0, misoriented = 0, degenerate = 0, unreferenced = 0, euler = 0;
  double volume = 0;
};

Topology Check(const mesh_surface *s, double area_tol)
{
  Topology                               t;
  std::vector<std::tuple<int, int, int>> uses;
  std::vector<char>                      used(s->nverts, 0);
  for (int i = 0; i < s->ntris; i++) {
    const int *T = s->tris + 3 * i;
    for (int k = 0; k < 3; k++) {
      int a = T[k], b = T[(k + 1) % 3];
      uses.emplace_back(std::min(a, b), std::max(a, b), a < b ? 1 : -1);
      used[a] = 1;
    }
    const double *p = s->verts + 3 * T[0], *q = s->verts + 3 * T[1], *r = s->verts + 3 * T[2];
    double        u[3] = { q[0] - p[0], q[1] - p[1], q[2] - p[2] }, v[3] = { r[0] - p[0], r[1] - p[1], r[2] - p[2] };
    double        n[3] = { u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0] };
    t.degenerate += T[0] == T[1] || T[1] == T[2] || T[0] == T[2] || 0.5 * std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]) <= area_tol;
    t.volume += (p[0] * (q[1] * r[2] - q[2] * r[1]) - p[1] * (q[0] * r[2] - q[2] * r[0]) + p[2] * (q[0] * r[1] - q[1] * r[0])) / 6;
  }
  std::sort(uses.begin(), uses.end());
  long nedges = 0, nv = 0;
  for (size_t i = 0; i < uses.size();) {
    size_t j = i;
    while (j < uses.size() && std::get<0>(uses[j]) == std::get<0>(uses[i]) && std::get<1>(uses[j]) == std::get<1>(uses[i])) j++;
    nedges++;
    if (j - i == 1)
      t.boundary++;
    else if (j - i > 2)
      t.nonmanifold++;
    else if (std::get<2>(uses[i]) == std::get<2>(uses[i + 1]))
      t.misoriented++;
    i = j;
  }
  for (char u : used) nv += u, t.unreferenced += !u;
  t.euler = nv - nedges + s->ntris;
  return t;
}

const long kAnyEuler = -999; // for ExpectClosedManifold: do not check the Euler characteristic

// Closed, manifold, consistently and outward oriented, nothing degenerate;
// the library's figures agree with the independent ones.
void ExpectClosedManifold(const mesh_surface *s, double h, long euler, const std::string &what)
{
  Topology   t = Check(s, 1e-12 * h * h);
  mesh_stats st;
  ASSERT_EQ(mesh_stats_compute(s->nverts, s->verts, s->ntris, s->tris, 1e-12 * h * h, &st), MESH_SUCCESS) << mesh_error_message();
  EXPECT_GT(s->ntris, 0) << what;
  EXPECT_EQ(t.boundary, 0) << what;
  EXPECT_EQ(t.nonmanifold, 0) << what;
  EXPECT_EQ(t.misoriented, 0) << what;
  EXPECT_EQ(t.degenerate, 0) << what;
  EXPECT_EQ(t.unreferenced, 0) << what;
  EXPECT_EQ(st.nonmanifold_vertices, 0) << what;
  EXPECT_TRUE(st.closed_manifold) << what;
  if (euler != kAnyEuler) {
    EXPECT_EQ(t.euler, euler) << what;
  }
  EXPECT_GT(t.volume, 0) << what;
  EXPECT_EQ(st.euler, t.euler);
  EXPECT_EQ(st.boundary_edges, t.boundary);
  EXPECT_EQ(st.degenerate_triangles, t.degenerate);
  EXPECT_NEAR(st.volume, t.volume, 1e-9 * std::fabs(t.volume) + 1e-12);
}

const double kPi = 3.14159265358979323846;

// Vertices whose triangles form more than one fan (independent of the library).
std::vector<int> PinchedVertices(const mesh_surface *s)
{
  std::vector<std::vector<int>> around(s->nverts);
  for (int t = 0; t < s->ntris; t++)
    for (int k = 0; k < 3; k++) around[s->tris[3 * t + k]].push_back(t);
  std::vector<int> out;
  for (int v = 0; v < s->nverts; v++) {
    const auto      &T = around[v];
    std::vector<int> fan(T.size());
    for (size_t i = 0; i < T.size(); i++) fan[i] = (int) i;
    bool changed = true;
    while (changed) { // label propagation over triangles sharing an edge at v
      changed = false;
      for (size_t i = 0; i < T.size(); i++)
        for (size_t j = 0; j < T.size(); j++) {
          bool share = false;
          for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) share |= s->tris[3 * T[i] + a] == s->tris[3 * T[j] + b] && s->tris[3 * T[i] + a] != v;
          if (share && fan[j] > fan[i]) fan[j] = fan[i], changed = true;
        }
    }
    if (std::set<int>(fan.begin(), fan.end()).size() > 1) out.push_back(v);
  }
  return out;
}

struct Convergence {
  std::vector<int>    n;
  std::vector<double> err;
  void                Print(const char *name) const
  {
    for (size_t i = 0; i < n.size(); i++) {
      std::printf("[ volume   ] %-12s n=%4d  relative error %.3e", name, n[i], err[i]);
      if (i) std::printf("  order %.2f", std::log2(err[i - 1] / err[i]));
      std::printf("\n");
    }
  }
  double LastOrder() const
  {
    return std::log2(err[err.size() - 2] / err.back());
  }
};

TEST(MeshFlexicubes, SphereClosedManifoldVolumeConverges)
{
  const double r = 0.8, exact = 4.0 / 3.0 * kPi * r * r * r;
  Convergence  c;
  for (int n : { 16, 32, 64, 128 }) {
    mesh_grid g = Grid(n, n, n, { -1, -1, -1 }, { 1, 1, 1 });
    auto      f = Sample(g, [&](const Vec &p) { return Sphere(p, kCentre, r); });
    Surface   s;
    Extract(g, f, nullptr, s);
    ExpectClosedManifold(s.s, g.spacing[0], 2, "sphere n=" + std::to_string(n));
    double maxdist = 0;
    for (int v = 0; v < s.s->nverts; v++) maxdist = std::max(maxdist, std::fabs(Sphere({ s.s->verts[3 * v], s.s->verts[3 * v + 1], s.s->verts[3 * v + 2] }, kCentre, r)));
    std::printf("[ sphere   ] n=%4d  %d vertices, %d triangles, max |sdf(v)|/h = %.4f\n", n, s.s->nverts, s.s->ntris, maxdist / g.spacing[0]);
    EXPECT_LT(maxdist, 0.1 * g.spacing[0]);
    c.n.push_back(n);
    c.err.push_back(std::fabs(Check(s.s, 0).volume - exact) / exact);
  }
  c.Print("sphere");
  EXPECT_LT(c.err.back(), 1e-3);
  EXPECT_GT(c.LastOrder(), 1.5);
}

TEST(MeshFlexicubes, TorusGenusOne)
{
  const double R = 0.6, r = 0.25, exact = 2 * kPi * kPi * R * r * r;
  Convergence  c;
  for (int n : { 16, 32, 64, 128 }) {
    mesh_grid g = Grid(n, n, n, { -1, -1, -1 }, { 1, 1, 1 });
    auto      f = Sample(g, [&](const Vec &p) { return Torus(p, R, r); });
    Surface   s;
    Extract(g, f, nullptr, s);
    ExpectClosedManifold(s.s, g.spacing[0], 0, "torus n=" + std::to_string(n));
    c.n.push_back(n);
    c.err.push_back(std::fabs(Check(s.s, 0).volume - exact) / exact);
  }
  c.Print("torus");
  EXPECT_LT(c.err.back(), 2e-3);
  EXPECT_GT(c.LastOrder(), 1.5);
}

// A box on a non-cubic grid (different counts and spacings per axis).
TEST(MeshFlexicubes, BoxOnNonCubicGrid)
{
  const Vec    b     = { 0.55, 0.35, 0.6 };
  const double exact = 8 * b[0] * b[1] * b[2];
  Convergence  c;
  for (int n : { 12, 24, 48, 96 }) {
    mesh_grid g = Grid(n, 3 * n / 4, 5 * n / 4, { -0.8, -0.6, -0.9 }, { 0.8, 0.5, 1.0 });
    auto      f = Sample(g, [&](const Vec &p) { return Box(p, b); });
    Surface   s;
    Extract(g, f, nullptr, s);
    ExpectClosedManifold(s.s, g.spacing[1], 2, "box n=" + std::to_string(n));
    c.n.push_back(n);
    c.err.push_back(std::fabs(Check(s.s, 0).volume - exact) / exact);
  }
  c.Print("box");
  EXPECT_LT(c.err.back(), 2e-3);
  EXPECT_GT(c.LastOrder(), 1.5);
}

// The inside region is on the negative side: negating the field keeps the
// vertices and reverses every triangle (a sphere has no ambiguous face).
TEST(MeshFlexicubes, OrientationFollowsTheSignConvention)
{
  mesh_grid g   = Grid(20, 22, 18, { -1, -1.1, -0.9 }, { 1, 1.1, 0.9 });
  auto      f   = Sample(g, [&](const Vec &p) { return Sphere(p, kCentre, 0.7); });
  auto      neg = f;
  for (auto &x : neg) x = -x;
  Surface a, b;
  Extract(g, f, nullptr, a);
  Extract(g, neg, nullptr, b);
  ASSERT_EQ(a.s->nverts, b.s->nverts);
  ASSERT_EQ(a.s->ntris, b.s->ntris);
  for (int i = 0; i < 3 * a.s->nverts; i++) EXPECT_NEAR(a.s->verts[i], b.s->verts[i], 1e-14);
  EXPECT_NEAR(Check(a.s, 0).volume, -Check(b.s, 0).volume, 1e-12);
  EXPECT_GT(Check(a.s, 0).volume, 0);
  std::set<std::array<int, 3>> fa, fb;
  auto                         norm = [](int x, int y, int z) { // rotation-invariant key of an oriented triangle
    std::array<int, 3> t = { x, y, z };
    std::rotate(t.begin(), std::min_element(t.begin(), t.end()), t.end());
    return t;
  };
  for (int t = 0; t < a.s->ntris; t++) fa.insert(norm(a.s->tris[3 * t], a.s->tris[3 * t + 1], a.s->tris[3 * t + 2]));
  for (int t = 0; t < b.s->ntris; t++) fb.insert(norm(b.s->tris[3 * t + 2], b.s->tris[3 * t + 1], b.s->tris[3 * t]));
  EXPECT_EQ(fa, fb);
}

// Surfaces touching the grid boundary: open by default (valence-1 edges only
// there), closed with the close option; with an infinite pad the caps lie on
// the boundary faces, so the volume converges to that of sphere ∩ box.
TEST(MeshFlexicubes, CloseOption)
{
  const double r = 0.8, cx = 0.45 + kCentre[0], hc = r - (1 - cx);
  const double exact = 4.0 / 3.0 * kPi * r * r * r - kPi * hc * hc * (3 * r - hc) / 3;
  const Vec    c0    = { cx, kCentre[1], kCentre[2] };
  Convergence  c;
  for (int n : { 16, 32, 64, 128 }) {
    mesh_grid g = Grid(n, n, n, { -1, -1, -1 }, { 1, 1, 1 });
    auto      f = Sample(g, [&](const Vec &p) { return Sphere(p, c0, r); });
    Surface   open, closed;
    Extract(g, f, nullptr, open);
    Topology t = Check(open.s, 1e-12);
    EXPECT_GT(t.boundary, 0);
    EXPECT_EQ(t.nonmanifold + t.misoriented + t.degenerate, 0);
    // the open rim lies in the cubes along the grid's x = 1 face
    std::map<std::pair<int, int>, int> uses;
    for (int t = 0; t < open.s->ntris; t++)
      for (int k = 0; k < 3; k++) {
        int a = open.s->tris[3 * t + k], b = open.s->tris[3 * t + (k + 1) % 3];
        uses[{ std::min(a, b), std::max(a, b) }]++;
      }
    for (auto &u : uses)
      if (u.second == 1) {
        EXPECT_EQ(open.s->dual[u.first.first].cube[0], n - 1);
        EXPECT_EQ(open.s->dual[u.first.second].cube[0], n - 1);
      }
    auto o  = Options();
    o.close = 1;
    Extract(g, f, &o, closed);
    ExpectClosedManifold(closed.s, g.spacing[0], 2, "closed cut sphere n=" + std::to_string(n));
    double xmax = -1e300;
    for (int v = 0; v < closed.s->nverts; v++) xmax = std::max(xmax, closed.s->verts[3 * v]);
    EXPECT_NEAR(xmax, 1.0, 1e-14);
    c.n.push_back(n);
    c.err.push_back(std::fabs(Check(closed.s, 0).volume - exact) / exact);
  }
  c.Print("cut sphere");
  EXPECT_LT(c.err.back(), 2e-3);
  EXPECT_GT(c.LastOrder(), 1.5);
}

// A field negative everywhere, closed: exactly the grid's box; a finite pad
// value bulges the caps out by less than a cell.
TEST(MeshFlexicubes, CloseAllInsideGivesTheGridBox)
{
  mesh_grid           g = Grid(5, 4, 7, { -0.3, 0.1, 2 }, { 0.7, 0.9, 3.4 });
  std::vector<double> f((size_t) 6 * 5 * 8, -1.0);
  auto                o = Options();
  Surface             none, box, bulge;
  Extract(g, f, nullptr, none);
  EXPECT_EQ(none.s->nverts, 0);
  EXPECT_EQ(none.s->ntris, 0);
  EXPECT_EQ(none.s->verts, nullptr);
  o.close = 1;
  Extract(g, f, &o, box);
  ExpectClosedManifold(box.s, 0.1, 2, "grid box");
  mesh_stats st;
  ASSERT_EQ(mesh_stats_compute(box.s->nverts, box.s->verts, box.s->ntris, box.s->tris, 0, &st), MESH_SUCCESS);
  const double L[3] = { 1.0, 0.8, 1.4 };
  EXPECT_NEAR(st.volume, L[0] * L[1] * L[2], 1e-12);
  EXPECT_NEAR(st.area, 2 * (L[0] * L[1] + L[1] * L[2] + L[0] * L[2]), 1e-12);
  o.close_value = 1.0;
  Extract(g, f, &o, bulge);
  ExpectClosedManifold(bulge.s, 0.1, 2, "bulging grid box");
  ASSERT_EQ(mesh_stats_compute(bulge.s->nverts, bulge.s->verts, bulge.s->ntris, bulge.s->tris, 0, &st), MESH_SUCCESS);
  EXPECT_GT(st.volume, L[0] * L[1] * L[2]);
  EXPECT_LT(st.volume, (L[0] + 0.4) * (L[1] + 0.4) * (L[2] + 0.4));
}

// One cube, one inside corner: without close no quad (its edges are on the
// boundary); closed, a small closed surface around the corner.
TEST(MeshFlexicubes, SingleCube)
{
  mesh_grid           g = Grid(1, 1, 1, { 0, 0, 0 }, { 1, 1, 1 });
  std::vector<double> f = { -0.5, 1, 1, 1, 1, 1, 1, 1 };
  Surface             a, b;
  Extract(g, f, nullptr, a);
  EXPECT_EQ(a.s->ndual, 1);
  EXPECT_EQ(a.s->ntris, 0);
  EXPECT_NEAR(a.s->verts[0], 1.0 / 9, 1e-15); // centroid of the crossings at 1/3 on 3 edges
  auto o  = Options();
  o.close = 1;
  Extract(g, f, &o, b);
  ExpectClosedManifold(b.s, 1.0, 2, "single cube closed");
}

// Random fields: every sign pattern, the ambiguous ones included. The
// surfaces are manifold and consistently oriented for every seed, open or
// closed, with or without weights, in both triangulation modes; skipping
// the ambiguity resolution breaks manifoldness.
TEST(MeshFlexicubes, RandomFieldsManifold)
{
  long flipped = 0, broken = 0, closed_meshes = 0, open_meshes = 0, pinched_open = 0;
  for (unsigned seed = 0; seed < 150; seed++) {
    mesh_grid                        g      = Grid(9 + seed % 3, 10, 8 + seed % 4, { 0, 0, 0 }, { 1, 1.2, 0.9 });
    auto                             f      = RandomField(g, seed);
    size_t                           ncubes = (size_t) g.dims[0] * g.dims[1] * g.dims[2];
    std::mt19937                     gen(seed + 1000);
    std::normal_distribution<double> nd(0.0, 2.0);
    std::vector<double>              alpha(8 * ncubes), beta(12 * ncubes), gamma(ncubes);
    for (auto &x : alpha) x = nd(gen);
    for (auto &x : beta) x = nd(gen);
    for (auto &x : gamma) x = nd(gen);
    for (int mode = 0; mode < 4; mode++) {
      auto o     = Options();
      o.close    = mode >= 1;
      o.training = mode == 3;
      if (mode >= 2) {
        o.alpha = alpha.data();
        o.beta  = beta.data();
        o.gamma = gamma.data();
      }
      Surface s;
      Extract(g, f, &o, s);
      std::string what = "seed " + std::to_string(seed) + " mode " + std::to_string(mode);
      if (o.close) {
        ExpectClosedManifold(s.s, 0.1, kAnyEuler, what);
        EXPECT_EQ(Check(s.s, 0).euler % 2, 0) << what;
        closed_meshes++;
      } else {
        Topology   t = Check(s.s, 1e-14);
        mesh_stats st;
        ASSERT_EQ(mesh_stats_compute(s.s->nverts, s.s->verts, s.s->ntris, s.s->tris, 1e-14, &st), MESH_SUCCESS);
        EXPECT_EQ(t.nonmanifold + t.misoriented + t.degenerate, 0) << what;
        // an open surface may touch itself only where it meets the open grid
        // boundary: at dual vertices of cubes on the grid's faces
        auto pinched = PinchedVertices(s.s);
        EXPECT_EQ((long) pinched.size(), st.nonmanifold_vertices) << what;
        for (int v : pinched) {
          const int *c = s.s->dual[v].cube;
          EXPECT_TRUE(c[0] == 0 || c[1] == 0 || c[2] == 0 || c[0] == g.dims[0] - 1 || c[1] == g.dims[1] - 1 || c[2] == g.dims[2] - 1) << what;
        }
        pinched_open += pinched.size();
        open_meshes++;
      }
      for (int d = 0; d < s.s->ndual; d++) flipped += s.s->dual[d].flipped;
    }
    auto o                    = Options();
    o.close                   = 1;
    o.no_ambiguity_resolution = 1;
    Surface s;
    Extract(g, f, &o, s);
    broken += Check(s.s, 0).nonmanifold;
  }
  std::printf("[ random   ] %ld closed meshes closed 2-manifolds, %ld open ones edge-manifold (%ld pinched vertices, all in grid-boundary cubes); "
              "%ld flipped dual vertices; %ld non-manifold edges without the resolution\n",
              closed_meshes, open_meshes, pinched_open, flipped, broken);
  EXPECT_GT(flipped, 100);
  EXPECT_GT(broken, 10);
}

// ---- an independent plain Dual Marching Cubes ---------------------------------

int EdgeOf(int a, int b)
{
  for (int e = 0; e < 12; e++)
    if ((mesh_cube_edge_corners[e][0] == a && mesh_cube_edge_corners[e][1] == b) || (mesh_cube_edge_corners[e][0] == b && mesh_cube_edge_corners[e][1] == a)) return e;
  return -1;
}

// Groups of crossed edges (root per edge, -1 if not crossed) by union-find
// over the face segments; on ambiguous face f the inside corners are cut
// off, or the outside ones when bit f of `joined` is set.
std::array<int, 12> Groups(int id, int joined)
{
  std::array<int, 12> parent;
  for (int e = 0; e < 12; e++) parent[e] = e;
  auto find = [&](int e) {
    while (parent[e] != e) e = parent[e];
    return e;
  };
  auto in = [&](int c) { return (id >> c) & 1; };
  for (int f = 0; f < 6; f++) {
    int a = f / 2, s = f % 2, b = (a + 1) % 3, c = (a + 2) % 3;
    int cyc[4] = { s << a, s << a | 1 << b, s << a | 1 << b | 1 << c, s << a | 1 << c }, n = 0, first = -1;
    for (int i = 0; i < 4; i++) n += in(cyc[i]) != in(cyc[(i + 1) % 4]);
    for (int i = 0; i < 4; i++) {
      int e = EdgeOf(cyc[i], cyc[(i + 1) % 4]);
      if (n == 2 && in(cyc[i]) != in(cyc[(i + 1) % 4])) {
        if (first < 0)
          first = e;
        else
          parent[find(e)] = find(first);
      }
      bool cut = (in(cyc[i]) != 0) != (((joined >> f) & 1) != 0); // XOR: see test_mesh_tables.cpp
      if (n == 4 && cut) parent[find(EdgeOf(cyc[(i + 3) % 4], cyc[i]))] = find(e);
    }
  }
  std::array<int, 12> root;
  for (int e = 0; e < 12; e++) root[e] = in(mesh_cube_edge_corners[e][0]) != in(mesh_cube_edge_corners[e][1]) ? find(e) : -1;
  return root;
}

struct PlainDmc {
  // vertex key: cube (i, j, k) and the smallest edge of its group
  std::map<std::array<int, 4>, Vec>              verts;
  std::vector<std::array<std::array<int, 4>, 3>> tris;
};

PlainDmc PlainDualMarchingCubes(const mesh_grid &g, const std::vector<double> &f)
{
  const int nx = g.dims[0], ny = g.dims[1], nz = g.dims[2];
  auto      cube_ok = [&](int i, int j, int k) { return i >= 0 && j >= 0 && k >= 0 && i < nx && j < ny && k < nz; };
  auto      caseof  = [&](int i, int j, int k) {
    int id = 0;
    for (int c = 0; c < 8; c++) id |= (f[VertexIndex(g, i + (c & 1), j + (c >> 1 & 1), k + (c >> 2 & 1))] < 0) << c;
    return id;
  };
  // faces whose two segments one group holds, per cube (default rule)
  auto merged = [&](int id) {
    auto root = Groups(id, 0);
    int  m    = 0;
    for (int f2 = 0; f2 < 6; f2++) {
      int           a = f2 / 2, s = f2 % 2, b = (a + 1) % 3, c = (a + 2) % 3;
      int           cyc[4] = { s << a, s << a | 1 << b, s << a | 1 << b | 1 << c, s << a | 1 << c };
      std::set<int> r;
      int           n = 0;
      for (int i = 0; i < 4; i++) {
        int e = EdgeOf(cyc[i], cyc[(i + 1) % 4]);
        n += root[e] >= 0;
        r.insert(root[e]);
      }
      if (n == 4 && r.size() == 1) m |= 1 << f2;
    }
    return m;
  };
  PlainDmc                                         out;
  std::map<std::array<int, 4>, std::array<int, 4>> owner; // (cube, local edge) -> vertex key
  for (int k = 0; k < nz; k++)
    for (int j = 0; j < ny; j++)
      for (int i = 0; i < nx; i++) {
        int id = caseof(i, j, k), joined = 0, m = merged(id);
        if (id == 0 || id == 255) continue;
        for (int f2 = 0; f2 < 6; f2++) {
          if (!((m >> f2) & 1)) continue;
          int o[3] = { i, j, k };
          o[f2 / 2] += f2 % 2 ? 1 : -1;
          if (cube_ok(o[0], o[1], o[2]) && ((merged(caseof(o[0], o[1], o[2])) >> (f2 ^ 1)) & 1)) joined |= 1 << f2;
        }
        auto                            root = Groups(id, joined);
        std::map<int, std::vector<int>> members;
        for (int e = 0; e < 12; e++)
          if (root[e] >= 0) members[root[e]].push_back(e);
        for (auto &mb : members) {
          Vec v = { 0, 0, 0 };
          for (int e : mb.second) {
            int    ca = mesh_cube_edge_corners[e][0], cb = mesh_cube_edge_corners[e][1];
            Vec    xa = Position(g, i + (ca & 1), j + (ca >> 1 & 1), k + (ca >> 2 & 1));
            Vec    xb = Position(g, i + (cb & 1), j + (cb >> 1 & 1), k + (cb >> 2 & 1));
            double sa = f[VertexIndex(g, i + (ca & 1), j + (ca >> 1 & 1), k + (ca >> 2 & 1))];
            double sb = f[VertexIndex(g, i + (cb & 1), j + (cb >> 1 & 1), k + (cb >> 2 & 1))];
            double t  = sa / (sa - sb);
            for (int d = 0; d < 3; d++) v[d] += (xa[d] + t * (xb[d] - xa[d])) / mb.second.size();
          }
          std::array<int, 4> key = { i, j, k, mb.second.front() };
          out.verts[key]         = v;
          for (int e : mb.second) owner[{ i, j, k, e }] = key;
        }
      }
  // quads: the 4 cubes around each interior crossed edge, ordered by angle
  // about the direction from the inside end to the outside end
  for (int k = 0; k <= nz; k++)
    for (int j = 0; j <= ny; j++)
      for (int i = 0; i <= nx; i++)
        for (int a = 0; a < 3; a++) {
          int p[3] = { i, j, k }, q[3] = { i, j, k };
          q[a]++;
          if (q[0] > nx || q[1] > ny || q[2] > nz) continue;
          bool in0 = f[VertexIndex(g, p[0], p[1], p[2])] < 0, in1 = f[VertexIndex(g, q[0], q[1], q[2])] < 0;
          if (in0 == in1) continue;
          int b = (a + 1) % 3, c = (a + 2) % 3;
          struct Around {
            double             angle;
            std::array<int, 4> key;
            bool               anti;
          };
          std::vector<Around> ring;
          for (int db = -1; db <= 0; db++)
            for (int dc = -1; dc <= 0; dc++) {
              int cu[3] = { i, j, k };
              cu[b] += db;
              cu[c] += dc;
              if (!cube_ok(cu[0], cu[1], cu[2])) continue;
              int ca = (p[0] - cu[0]) | (p[1] - cu[1]) << 1 | (p[2] - cu[2]) << 2;
              int cb = (q[0] - cu[0]) | (q[1] - cu[1]) << 1 | (q[2] - cu[2]) << 2;
              // angle of the cube's centre about the edge; a right-handed (u, w, dir) frame
              double u = db + 0.5, w = dc + 0.5, sign = in0 ? 1 : -1;
              ring.push_back({ std::atan2(sign * w, u), owner.at({ cu[0], cu[1], cu[2], EdgeOf(ca, cb) }), db != dc });
            }
          if (ring.size() < 4) continue;
          std::sort(ring.begin(), ring.end(), [](const Around &x, const Around &y) { return x.angle < y.angle; });
          int s = ring[0].anti ? 0 : 1; // split along the diagonal of the cubes at (0,-1) and (-1,0)
          out.tris.push_back({ ring[s].key, ring[s + 1].key, ring[(s + 2) % 4].key });
          out.tris.push_back({ ring[(s + 2) % 4].key, ring[(s + 3) % 4].key, ring[s].key });
        }
  return out;
}

std::array<std::array<int, 4>, 3> Rotated(std::array<std::array<int, 4>, 3> t)
{
  std::rotate(t.begin(), std::min_element(t.begin(), t.end()), t.end());
  return t;
}

void ExpectSameAsPlainDmc(const mesh_grid &g, const std::vector<double> &f, const std::string &what)
{
  const mesh_dmc_table *table;
  ASSERT_EQ(mesh_dmc_table_get(&table), MESH_SUCCESS);
  Surface s;
  Extract(g, f, nullptr, s);
  PlainDmc                        ref = PlainDualMarchingCubes(g, f);
  std::vector<std::array<int, 4>> keys(s.s->ndual);
  ASSERT_EQ((size_t) s.s->ndual, ref.verts.size()) << what;
  for (int d = 0; d < s.s->ndual; d++) {
    const mesh_dual_vertex &dv = s.s->dual[d];
    const mesh_dmc_case    &dc = table->cases[dv.table_case];
    int                     mn = *std::min_element(dc.group_edges[dv.group], dc.group_edges[dv.group] + dc.group_size[dv.group]);
    keys[d]                    = { dv.cube[0], dv.cube[1], dv.cube[2], mn };
    auto it                    = ref.verts.find(keys[d]);
    ASSERT_NE(it, ref.verts.end()) << what << ": dual vertex " << d;
    for (int a = 0; a < 3; a++) EXPECT_NEAR(s.s->verts[3 * d + a], it->second[a], 1e-12) << what;
  }
  std::multiset<std::array<std::array<int, 4>, 3>> mine, theirs;
  for (int t = 0; t < s.s->ntris; t++) mine.insert(Rotated({ keys[s.s->tris[3 * t]], keys[s.s->tris[3 * t + 1]], keys[s.s->tris[3 * t + 2]] }));
  for (auto &t : ref.tris) theirs.insert(Rotated(t));
  EXPECT_EQ(mine.size(), theirs.size()) << what;
  EXPECT_TRUE(mine == theirs) << what;
}

TEST(MeshFlexicubes, DefaultWeightsReproducePlainDualMarchingCubes)
{
  for (unsigned seed = 0; seed < 20; seed++) {
    mesh_grid g = Grid(7 + seed % 3, 6, 8, { -0.5, 0, 0.25 }, { 0.5, 0.7, 1.25 });
    ExpectSameAsPlainDmc(g, RandomField(g, 100 + seed), "random seed " + std::to_string(seed));
  }
  mesh_grid g = Grid(14, 12, 16, { -1, -1, -1 }, { 1, 1, 1 });
  ExpectSameAsPlainDmc(g, Sample(g, [](const Vec &p) { return Torus(p, 0.6, 0.25); }), "torus");
  ExpectSameAsPlainDmc(g, Sample(g, [](const Vec &p) { return Box(p, { 0.55, 0.35, 0.6 }); }), "box");
}

// ---- weights, deformation, training mode, provenance ----------------------------

double TanhWeight(double raw)
{
  return 1 + 0.99 * std::tanh(raw);
}

double SigmoidWeight(double raw)
{
  return 0.99 / (1 + std::exp(-raw)) + 0.005;
}

// Each dual vertex is the beta'-weighted mean of its edges' crossings, each
// crossing interpolating the alpha'-scaled corner values of that cube.
TEST(MeshFlexicubes, AlphaBetaWeights)
{
  const mesh_dmc_table *table;
  ASSERT_EQ(mesh_dmc_table_get(&table), MESH_SUCCESS);
  mesh_grid                        g      = Grid(6, 5, 7, { -1, -1, -1 }, { 1, 1, 1 });
  auto                             f      = RandomField(g, 7);
  size_t                           ncubes = 6 * 5 * 7;
  std::mt19937                     gen(3);
  std::normal_distribution<double> nd(0.0, 1.5);
  std::vector<double>              alpha(8 * ncubes), beta(12 * ncubes);
  for (auto &x : alpha) x = nd(gen);
  for (auto &x : beta) x = nd(gen);
  auto o  = Options();
  o.alpha = alpha.data();
  o.beta  = beta.data();
  Surface s, plain;
  Extract(g, f, &o, s);
  Extract(g, f, nullptr, plain);
  ASSERT_EQ(s.s->ndual, plain.s->ndual);
  double moved = 0;
  for (int d = 0; d < s.s->ndual; d++) {
    const mesh_dual_vertex &dv   = s.s->dual[d];
    const mesh_dmc_case    &dc   = table->cases[dv.table_case];
    size_t                  cube = ((size_t) dv.cube[2] * 5 + dv.cube[1]) * 6 + dv.cube[0];
    Vec                     acc  = { 0, 0, 0 };
    double                  bs   = 0;
    for (int n = 0; n < dc.group_size[dv.group]; n++) {
      int    e = dc.group_edges[dv.group][n], c[2] = { mesh_cube_edge_corners[e][0], mesh_cube_edge_corners[e][1] };
      Vec    x[2];
      double sv[2];
      for (int m = 0; m < 2; m++) {
        int vi = dv.cube[0] + (c[m] & 1), vj = dv.cube[1] + (c[m] >> 1 & 1), vk = dv.cube[2] + (c[m] >> 2 & 1);
        x[m]  = Position(g, vi, vj, vk);
        sv[m] = f[VertexIndex(g, vi, vj, vk)] * TanhWeight(alpha[8 * cube + c[m]]);
      }
      // the reference's form: (x0 s1 a1 - x1 s0 a0) / (s1 a1 - s0 a0)
      double b = TanhWeight(beta[12 * cube + e]);
      for (int a = 0; a < 3; a++) acc[a] += b * (x[0][a] * sv[1] - x[1][a] * sv[0]) / (sv[1] - sv[0]);
      bs += b;
    }
    for (int a = 0; a < 3; a++) {
      EXPECT_NEAR(s.s->verts[3 * d + a], acc[a] / bs, 1e-12);
      moved = std::max(moved, std::fabs(s.s->verts[3 * d + a] - plain.s->verts[3 * d + a]));
      // a convex combination of points of the cube stays in the cube
      EXPECT_GE(s.s->verts[3 * d + a], g.origin[a] + g.spacing[a] * dv.cube[a] - 1e-12);
      EXPECT_LE(s.s->verts[3 * d + a], g.origin[a] + g.spacing[a] * (dv.cube[a] + 1) + 1e-12);
    }
  }
  EXPECT_GT(moved, 0.01);
  EXPECT_EQ(std::vector<int>(s.s->tris, s.s->tris + 3 * s.s->ntris), std::vector<int>(plain.s->tris, plain.s->tris + 3 * plain.s->ntris));
}

// Inference: each quad splits along the diagonal with the larger product of
// gamma'. Training: 4 triangles around the gamma'-weighted centre.
TEST(MeshFlexicubes, GammaSplitAndTrainingMode)
{
  mesh_grid                        g = Grid(8, 9, 7, { 0, 0, 0 }, { 1, 1, 1 });
  auto                             f = RandomField(g, 11);
  std::vector<double>              gamma(8 * 9 * 7);
  std::mt19937                     gen(5);
  std::normal_distribution<double> nd(0.0, 2.0);
  for (auto &x : gamma) x = nd(gen);
  auto o  = Options();
  o.close = 1;
  o.gamma = gamma.data();
  Surface inf, train, uniform;
  Extract(g, f, &o, inf);
  o.training = 1;
  Extract(g, f, &o, train);
  auto gp = [&](const mesh_surface *s, int d) {
    const int *c    = s->dual[d].cube;
    bool       real = c[0] >= 0 && c[1] >= 0 && c[2] >= 0 && c[0] < 8 && c[1] < 9 && c[2] < 7;
    return SigmoidWeight(real ? gamma[((size_t) c[2] * 9 + c[1]) * 8 + c[0]] : 0.0);
  };
  int splits[2] = { 0, 0 };
  ASSERT_EQ(inf.s->ntris, 2 * inf.s->nquads);
  for (int q = 0; q < inf.s->nquads; q++) {
    const int32_t *d   = inf.s->quads[q].dual;
    int            exp = gp(inf.s, d[0]) * gp(inf.s, d[2]) > gp(inf.s, d[1]) * gp(inf.s, d[3]) ? 0 : 1;
    EXPECT_EQ(inf.s->quads[q].split, exp);
    splits[exp]++;
    const int32_t *t = inf.s->tris + 6 * q;
    if (exp == 0)
      EXPECT_EQ(std::vector<int>(t, t + 6), (std::vector<int>{ d[0], d[1], d[2], d[0], d[2], d[3] }));
    else
      EXPECT_EQ(std::vector<int>(t, t + 6), (std::vector<int>{ d[0], d[1], d[3], d[1], d[2], d[3] }));
  }
  EXPECT_GT(splits[0], 10);
  EXPECT_GT(splits[1], 10);
  // training: same dual vertices and quads, one centre per quad
  ASSERT_EQ(train.s->ndual, inf.s->ndual);
  ASSERT_EQ(train.s->nquads, inf.s->nquads);
  ASSERT_EQ(train.s->nverts, train.s->ndual + train.s->nquads);
  ASSERT_EQ(train.s->ntris, 4 * train.s->nquads);
  EXPECT_EQ(train.s->training, 1);
  for (int q = 0; q < train.s->nquads; q++) {
    const int32_t *d   = train.s->quads[q].dual;
    double         g02 = gp(train.s, d[0]) * gp(train.s, d[2]), g13 = gp(train.s, d[1]) * gp(train.s, d[3]);
    const int      c = train.s->ndual + q;
    for (int a = 0; a < 3; a++) {
      double m02 = 0.5 * (train.s->verts[3 * d[0] + a] + train.s->verts[3 * d[2] + a]);
      double m13 = 0.5 * (train.s->verts[3 * d[1] + a] + train.s->verts[3 * d[3] + a]);
      EXPECT_NEAR(train.s->verts[3 * c + a], (g02 * m02 + g13 * m13) / (g02 + g13), 1e-14);
    }
    for (int r = 0; r < 4; r++) {
      const int32_t *t = train.s->tris + 12 * q + 3 * r;
      EXPECT_EQ(t[0], d[r]);
      EXPECT_EQ(t[1], d[(r + 1) % 4]);
      EXPECT_EQ(t[2], c);
    }
  }
  ExpectClosedManifold(train.s, 0.1, Check(inf.s, 0).euler, "training");
  // uniform gamma: ties take the 1-3 diagonal
  o.gamma    = nullptr;
  o.training = 0;
  Extract(g, f, &o, uniform);
  for (int q = 0; q < uniform.s->nquads; q++) EXPECT_EQ(uniform.s->quads[q].split, 1);
}

// A displacement field moves the vertices; a uniform one translates the mesh.
TEST(MeshFlexicubes, GridDeformation)
{
  mesh_grid                              g = Grid(24, 24, 24, { -1, -1, -1 }, { 1, 1, 1 });
  auto                                   f = Sample(g, [](const Vec &p) { return Sphere(p, kCentre, 0.7); });
  std::vector<double>                    shift(3 * f.size()), wobble(3 * f.size());
  std::mt19937                           gen(9);
  std::uniform_real_distribution<double> u(-0.3, 0.3);
  for (size_t v = 0; v < f.size(); v++)
    for (int a = 0; a < 3; a++) {
      shift[3 * v + a]  = 0.25 * (a + 1);
      wobble[3 * v + a] = u(gen) * g.spacing[a];
    }
  Surface plain, moved, wobbly;
  Extract(g, f, nullptr, plain);
  auto o   = Options();
  o.deform = shift.data();
  Extract(g, f, &o, moved);
  ASSERT_EQ(plain.s->nverts, moved.s->nverts);
  for (int v = 0; v < plain.s->nverts; v++)
    for (int a = 0; a < 3; a++) EXPECT_NEAR(moved.s->verts[3 * v + a], plain.s->verts[3 * v + a] + 0.25 * (a + 1), 1e-12);
  o.deform = wobble.data();
  Extract(g, f, &o, wobbly);
  ASSERT_EQ(wobbly.s->ntris, plain.s->ntris);
  EXPECT_EQ(std::vector<int>(wobbly.s->tris, wobbly.s->tris + 3 * wobbly.s->ntris), std::vector<int>(plain.s->tris, plain.s->tris + 3 * plain.s->ntris));
  ExpectClosedManifold(wobbly.s, g.spacing[0], 2, "deformed sphere");
}

// Each dual vertex names its cube and the table row used (the cube's case,
// or its complement when flipped); each quad names its grid edge, and its 4
// dual vertices come from the 4 cubes around that edge.
TEST(MeshFlexicubes, Provenance)
{
  const mesh_dmc_table *table;
  ASSERT_EQ(mesh_dmc_table_get(&table), MESH_SUCCESS);
  mesh_grid g = Grid(10, 9, 11, { 0, 0, 0 }, { 1, 1, 1 });
  auto      f = RandomField(g, 21);
  auto      o = Options();
  o.close     = 1;
  Surface s;
  Extract(g, f, &o, s);
  auto value = [&](int i, int j, int k) {
    if (i < 0 || j < 0 || k < 0 || i > 10 || j > 9 || k > 11) return 1.0; // the pad
    return f[VertexIndex(g, i, j, k)];
  };
  int nflip = 0;
  for (int d = 0; d < s.s->ndual; d++) {
    const mesh_dual_vertex &dv = s.s->dual[d];
    int                     id = 0;
    for (int c = 0; c < 8; c++) id |= (value(dv.cube[0] + (c & 1), dv.cube[1] + (c >> 1 & 1), dv.cube[2] + (c >> 2 & 1)) < 0) << c;
    EXPECT_EQ(dv.table_case, dv.flipped ? 255 - id : id);
    EXPECT_LT(dv.group, table->cases[dv.table_case].ngroups);
    if (dv.flipped) {
      EXPECT_GE(table->cases[id].ambiguous_face, 0);
    }
    nflip += dv.flipped;
    for (int a = 0; a < 3; a++) EXPECT_TRUE(dv.cube[a] >= -1 && dv.cube[a] <= g.dims[a]);
  }
  EXPECT_GT(nflip, 0);
  for (int q = 0; q < s.s->nquads; q++) {
    const mesh_quad &qd = s.s->quads[q];
    int              a = qd.axis, lo = value(qd.vertex[0], qd.vertex[1], qd.vertex[2]) < 0, hi;
    int              p[3] = { qd.vertex[0], qd.vertex[1], qd.vertex[2] };
    p[a]++;
    hi = value(p[0], p[1], p[2]) < 0;
    EXPECT_NE(lo, hi);
    std::set<std::array<int, 3>> cubes;
    for (int r = 0; r < 4; r++) {
      const int *c = s.s->dual[qd.dual[r]].cube;
      cubes.insert({ c[0], c[1], c[2] });
      EXPECT_TRUE(c[a] == qd.vertex[a]);
      for (int b = 0; b < 3; b++)
        if (b != a) {
          EXPECT_TRUE(c[b] == qd.vertex[b] || c[b] == qd.vertex[b] - 1);
        }
    }
    EXPECT_EQ(cubes.size(), 4u);
  }
}

TEST(MeshFlexicubes, ArgumentChecks)
{
  mesh_grid           g = Grid(3, 3, 3, { 0, 0, 0 }, { 1, 1, 1 });
  std::vector<double> f(64, 1.0);
  mesh_surface       *s = nullptr;
  auto                o = Options();
  EXPECT_EQ(flexicubes_extract(nullptr, f.data(), nullptr, &s), MESH_ERR_ARG);
  EXPECT_EQ(flexicubes_extract(&g, nullptr, nullptr, &s), MESH_ERR_ARG);
  EXPECT_EQ(flexicubes_extract(&g, f.data(), nullptr, nullptr), MESH_ERR_ARG);
  mesh_grid bad = g;
  bad.dims[1]   = 0;
  EXPECT_EQ(flexicubes_extract(&bad, f.data(), nullptr, &s), MESH_ERR_ARG);
  EXPECT_NE(std::string(mesh_error_message()).find("0 cubes along axis 1"), std::string::npos) << mesh_error_message();
  bad            = g;
  bad.spacing[2] = -1;
  EXPECT_EQ(flexicubes_extract(&bad, f.data(), nullptr, &s), MESH_ERR_ARG);
  o.weight_scale = 1.0;
  EXPECT_EQ(flexicubes_extract(&g, f.data(), &o, &s), MESH_ERR_ARG);
  o             = Options();
  o.close       = 1;
  o.close_value = 0;
  EXPECT_EQ(flexicubes_extract(&g, f.data(), &o, &s), MESH_ERR_ARG);
  f[VertexIndex(g, 1, 2, 3)] = NAN;
  EXPECT_EQ(flexicubes_extract(&g, f.data(), nullptr, &s), MESH_ERR_ARG);
  EXPECT_NE(std::string(mesh_error_message()).find("vertex (1, 2, 3)"), std::string::npos) << mesh_error_message();
  EXPECT_EQ(s, nullptr);
  f[VertexIndex(g, 1, 2, 3)] = -1; // one inside vertex, NaN weights
  std::vector<double> alpha(8 * 27, NAN);
  o       = Options();
  o.alpha = alpha.data();
  EXPECT_EQ(flexicubes_extract(&g, f.data(), &o, &s), MESH_ERR_ARG);
  EXPECT_NE(std::string(mesh_error_message()).find("alpha"), std::string::npos) << mesh_error_message();
  EXPECT_EQ(mesh_surface_destroy(&s), MESH_SUCCESS);
  EXPECT_EQ(mesh_surface_destroy(nullptr), MESH_SUCCESS);
  EXPECT_EQ(mesh_flexicubes_options_default(nullptr), MESH_ERR_ARG);
}

} // namespace
