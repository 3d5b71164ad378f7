// The mesh checks (mesh_stats_compute) on hand-made meshes, and the OBJ and
// binary PLY writers read back.
#include <gtest/gtest.h>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>
#include <unistd.h>
#include <deepcd/mesh.h>

namespace {

// A tetrahedron with outward faces: volume 1/6.
const std::vector<double>  kTetVerts = { 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 };
const std::vector<int32_t> kTetTris  = { 0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3 };

mesh_stats Stats(const std::vector<double> &v, const std::vector<int32_t> &t)
{
  mesh_stats st;
  EXPECT_EQ(mesh_stats_compute((int32_t) v.size() / 3, v.data(), (int32_t) t.size() / 3, t.data(), 1e-14, &st), MESH_SUCCESS) << mesh_error_message();
  return st;
}

TEST(MeshStats, Tetrahedron)
{
  mesh_stats st = Stats(kTetVerts, kTetTris);
  EXPECT_TRUE(st.closed_manifold);
  EXPECT_EQ(st.nverts, 4);
  EXPECT_EQ(st.nedges, 6);
  EXPECT_EQ(st.euler, 2);
  EXPECT_NEAR(st.volume, 1.0 / 6, 1e-15);
  EXPECT_NEAR(st.area, 1.5 + std::sqrt(3.0) / 2, 1e-14);
  EXPECT_EQ(st.degenerate_triangles, 0);
}

TEST(MeshStats, DefectsAreCounted)
{
  // one face flipped: 3 edges used twice in the same direction
  auto flipped = kTetTris;
  std::swap(flipped[1], flipped[2]);
  mesh_stats st = Stats(kTetVerts, flipped);
  EXPECT_EQ(st.misoriented_edges, 3);
  EXPECT_FALSE(st.closed_manifold);
  // one face missing: 3 boundary edges
  st = Stats(kTetVerts, std::vector<int32_t>(kTetTris.begin(), kTetTris.begin() + 9));
  EXPECT_EQ(st.boundary_edges, 3);
  EXPECT_EQ(st.euler, 1);
  // two tetrahedra sharing only a vertex: edges fine, the vertex is not
  auto v2 = kTetVerts;
  for (double x : { -1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0 }) v2.push_back(x);
  std::vector<int32_t> t2 = kTetTris;
  for (int32_t i : { 0, 4, 5, 0, 6, 4, 0, 5, 6, 4, 6, 5 }) t2.push_back(i);
  st = Stats(v2, t2);
  EXPECT_EQ(st.boundary_edges + st.nonmanifold_edges + st.misoriented_edges, 0);
  EXPECT_EQ(st.nonmanifold_vertices, 1);
  EXPECT_FALSE(st.closed_manifold);
  EXPECT_NEAR(st.volume, 2.0 / 6, 1e-15);
  // a triangle used three times around one edge, and a degenerate triangle
  std::vector<double>  v3 = { 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, -1, 0, 2, 0, 0 };
  std::vector<int32_t> t3 = { 0, 1, 2, 1, 0, 3, 0, 1, 4, 0, 1, 5 };
  st                      = Stats(v3, t3);
  EXPECT_EQ(st.nonmanifold_edges, 1);
  EXPECT_EQ(st.degenerate_triangles, 1);
  EXPECT_EQ(st.unreferenced_vertices, 0);
}

TEST(MeshStats, ArgumentChecks)
{
  mesh_stats           st;
  std::vector<int32_t> bad = { 0, 1, 7 };
  EXPECT_EQ(mesh_stats_compute(4, kTetVerts.data(), 1, bad.data(), 0, &st), MESH_ERR_ARG);
  EXPECT_NE(std::string(mesh_error_message()).find("vertex 7"), std::string::npos);
  EXPECT_EQ(mesh_stats_compute(4, kTetVerts.data(), 4, kTetTris.data(), 0, nullptr), MESH_ERR_ARG);
  EXPECT_EQ(mesh_stats_compute(0, nullptr, 0, nullptr, 0, &st), MESH_SUCCESS);
  EXPECT_EQ(st.euler, 0);
}

std::string TempPath(const char *name)
{
  return std::string(::testing::TempDir()) + "deepcd_mesh_" + std::to_string(getpid()) + "_" + name;
}

bool Exists(const std::string &p)
{
  std::ifstream f(p);
  return f.good();
}

// A small sphere mesh from the extractor, so the writers see real data.
struct SphereMesh {
  mesh_surface *s = nullptr;
  SphereMesh()
  {
    mesh_grid g;
    for (int a = 0; a < 3; a++) {
      g.dims[a]    = 8;
      g.origin[a]  = -1;
      g.spacing[a] = 0.25;
    }
    std::vector<double> f(9 * 9 * 9);
    for (int k = 0; k <= 8; k++)
      for (int j = 0; j <= 8; j++)
        for (int i = 0; i <= 8; i++) {
          double x = -1 + 0.25 * i, y = -1 + 0.25 * j, z = -1 + 0.25 * k;
          f[(k * 9 + j) * 9 + i] = std::sqrt(x * x + y * y + z * z) - 0.71;
        }
    EXPECT_EQ(flexicubes_extract(&g, f.data(), nullptr, &s), MESH_SUCCESS) << mesh_error_message();
  }
  ~SphereMesh()
  {
    mesh_surface_destroy(&s);
  }
};

TEST(MeshWriters, ObjRoundTrip)
{
  SphereMesh  m;
  std::string path = TempPath("sphere.obj");
  ASSERT_EQ(mesh_surface_write(m.s, path.c_str()), MESH_SUCCESS) << mesh_error_message();
  EXPECT_FALSE(Exists(path + ".tmp"));
  std::ifstream        in(path);
  std::string          line;
  std::vector<double>  v;
  std::vector<int32_t> t;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string        tag;
    ls >> tag;
    if (tag == "v") {
      double x, y, z;
      ls >> x >> y >> z;
      v.insert(v.end(), { x, y, z });
    } else if (tag == "f") {
      int32_t a, b, c;
      ls >> a >> b >> c;
      t.insert(t.end(), { a - 1, b - 1, c - 1 });
    }
  }
  ASSERT_EQ(v.size(), 3u * m.s->nverts);
  ASSERT_EQ(t.size(), 3u * m.s->ntris);
  for (size_t i = 0; i < v.size(); i++) EXPECT_NEAR(v[i], m.s->verts[i], 1e-8);
  EXPECT_EQ(t, std::vector<int32_t>(m.s->tris, m.s->tris + 3 * m.s->ntris));
  std::remove(path.c_str());
}

