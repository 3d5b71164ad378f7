// The problem file format v1 through `deepcd solve`: every malformed input is
// refused with one line on stderr naming the file, the item and the problem,
// a non-zero exit status and no output left behind; valid variants solve.
// Also the one-line errors of `deepcd gen`.
//
// The files are written here with the raw HDF5 C API (not with deepcd's own
// writer), from a small valid problem that each case changes in one way.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <iterator>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>
#include "test_util.h"

namespace {

constexpr int NX = 6, NY = 5, NZ = 4;
constexpr int NCELLS = NX * NY * NZ;

int Cell(int i, int j, int k)
{
  return (k * NY + j) * NX + i;
}

int Corner(int i, int j, int k)
{
  return (k * (NY + 1) + j) * (NX + 1) + i;
}

// ---------------------------------------------------------------------------
// An in-memory description of a problem file that a test can change freely.

struct Attribute {
  enum Kind { kInt32,
              kInt64,
              kDouble,
              kFixedString,
              kVlenString } kind;
  long long            i = 0;
  double               d = 0;
  std::string          s;
  std::vector<hsize_t> dims;                      // empty: a scalar attribute
  H5T_cset_t           cset   = H5T_CSET_ASCII;   // strings only
  H5T_str_t            strpad = H5T_STR_NULLTERM; // fixed-length strings only
};

Attribute IntAttr(long long v)
{
  Attribute a;
  a.kind = Attribute::kInt32;
  a.i    = v;
  return a;
}

Attribute RealAttr(double v)
{
  Attribute a;
  a.kind = Attribute::kDouble;
  a.d    = v;
  return a;
}

Attribute StringAttr(const std::string &v)
{
  Attribute a;
  a.kind = Attribute::kFixedString;
  a.s    = v;
  return a;
}

struct Dataset {
  std::vector<hsize_t> dims;
  hid_t                filetype; // a predefined HDF5 file type
  std::vector<double>  values;   // converted to filetype by HDF5
};

// Sets the shape of a dataset, keeping (or padding with `fill`) its values.
void Reshape(Dataset &d, std::vector<hsize_t> dims, double fill = 1.0)
{
  size_t n = 1;
  for (hsize_t e : dims) n *= (size_t) e;
  d.dims = dims;
  d.values.resize(n, fill);
}

struct ProblemSpec {
  std::map<std::string, Attribute> attrs;
  std::map<std::string, Dataset>   datasets;
  std::vector<std::string>         groups; // groups to create (to put a group where a dataset belongs)
};

Dataset CellDataset(hid_t filetype, const std::function<double(int, int, int)> &f)
{
  Dataset d;
  d.dims     = { NZ, NY, NX };
  d.filetype = filetype;
  d.values.resize(NCELLS);
  for (int k = 0; k < NZ; k++)
    for (int j = 0; j < NY; j++)
      for (int i = 0; i < NX; i++) d.values[Cell(i, j, k)] = f(i, j, k);
  return d;
}

Dataset CornerDataset(const std::function<double(int, int, int)> &f)
{
  Dataset d;
  d.dims     = { NZ + 1, NY + 1, NX + 1 };
  d.filetype = H5T_IEEE_F64LE;
  d.values.resize((NX + 1) * (NY + 1) * (NZ + 1));
  for (int k = 0; k <= NZ; k++)
    for (int j = 0; j <= NY; j++)
      for (int i = 0; i <= NX; i++) d.values[Corner(i, j, k)] = f(i, j, k);
  return d;
}

// The solid cell of the valid problem: interior, so that it isolates no fluid.
constexpr int SOLID_I = 2, SOLID_J = 2, SOLID_K = 1;

// A valid problem with every optional item except `sdf` (which a case adds).
// The rhs values are exact in float32.
ProblemSpec ValidSpec()
{
  ProblemSpec s;
  s.attrs["format"]         = StringAttr("deepcd-problem");
  s.attrs["version"]        = IntAttr(1);
  s.attrs["nx"]             = IntAttr(NX);
  s.attrs["ny"]             = IntAttr(NY);
  s.attrs["nz"]             = IntAttr(NZ);
  s.attrs["h"]              = RealAttr(0.25);
  s.attrs["boundary"]       = StringAttr("DDNDDN");
  s.datasets["rhs"]         = CellDataset(H5T_IEEE_F64LE, [](int i, int j, int k) { return 1.0 + Cell(i, j, k) / 64.0; });
  s.datasets["solid"]       = CellDataset(H5T_STD_U8LE, [](int i, int j, int k) { return i == SOLID_I && j == SOLID_J && k == SOLID_K ? 1.0 : 0.0; });
  s.datasets["coefficient"] = CellDataset(H5T_IEEE_F64LE, [](int i, int, int) { return 1.0 + 0.5 * (i % 2); });
  s.datasets["x0"]          = CellDataset(H5T_IEEE_F64LE, [](int, int, int) { return 0.0; });
  return s;
}

// A signed distance that is negative on a block of corners; see SolidFromSdf below.
double BlockSdf(int i, int j, int k)
{
  return (i >= 2 && i <= 4 && j >= 1 && j <= 3 && k >= 1 && k <= 2) ? -2.5 : 1.0;
}

bool WriteAttribute(hid_t file, const std::string &name, const Attribute &a)
{
  hid_t space = a.dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple((int) a.dims.size(), a.dims.data(), NULL);
  hid_t ftype = -1, mtype = -1;
  bool  ok = space >= 0;
  switch (a.kind) {
  case Attribute::kInt32:
    ftype = H5Tcopy(H5T_STD_I32LE);
    mtype = H5Tcopy(H5T_NATIVE_LLONG);
    break;
  case Attribute::kInt64:
    ftype = H5Tcopy(H5T_STD_I64LE);
    mtype = H5Tcopy(H5T_NATIVE_LLONG);
    break;
  case Attribute::kDouble:
    ftype = H5Tcopy(H5T_IEEE_F64LE);
    mtype = H5Tcopy(H5T_NATIVE_DOUBLE);
    break;
  case Attribute::kFixedString:
    ftype = H5Tcopy(H5T_C_S1);
    H5Tset_size(ftype, a.s.empty() ? 1 : a.s.size());
    H5Tset_strpad(ftype, a.strpad);
    H5Tset_cset(ftype, a.cset);
    mtype = H5Tcopy(ftype);
    break;
  case Attribute::kVlenString:
    ftype = H5Tcopy(H5T_C_S1);
    H5Tset_size(ftype, H5T_VARIABLE);
    H5Tset_cset(ftype, a.cset);
    mtype = H5Tcopy(ftype);
    break;
  }
  hid_t attr = ok ? H5Acreate2(file, name.c_str(), ftype, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
  ok         = attr >= 0;
  if (ok) {
    size_t npts = 1;
    for (hsize_t e : a.dims) npts *= (size_t) e;
    if (a.kind == Attribute::kFixedString) {
      std::string buf;
      for (size_t p = 0; p < npts; p++) buf += a.s.empty() ? std::string(1, '\0') : a.s;
      ok = H5Awrite(attr, mtype, buf.data()) >= 0;
    } else if (a.kind == Attribute::kVlenString) {
      std::vector<const char *> ptrs(npts, a.s.c_str());
      ok = H5Awrite(attr, mtype, ptrs.data()) >= 0;
    } else if (a.kind == Attribute::kDouble) {
      std::vector<double> v(npts, a.d);
      ok = H5Awrite(attr, mtype, v.data()) >= 0;
    } else {
      std::vector<long long> v(npts, a.i);
      ok = H5Awrite(attr, mtype, v.data()) >= 0;
    }
    H5Aclose(attr);
  }
  if (ftype >= 0) H5Tclose(ftype);
  if (mtype >= 0) H5Tclose(mtype);
  if (space >= 0) H5Sclose(space);
  return ok;
}

bool WriteDataset(hid_t file, const std::string &name, const Dataset &d)
{
  hid_t space = H5Screate_simple((int) d.dims.size(), d.dims.data(), NULL);
  hid_t dset  = space >= 0 ? H5Dcreate2(file, name.c_str(), d.filetype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
  bool  ok    = dset >= 0 && H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, d.values.data()) >= 0;
  if (dset >= 0) H5Dclose(dset);
  if (space >= 0) H5Sclose(space);
  return ok;
}

void WriteProblem(const ProblemSpec &s, const std::string &path)
{
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0) << path;
  for (const auto &a : s.attrs) EXPECT_TRUE(WriteAttribute(file, a.first, a.second)) << path << ": attribute " << a.first;
  for (const auto &d : s.datasets) EXPECT_TRUE(WriteDataset(file, d.first, d.second)) << path << ": dataset " << d.first;
  for (const auto &g : s.groups) {
    hid_t gid = H5Gcreate2(file, g.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(gid, 0) << path << ": group " << g;
    if (gid >= 0) H5Gclose(gid);
  }
  ASSERT_GE(H5Fclose(file), 0) << path;
}

// ---------------------------------------------------------------------------
// Running the CLI.

// The names in a directory (without . and ..), sorted.
std::vector<std::string> ListDir(const std::string &dir)
{
  std::vector<std::string> names;
  DIR                     *d = opendir(dir.c_str());
  if (!d) return names;
  while (struct dirent *e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// A fresh directory for one test: <TestTempDir>/<suite>.<test>, with an empty
// subdirectory out/ that is meant to receive the output only.
struct CaseDir {
  std::string dir, in, outdir, out, xmf;
};

CaseDir MakeCaseDir()
{
  const ::testing::TestInfo *t    = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string                name = std::string(t->test_suite_name()) + "." + t->name();
  for (char &c : name)
    if (c == '/') c = '_';
  CaseDir c;
  c.dir    = TestTempDir("problem_io") + "/" + name;
  c.in     = c.dir + "/problem.h5";
  c.outdir = c.dir + "/out";
  c.out    = c.outdir + "/solution.h5";
  c.xmf    = c.outdir + "/solution.xmf";
  mkdir(c.dir.c_str(), 0700);
  mkdir(c.outdir.c_str(), 0700);
  unlink(c.in.c_str());
  for (const std::string &n : ListDir(c.outdir)) unlink((c.outdir + "/" + n).c_str());
  return c;
}

// The CLI, started with Open MPI's ob1 messaging layer: a single process needs
// no other, and skipping the probe of the default one halves the start-up time.
std::string Cli()
{
  return "env OMPI_MCA_pml=ob1 " + CliPath();
}

CommandResult Solve(const std::string &in, const std::string &out)
{
  return RunCommand(Cli() + " solve " + in + " -o " + out);
}

size_t CountNewlines(const std::string &s)
{
  return (size_t) std::count(s.begin(), s.end(), '\n');
}

// A refused command: non-zero status and exactly one line on stderr that
// starts with `prefix` and contains every one of `needles`.
void ExpectOneLineError(const CommandResult &r, const std::string &prefix, const std::vector<std::string> &needles)
{
  EXPECT_NE(r.status, 0) << "stdout:\n"
                         << r.out << "stderr:\n"
                         << r.err;
  EXPECT_EQ(CountNewlines(r.err), 1u) << "stderr is not one line:\n"
                                      << r.err;
  EXPECT_TRUE(!r.err.empty() && r.err.back() == '\n') << "stderr does not end with a newline:\n"
                                                      << r.err;
  EXPECT_EQ(r.err.rfind(prefix, 0), 0u) << "stderr does not start with '" << prefix << "':\n"
                                        << r.err;
  for (const std::string &n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << "stderr lacks '" << n << "':\n"
                                                                                   << r.err;
}

// `deepcd solve` on a bad problem file: one line naming the file and `needles`
// (the item and the problem); no output, and nothing else, written to out/.
void ExpectSolveRefuses(const CaseDir &c, const std::vector<std::string> &needles)
{
  CommandResult            r = Solve(c.in, c.out);
  std::vector<std::string> all{ c.in };
  all.insert(all.end(), needles.begin(), needles.end());
  ExpectOneLineError(r, "deepcd solve: error: ", all);
  EXPECT_FALSE(FileExists(c.out)) << c.out;
  EXPECT_FALSE(FileExists(c.xmf)) << c.xmf;
  EXPECT_EQ(ListDir(c.outdir), std::vector<std::string>{}) << "files left in " << c.outdir;
}

// Writes `spec` and expects `deepcd solve` to refuse it.
void ExpectRefused(const ProblemSpec &spec, const std::vector<std::string> &needles)
{
  CaseDir c = MakeCaseDir();
  ASSERT_NO_FATAL_FAILURE(WriteProblem(spec, c.in));
  ExpectSolveRefuses(c, needles);
}

// The shape (dims) of a dataset of a file; empty when it cannot be read.
std::vector<hsize_t> DatasetDims(const std::string &path, const std::string &name)
{
  std::vector<hsize_t> dims;
  hid_t                f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return dims;
  hid_t d = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
  if (d >= 0) {
    hid_t s = H5Dget_space(d);
    int   n = H5Sget_simple_extent_ndims(s);
    if (n > 0) {
      dims.resize((size_t) n);
      H5Sget_simple_extent_dims(s, dims.data(), NULL);
    }
    H5Sclose(s);
    H5Dclose(d);
  }
  H5Fclose(f);
  return dims;
}

// Solves `spec` and returns the solution `x` (natural order), checking the
// run: status 0, converged, quiet stderr, out.h5 and out.xmf only.
std::vector<double> SolveOk(const ProblemSpec &spec, const std::string &tag = "")
{
  CaseDir c = MakeCaseDir();
  if (!tag.empty()) {
    c.in  = c.dir + "/problem-" + tag + ".h5";
    c.out = c.outdir + "/solution-" + tag + ".h5";
    c.xmf = c.outdir + "/solution-" + tag + ".xmf";
    unlink(c.in.c_str());
    unlink(c.out.c_str());
    unlink(c.xmf.c_str());
  }
  WriteProblem(spec, c.in);
  if (::testing::Test::HasFatalFailure()) return {};
  CommandResult r = Solve(c.in, c.out);
  EXPECT_EQ(r.status, 0) << "stdout:\n"
                         << r.out << "stderr:\n"
                         << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("CONVERGED"), std::string::npos) << r.out;
  EXPECT_TRUE(FileExists(c.out)) << c.out;
  EXPECT_TRUE(FileExists(c.xmf)) << c.xmf;
  if (tag.empty()) {
    EXPECT_EQ(ListDir(c.outdir), (std::vector<std::string>{ "solution.h5", "solution.xmf" }));
  }
  if (!FileExists(c.out)) return {};
  EXPECT_EQ(DatasetDims(c.out, "x"), (std::vector<hsize_t>{ NZ, NY, NX }));
  std::vector<double> x = ReadDataset(c.out, "x");
  EXPECT_EQ(x.size(), (size_t) NCELLS);
  for (size_t n = 0; n < x.size(); n++) EXPECT_TRUE(std::isfinite(x[n])) << "x[" << n << "] = " << x[n];
  return x;
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

} // namespace

// ===========================================================================
// Files that are not problem files.

TEST(ProblemIOBadFile, DoesNotExist)
{
  CaseDir c = MakeCaseDir();
  ExpectSolveRefuses(c, { "missing" });
}

TEST(ProblemIOBadFile, NotHDF5)
{
  CaseDir c = MakeCaseDir();
  {
    std::ofstream f(c.in);
    f << "this is a text file, not an HDF5 problem file\n";
  }
  ExpectSolveRefuses(c, { "HDF5" });
}

// ===========================================================================
// Root attributes.

TEST(ProblemIOBadAttribute, FormatMissing)
{
  ProblemSpec s = ValidSpec();
  s.attrs.erase("format");
  ExpectRefused(s, { "'format'", "missing" });
}

TEST(ProblemIOBadAttribute, FormatWrongString)
{
  ProblemSpec s     = ValidSpec();
  s.attrs["format"] = StringAttr("deepcd-solution");
  ExpectRefused(s, { "'format'", "deepcd-solution", "deepcd-problem" });
}

TEST(ProblemIOBadAttribute, FormatNotAString)
{
  ProblemSpec s     = ValidSpec();
  s.attrs["format"] = IntAttr(1);
  ExpectRefused(s, { "'format'", "string" });
}

TEST(ProblemIOBadAttribute, VersionTwo)
{
  ProblemSpec s      = ValidSpec();
  s.attrs["version"] = IntAttr(2);
  ExpectRefused(s, { "'version'", " 2" });
}

TEST(ProblemIOBadAttribute, VersionMissing)
{
  ProblemSpec s = ValidSpec();
  s.attrs.erase("version");
  ExpectRefused(s, { "'version'", "missing" });
}

TEST(ProblemIOBadAttribute, NxMissing)
{
  ProblemSpec s = ValidSpec();
  s.attrs.erase("nx");
  ExpectRefused(s, { "'nx'", "missing" });
}

TEST(ProblemIOBadAttribute, NxZero)
{
  ProblemSpec s = ValidSpec();
  s.attrs["nx"] = IntAttr(0);
  ExpectRefused(s, { "'nx'", ">= 1" });
}

TEST(ProblemIOBadAttribute, NzNegative)
{
  ProblemSpec s = ValidSpec();
  s.attrs["nz"] = IntAttr(-4);
  ExpectRefused(s, { "'nz'", ">= 1" });
}

TEST(ProblemIOBadAttribute, NxNotAnInteger)
{
  ProblemSpec s = ValidSpec();
  s.attrs["nx"] = RealAttr(6.0);
  ExpectRefused(s, { "'nx'", "integer" });
}

TEST(ProblemIOBadAttribute, NxNotAScalar)
{
  ProblemSpec s = ValidSpec();
  Attribute   a = IntAttr(NX);
  a.dims        = { 2 };
  s.attrs["nx"] = a;
  ExpectRefused(s, { "'nx'", "single value" });
}

TEST(ProblemIOBadAttribute, HNegative)
{
  ProblemSpec s = ValidSpec();
  s.attrs["h"]  = RealAttr(-1.0);
  ExpectRefused(s, { "'h'", "positive" });
}

TEST(ProblemIOBadAttribute, HZero)
{
  ProblemSpec s = ValidSpec();
  s.attrs["h"]  = RealAttr(0.0);
  ExpectRefused(s, { "'h'", "positive" });
}

TEST(ProblemIOBadAttribute, HNaN)
{
  ProblemSpec s = ValidSpec();
  s.attrs["h"]  = RealAttr(kNaN);
  ExpectRefused(s, { "'h'", "finite" });
}

TEST(ProblemIOBadAttribute, HIsAString)
{
  ProblemSpec s = ValidSpec();
  s.attrs["h"]  = StringAttr("0.25");
  ExpectRefused(s, { "'h'", "floating-point" });
}

TEST(ProblemIOBadAttribute, HMissing)
{
  ProblemSpec s = ValidSpec();
  s.attrs.erase("h");
  ExpectRefused(s, { "'h'", "missing" });
}

TEST(ProblemIOBadAttribute, BoundaryFiveLetters)
{
  ProblemSpec s       = ValidSpec();
  s.attrs["boundary"] = StringAttr("DDDDD");
  ExpectRefused(s, { "'boundary'", "DDDDD", "6 letters" });
}

// A 7th letter must not be dropped silently (the attribute is 6 letters).
TEST(ProblemIOBadAttribute, BoundarySevenLetters)
{
  ProblemSpec s       = ValidSpec();
  s.attrs["boundary"] = StringAttr("DDDDDDN");
  ExpectRefused(s, { "'boundary'", "DDDDDDN", "6 letters" });
}

TEST(ProblemIOBadAttribute, BoundaryBadLetter)
{
  ProblemSpec s       = ValidSpec();
  s.attrs["boundary"] = StringAttr("DDQDDD");
  ExpectRefused(s, { "'boundary'", "DDQDDD", "'Q'" });
}

TEST(ProblemIOBadAttribute, BoundaryLowercase)
{
  ProblemSpec s       = ValidSpec();
  s.attrs["boundary"] = StringAttr("dddddd");
  ExpectRefused(s, { "'boundary'", "'d'" });
}

// ===========================================================================
// rhs

TEST(ProblemIOBadRhs, Missing)
{
  ProblemSpec s = ValidSpec();
  s.datasets.erase("rhs");
  ExpectRefused(s, { "'rhs'", "missing" });
}

TEST(ProblemIOBadRhs, Transposed)
{
  ProblemSpec s = ValidSpec();
  Reshape(s.datasets["rhs"], { NX, NY, NZ });
  ExpectRefused(s, { "'rhs'", "shape", "(6, 5, 4)", "(4, 5, 6)" });
}

TEST(ProblemIOBadRhs, IntegerType)
{
  ProblemSpec s              = ValidSpec();
  s.datasets["rhs"].filetype = H5T_STD_I32LE;
  ExpectRefused(s, { "'rhs'", "type" });
}

TEST(ProblemIOBadRhs, TwoDimensional)
{
  ProblemSpec s = ValidSpec();
  Reshape(s.datasets["rhs"], { NY, NX });
  ExpectRefused(s, { "'rhs'", "2 dimensions" });
}

TEST(ProblemIOBadRhs, NotADataset)
{
  ProblemSpec s = ValidSpec();
  s.datasets.erase("rhs");
  s.groups.push_back("rhs");
  ExpectRefused(s, { "'rhs'", "not a dataset" });
}

// The message gives the first bad cell in natural order (x fastest).
TEST(ProblemIOBadRhs, NaN)
{
  ProblemSpec s                           = ValidSpec();
  s.datasets["rhs"].values[Cell(1, 4, 3)] = kNaN;
  s.datasets["rhs"].values[Cell(3, 2, 1)] = kNaN;
  ExpectRefused(s, { "'rhs'", "NaN", "(3, 2, 1)" });
}

TEST(ProblemIOBadRhs, PlusInf)
{
  ProblemSpec s                           = ValidSpec();
  s.datasets["rhs"].values[Cell(5, 0, 2)] = kInf;
  ExpectRefused(s, { "'rhs'", "Inf", "(5, 0, 2)" });
}

TEST(ProblemIOBadRhs, Float32NaN)
{
  ProblemSpec s                           = ValidSpec();
  s.datasets["rhs"].filetype              = H5T_IEEE_F32LE;
  s.datasets["rhs"].values[Cell(0, 1, 0)] = kNaN;
  ExpectRefused(s, { "'rhs'", "NaN", "(0, 1, 0)" });
}

// ===========================================================================
// solid

TEST(ProblemIOBadSolid, Float64)
{
  ProblemSpec s                = ValidSpec();
  s.datasets["solid"].filetype = H5T_IEEE_F64LE;
  ExpectRefused(s, { "'solid'", "type", "uint8" });
}

TEST(ProblemIOBadSolid, SignedInt8)
{
  ProblemSpec s                = ValidSpec();
  s.datasets["solid"].filetype = H5T_STD_I8LE;
  ExpectRefused(s, { "'solid'", "type", "uint8" });
}

TEST(ProblemIOBadSolid, ValueTwo)
{
  ProblemSpec s                             = ValidSpec();
  s.datasets["solid"].values[Cell(4, 3, 2)] = 2;
  ExpectRefused(s, { "'solid'", "0 or 1", "(4, 3, 2)" });
}

TEST(ProblemIOBadSolid, WrongShape)
{
  ProblemSpec s = ValidSpec();
  Reshape(s.datasets["solid"], { NZ, NY, NX + 1 }, 0.0);
  ExpectRefused(s, { "'solid'", "shape" });
}

// ===========================================================================
// coefficient

TEST(ProblemIOBadCoefficient, Zero)
{
  ProblemSpec s                                   = ValidSpec();
  s.datasets["coefficient"].values[Cell(2, 1, 3)] = 0.0;
  ExpectRefused(s, { "'coefficient'", "<= 0", "(2, 1, 3)" });
}

TEST(ProblemIOBadCoefficient, Negative)
{
  ProblemSpec s                                   = ValidSpec();
  s.datasets["coefficient"].values[Cell(0, 0, 0)] = -1.5;
  ExpectRefused(s, { "'coefficient'", "<= 0", "(0, 0, 0)" });
}

TEST(ProblemIOBadCoefficient, NaN)
{
  ProblemSpec s                                   = ValidSpec();
  s.datasets["coefficient"].values[Cell(5, 4, 3)] = kNaN;
  ExpectRefused(s, { "'coefficient'", "NaN", "(5, 4, 3)" });
}

TEST(ProblemIOBadCoefficient, IntegerType)
{
  ProblemSpec s                      = ValidSpec();
  s.datasets["coefficient"].filetype = H5T_STD_I32LE;
  ExpectRefused(s, { "'coefficient'", "type" });
}

// ===========================================================================
// x0

TEST(ProblemIOBadX0, WrongShape)
{
  ProblemSpec s = ValidSpec();
  Reshape(s.datasets["x0"], { NZ, NY + 1, NX }, 0.0);
  ExpectRefused(s, { "'x0'", "shape" });
}

TEST(ProblemIOBadX0, Inf)
{
  ProblemSpec s                          = ValidSpec();
  s.datasets["x0"].values[Cell(1, 1, 1)] = -kInf;
  ExpectRefused(s, { "'x0'", "Inf", "(1, 1, 1)" });
}

// ===========================================================================
// sdf

TEST(ProblemIOBadSdf, CellShapeInsteadOfCornerShape)
{
  ProblemSpec s     = ValidSpec();
  s.datasets["sdf"] = CellDataset(H5T_IEEE_F64LE, [](int, int, int) { return 1.0; });
  ExpectRefused(s, { "'sdf'", "shape", "(5, 6, 7)" });
}

TEST(ProblemIOBadSdf, NaN)
{
  ProblemSpec s = ValidSpec();
  s.datasets.erase("solid");
  s.datasets["sdf"]                         = CornerDataset(BlockSdf);
  s.datasets["sdf"].values[Corner(3, 2, 1)] = kNaN;
  ExpectRefused(s, { "'sdf'", "NaN" });
}

// An sdf with NaN is a malformed file even when a `solid` dataset is present too.
TEST(ProblemIOBadSdf, NaNBesideSolid)
{
  ProblemSpec s                             = ValidSpec();
  s.datasets["sdf"]                         = CornerDataset(BlockSdf);
  s.datasets["sdf"].values[Corner(0, 0, 0)] = kNaN;
  ExpectRefused(s, { "'sdf'", "NaN" });
}

// ===========================================================================
// Command-line errors of `deepcd solve`.

TEST(ProblemIOSolveCLI, OutputDirectoryMissing)
{
  CaseDir c = MakeCaseDir();
  ASSERT_NO_FATAL_FAILURE(WriteProblem(ValidSpec(), c.in));
  const std::string out = "/nonexistent/dir/out.h5";
  CommandResult     r   = Solve(c.in, out);
  ExpectOneLineError(r, "deepcd solve: error: ", { out });
  EXPECT_FALSE(FileExists(out));
  EXPECT_FALSE(FileExists("/nonexistent/dir/out.xmf"));
}

// A full disk (a 16 KiB tmpfs; skipped where mounting is not allowed): one
// line, exit 1, nothing left behind, on 1 and 2 ranks. It used to crash in
// HDF5's shutdown (exit 139) after the failed write.
TEST(ProblemIOSolveCLI, FullDiskGivesOneLineAndNoCrash)
{
  CaseDir           c   = MakeCaseDir();
  const std::string dir = c.dir + "/full";
  ASSERT_NO_FATAL_FAILURE(WriteProblem(ValidSpec(), c.in));
  RunCommand("mkdir -p " + dir);
  if (RunCommand("mount -t tmpfs -o size=16k tmpfs " + dir).status != 0) GTEST_SKIP() << "cannot mount a tmpfs here";
  for (const std::string &launch : { std::string(), std::string(MPIEXEC_CMD) + " -n 2 " }) {
    CommandResult r = RunCommand(launch + Cli() + " solve " + c.in + " -o " + dir + "/out.h5");
    EXPECT_NE(r.status, 0) << launch;
    EXPECT_NE(r.status, 139) << launch << r.err;
    if (launch.empty()) EXPECT_EQ(CountNewlines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("not enough free space"), std::string::npos) << launch << r.err;
    EXPECT_EQ(RunCommand("ls -A " + dir).out, "") << launch;
  }
  RunCommand("umount " + dir);
}

TEST(ProblemIOSolveCLI, NoOutputOption)
{
  CaseDir c = MakeCaseDir();
  ASSERT_NO_FATAL_FAILURE(WriteProblem(ValidSpec(), c.in));
  CommandResult r = RunCommand("sh -c 'cd " + c.outdir + " && exec " + Cli() + " solve " + c.in + "'");
  ExpectOneLineError(r, "deepcd solve: error: ", { "-o" });
  EXPECT_EQ(ListDir(c.outdir), std::vector<std::string>{}) << "files left in " << c.outdir;
  EXPECT_EQ(ListDir(c.dir), (std::vector<std::string>{ "out", "problem.h5" }));
}

// The bytes of a file ("" if it cannot be read).
std::string FileBytes(const std::string &path)
{
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// -o naming the problem file (by any spelling: the same path, ./, a symbolic
// link) is refused before any work and leaves the problem file as it was.
TEST(ProblemIOSolveCLI, OutputIsTheProblemFile)
{
  CaseDir c = MakeCaseDir();
  ASSERT_NO_FATAL_FAILURE(WriteProblem(ValidSpec(), c.in));
  const std::string before = FileBytes(c.in), link = c.dir + "/link.h5";
  ASSERT_FALSE(before.empty());
  ASSERT_EQ(symlink(c.in.c_str(), link.c_str()), 0);
  for (const std::string &out : { c.in, c.dir + "/./problem.h5", c.outdir + "/../problem.h5", link }) {
    CommandResult r = Solve(c.in, out);
    ExpectOneLineError(r, "deepcd solve: error: ", { "-o " + out, "problem file", c.in });
    EXPECT_EQ(FileBytes(c.in), before) << "the problem file changed (-o " << out << ")";
  }
  EXPECT_EQ(ListDir(c.dir), (std::vector<std::string>{ "link.h5", "out", "problem.h5" }));
}

// -o OUT.h5 whose XDMF sidecar OUT.xmf is the problem file is refused too.
TEST(ProblemIOSolveCLI, OutputSidecarIsTheProblemFile)
{
  CaseDir           c  = MakeCaseDir();
  const std::string in = c.dir + "/case.xmf";
  ASSERT_NO_FATAL_FAILURE(WriteProblem(ValidSpec(), in));
  const std::string before = FileBytes(in), out = c.dir + "/case.h5";
  CommandResult     r = Solve(in, out);
  ExpectOneLineError(r, "deepcd solve: error: ", { "-o " + out, "XDMF", "problem file" });
  EXPECT_EQ(FileBytes(in), before);
  EXPECT_FALSE(FileExists(out));
  // an output named .xmf would be its own sidecar
  r = Solve(c.in, c.outdir + "/x.xmf");
  ExpectOneLineError(r, "deepcd solve: error: ", { "x.xmf", "same file" });
  EXPECT_EQ(ListDir(c.outdir), std::vector<std::string>{});
}

// Integer options beyond PetscInt (PETSc 3.18 wraps 4294967298 to 2) and
// tolerances that make no sense are refused in one line, with no output.
TEST(ProblemIOSolveCLI, OutOfRangeSolverOptions)
{
  CaseDir c = MakeCaseDir();
  ASSERT_NO_FATAL_FAILURE(WriteProblem(ValidSpec(), c.in));
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
    { "-ksp_max_it 4294967298", { "-ksp_max_it", "4294967298", "out of range" } },
    { "-ksp_max_it -4294967298", { "-ksp_max_it", "-4294967298", "out of range" } },
    { "-ksp_type gmres -ksp_gmres_restart 99999999999999999999", { "-ksp_gmres_restart", "99999999999999999999" } },
    { "-ksp_deepcd_directions 4294967298", { "-ksp_deepcd_directions", "4294967298", "out of range" } },
    { "-ksp_max_it -1", { "-ksp_max_it", "non-negative" } },
    { "-ksp_rtol 2", { "-ksp_rtol 2:", "relative tolerance" } },
    { "-ksp_rtol 1", { "-ksp_rtol 1", "relative tolerance" } },
    { "-ksp_rtol 0", { "-ksp_rtol 0", "relative tolerance" } },
    { "-ksp_rtol -1e-6", { "-ksp_rtol -1e-06:", "relative tolerance" } },
    { "-ksp_rtol nan", { "-ksp_rtol nan:", "relative tolerance" } },
    { "-ksp_atol nan", { "-ksp_atol nan:", "absolute tolerance" } },
    { "-ksp_atol inf", { "-ksp_atol inf", "absolute tolerance" } },
    { "-ksp_atol -1", { "-ksp_atol -1", "absolute tolerance" } },
    { "-ksp_divtol inf", { "-ksp_divtol inf", "divergence tolerance" } },
    { "-ksp_divtol nan", { "-ksp_divtol nan", "divergence tolerance" } },
  };
  for (const auto &k : cases) {
    CommandResult r = RunCommand(Cli() + " solve " + c.in + " -o " + c.out + " " + k.first);
    SCOPED_TRACE(k.first);
    ExpectOneLineError(r, "deepcd solve: error: ", k.second);
    EXPECT_EQ(ListDir(c.outdir), std::vector<std::string>{});
  }
  // checked before any work: a problem file that does not exist is not even opened
  CommandResult r = RunCommand(Cli() + " solve " + c.dir + "/missing.h5 -o " + c.out + " -ksp_rtol 2");
  ExpectOneLineError(r, "deepcd solve: error: ", { "-ksp_rtol 2:" });
}

// Options nothing used (misspelt, unknown) get one warning line each, as
// PETSc's -options_left; the solve itself goes on. -options_left 0 silences.
TEST(ProblemIOSolveCLI, UnusedOptionsWarn)
{
  CaseDir c = MakeCaseDir();
  ASSERT_NO_FATAL_FAILURE(WriteProblem(ValidSpec(), c.in));
  CommandResult r = RunCommand(Cli() + " solve " + c.in + " -o " + c.out + " -ksp_max_its 5 -bogus_option -ksp_rtol 1e-8");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "deepcd solve: WARNING: option -bogus_option was not used\n"
                   "deepcd solve: WARNING: option -ksp_max_its was not used\n");
  EXPECT_TRUE(FileExists(c.out));
  // options that PetscFinalize() reads are not unused
  r = RunCommand(Cli() + " solve " + c.in + " -o " + c.out + " -options_view -malloc_dump -log_view :" + c.dir + "/log.txt");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("WARNING"), std::string::npos) << r.err;
  r = RunCommand(Cli() + " solve " + c.in + " -o " + c.out + " -bogus_option -options_left 0");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

// ===========================================================================
// Valid files.

TEST(ProblemIOValid, Solves)
{
  std::vector<double> x = SolveOk(ValidSpec());
  ASSERT_EQ(x.size(), (size_t) NCELLS);
  for (int k = 0; k < NZ; k++)
    for (int j = 0; j < NY; j++)
      for (int i = 0; i < NX; i++) {
        if (i == SOLID_I && j == SOLID_J && k == SOLID_K)
          EXPECT_EQ(x[Cell(i, j, k)], 0.0) << "solid cell";
        else
          EXPECT_GT(x[Cell(i, j, k)], 0.0) << "fluid cell (" << i << ", " << j << ", " << k << ")";
      }
}

namespace {

// The solution of ValidSpec(), solved once by whichever test needs it first.
const std::vector<double> &ReferenceSolution()
{
  static std::vector<double> x;
  if (x.empty()) x = SolveOk(ValidSpec(), "reference");
  return x;
}

// Solves `s`, a variant of ValidSpec() that stores the same problem, and
// expects the reference solution exactly.
void ExpectSameAsReference(const ProblemSpec &s, const std::string &tag)
{
  const std::vector<double> &ref = ReferenceSolution();
  ASSERT_EQ(ref.size(), (size_t) NCELLS);
  std::vector<double> x = SolveOk(s, tag);
  ASSERT_EQ(x.size(), (size_t) NCELLS);
  for (int c = 0; c < NCELLS; c++) EXPECT_EQ(x[c], ref[c]) << "cell " << c;
}

} // namespace

// A float32 rhs with the same (float32-exact) values gives the same solution.
TEST(ProblemIOValid, Float32Rhs)
{
  ProblemSpec s              = ValidSpec();
  s.datasets["rhs"].filetype = H5T_IEEE_F32LE;
  ExpectSameAsReference(s, "f32");
}

// Attributes as h5py writes a Python str: variable-length UTF-8 strings.
TEST(ProblemIOValid, VariableLengthUtf8Strings)
{
  ProblemSpec s = ValidSpec();
  for (const char *n : { "format", "boundary" }) {
    s.attrs[n].kind = Attribute::kVlenString;
    s.attrs[n].cset = H5T_CSET_UTF8;
  }
  ExpectSameAsReference(s, "vlen-utf8");
}

TEST(ProblemIOValid, VariableLengthAsciiStrings)
{
  ProblemSpec s = ValidSpec();
  for (const char *n : { "format", "boundary" }) s.attrs[n].kind = Attribute::kVlenString;
  ExpectSameAsReference(s, "vlen-ascii");
}

// As h5py writes numpy bytes: fixed length, null-padded, no terminator.
TEST(ProblemIOValid, FixedLengthNullPaddedStrings)
{
  ProblemSpec s = ValidSpec();
  for (const char *n : { "format", "boundary" }) s.attrs[n].strpad = H5T_STR_NULLPAD;
  ExpectSameAsReference(s, "nullpad");
}

TEST(ProblemIOValid, FixedLengthUtf8Strings)
{
  ProblemSpec s = ValidSpec();
  for (const char *n : { "format", "boundary" }) s.attrs[n].cset = H5T_CSET_UTF8;
  ExpectSameAsReference(s, "fixed-utf8");
}

// As h5py writes a Python int: int64.
TEST(ProblemIOValid, Int64Attributes)
{
  ProblemSpec s = ValidSpec();
  for (const char *n : { "version", "nx", "ny", "nz" }) s.attrs[n].kind = Attribute::kInt64;
  ExpectSameAsReference(s, "int64");
}

// Without `solid`, a cell is solid when the mean of its 8 corner sdf values is
// negative. BlockSdf is -2.5 on the corners of a box and +1 elsewhere, so a
// cell is solid when 4 or 8 of its corners lie in the box (mean -0.75 or
// -2.5), fluid when 0, 1 or 2 do (mean 1, 0.5625 or 0.125).
TEST(ProblemIOValid, SolidFromSdf)
{
  ProblemSpec s;
  ProblemSpec v = ValidSpec();
  s.attrs       = v.attrs;
  s.attrs.erase("boundary");
  s.attrs["boundary"] = StringAttr("DDDDDD");
  s.datasets["rhs"]   = CellDataset(H5T_IEEE_F64LE, [](int, int, int) { return 1.0; });
  s.datasets["sdf"]   = CornerDataset(BlockSdf);

  std::vector<bool> solid(NCELLS);
  int               nsolid = 0, nfluid_touching = 0, nsolid_positive = 0;
  for (int k = 0; k < NZ; k++)
    for (int j = 0; j < NY; j++)
      for (int i = 0; i < NX; i++) {
        double sum = 0;
        int    neg = 0;
        for (int dk = 0; dk < 2; dk++)
          for (int dj = 0; dj < 2; dj++)
            for (int di = 0; di < 2; di++) {
              double v = BlockSdf(i + di, j + dj, k + dk);
              sum += v;
              neg += v < 0;
            }
        solid[Cell(i, j, k)] = sum / 8 < 0;
        nsolid += sum / 8 < 0;
        if (sum >= 0 && neg > 0) nfluid_touching++; // "any corner negative" would make it solid
        if (sum < 0 && neg < 8) nsolid_positive++;  // "all corners negative" would make it fluid
      }
  // Corners i 2..4, j 1..3, k 1..2: 4 cells with 8 corners in the box, 16 with 4.
  ASSERT_EQ(nsolid, 20);
  ASSERT_GT(nfluid_touching, 0);
  ASSERT_GT(nsolid_positive, 0);

  std::vector<double> x = SolveOk(s);
  ASSERT_EQ(x.size(), (size_t) NCELLS);
  for (int k = 0; k < NZ; k++)
    for (int j = 0; j < NY; j++)
      for (int i = 0; i < NX; i++) {
        if (solid[Cell(i, j, k)])
          EXPECT_EQ(x[Cell(i, j, k)], 0.0) << "solid cell (" << i << ", " << j << ", " << k << ")";
        else
          EXPECT_NE(x[Cell(i, j, k)], 0.0) << "fluid cell (" << i << ", " << j << ", " << k << ")";
      }
}

// No `boundary` attribute means DDDDDD (ValidSpec() has DDNDDN, so the
// reference solution must differ, or the comparison would prove nothing).
TEST(ProblemIOValid, BoundaryDefaultsToDirichlet)
{
  ProblemSpec without = ValidSpec();
  without.attrs.erase("boundary");
  ProblemSpec with              = ValidSpec();
  with.attrs["boundary"]        = StringAttr("DDDDDD");
  std::vector<double>        xw = SolveOk(without, "without");
  std::vector<double>        xd = SolveOk(with, "dddddd");
  const std::vector<double> &xo = ReferenceSolution();
  ASSERT_EQ(xw.size(), (size_t) NCELLS);
  ASSERT_EQ(xd.size(), (size_t) NCELLS);
  ASSERT_EQ(xo.size(), (size_t) NCELLS);
  double maxdiff = 0;
  for (int c = 0; c < NCELLS; c++) {
    EXPECT_EQ(xw[c], xd[c]) << "cell " << c;
    maxdiff = std::max(maxdiff, std::fabs(xo[c] - xd[c]));
  }
  EXPECT_GT(maxdiff, 1e-3);
}

// ===========================================================================
// `deepcd gen` errors: one line, non-zero status, no file.

namespace {

// Runs `deepcd gen ARGS` inside an empty directory and checks the refusal.
void ExpectGenRefuses(const std::string &args, const std::vector<std::string> &needles)
{
  CaseDir       c = MakeCaseDir();
  CommandResult r = RunCommand("sh -c 'cd " + c.outdir + " && exec " + Cli() + " gen " + args + "'");
  ExpectOneLineError(r, "deepcd gen: error: ", needles);
  EXPECT_EQ(ListDir(c.outdir), std::vector<std::string>{}) << "files left in " << c.outdir;
}

} // namespace

TEST(ProblemIOGenCLI, UnknownScene)
{
  ExpectGenRefuses("--scene bogus --n 4 -o gen.h5", { "bogus", "scene" });
}

TEST(ProblemIOGenCLI, MissingOutput)
{
  ExpectGenRefuses("--scene empty --n 4", { "-o" });
}

TEST(ProblemIOGenCLI, SizeNotANumber)
{
  ExpectGenRefuses("--scene empty --n abc -o gen.h5", { "--n", "abc" });
}

TEST(ProblemIOGenCLI, SizeZero)
{
  ExpectGenRefuses("--scene empty --n 0 -o gen.h5", { "--n", "'0'" });
}

TEST(ProblemIOGenCLI, UnknownOption)
{
  ExpectGenRefuses("--scene empty --n 4 --bogus -o gen.h5", { "--bogus" });
}

TEST(ProblemIOGenCLI, OutputDirectoryMissing)
{
  ExpectGenRefuses("--scene empty --n 4 -o /nonexistent/dir/gen.h5", { "/nonexistent/dir/gen.h5" });
}
