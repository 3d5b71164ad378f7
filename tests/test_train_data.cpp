// Training data: Ritz pairs against the analytic discrete spectrum, the
// right-hand sides, the file and the command (deepcd train-data).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <iterator>
#include <deepcd.h>
#include <deepcd/train_data.h>
#include "test_util.h"

namespace {

// Writes a box problem with the given walls (and optional solid cells) from rank 0.
void WriteBox(int nx, int ny, int nz, double h, const char *walls, const std::vector<int> &solid, const std::string &path)
{
  int rank = 0;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  if (!rank) {
    DeepCDProblemData *d;
    ASSERT_EQ(DeepCDProblemDataCreate(nx, ny, nz, h, walls, &d), 0);
    for (int c = 0; c < nx * ny * nz; c++) d->rhs[c] = 1.0;
    if (!solid.empty()) {
      ASSERT_EQ(PetscCalloc1(nx * ny * nz, &d->solid), 0);
      for (int c : solid) d->solid[c] = 1;
    }
    ASSERT_EQ(DeepCDProblemDataWrite(d, path.c_str()), 0);
    ASSERT_EQ(DeepCDProblemDataDestroy(&d), 0);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
}

// The cell-centred 1-D operator with walls at h/2: Dirichlet (ghost -u, end
// diagonal 3/h^2): 4/h^2 sin^2(pi m / 2n), m = 1..n; Neumann (end diagonal
// 1/h^2): 4/h^2 sin^2(pi m / 2n), m = 0..n-1. The 3-D values are sums.
std::vector<double> BoxSpectrum(int nx, int ny, int nz, double h, bool dirichlet)
{
  std::vector<double> ev;
  int                 lo = dirichlet ? 1 : 0;
  auto                s  = [&](int m, int n) { return 4.0 / (h * h) * std::pow(std::sin(M_PI * m / (2.0 * n)), 2); };
  for (int a = lo; a < nx + lo; a++)
    for (int b = lo; b < ny + lo; b++)
      for (int c = lo; c < nz + lo; c++) ev.push_back(s(a, nx) + s(b, ny) + s(c, nz));
  std::sort(ev.begin(), ev.end());
  return ev;
}

struct Loaded {
  DeepCDProblem p = nullptr;
  Mat           A = nullptr;
  Vec           b = nullptr;
  Loaded(const std::string &path)
  {
    EXPECT_EQ(DeepCDProblemLoad(PETSC_COMM_WORLD, path.c_str(), &p), 0);
    EXPECT_EQ(DeepCDOperatorSetUp(p, &A, &b), 0);
  }
  ~Loaded()
  {
    VecDestroy(&b);
    MatDestroy(&A);
    DeepCDProblemDestroy(&p);
  }
};

// Eigen-residuals, orthonormality and A-orthogonality of the pairs.
void CheckPairs(Mat A, const DeepCDRitz &r, double tol)
{
  Vec       w;
  PetscReal rn;
  ASSERT_EQ(VecDuplicate(r.vectors[0], &w), 0);
  for (PetscInt i = 0; i < r.k; i++) {
    ASSERT_EQ(MatMult(A, r.vectors[i], w), 0);
    for (PetscInt j = 0; j < r.k; j++) {
      PetscScalar qq, qaq;
      VecDot(r.vectors[i], r.vectors[j], &qq);
      VecDot(w, r.vectors[j], &qaq);
      EXPECT_NEAR(PetscRealPart(qq), i == j ? 1.0 : 0.0, 1e-8) << i << "," << j;
      EXPECT_NEAR(PetscRealPart(qaq) / r.values[r.k - 1], i == j ? r.values[i] / r.values[r.k - 1] : 0.0, 1e-7) << i << "," << j;
    }
    VecAXPY(w, -r.values[i], r.vectors[i]);
    VecNorm(w, NORM_2, &rn);
    EXPECT_LT(rn / r.values[i], tol) << "pair " << i;
    if (i) EXPECT_LE(r.values[i - 1], r.values[i]);
  }
  VecDestroy(&w);
}

struct H5File {
  hid_t f;
  H5File(const std::string &p)
  {
    f = H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  }
  ~H5File()
  {
    if (f >= 0) H5Fclose(f);
  }
  std::vector<double> Read(const std::string &name, std::vector<hsize_t> *dims = nullptr)
  {
    hid_t   d = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
    hid_t   s = H5Dget_space(d);
    int     n = H5Sget_simple_extent_ndims(s);
    hsize_t dd[8];
    H5Sget_simple_extent_dims(s, dd, NULL);
    size_t total = 1;
    for (int i = 0; i < n; i++) total *= dd[i];
    if (dims) dims->assign(dd, dd + n);
    std::vector<double> v(total);
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Sclose(s);
    H5Dclose(d);
    return v;
  }
  std::string AttrString(const std::string &obj, const std::string &name)
  {
    hid_t       a = H5Aopen_by_name(f, obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    hid_t       t = H5Aget_type(a);
    std::string s(H5Tget_size(t), '\0');
    H5Aread(a, t, &s[0]);
    H5Tclose(t);
    H5Aclose(a);
    return std::string(s.c_str());
  }
  long long AttrInt(const std::string &obj, const std::string &name)
  {
    long long v = -1;
    hid_t     a = H5Aopen_by_name(f, obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_LLONG, &v);
    H5Aclose(a);
    return v;
  }
};

std::string Slurp(const std::string &p)
{
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

} // namespace

TEST(TrainData, RitzValuesOfDirichletBoxAreAnalytic)
{
  std::string dir = TestTempDir("traindata-box");
  for (auto sz : std::vector<std::array<int, 3>>{ { 6, 5, 4 }, { 8, 8, 8 } }) {
    std::string path = dir + "/box.h5";
    double      h    = 1.0 / sz[0];
    WriteBox(sz[0], sz[1], sz[2], h, "DDDDDD", {}, path);
    Loaded     L(path);
    DeepCDRitz r;
    PetscInt   k = 16;
    ASSERT_EQ(DeepCDRitzCompute(L.p, L.A, k, NULL, &r), 0);
    ASSERT_EQ(r.k, k);
    EXPECT_EQ(r.nnull, 0);
    EXPECT_EQ(r.nskipped, 0);
    auto ev = BoxSpectrum(sz[0], sz[1], sz[2], h, true);
    for (PetscInt i = 0; i < k; i++) EXPECT_NEAR(r.values[i], ev[i], 1e-7 * ev[i]) << "eigenvalue " << i;
    CheckPairs(L.A, r, 1e-6);
    ASSERT_EQ(DeepCDRitzDestroy(&r), 0);
  }
}

TEST(TrainData, VectorsVanishOnSolidCells)
{
  std::string      dir  = TestTempDir("traindata-solid");
  std::string      path = dir + "/solid.h5";
  const int        n    = 8;
  std::vector<int> solid;
  for (int k = 2; k < 5; k++)
    for (int j = 3; j < 6; j++)
      for (int i = 1; i < 4; i++) solid.push_back((k * n + j) * n + i);
  WriteBox(n, n, n, 1.0 / n, "DDNNDN", solid, path);
  Loaded     L(path);
  DeepCDRitz r;
  ASSERT_EQ(DeepCDRitzCompute(L.p, L.A, 12, NULL, &r), 0);
  ASSERT_EQ(r.k, 12);
  EXPECT_EQ(r.nfluid, n * n * n - (PetscInt) solid.size());
  for (PetscInt i = 0; i < r.k; i++) EXPECT_GT(r.values[i], 1.5) << "no identity-row eigenvalue 1";
  CheckPairs(L.A, r, 1e-6);
  Vec q;
  VecDuplicate(L.p->solid, &q);
  PetscReal m;
  for (PetscInt i = 0; i < r.k; i++) {
    VecPointwiseMult(q, r.vectors[i], L.p->solid);
    VecNorm(q, NORM_INFINITY, &m);
    EXPECT_EQ(m, 0.0);
  }
  // right-hand sides: unit norm, zero on solids, deterministic
  Vec b1, b2;
  VecDuplicate(q, &b1);
  VecDuplicate(q, &b2);
  ASSERT_EQ(DeepCDTrainDataRHS(&r, DeepCDTrainDataDefaultLow(r.k), 7, 0, 3, b1), 0);
  ASSERT_EQ(DeepCDTrainDataRHS(&r, DeepCDTrainDataDefaultLow(r.k), 7, 0, 3, b2), 0);
  VecNorm(b1, NORM_2, &m);
  EXPECT_NEAR(m, 1.0, 1e-12);
  VecAXPY(b2, -1.0, b1);
  VecNorm(b2, NORM_INFINITY, &m);
  EXPECT_EQ(m, 0.0);
  ASSERT_EQ(DeepCDTrainDataRHS(&r, DeepCDTrainDataDefaultLow(r.k), 7, 0, 4, b2), 0);
  VecAXPY(b2, -1.0, b1);
  VecNorm(b2, NORM_INFINITY, &m);
  EXPECT_GT(m, 1e-3);
  VecPointwiseMult(q, b1, L.p->solid);
  VecNorm(q, NORM_INFINITY, &m);
  EXPECT_EQ(m, 0.0);
  VecDestroy(&b1);
  VecDestroy(&b2);
  VecDestroy(&q);
  ASSERT_EQ(DeepCDRitzDestroy(&r), 0);
}

TEST(TrainData, FloatingRegionNullSpaceIsSkipped)
{
  std::string  dir  = TestTempDir("traindata-neumann");
  std::string  path = dir + "/neumann.h5";
  const int    n    = 6;
  const double h    = 1.0 / n;
  WriteBox(n, n, n, h, "NNNNNN", {}, path);
  Loaded     L(path);
  DeepCDRitz r;
  ASSERT_EQ(DeepCDRitzCompute(L.p, L.A, 8, NULL, &r), 0);
  ASSERT_EQ(r.k, 8);
  EXPECT_EQ(r.nnull, 1);
  auto ev = BoxSpectrum(n, n, n, h, false); // ev[0] = 0 is the null-space mode
  EXPECT_NEAR(ev[0], 0.0, 1e-9);
  for (PetscInt i = 0; i < r.k; i++) EXPECT_NEAR(r.values[i], ev[i + 1], 1e-7 * ev[i + 1]) << "eigenvalue " << i;
  for (PetscInt i = 0; i < r.k; i++) {
    PetscScalar s;
    VecSum(r.vectors[i], &s);
    EXPECT_NEAR(PetscRealPart(s), 0.0, 1e-8);
  }
  CheckPairs(L.A, r, 1e-6);
  ASSERT_EQ(DeepCDRitzDestroy(&r), 0);
}

TEST(TrainData, CommandWritesADeterministicFile)
{
  std::string dir = TestTempDir("traindata-cli");
  std::string p1 = dir + "/box.h5", p2 = dir + "/spheres.h5";
  WriteBox(8, 8, 8, 1.0 / 8, "DDDDDD", {}, p1);
  WriteScene("spheres", 12, 12, 12, 3, p2);
  std::string   base = CliPath() + " train-data " + p1 + " " + p2 + " -nev 10 -samples 6";
  CommandResult r    = RunCommand(base + " -seed 5 -o " + dir + "/a.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("problem 2/2: 10 Ritz vectors in"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("right-hand sides"), std::string::npos) << r.out;
  r = RunCommand(base + " -seed 5 -o " + dir + "/b.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunCommand(base + " -seed 6 -o " + dir + "/c.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  std::string a = Slurp(dir + "/a.h5"), b = Slurp(dir + "/b.h5"), c = Slurp(dir + "/c.h5");
  ASSERT_GT(a.size(), 1000u);
  EXPECT_TRUE(a == b) << "same seed, same file";
  EXPECT_FALSE(a == c) << "different seed, different file";

  H5File f(dir + "/a.h5");
  ASSERT_GE(f.f, 0);
  EXPECT_EQ(f.AttrString("/", "format"), "deepcd-train-data");
  EXPECT_EQ(f.AttrInt("/", "version"), 1);
  EXPECT_EQ(f.AttrInt("/", "problems"), 2);
  EXPECT_EQ(f.AttrInt("/", "low"), DeepCDTrainDataDefaultLow(10));
  EXPECT_EQ(f.AttrString("/problem001", "source"), p2);
  EXPECT_EQ(f.AttrString("/problem000", "boundary"), "DDDDDD");
  auto ev = BoxSpectrum(8, 8, 8, 1.0 / 8, true);
  auto rv = f.Read("/problem000/ritz_values");
  ASSERT_EQ(rv.size(), 10u);
  for (int i = 0; i < 10; i++) EXPECT_NEAR(rv[i], ev[i], 1e-7 * ev[i]);
  for (int ip = 0; ip < 2; ip++) {
    char g[32];
    snprintf(g, sizeof(g), "/problem%03d", ip);
    std::vector<hsize_t> dims;
    auto                 rhs   = f.Read(std::string(g) + "/rhs", &dims);
    auto                 solid = f.Read(std::string(g) + "/solid");
    int                  n     = ip ? 12 : 8;
    ASSERT_EQ(dims, (std::vector<hsize_t>{ 6, (hsize_t) n, (hsize_t) n, (hsize_t) n }));
    size_t ncell = (size_t) n * n * n, nsolid = 0;
    for (double s : solid) nsolid += s != 0;
    if (ip) EXPECT_GT(nsolid, 0u) << "the spheres scene has solid cells";
    for (int s = 0; s < 6; s++) {
      double nrm = 0, onsolid = 0;
      for (size_t cidx = 0; cidx < ncell; cidx++) {
        double v = rhs[s * ncell + cidx];
        nrm += v * v;
        if (solid[cidx] != 0) onsolid = std::max(onsolid, std::fabs(v));
      }
      EXPECT_NEAR(std::sqrt(nrm), 1.0, 1e-5);
      EXPECT_EQ(onsolid, 0.0);
    }
  }
}

TEST(TrainData, TwoRanksGiveTheSameRitzValues)
{
  std::string dir = TestTempDir("traindata-mpi");
  std::string p1  = dir + "/box.h5";
  WriteBox(8, 6, 5, 1.0 / 8, "DNDNDD", {}, p1);
  std::string   args = " train-data " + p1 + " -nev 8 -samples 3 -o ";
  CommandResult r    = RunCommand(CliPath() + args + dir + "/one.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunCommand(std::string(MPIEXEC_CMD) + " -n 2 " + CliPath() + args + dir + "/two.h5");
  ASSERT_EQ(r.status, 0) << r.err;
  H5File a(dir + "/one.h5"), b(dir + "/two.h5");
  auto   va = a.Read("/problem000/ritz_values"), vb = b.Read("/problem000/ritz_values");
  ASSERT_EQ(va.size(), vb.size());
  for (size_t i = 0; i < va.size(); i++) EXPECT_NEAR(va[i], vb[i], 1e-8 * va[i]);
}

TEST(TrainData, BadInputGivesOneLineAndNoFile)
{
  std::string dir = TestTempDir("traindata-errors");
  std::string p1  = dir + "/box.h5";
  WriteBox(4, 4, 4, 0.25, "DDDDDD", {}, p1);
  struct Case {
    std::string args, out, expect;
  } cases[] = {
    { dir + "/missing.h5", dir + "/o1.h5", "missing.h5: cannot open the problem file" },
    { p1 + " -nev 0", dir + "/o2.h5", "-nev must be at least 1" },
    { p1, dir + "/nodir/o3.h5", "the directory does not exist" },
    { p1 + " -nev 100", dir + "/o4.h5", "only 64 fluid cells" },
    { p1 + " -nev 4 -low 5", dir + "/o5.h5", "-low must be between 0 and" },
    { "-nev 4", dir + "/o6.h5", "no problem file given" },
  };
  for (const auto &c : cases) {
    CommandResult r = RunCommand(CliPath() + " train-data " + c.args + " -o " + c.out);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.err.find("deepcd train-data: error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(FileExists(c.out)) << c.out;
  }
  // no temporary file left behind either
  CommandResult ls = RunCommand("ls " + dir);
  EXPECT_EQ(ls.out.find(".tmp."), std::string::npos) << ls.out;
}

// -o naming a problem file (by identity, not spelling) and integer options
// beyond PetscInt (PETSc 3.18 wraps -nev 4294967300 to 4) are refused in one
// line; the inputs are untouched. Unused options warn, as -options_left.
TEST(TrainData, OutputIsAnInputAndOutOfRangeOptions)
{
  std::string dir = TestTempDir("traindata-badinput");
  std::string p1 = dir + "/box.h5", p2 = dir + "/box2.h5";
  WriteBox(4, 4, 4, 0.25, "DDDDDD", {}, p1);
  WriteBox(4, 4, 4, 0.25, "DDDDDD", {}, p2);
  auto bytes = [](const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  };
  const std::string before = bytes(p2);
  struct Case {
    std::string args, expect;
  } cases[] = {
    { p1 + " " + p2 + " -nev 2 -samples 2 -o " + p2, "-o " + p2 + ": it is the problem file" },
    { p1 + " " + p2 + " -nev 2 -samples 2 -o " + dir + "/./box2.h5", "problem file " + p2 },
    { p1 + " -nev 4294967300 -o " + dir + "/o1.h5", "option -nev: 4294967300 is out of range" },
    { p1 + " -samples 4294967298 -o " + dir + "/o2.h5", "option -samples: 4294967298 is out of range" },
    { p1 + " -nev 4 -low -4294967295 -o " + dir + "/o3.h5", "option -low: -4294967295 is out of range" },
    { p1 + " -nev 4 -eps_max_it 4294967298 -o " + dir + "/o4.h5", "option -eps_max_it: 4294967298 is out of range" },
  };
  for (const auto &c : cases) {
    CommandResult r = RunCommand(CliPath() + " train-data " + c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_EQ(r.err.rfind("deepcd train-data: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ(bytes(p2), before);
  CommandResult ls = RunCommand("ls " + dir);
  EXPECT_EQ(ls.out, "box.h5\nbox2.h5\n");
  CommandResult r = RunCommand(CliPath() + " train-data " + p1 + " -nev 2 -samples 2 -progress 0 -samples_typo 3 -o " + dir + "/ok.h5");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "deepcd train-data: WARNING: option -samples_typo was not used\n");
  EXPECT_TRUE(FileExists(dir + "/ok.h5"));
}

// A full disk (a 16 KiB tmpfs; skipped where mounting is not allowed): one
// line, exit 1, nothing left behind. It used to end in HDF5's "infinite loop
// closing library" after the failed write.
TEST(TrainData, FullDiskGivesOneLineAndNoFile)
{
  std::string dir = TestTempDir("traindata_full"), full = dir + "/full", in = dir + "/p.h5";
  WriteScene("spheres", 12, 12, 12, 1, in);
  RunCommand("mkdir -p " + full);
  if (RunCommand("mount -t tmpfs -o size=16k tmpfs " + full).status != 0) GTEST_SKIP() << "cannot mount a tmpfs here";
  CommandResult r = RunCommand(CliPath() + " train-data " + in + " -nev 4 -samples 4 -o " + full + "/d.h5");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("not enough free space"), std::string::npos) << r.err;
  EXPECT_EQ(RunCommand("ls -A " + full).out, "");
  RunCommand("umount " + full);
}