TEST(MeshWriters, BinaryPlyRoundTrip)
{
  SphereMesh  m;
  std::string path = TempPath("sphere.PLY");
  ASSERT_EQ(mesh_surface_write(m.s, path.c_str()), MESH_SUCCESS) << mesh_error_message();
  std::ifstream in(path, std::ios::binary);
  std::string   line, header;
  int           nv = -1, nf = -1;
  while (std::getline(in, line)) {
    header += line + "\n";
    std::sscanf(line.c_str(), "element vertex %d", &nv);
    std::sscanf(line.c_str(), "element face %d", &nf);
    if (line == "end_header") break;
  }
  EXPECT_EQ(header.rfind("ply\nformat binary_little_endian 1.0\n", 0), 0u);
  EXPECT_NE(header.find("property list uchar int vertex_indices"), std::string::npos);
  ASSERT_EQ(nv, m.s->nverts);
  ASSERT_EQ(nf, m.s->ntris);
  auto u32 = [&]() {
    unsigned char b[4];
    in.read(reinterpret_cast<char *>(b), 4);
    return (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
  };
  for (int i = 0; i < 3 * nv; i++) {
    uint32_t u = u32();
    float    x;
    std::memcpy(&x, &u, 4);
    EXPECT_EQ(x, (float) m.s->verts[i]);
  }
  for (int t = 0; t < nf; t++) {
    char n;
    in.read(&n, 1);
    EXPECT_EQ(n, 3);
    for (int k = 0; k < 3; k++) EXPECT_EQ((int32_t) u32(), m.s->tris[3 * t + k]);
  }
  EXPECT_TRUE(in.good());
  in.get();
  EXPECT_TRUE(in.eof()); // nothing after the last face
  std::remove(path.c_str());
}

TEST(MeshWriters, Errors)
{
  SphereMesh m;
  EXPECT_EQ(mesh_surface_write(m.s, "/nonexistent-dir/x.obj"), MESH_ERR_IO);
  EXPECT_NE(std::string(mesh_error_message()).find("/nonexistent-dir/x.obj"), std::string::npos);
  EXPECT_EQ(mesh_surface_write(m.s, "mesh.stl"), MESH_ERR_ARG);
  EXPECT_NE(std::string(mesh_error_message()).find("unknown extension"), std::string::npos);
  EXPECT_EQ(mesh_surface_write(m.s, "objfile"), MESH_ERR_ARG);
  EXPECT_EQ(mesh_surface_write(nullptr, "x.obj"), MESH_ERR_ARG);
  std::vector<int32_t> bad = { 0, 1, 9 };
  EXPECT_EQ(mesh_write_ply(TempPath("bad.ply").c_str(), 3, kTetVerts.data(), 1, bad.data()), MESH_ERR_ARG);
  EXPECT_FALSE(Exists(TempPath("bad.ply")));
  // an empty mesh is a valid file
  std::string path = TempPath("empty.ply");
  EXPECT_EQ(mesh_write_ply(path.c_str(), 0, nullptr, 0, nullptr), MESH_SUCCESS);
  EXPECT_TRUE(Exists(path));
  std::remove(path.c_str());
}

} // namespace
