// sdf_from_mesh and the OBJ reader: a FlexiCubes sphere written as OBJ and
// read back against the analytic signed distance; a typed-in cube (quads,
// mixed face forms, negative indices) against the exact box distance; bad
// files give one-line errors naming the file and line.
#include <gtest/gtest.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>
#include <unistd.h>
#include <deepcd/mesh.h>

namespace {

std::string TempPath(const char *name)
{
  return std::string("/tmp/deepcd_test_mesh_sdf_") + std::to_string((long) getpid()) + "_" + name;
}

void WriteText(const std::string &path, const std::string &text)
{
  std::ofstream f(path);
  f << text;
}

struct Obj {
  int32_t  nv = 0, nt = 0;
  double  *v = nullptr;
  int32_t *t = nullptr;
  ~Obj()
  {
    free(v);
    free(t);
  }
};

double BoxSDF(const double p[3], const double lo[3], const double hi[3])
{
  double out2 = 0, in = -INFINITY;
  for (int k = 0; k < 3; k++) {
    double q = std::max(lo[k] - p[k], p[k] - hi[k]);
    if (q > 0) out2 += q * q;
    in = std::max(in, q);
  }
  return out2 > 0 ? std::sqrt(out2) : in;
}

TEST(MeshSDF, SphereFromFlexiCubes)
{
  const int    n    = 32;
  const double c[3] = { 0.5, 0.45, 0.52 }, r = 0.3;
  mesh_grid    g{};
  for (int k = 0; k < 3; k++) {
    g.dims[k]    = n;
    g.origin[k]  = 0;
    g.spacing[k] = 1.0 / n;
  }
  std::vector<double> field((n + 1) * (n + 1) * (n + 1));
  for (int k = 0; k <= n; k++)
    for (int j = 0; j <= n; j++)
      for (int i = 0; i <= n; i++) {
        double p[3]                            = { i / (double) n - c[0], j / (double) n - c[1], k / (double) n - c[2] };
        field[(k * (n + 1) + j) * (n + 1) + i] = std::sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]) - r;
      }
  mesh_surface *s = nullptr;
  ASSERT_EQ(flexicubes_extract(&g, field.data(), nullptr, &s), MESH_SUCCESS) << mesh_error_message();
  const std::string path = TempPath("sphere.obj");
  ASSERT_EQ(mesh_write_obj(path.c_str(), s->nverts, s->verts, s->ntris, s->tris), MESH_SUCCESS) << mesh_error_message();
  // the mesh's own deviation from the sphere
  double dev = 0;
  for (int32_t v = 0; v < s->nverts; v++) {
    double d[3] = { s->verts[3 * v] - c[0], s->verts[3 * v + 1] - c[1], s->verts[3 * v + 2] - c[2] };
    dev         = std::max(dev, std::fabs(std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) - r));
  }
  const int32_t ntris = s->ntris;
  mesh_surface_destroy(&s);

  Obj o;
  ASSERT_EQ(mesh_read_obj(path.c_str(), &o.nv, &o.v, &o.nt, &o.t), MESH_SUCCESS) << mesh_error_message();
  unlink(path.c_str());
  EXPECT_EQ(o.nt, ntris);

  // a different grid, 64^3, shifted, reaching outside the mesh's box
  const int m = 64;
  mesh_grid q{};
  for (int k = 0; k < 3; k++) {
    q.dims[k]    = m;
    q.origin[k]  = -0.1 + 0.003 * k;
    q.spacing[k] = 1.2 / m;
  }
  std::vector<double> sdf((m + 1) * (m + 1) * (m + 1));
  auto                t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(sdf_from_mesh(&q, o.nv, o.v, o.nt, o.t, sdf.data()), MESH_SUCCESS) << mesh_error_message();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("sdf_from_mesh: %d^3 grid, %d triangles: %.3f s (mesh deviation %.2e)\n", m, o.nt, secs, dev);

  // chord error of the flat triangles adds to the vertices' deviation: O(h^2/r)
  const double h = 1.0 / n, tol = dev + h * h / r + 1e-12;
  double       maxerr = 0;
  int          wrong  = 0;
  for (int k = 0; k <= m; k++)
    for (int j = 0; j <= m; j++)
      for (int i = 0; i <= m; i++) {
        double p[3] = { q.origin[0] + i * q.spacing[0] - c[0], q.origin[1] + j * q.spacing[1] - c[1], q.origin[2] + k * q.spacing[2] - c[2] };
        double e    = std::sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]) - r;
        double got  = sdf[(k * (m + 1) + j) * (m + 1) + i];
        maxerr      = std::max(maxerr, std::fabs(got - e));
        if (std::fabs(e) > tol && (got < 0) != (e < 0)) wrong++;
      }
  EXPECT_LE(maxerr, tol);
  EXPECT_LT(maxerr, 0.25 * h);
  EXPECT_EQ(wrong, 0);
  EXPECT_LT(secs, 10.0);
}

