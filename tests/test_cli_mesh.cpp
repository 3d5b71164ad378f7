// deepcd mesh: the command end to end (docs/options.md, docs/formats.md "Mesh output").
#include <gtest/gtest.h>
#include <hdf5.h>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>
#include "test_util.h"

namespace {

std::string Cli()
{
  return "env OMPI_MCA_pml=ob1 " + CliPath();
}

struct Mesh {
  std::vector<double> v; // 3 per vertex
  std::vector<int>    t; // 3 per triangle, 0-based
};

bool ReadObj(const std::string &path, Mesh *m)
{
  std::ifstream f(path);
  std::string   line;
  if (!f) return false;
  while (std::getline(f, line)) {
    std::istringstream s(line);
    std::string        tag;
    s >> tag;
    if (tag == "v") {
      double x, y, z;
      if (!(s >> x >> y >> z)) return false;
      m->v.insert(m->v.end(), { x, y, z });
    } else if (tag == "f") {
      int a, b, c;
      if (!(s >> a >> b >> c)) return false;
      m->t.insert(m->t.end(), { a - 1, b - 1, c - 1 });
    }
  }
  int nv = (int) m->v.size() / 3;
  for (int i : m->t)
    if (i < 0 || i >= nv) return false;
  return true;
}

struct Topology {
  long   boundary = 0, nonmanifold = 0, misoriented = 0;
  double volume = 0;
};

Topology Check(const Mesh &m)
{
  Topology                                           r;
  std::map<std::pair<int, int>, std::pair<int, int>> edges; // (min, max) -> (count, count in that direction)
  size_t                                             nt = m.t.size() / 3;
  for (size_t t = 0; t < nt; t++) {
    const int *c = &m.t[3 * t];
    for (int e = 0; e < 3; e++) {
      int   a = c[e], b = c[(e + 1) % 3];
      auto &s = edges[{ std::min(a, b), std::max(a, b) }];
      s.first++;
      if (a < b) s.second++;
    }
    const double *p = &m.v[3 * c[0]], *q = &m.v[3 * c[1]], *w = &m.v[3 * c[2]];
    r.volume += (p[0] * (q[1] * w[2] - q[2] * w[1]) - p[1] * (q[0] * w[2] - q[2] * w[0]) + p[2] * (q[0] * w[1] - q[1] * w[0])) / 6.0;
  }
  for (auto &e : edges) {
    if (e.second.first == 1) r.boundary++;
    if (e.second.first > 2) r.nonmanifold++;
    if (e.second.first == 2 && e.second.second != 1) r.misoriented++;
  }
  return r;
}

std::vector<hsize_t> Dims(const std::string &file, const std::string &name)
{
  std::vector<hsize_t> d;
  hid_t                f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return d;
  hid_t ds = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
  if (ds >= 0) {
    hid_t sp = H5Dget_space(ds);
    int   n  = H5Sget_simple_extent_ndims(sp);
    d.resize(n);
    H5Sget_simple_extent_dims(sp, d.data(), NULL);
    H5Sclose(sp);
    H5Dclose(ds);
  }
  H5Fclose(f);
  return d;
}

std::string AttrString(const std::string &file, const std::string &name)
{
  std::string s;
  hid_t       f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return s;
  hid_t a = H5Aopen(f, name.c_str(), H5P_DEFAULT);
  if (a >= 0) {
    hid_t             t = H5Aget_type(a);
    std::vector<char> buf(H5Tget_size(t) + 1, 0);
    H5Aread(a, t, buf.data());
    s = buf.data();
    H5Tclose(t);
    H5Aclose(a);
  }
  H5Fclose(f);
  return s;
}

int CountLines(const std::string &s)
{
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// One problem file (spheres, 24^3) and one plume solution for the whole suite.
class CliMesh : public ::testing::Test {
protected:
  static std::string dir, problem, plume, solution;

  static void SetUpTestSuite()
  {
    dir             = TestTempDir("cli-mesh");
    problem         = dir + "/p.h5";
    plume           = dir + "/plume.h5";
    solution        = dir + "/sol.h5";
    CommandResult g = RunCommand(Cli() + " gen --scene spheres --n 24 --seed 3 -o " + problem);
    ASSERT_EQ(g.status, 0) << g.err;
    g = RunCommand(Cli() + " gen --scene plume --n 16 --seed 1 -o " + plume);
    ASSERT_EQ(g.status, 0) << g.err;
    g = RunCommand(Cli() + " solve " + plume + " -o " + solution);
    ASSERT_EQ(g.status, 0) << g.err;
  }

  // Runs `deepcd mesh ARGS` expecting failure: one stderr line, no `out`.
  static void ExpectError(const std::string &args, const std::string &out, const std::string &needle)
  {
    CommandResult r = RunCommand(Cli() + " mesh " + args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(CountLines(r.err), 1) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("deepcd mesh: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
    EXPECT_EQ(r.out, "") << args;
    if (!out.empty()) EXPECT_FALSE(FileExists(out)) << out;
  }
};
std::string CliMesh::dir, CliMesh::problem, CliMesh::plume, CliMesh::solution;

TEST_F(CliMesh, SdfClosedIsWatertight)
{
  std::string   out = dir + "/closed.obj";
  CommandResult r   = RunCommand(Cli() + " mesh " + problem + " --close -o " + out);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(CountLines(r.out), 1) << r.out;
  EXPECT_EQ(r.out.rfind("deepcd mesh: wrote " + out + " (", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("closed: yes"), std::string::npos) << r.out;
  Mesh m;
  ASSERT_TRUE(ReadObj(out, &m));
  ASSERT_GT(m.t.size(), 0u);
  Topology t = Check(m);
  EXPECT_EQ(t.boundary, 0);
  EXPECT_EQ(t.nonmanifold, 0);
  EXPECT_EQ(t.misoriented, 0);
  EXPECT_GT(t.volume, 0);
  // the spheres cover 7 % to 35 % of the unit box (docs/formats.md)
  EXPECT_GT(t.volume, 0.05);
  EXPECT_LT(t.volume, 0.40);
}

TEST_F(CliMesh, SdfDefaultIsOpenAtTheWalls)
{
  std::string   out = dir + "/open.obj";
  CommandResult r   = RunCommand(Cli() + " mesh " + problem + " -o " + out);
  ASSERT_EQ(r.status, 0) << r.err;
  Mesh m;
  ASSERT_TRUE(ReadObj(out, &m));
  Topology t = Check(m);
  EXPECT_EQ(t.nonmanifold, 0);
  EXPECT_EQ(t.misoriented, 0);
  // the report agrees with the file
  bool closed = t.boundary == 0;
  EXPECT_NE(r.out.find(closed ? "closed: yes" : "closed: no"), std::string::npos) << r.out;
  char counts[128];
  snprintf(counts, sizeof(counts), "(%zu vertices, %zu triangles, ", m.v.size() / 3, m.t.size() / 3);
  EXPECT_NE(r.out.find(counts), std::string::npos) << r.out;
}

TEST_F(CliMesh, SphereCutByTheWallsIsOpenUnlessClosed)
{
  // a plume sphere is centred on the domain; with iso = -0.2 the surface
  // sdf = -0.2 is a smaller sphere; with iso = +0.45 it is a larger one that
  // the walls cut
  std::string   open = dir + "/cut_open.obj", closed = dir + "/cut_closed.obj";
  CommandResult r = RunCommand(Cli() + " mesh " + plume + " --iso 0.45 -o " + open);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("closed: no"), std::string::npos) << r.out;
  Mesh m;
  ASSERT_TRUE(ReadObj(open, &m));
  Topology t = Check(m);
  EXPECT_GT(t.boundary, 0);
  EXPECT_EQ(t.nonmanifold, 0);
  EXPECT_EQ(t.misoriented, 0);

  r = RunCommand(Cli() + " mesh " + plume + " --iso 0.45 --close -o " + closed);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("closed: yes"), std::string::npos) << r.out;
  Mesh c;
  ASSERT_TRUE(ReadObj(closed, &c));
  t = Check(c);
  EXPECT_EQ(t.boundary, 0);
  EXPECT_EQ(t.nonmanifold, 0);
  EXPECT_EQ(t.misoriented, 0);
  EXPECT_GT(t.volume, 0);
  EXPECT_LE(t.volume, 1.0 + 1e-9); // inside the unit box
}

TEST_F(CliMesh, PlyAndXdmf)
{
  std::string   ply = dir + "/s.ply", xdmf = dir + "/s.xdmf", h5 = dir + "/s.h5";
  CommandResult r = RunCommand(Cli() + " mesh " + problem + " --close -o " + ply);
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(FileExists(ply));
  {
    std::ifstream f(ply, std::ios::binary);
    std::string   magic;
    std::getline(f, magic);
    EXPECT_EQ(magic, "ply");
  }
  r = RunCommand(Cli() + " mesh " + problem + " --close -o " + xdmf);
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(FileExists(xdmf));
  ASSERT_TRUE(FileExists(h5));
  int nv = 0, nt = 0;
  ASSERT_EQ(sscanf(r.out.c_str(), ("deepcd mesh: wrote " + xdmf + " (%d vertices, %d triangles").c_str(), &nv, &nt), 2) << r.out;
  std::vector<hsize_t> dv = Dims(h5, "vertices"), dt = Dims(h5, "triangles");
  ASSERT_EQ(dv.size(), 2u);
  ASSERT_EQ(dt.size(), 2u);
  EXPECT_EQ(dv[0], (hsize_t) nv);
  EXPECT_EQ(dv[1], 3u);
  EXPECT_EQ(dt[0], (hsize_t) nt);
  EXPECT_EQ(dt[1], 3u);
  EXPECT_EQ(AttrString(h5, "format"), "deepcd-mesh");
  EXPECT_EQ(AttrString(h5, "source"), "p.h5");
  EXPECT_EQ(AttrString(h5, "dataset"), "sdf");
  // same vertices as the OBJ of the same run
  std::vector<double> v = ReadDataset(h5, "vertices");
  EXPECT_EQ(v.size(), (size_t) 3 * nv);
  std::ifstream     f(xdmf);
  std::stringstream s;
  s << f.rdbuf();
  std::string x = s.str();
  EXPECT_NE(x.find("TopologyType=\"Triangle\""), std::string::npos);
  EXPECT_NE(x.find("GeometryType=\"XYZ\""), std::string::npos);
  EXPECT_NE(x.find(">s.h5:/triangles<"), std::string::npos);
  EXPECT_NE(x.find(">s.h5:/vertices<"), std::string::npos);
  EXPECT_NE(x.find("NumberOfElements=\"" + std::to_string(nt) + "\""), std::string::npos);
  // no temporary files left behind
  EXPECT_TRUE(RunCommand("ls " + h5 + ".tmp* 2> /dev/null").out.empty());
}

TEST_F(CliMesh, SolutionIsosurface)
{
  std::vector<double> x = ReadDataset(solution, "x");
  ASSERT_FALSE(x.empty());
  double lo = x[0], hi = x[0];
  for (double v : x) lo = std::min(lo, v), hi = std::max(hi, v);
  ASSERT_LT(lo, hi);
  char iso[64];
  snprintf(iso, sizeof(iso), "%.17g", lo + 0.5 * (hi - lo));
  std::string   out = dir + "/iso.obj";
  CommandResult r   = RunCommand(Cli() + " mesh " + solution + " --dataset x --iso " + iso + " -o " + out);
  ASSERT_EQ(r.status, 0) << r.err;
  Mesh m;
  ASSERT_TRUE(ReadObj(out, &m));
  ASSERT_GT(m.t.size(), 0u);
  Topology t = Check(m);
  EXPECT_EQ(t.nonmanifold, 0);
  EXPECT_EQ(t.misoriented, 0);
  // vertices lie between the first and last cell centres
  double h = 1.0 / 16;
  for (double c : m.v) {
    EXPECT_GE(c, 0.5 * h - 1e-12);
    EXPECT_LE(c, 1 - 0.5 * h + 1e-12);
  }
  // the default dataset of a solution file is x
  r = RunCommand(Cli() + " mesh " + solution + " --iso " + iso + " --close -o " + dir + "/iso2.obj");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("closed: yes"), std::string::npos) << r.out;
}

TEST_F(CliMesh, Errors)
{
  std::string out = dir + "/err.obj";
  ExpectError(dir + "/nonexistent.h5 -o " + out, out, "cannot read the file");
  {
    // an HDF5 file without the format attribute
    std::string plain = dir + "/plain.h5";
    hid_t       f     = H5Fcreate(plain.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    H5Fclose(f);
    ExpectError(plain + " -o " + out, out, "not a deepcd problem or solution file");
  }
  ExpectError(problem + " --dataset nosuch -o " + out, out, "dataset 'nosuch' is missing");
  ExpectError(problem + " -o " + dir + "/err.stl", dir + "/err.stl", "unknown extension '.stl'");
  ExpectError(solution + " -o " + out, out, "give the isovalue with --iso");
  ExpectError(problem + " --iso -100 -o " + out, out, "no surface at iso -100 in dataset 'sdf'");
  ExpectError(problem + " --iso abc -o " + out, out, "is not a finite number");
  ExpectError(problem, "", "no output file given");
  ExpectError(problem + " --bogus -o " + out, out, "unknown option '--bogus'");
  ExpectError(dir + "/nonexistent-dir/x.h5 -o " + out, out, "cannot read the file");
  ExpectError(problem + " -o " + dir + "/nonexistent-dir/x.obj", dir + "/nonexistent-dir/x.obj", "");
  {
    // -o p.xdmf would put the mesh's HDF5 part on the input p.h5
    std::vector<double> before = ReadDataset(problem, "sdf");
    ExpectError(problem + " -o " + dir + "/p.xdmf", dir + "/p.xdmf", "is the input file");
    EXPECT_EQ(ReadDataset(problem, "sdf"), before);
  }
  {
    // a problem file whose sdf holds a NaN
    std::string bad = dir + "/nan.h5";
    ASSERT_EQ(RunCommand("cp " + problem + " " + bad).status, 0);
    hid_t f = H5Fopen(bad.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    hid_t ds = H5Dopen2(f, "sdf", H5P_DEFAULT);
    ASSERT_GE(ds, 0);
    hid_t   sp     = H5Dget_space(ds);
    hsize_t off[3] = { 2, 3, 4 }, cnt[3] = { 1, 1, 1 };
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, off, NULL, cnt, NULL);
    hid_t  ms  = H5Screate_simple(3, cnt, NULL);
    double nan = NAN;
    ASSERT_GE(H5Dwrite(ds, H5T_NATIVE_DOUBLE, ms, sp, H5P_DEFAULT, &nan), 0);
    H5Sclose(ms);
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    ExpectError(bad + " -o " + out, out, "dataset 'sdf': NaN at corner (x, y, z) = (4, 3, 2)");
  }
}

TEST_F(CliMesh, HelpAndMpi)
{
  CommandResult r = RunCommand(Cli() + " mesh --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("usage: deepcd mesh FIELD.h5"), std::string::npos);
  // under mpiexec rank 0 does the work; every rank shares the exit status
  std::string out = dir + "/mpi.obj";
  r               = RunCommand(std::string(MPIEXEC_CMD) + " -n 2 " + CliPath() + " mesh " + problem + " -o " + out);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(CountLines(r.out), 1) << r.out;
  EXPECT_TRUE(FileExists(out));
  r = RunCommand(std::string(MPIEXEC_CMD) + " -n 2 " + CliPath() + " mesh " + problem + " --dataset nosuch -o " + dir + "/mpi2.obj");
  EXPECT_NE(r.status, 0);
  // one line from deepcd (rank 0); mpiexec adds its own report after it
  size_t first = r.err.find("deepcd mesh: error: ");
  EXPECT_EQ(first, 0u) << r.err;
  EXPECT_EQ(r.err.find("deepcd mesh: error: ", first + 1), std::string::npos) << r.err;
  EXPECT_FALSE(FileExists(dir + "/mpi2.obj"));
}

// deepcd solve -mesh_geometry: the solution and the obstacle surfaces in one XDMF file.
TEST_F(CliMesh, SolveMeshGeometry)
{
  std::string   out = dir + "/geo-sol.h5", geom = dir + "/geo.xdmf";
  CommandResult r = RunCommand(Cli() + " solve " + problem + " -o " + out + " -mesh_geometry " + geom);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(FileExists(out));
  EXPECT_TRUE(FileExists(dir + "/geo-sol.xmf"));
  ASSERT_TRUE(FileExists(geom));
  ASSERT_TRUE(FileExists(dir + "/geo.h5"));
  std::ifstream     f(geom);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string x = ss.str();
  EXPECT_NE(x.find("GridType=\"Collection\" CollectionType=\"Spatial\""), std::string::npos) << x;
  EXPECT_NE(x.find("TopologyType=\"3DCoRectMesh\" Dimensions=\"25 25 25\""), std::string::npos) << x;
  EXPECT_NE(x.find(">geo-sol.h5:/x<"), std::string::npos) << x;
  EXPECT_NE(x.find("TopologyType=\"Triangle\""), std::string::npos) << x;
  EXPECT_NE(x.find(">geo.h5:/triangles<"), std::string::npos) << x;
  EXPECT_NE(x.find(">geo.h5:/vertices<"), std::string::npos) << x;
  std::vector<hsize_t> v = Dims(dir + "/geo.h5", "vertices"), t = Dims(dir + "/geo.h5", "triangles");
  ASSERT_EQ(v.size(), 2u);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_GT(v[0], 0u);
  EXPECT_EQ(v[1], 3u);
  EXPECT_GT(t[0], 0u);
  EXPECT_EQ(t[1], 3u);
  EXPECT_NE(x.find("NumberOfElements=\"" + std::to_string(t[0]) + "\""), std::string::npos) << x;
  EXPECT_EQ(AttrString(dir + "/geo.h5", "format"), "deepcd-mesh");
  // closed surfaces (the close option): the extracted mesh is watertight
  {
    Mesh                m;
    std::vector<double> vv = ReadDataset(dir + "/geo.h5", "vertices");
    m.v                    = vv;
    hid_t h                = H5Fopen((dir + "/geo.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(h, 0);
    hid_t ds = H5Dopen2(h, "triangles", H5P_DEFAULT);
    m.t.resize(t[0] * 3);
    ASSERT_GE(H5Dread(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.t.data()), 0);
    H5Dclose(ds);
    H5Fclose(h);
    Topology top = Check(m);
    EXPECT_EQ(top.boundary, 0);
    EXPECT_EQ(top.nonmanifold, 0);
  }
}

TEST_F(CliMesh, SolveMeshGeometryErrors)
{
  // a problem without sdf: the same spheres file with the dataset removed
  std::string nosdf = dir + "/nosdf.h5";
  ASSERT_EQ(RunCommand("cp " + problem + " " + nosdf).status, 0);
  {
    hid_t f = H5Fopen(nosdf.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Ldelete(f, "sdf", H5P_DEFAULT), 0);
    H5Fclose(f);
  }
  struct Case {
    std::string args, needle;
  } cases[] = {
    { nosdf + " -o " + dir + "/ns.h5 -mesh_geometry " + dir + "/nsg.xdmf", "nosdf.h5: -mesh_geometry needs an sdf dataset" },
    { problem + " -o " + dir + "/ns.h5 -mesh_geometry " + dir + "/nsg.obj", "the extension must be .xdmf or .xmf" },
    { problem + " -o " + dir + "/ns.h5 -mesh_geometry " + dir + "/nonexistent-dir/nsg.xdmf", "the directory does not exist" },
    { problem + " -o " + dir + "/ns.h5 -mesh_geometry " + dir + "/ns.xmf", "would be the solution's .xmf file" },
    { problem + " -o " + dir + "/ns.h5 -mesh_geometry " + dir + "/p.xdmf", "would be the problem file" },
  };
  for (const Case &c : cases) {
    CommandResult r = RunCommand(Cli() + " solve " + c.args);
    EXPECT_EQ(r.status, 1) << c.args;
    EXPECT_EQ(CountLines(r.err), 1) << c.args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("deepcd solve: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << "expected '" << c.needle << "' in: " << r.err;
    EXPECT_EQ(r.out, "") << c.args; // nothing solved
    for (const char *name : { "/ns.h5", "/ns.xmf", "/nsg.xdmf", "/nsg.obj", "/nsg.h5" }) EXPECT_FALSE(FileExists(dir + name)) << name;
  }
  // under mpiexec: rank 0 extracts, every rank shares the error
  CommandResult r = RunCommand(std::string(MPIEXEC_CMD) + " -n 2 " + CliPath() + " solve " + nosdf + " -o " + dir + "/ns.h5 -mesh_geometry " + dir + "/nsg.xdmf");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.err.find("deepcd solve: error: "), 0u) << r.err;
  EXPECT_FALSE(FileExists(dir + "/ns.h5"));
  EXPECT_FALSE(FileExists(dir + "/nsg.xdmf"));
  r = RunCommand(std::string(MPIEXEC_CMD) + " -n 2 " + CliPath() + " solve " + problem + " -o " + dir + "/mpisol.h5 -mesh_geometry " + dir + "/mpigeo.xdmf");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(FileExists(dir + "/mpigeo.xdmf"));
  EXPECT_EQ(Dims(dir + "/mpigeo.h5", "triangles").size(), 2u);
}

} // namespace

namespace {

// The tets of a `deepcd mesh --tets` output, checked from the files alone:
// positive volumes, interior faces in 2 tets with opposite orientations,
// the other faces exactly the file's triangles; returns the total volume.
double CheckTetsFile(const std::string &h5, long *nonpositive, long *bad_faces)
{
  std::vector<double> v = ReadDataset(h5, "vertices"), tt = ReadDataset(h5, "tetrahedra"), tr = ReadDataset(h5, "triangles");
  using Tri     = std::array<long, 3>;
  auto directed = [](long a, long b, long c) -> Tri {
    if (b < a && b < c) return { b, c, a };
    if (c < a && c < b) return { c, a, b };
    return { a, b, c };
  };
  std::map<Tri, int> faces, tris;
  double             total = 0;
  *nonpositive = *bad_faces = 0;
  for (size_t i = 0; i + 3 < tt.size(); i += 4) {
    long          t[4] = { (long) tt[i], (long) tt[i + 1], (long) tt[i + 2], (long) tt[i + 3] };
    const double *a = &v[3 * t[0]], *b = &v[3 * t[1]], *c = &v[3 * t[2]], *d = &v[3 * t[3]];
    double        u[3] = { b[0] - a[0], b[1] - a[1], b[2] - a[2] }, w[3] = { c[0] - a[0], c[1] - a[1], c[2] - a[2] }, z[3] = { d[0] - a[0], d[1] - a[1], d[2] - a[2] };
    double        vol = (u[0] * (w[1] * z[2] - w[2] * z[1]) - u[1] * (w[0] * z[2] - w[2] * z[0]) + u[2] * (w[0] * z[1] - w[1] * z[0])) / 6;
    total += vol;
    *nonpositive += vol <= 0;
    faces[directed(t[1], t[2], t[3])]++;
    faces[directed(t[0], t[3], t[2])]++;
    faces[directed(t[0], t[1], t[3])]++;
    faces[directed(t[0], t[2], t[1])]++;
  }
  for (size_t i = 0; i + 2 < tr.size(); i += 3) tris[directed((long) tr[i], (long) tr[i + 1], (long) tr[i + 2])]++;
  for (auto &[f, n] : faces) {
    bool paired = faces.count(directed(f[0], f[2], f[1])) > 0;
    if (n != 1 || paired == (tris.count(f) > 0)) ++*bad_faces;
  }
  for (auto &[f, n] : tris)
    if (n != 1 || !faces.count(f)) ++*bad_faces;
  return total;
}

} // namespace

TEST_F(CliMesh, TetsXdmf)
{
  // a solution's isosurface (cell field, grid of cell centres) halfway between its extremes
  std::vector<double> sol = ReadDataset(solution, "x");
  ASSERT_FALSE(sol.empty());
  char iso[64];
  snprintf(iso, sizeof(iso), "%.17g", 0.5 * (*std::min_element(sol.begin(), sol.end()) + *std::max_element(sol.begin(), sol.end())));
  struct {
    std::string args, name;
  } runs[] = {
    { problem + " --close --tets", "tets" },                    // the spheres, with --close
    { plume + " --iso 0.2 --tets", "plume-tets" },              // one sphere inside: no --close needed
    { plume + " --iso 0.45 --close --tets", "plume-cut-tets" }, // a sphere cut by the walls, closed
    { solution + " --iso " + iso + " --close --tets", "solution-tets" },
  };
  for (auto &run : runs) {
    std::string   xdmf = dir + "/" + run.name + ".xdmf", h5 = dir + "/" + run.name + ".h5";
    CommandResult r = RunCommand(Cli() + " mesh " + run.args + " -o " + xdmf);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(CountLines(r.out), 1) << r.out;
    int nv = 0, nt = 0, nb = 0;
    ASSERT_EQ(sscanf(r.out.c_str(), ("deepcd mesh: wrote " + xdmf + " (%d vertices, %d tetrahedra, %d boundary triangles").c_str(), &nv, &nt, &nb), 3) << r.out;
    EXPECT_NE(r.out.find("closed: yes"), std::string::npos) << r.out;
    std::vector<hsize_t> dv = Dims(h5, "vertices"), dt = Dims(h5, "tetrahedra"), db = Dims(h5, "triangles");
    ASSERT_EQ(dt.size(), 2u);
    EXPECT_EQ(dv[0], (hsize_t) nv);
    EXPECT_EQ(dt[0], (hsize_t) nt);
    EXPECT_EQ(dt[1], 4u);
    EXPECT_EQ(db[0], (hsize_t) nb);
    EXPECT_EQ(AttrString(h5, "format"), "deepcd-mesh");
    long   nonpositive, bad;
    double volume = CheckTetsFile(h5, &nonpositive, &bad);
    EXPECT_EQ(nonpositive, 0) << run.name;
    EXPECT_EQ(bad, 0) << run.name;
    // the tets fill exactly what the boundary triangles enclose
    Mesh                m;
    std::vector<double> tr = ReadDataset(h5, "triangles");
    m.v                    = ReadDataset(h5, "vertices");
    for (double x : tr) m.t.push_back((int) x);
    Topology t = Check(m);
    EXPECT_EQ(t.boundary + t.nonmanifold + t.misoriented, 0) << run.name;
    EXPECT_NEAR(volume, t.volume, 1e-11 * t.volume) << run.name;
    EXPECT_GT(volume, 0.01) << run.name;

    std::ifstream     f(xdmf);
    std::stringstream s;
    s << f.rdbuf();
    std::string x = s.str();
    EXPECT_NE(x.find("GridType=\"Collection\" CollectionType=\"Spatial\""), std::string::npos) << x;
    EXPECT_NE(x.find("TopologyType=\"Tetrahedron\" NumberOfElements=\"" + std::to_string(nt) + "\""), std::string::npos) << x;
    EXPECT_NE(x.find("TopologyType=\"Triangle\" NumberOfElements=\"" + std::to_string(nb) + "\""), std::string::npos) << x;
    EXPECT_NE(x.find(">" + run.name + ".h5:/tetrahedra<"), std::string::npos) << x;
    EXPECT_NE(x.find(">" + run.name + ".h5:/vertices<"), std::string::npos) << x;
  }
}

TEST_F(CliMesh, TetsErrors)
{
  // OBJ and PLY hold surfaces only
  for (const char *ext : { ".obj", ".ply" }) {
    std::string out = dir + "/tets-err" + ext;
    ExpectError(problem + " --close --tets -o " + out, out, "OBJ and PLY files hold surfaces only");
  }
  // the larger plume sphere reaches the walls: open without --close
  ExpectError(plume + " --iso 0.45 --tets -o " + dir + "/tets-open.xdmf", dir + "/tets-open.xdmf", "--tets needs --close");
  EXPECT_FALSE(FileExists(dir + "/tets-open.h5"));
}

// A weights file for `deepcd mesh --weights` (docs/formats.md "Mesh weights"),
// written item by item so that each can be broken.
struct WeightsFile {
  std::string format  = "deepcd-mesh-weights";
  int         version = 1, dims[3] = { 24, 24, 24 };
  double      weight_scale = 0.99;
  bool        has_format = true, has_weight_scale = false;
  struct Item {
    std::string          name;
    std::vector<hsize_t> shape;
    hid_t                type;
    double               value;  // every entry
    long                 bad_at; // -1, or the entry that holds `bad`
    double               bad;
  };
  std::vector<Item> items;

  bool Write(const std::string &path) const
  {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return false;
    bool  ok = true;
    hid_t sc = H5Screate(H5S_SCALAR);
    if (has_format) {
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, format.size() + 1);
      hid_t a = H5Acreate2(f, "format", t, sc, H5P_DEFAULT, H5P_DEFAULT);
      ok &= a >= 0 && H5Awrite(a, t, format.c_str()) >= 0;
      H5Aclose(a);
      H5Tclose(t);
    }
    const char *names[4] = { "version", "nx", "ny", "nz" };
    const int   vals[4]  = { version, dims[0], dims[1], dims[2] };
    for (int i = 0; i < 4; i++) {
      hid_t a = H5Acreate2(f, names[i], H5T_STD_I32LE, sc, H5P_DEFAULT, H5P_DEFAULT);
      ok &= a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &vals[i]) >= 0;
      H5Aclose(a);
    }
    if (has_weight_scale) {
      hid_t a = H5Acreate2(f, "weight_scale", H5T_IEEE_F64LE, sc, H5P_DEFAULT, H5P_DEFAULT);
      ok &= a >= 0 && H5Awrite(a, H5T_NATIVE_DOUBLE, &weight_scale) >= 0;
      H5Aclose(a);
    }
    H5Sclose(sc);
    for (const Item &it : items) {
      size_t n = 1;
      for (hsize_t d : it.shape) n *= d;
      std::vector<double> v(n, it.value);
      if (it.bad_at >= 0) v[it.bad_at] = it.bad;
      hid_t sp = H5Screate_simple((int) it.shape.size(), it.shape.data(), NULL);
      hid_t ds = H5Dcreate2(f, it.name.c_str(), it.type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      ok &= ds >= 0 && H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0;
      H5Dclose(ds);
      H5Sclose(sp);
    }
    H5Fclose(f);
    return ok;
  }
};

// mesh_fit --field-out / --weights-out, then deepcd mesh --weights: the
// fitted mesh again (deepcd's grid starts at the origin, mesh_fit's at -1).
TEST_F(CliMesh, WeightsRoundTripFromMeshFit)
{
  const std::string fit = dir + "/fit.obj", field = dir + "/fit-field.h5", w = dir + "/fit-weights.h5", re = dir + "/fit-re.obj", plain = dir + "/fit-plain.obj";
  CommandResult     r = RunCommand(std::string(MESH_FIT) + " --target box --n 10 --iters 30 --samples 300 --eval-samples 300 --print 100 -o " + fit + " --field-out " + field + " --weights-out " + w);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(AttrString(w, "format"), "deepcd-mesh-weights");
  EXPECT_EQ(Dims(w, "alpha"), (std::vector<hsize_t>{ 1000, 8 }));
  EXPECT_EQ(Dims(w, "beta"), (std::vector<hsize_t>{ 1000, 12 }));
  EXPECT_EQ(Dims(w, "gamma"), (std::vector<hsize_t>{ 1000 }));
  EXPECT_EQ(Dims(w, "deform"), (std::vector<hsize_t>{ 1331, 3 }));
  r = RunCommand(Cli() + " mesh " + field + " --weights " + w + " -o " + re);
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunCommand(Cli() + " mesh " + field + " -o " + plain);
  ASSERT_EQ(r.status, 0) << r.err;
  Mesh a, b, c;
  ASSERT_TRUE(ReadObj(fit, &a));
  ASSERT_TRUE(ReadObj(re, &b));
  ASSERT_TRUE(ReadObj(plain, &c));
  ASSERT_GT(a.t.size(), 0u);
  EXPECT_EQ(a.t, b.t);
  ASSERT_EQ(a.v.size(), b.v.size());
  double err = 0, moved = 0;
  for (size_t i = 0; i < a.v.size(); i++) err = std::max(err, std::fabs(a.v[i] + 1.0 - b.v[i]));
  EXPECT_LT(err, 1e-7); // the OBJ files' 9 digits
  // the weights matter: without them the vertices are elsewhere
  for (size_t i = 0; i < std::min(a.v.size(), c.v.size()); i++) moved = std::max(moved, std::fabs(c.v[i] - b.v[i]));
  EXPECT_GT(moved, 1e-3);
  // and the tets of the weighted surface are valid
  r = RunCommand(Cli() + " mesh " + field + " --weights " + w + " --tets -o " + dir + "/fit-tets.xdmf");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST_F(CliMesh, WeightsErrors)
{
  const std::string out = dir + "/werr.obj", wf = dir + "/w.h5";
  const hsize_t     nc = 24 * 24 * 24, nv = 25 * 25 * 25;
  auto              expect = [&](const WeightsFile &w, const std::string &needle) {
    ASSERT_TRUE(w.Write(wf));
    ExpectError(problem + " --weights " + wf + " -o " + out, out, needle);
  };
  ExpectError(problem + " --weights " + dir + "/nonexistent-w.h5 -o " + out, out, "nonexistent-w.h5: cannot read the file");
  ExpectError(problem + " --weights " + problem + " -o " + out, out, "attribute 'format' is 'deepcd-problem', expected 'deepcd-mesh-weights'");
  WeightsFile ok;
  ok.items = { { "alpha", { nc, 8 }, H5T_IEEE_F64LE, 0.5, -1, 0 }, { "beta", { nc, 12 }, H5T_IEEE_F32LE, -0.5, -1, 0 }, { "gamma", { nc }, H5T_IEEE_F64LE, 1, -1, 0 }, { "deform", { nv, 3 }, H5T_IEEE_F32LE, 0.001, -1, 0 } };
  {
    WeightsFile w = ok;
    w.has_format  = false;
    expect(w, "w.h5: attribute 'format' is missing");
  }
  {
    WeightsFile w = ok;
    w.version     = 2;
    expect(w, "w.h5: attribute 'version' is 2");
  }
  {
    WeightsFile w = ok;
    w.dims[2]     = 23;
    expect(w, "w.h5: attributes 'nx', 'ny', 'nz' = 24, 24, 23 do not match the field's grid of 24 x 24 x 24 cubes");
  }
  {
    WeightsFile w    = ok;
    w.items[0].shape = { nc, 7 };
    expect(w, "w.h5: dataset 'alpha': shape (13824, 7), expected (13824, 8)");
  }
  {
    WeightsFile w    = ok;
    w.items[2].shape = { nc, 1 };
    expect(w, "w.h5: dataset 'gamma': shape (13824, 1), expected (13824)");
  }
  {
    WeightsFile w    = ok;
    w.items[2].shape = { nc + 1 };
    expect(w, "w.h5: dataset 'gamma': shape (13825), expected (13824)");
  }
  {
    WeightsFile w   = ok;
    w.items[1].type = H5T_STD_I32LE;
    expect(w, "w.h5: dataset 'beta': type is int32, expected float64 or float32");
  }
  {
    WeightsFile w     = ok;
    w.items[1].bad_at = 12 * 5 + 3;
    w.items[1].bad    = NAN;
    expect(w, "w.h5: dataset 'beta': NaN or Inf at (row, column) = (5, 3)");
  }
  {
    WeightsFile w     = ok;
    w.items[3].bad_at = 7;
    w.items[3].bad    = INFINITY;
    expect(w, "w.h5: dataset 'deform': NaN or Inf at (row, column) = (2, 1)");
  }
  {
    WeightsFile w      = ok;
    w.has_weight_scale = true;
    w.weight_scale     = 1.5;
    expect(w, "w.h5: attribute 'weight_scale' = 1.5 must be in [0, 1)");
  }
  // the same file, intact: float32 and float64 both read
  ASSERT_TRUE(ok.Write(wf));
  CommandResult r = RunCommand(Cli() + " mesh " + problem + " --close --weights " + wf + " -o " + out);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(FileExists(out));
}