TEST(MeshSDF, CubeExact)
{
  // [0.25, 0.75]^3 as 6 quads, outward; mixed face forms and negative indices
  const std::string path = TempPath("cube.obj");
  WriteText(path, "# a cube\r\n"
                  "o cube\n"
                  "v 0.25 0.25 0.25\nv 0.75 0.25 0.25\nv 0.75 0.75 0.25\nv 0.25 0.75 0.25\n"
                  "v 0.25 0.25 0.75\nv 0.75 0.25 0.75\nv 0.75 0.75 0.75\nv 0.25 0.75 0.75\n"
                  "vt 0 0\nvn 0 0 1\n"
                  "f 1 4 3 2\n"
                  "f 5/1 6/1 7/1 8/1\n"
                  "f 1//1 2//1 6//1 5//1\n"
                  "f -5/1/1 -1/1/1 -2/1/1 -6/1/1\n" /* 4 8 7 3 */
                  "f 1 5 8 4\n"
                  "f 2 3 7 6\n");
  Obj o;
  ASSERT_EQ(mesh_read_obj(path.c_str(), &o.nv, &o.v, &o.nt, &o.t), MESH_SUCCESS) << mesh_error_message();
  unlink(path.c_str());
  ASSERT_EQ(o.nv, 8);
  ASSERT_EQ(o.nt, 12);
  mesh_stats st;
  ASSERT_EQ(mesh_stats_compute(o.nv, o.v, o.nt, o.t, 1e-14, &st), MESH_SUCCESS);
  EXPECT_TRUE(st.closed_manifold);
  EXPECT_NEAR(st.volume, 0.125, 1e-15);

  const double lo[3] = { 0.25, 0.25, 0.25 }, hi[3] = { 0.75, 0.75, 0.75 };
  mesh_grid    g{};
  for (int k = 0; k < 3; k++) {
    g.dims[k]    = 10;
    g.origin[k]  = -0.1;
    g.spacing[k] = 0.12;
  }
  std::vector<double> sdf(11 * 11 * 11);
  ASSERT_EQ(sdf_from_mesh(&g, o.nv, o.v, o.nt, o.t, sdf.data()), MESH_SUCCESS) << mesh_error_message();
  for (int k = 0; k <= 10; k++)
    for (int j = 0; j <= 10; j++)
      for (int i = 0; i <= 10; i++) {
        double p[3] = { -0.1 + 0.12 * i, -0.1 + 0.12 * j, -0.1 + 0.12 * k };
        EXPECT_NEAR(sdf[(k * 11 + j) * 11 + i], BoxSDF(p, lo, hi), 1e-12) << i << " " << j << " " << k;
      }
  // a few points by hand, on a 1-vertex grid each
  const double pts[][4] = { { 0.5, 0.5, 0.5, -0.25 }, { 1.0, 0.5, 0.5, 0.25 }, { 1, 1, 1, 0.25 * std::sqrt(3.0) }, { 0.3, 0.5, 0.6, -0.05 }, { 0.5, 0.1, 0.5, 0.15 } };
  for (const auto &pt : pts) {
    mesh_grid one{};
    double    v[8];
    for (int k = 0; k < 3; k++) {
      one.dims[k]    = 1;
      one.origin[k]  = pt[k];
      one.spacing[k] = 10; // the other vertices are far away
    }
    ASSERT_EQ(sdf_from_mesh(&one, o.nv, o.v, o.nt, o.t, v), MESH_SUCCESS);
    EXPECT_NEAR(v[0], pt[3], 1e-14);
    EXPECT_GT(v[7], 0);
  }
}

void ExpectObjError(const std::string &text, const std::string &needle)
{
  const std::string path = TempPath("bad.obj");
  WriteText(path, text);
  Obj o;
  EXPECT_NE(mesh_read_obj(path.c_str(), &o.nv, &o.v, &o.nt, &o.t), MESH_SUCCESS) << text;
  std::string msg = mesh_error_message();
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_EQ(o.v, nullptr);
  unlink(path.c_str());
}

TEST(MeshSDF, BadObj)
{
  ExpectObjError("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", ":4:");
  ExpectObjError("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2\n", ":4: face needs at least 3");
  ExpectObjError("v 0 0 0\nv 1 zero 0\n", ":2: bad vertex coordinate");
  ExpectObjError("v 0 0 0\nv 1 0\n", ":2: vertex needs 3");
  ExpectObjError("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 x\n", ":4: bad face index");
  ExpectObjError("v 0 0 0\nv 1 0 0\nv 0 1 0\nf -4 1 2\n", ":4:");
  ExpectObjError("v 0 0 0\n", "no faces");
  Obj o;
  EXPECT_EQ(mesh_read_obj("/nonexistent/x.obj", &o.nv, &o.v, &o.nt, &o.t), MESH_ERR_IO);
  EXPECT_NE(std::string(mesh_error_message()).find("/nonexistent/x.obj"), std::string::npos);
}

} // namespace
