// The model file format v1 (DeepCDModelWrite/Read/View) and `deepcd model`:
// round trips of the DCDM networks and of a custom graph, the documented
// layout read back with the raw HDF5 API, one distinct one-line error for
// every kind of damage (made with the raw HDF5 API on a valid file), and the
// command's own errors.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>
#include <deepcd/model_io.h>
#include "test_util.h"

namespace {

// ---------------------------------------------------------------------------
// Files and directories.

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

// A fresh, empty directory for the current test.
std::string CaseDir()
{
  const ::testing::TestInfo *t    = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string                name = std::string(t->test_suite_name()) + "." + t->name();
  for (char &c : name)
    if (c == '/') c = '_';
  std::string dir = TestTempDir("model_io") + "/" + name;
  mkdir(dir.c_str(), 0700);
  for (const std::string &n : ListDir(dir)) unlink((dir + "/" + n).c_str());
  return dir;
}

std::string Cli()
{
  return "env OMPI_MCA_pml=ob1 " + CliPath();
}

size_t CountNewlines(const std::string &s)
{
  return (size_t) std::count(s.begin(), s.end(), '\n');
}

// A refused command: non-zero status, nothing on stdout, exactly one line on
// stderr that starts with `prefix` and contains every one of `needles`.
void ExpectOneLineError(const CommandResult &r, const std::string &prefix, const std::vector<std::string> &needles)
{
  EXPECT_NE(r.status, 0) << "stdout:\n"
                         << r.out << "stderr:\n"
                         << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(CountNewlines(r.err), 1u) << "stderr is not one line:\n"
                                      << r.err;
  EXPECT_EQ(r.err.rfind(prefix, 0), 0u) << "stderr does not start with '" << prefix << "':\n"
                                        << r.err;
  for (const std::string &n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << "stderr lacks '" << n << "':\n"
                                                                                   << r.err;
}

// ---------------------------------------------------------------------------
// Models.

int Rank()
{
  int rank = 0;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  return rank;
}

void Write(const nn_model *m, const std::string &path)
{
  if (!Rank()) ASSERT_EQ(DeepCDModelWrite(m, path.c_str()), 0) << path;
  MPI_Barrier(PETSC_COMM_WORLD);
}

struct ModelDeleter {
  void operator()(nn_model *m) const
  {
    nn_model_destroy(&m);
  }
};
using ModelPtr = std::unique_ptr<nn_model, ModelDeleter>;

ModelPtr Arch(const char *arch, uint64_t seed)
{
  nn_model *m = NULL;
  EXPECT_EQ(nn_model_create_arch(arch, &m), NN_SUCCESS) << nn_error_message();
  if (m) EXPECT_EQ(nn_model_init_he(m, seed), NN_SUCCESS) << nn_error_message();
  return ModelPtr(m);
}

ModelPtr Read(const std::string &path)
{
  nn_model *m = NULL;
  EXPECT_EQ(DeepCDModelRead(PETSC_COMM_WORLD, path.c_str(), &m), 0) << path;
  return ModelPtr(m);
}

void SetTraining(nn_model *m)
{
  m->training.grid[0] = 64;
  m->training.grid[1] = 48;
  m->training.grid[2] = 32;
  snprintf(m->training.data, sizeof(m->training.data), "%s", "deepcd gen --scene spheres --n 64, 2000 problems");
  snprintf(m->training.loss, sizeof(m->training.loss), "%s", "dcdm-a-norm");
  m->training.loss_value = 0.0123456789;
  m->training.steps      = 123456789012L;
  snprintf(m->training.date, sizeof(m->training.date), "%s", "2024-05-01T12:34:56Z");
  m->training.seed = 0x8000000000000005ULL; // above INT64_MAX: written as uint64
}

void ExpectSameModel(const nn_model *a, const nn_model *b)
{
  ASSERT_TRUE(a && b);
  EXPECT_STREQ(a->arch, b->arch);
  ASSERT_EQ(a->ntensors, b->ntensors);
  ASSERT_EQ(a->nlayers, b->nlayers);
  EXPECT_EQ(a->input, b->input);
  EXPECT_EQ(a->output, b->output);
  for (int t = 0; t < a->ntensors; t++) {
    EXPECT_EQ(a->tensors[t].channels, b->tensors[t].channels) << "tensor " << t;
    EXPECT_EQ(a->tensors[t].level, b->tensors[t].level) << "tensor " << t;
  }
  for (int l = 0; l < a->nlayers; l++) {
    const nn_layer &x = a->layers[l], &y = b->layers[l];
    EXPECT_EQ(x.op, y.op) << "layer " << l;
    EXPECT_EQ(x.in, y.in) << "layer " << l;
    EXPECT_EQ(x.in2, y.in2) << "layer " << l;
    EXPECT_EQ(x.out, y.out) << "layer " << l;
    EXPECT_EQ(x.cin, y.cin) << "layer " << l;
    EXPECT_EQ(x.cout, y.cout) << "layer " << l;
    EXPECT_EQ(x.k, y.k) << "layer " << l;
    EXPECT_EQ(x.act, y.act) << "layer " << l;
    if (x.op == NN_OP_CONV) {
      EXPECT_EQ(x.weight, y.weight) << "layer " << l;
      EXPECT_EQ(x.bias, y.bias) << "layer " << l;
    }
  }
  ASSERT_EQ(a->nparams, b->nparams);
  EXPECT_EQ(std::memcmp(a->params, b->params, a->nparams * sizeof(float)), 0) << "parameters differ";
  for (int d = 0; d < 3; d++) EXPECT_EQ(a->training.grid[d], b->training.grid[d]);
  EXPECT_STREQ(a->training.data, b->training.data);
  EXPECT_STREQ(a->training.loss, b->training.loss);
  EXPECT_EQ(a->training.loss_value, b->training.loss_value);
  EXPECT_EQ(a->training.steps, b->training.steps);
  EXPECT_STREQ(a->training.date, b->training.date);
  EXPECT_EQ(a->training.seed, b->training.seed);
}

// ---------------------------------------------------------------------------
// Raw HDF5 access, to inspect and to damage files.

struct H5File {
  hid_t id;
  explicit H5File(const std::string &path, bool rw = true)
      : id(H5Fopen(path.c_str(), rw ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT)) {}
  ~H5File()
  {
    if (id >= 0) H5Fclose(id);
  }
};

std::vector<hsize_t> Dims(hid_t loc, const std::string &name)
{
  std::vector<hsize_t> dims;
  hid_t                d = H5Dopen2(loc, name.c_str(), H5P_DEFAULT);
  if (d < 0) return dims;
  hid_t s = H5Dget_space(d);
  int   n = H5Sget_simple_extent_ndims(s);
  dims.resize((size_t) std::max(n, 0));
  if (n > 0) H5Sget_simple_extent_dims(s, dims.data(), NULL);
  H5Sclose(s);
  H5Dclose(d);
  return dims;
}

// True when dataset `name` has exactly the predefined file type `type`.
bool HasType(hid_t loc, const std::string &name, hid_t type)
{
  hid_t d = H5Dopen2(loc, name.c_str(), H5P_DEFAULT);
  if (d < 0) return false;
  hid_t t  = H5Dget_type(d);
  bool  eq = H5Tequal(t, type) > 0;
  H5Tclose(t);
  H5Dclose(d);
  return eq;
}

template <typename T>
std::vector<T> ReadAll(hid_t loc, const std::string &name, hid_t memtype)
{
  std::vector<T> v;
  hid_t          d = H5Dopen2(loc, name.c_str(), H5P_DEFAULT);
  if (d < 0) return v;
  hid_t s = H5Dget_space(d);
  v.resize((size_t) H5Sget_simple_extent_npoints(s));
  if (H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0) v.clear();
  H5Sclose(s);
  H5Dclose(d);
  return v;
}

template <typename T>
bool WriteAll(hid_t loc, const std::string &name, hid_t memtype, const std::vector<T> &v)
{
  hid_t d = H5Dopen2(loc, name.c_str(), H5P_DEFAULT);
  if (d < 0) return false;
  bool ok = H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0;
  H5Dclose(d);
  return ok;
}

// Replaces (or creates) dataset `name` with `values` stored as `filetype`.
bool PutDataset(hid_t loc, const std::string &name, const std::vector<hsize_t> &dims, hid_t filetype, const std::vector<double> &values)
{
  if (H5Lexists(loc, name.c_str(), H5P_DEFAULT) > 0 && H5Ldelete(loc, name.c_str(), H5P_DEFAULT) < 0) return false;
  hid_t s  = H5Screate_simple((int) dims.size(), dims.data(), NULL);
  hid_t d  = H5Dcreate2(loc, name.c_str(), filetype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  bool  ok = d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0;
  if (d >= 0) H5Dclose(d);
  H5Sclose(s);
  return ok;
}

// Sets one cell of an integer table in place.
bool SetCell(hid_t loc, const std::string &name, int row, int col, long long value)
{
  std::vector<hsize_t>   dims = Dims(loc, name);
  std::vector<long long> v    = ReadAll<long long>(loc, name, H5T_NATIVE_LLONG);
  if (dims.size() != 2 || v.empty()) return false;
  v[(size_t) row * dims[1] + (size_t) col] = value;
  return WriteAll(loc, name, H5T_NATIVE_LLONG, v);
}

bool DeleteAttr(hid_t loc, const std::string &name)
{
  return H5Adelete(loc, name.c_str()) >= 0;
}

// Replaces (or creates) attribute `name` of object `obj` (path from loc).
bool PutAttr(hid_t loc, const std::string &obj, const std::string &name, hid_t filetype, hid_t memtype, const void *value, hsize_t n = 0)
{
  if (H5Aexists_by_name(loc, obj.c_str(), name.c_str(), H5P_DEFAULT) > 0 && H5Adelete_by_name(loc, obj.c_str(), name.c_str(), H5P_DEFAULT) < 0) return false;
  hid_t s  = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
  hid_t a  = H5Acreate_by_name(loc, obj.c_str(), name.c_str(), filetype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  bool  ok = a >= 0 && H5Awrite(a, memtype, value) >= 0;
  if (a >= 0) H5Aclose(a);
  H5Sclose(s);
  return ok;
}

bool PutInt(hid_t loc, const std::string &obj, const std::string &name, long long v, hid_t filetype = H5T_STD_I32LE)
{
  return PutAttr(loc, obj, name, filetype, H5T_NATIVE_LLONG, &v);
}

bool PutDouble(hid_t loc, const std::string &obj, const std::string &name, double v)
{
  return PutAttr(loc, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

// A string attribute: fixed-length ASCII, or variable-length UTF-8 as h5py writes it.
bool PutString(hid_t loc, const std::string &obj, const std::string &name, const std::string &v, bool vlen = false)
{
  hid_t t = H5Tcopy(H5T_C_S1);
  bool  ok;
  if (vlen) {
    const char *p = v.c_str();
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    ok = PutAttr(loc, obj, name, t, t, &p);
  } else {
    H5Tset_size(t, v.empty() ? 1 : v.size());
    ok = PutAttr(loc, obj, name, t, t, v.empty() ? "" : v.c_str());
  }
  H5Tclose(t);
  return ok;
}

// The valid file every damage case starts from: from64, He init (seed 3), a full training record.
constexpr int kConv = 7; // a conv layer of from64 at half resolution: weights/conv007
constexpr int kPool = 5; // its avgpool2 layer

std::string ValidFile(const std::string &dir)
{
  ModelPtr m = Arch("from64", 3);
  EXPECT_TRUE(m);
  if (!m) return "";
  SetTraining(m.get());
  EXPECT_EQ(m->layers[kConv].op, NN_OP_CONV);
  EXPECT_EQ(m->layers[kPool].op, NN_OP_AVGPOOL2);
  std::string path = dir + "/model.h5";
  Write(m.get(), path);
  return path;
}

// ---------------------------------------------------------------------------
// Damage cases: each one change to a valid file, and what the message must say.

struct DamageCase {
  std::string                                              name;
  std::function<bool(const std::string &path, hid_t file)> damage; // file < 0 for the file-level cases
  std::vector<std::string>                                 needles;
  bool                                                     raw = false; // damage opens the path itself
};

// Test names show the case's name, not its bytes.
void PrintTo(const DamageCase &c, std::ostream *os)
{
  *os << c.name;
}

// Index of element (o, i, z, y, x) of a 16 -> 16 3x3x3 kernel.
constexpr long long KernelIndex(int o, int i, int z, int y, int x)
{
  return (((o * 16LL + i) * 3 + z) * 3 + y) * 3 + x;
}

std::vector<DamageCase> DamageCases()
{
  const auto T = [](const std::string &n, std::function<bool(hid_t)> f, std::vector<std::string> needles) {
    return DamageCase{ n, [f](const std::string &, hid_t file) { return f(file); }, needles, false };
  };
  std::vector<DamageCase> c;

  // the file
  c.push_back({ "FileMissing", [](const std::string &p, hid_t) { return unlink(p.c_str()) == 0; }, { "cannot read the file (missing or not readable)" }, true });
  c.push_back({ "NotHDF5",
                [](const std::string &p, hid_t) {
                  std::ofstream f(p, std::ios::trunc);
                  f << "not a model\n";
                  return (bool) f;
                },
                { "not an HDF5 file" },
                true });

  // root attributes
  c.push_back(T("FormatMissing", [](hid_t f) { return DeleteAttr(f, "format"); }, { "attribute 'format' is missing (not a deepcd model file)" }));
  c.push_back(T("FormatWrong", [](hid_t f) { return PutString(f, ".", "format", "deepcd-problem"); }, { "attribute 'format' is 'deepcd-problem', expected 'deepcd-model'" }));
  c.push_back(T("FormatNotAString", [](hid_t f) { return PutInt(f, ".", "format", 1); }, { "attribute 'format' is not a string" }));
  c.push_back(T("VersionTwo", [](hid_t f) { return PutInt(f, ".", "version", 2); }, { "attribute 'version' is 2, this deepcd reads version 1" }));
  c.push_back(T("VersionMissing", [](hid_t f) { return DeleteAttr(f, "version"); }, { "attribute 'version' is missing" }));
  c.push_back(T("VersionReal", [](hid_t f) { return PutDouble(f, ".", "version", 1.0); }, { "attribute 'version' is not an integer" }));
  c.push_back(T("ArchTooLong", [](hid_t f) { return PutString(f, ".", "arch", std::string(40, 'a')); }, { "attribute 'arch' is longer than 31 characters" }));
  c.push_back(T("InputMissing", [](hid_t f) { return DeleteAttr(f, "input"); }, { "attribute 'input' is missing" }));
  c.push_back(T("InputOutOfRange", [](hid_t f) { return PutInt(f, ".", "input", 99); }, { "attribute 'input' = 99 is not a tensor index (0..18)" }));
  c.push_back(T("OutputNotOneChannel", [](hid_t f) { return PutInt(f, ".", "output", 1); }, { "attribute 'output': tensor 1 has 16 channels at level 0, expected 1 channel at level 0" }));
  c.push_back(T("NparamsMissing", [](hid_t f) { return DeleteAttr(f, "nparams"); }, { "attribute 'nparams' is missing" }));
  c.push_back(T("NparamsMismatch", [](hid_t f) { return PutInt(f, ".", "nparams", 97456, H5T_STD_I64LE); }, { "attribute 'nparams' = 97456, but the layers have 97457 parameters" }));
  c.push_back(T("NparamsArray",
                [](hid_t f) {
                  long long v[2] = { 97457, 97457 };
                  return PutAttr(f, ".", "nparams", H5T_STD_I64LE, H5T_NATIVE_LLONG, v, 2);
                },
                { "attribute 'nparams' is not a single value" }));

  // tensors
  c.push_back(T("TensorsMissing", [](hid_t f) { return H5Ldelete(f, "tensors", H5P_DEFAULT) >= 0; }, { "dataset 'tensors' is missing" }));
  c.push_back(T("TensorsIsAGroup",
                [](hid_t f) {
                  if (H5Ldelete(f, "tensors", H5P_DEFAULT) < 0) return false;
                  hid_t g = H5Gcreate2(f, "tensors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
                  return g >= 0 && H5Gclose(g) >= 0;
                },
                { "'tensors' is not a dataset" }));
  c.push_back(T("TensorsOneDimension", [](hid_t f) { return PutDataset(f, "tensors", { 19 }, H5T_STD_I32LE, std::vector<double>(19, 1.0)); }, { "dataset 'tensors': has 1 dimension, expected 2 (one row (channels, level) per tensor)" }));
  c.push_back(T("TensorsThreeColumns", [](hid_t f) { return PutDataset(f, "tensors", { 19, 3 }, H5T_STD_I32LE, std::vector<double>(57, 1.0)); }, { "dataset 'tensors': has 3 columns, expected 2 (channels, level)" }));
  c.push_back(T("TensorsReal",
                [](hid_t f) {
                  std::vector<long long> v = ReadAll<long long>(f, "tensors", H5T_NATIVE_LLONG);
                  return PutDataset(f, "tensors", { 19, 2 }, H5T_IEEE_F32LE, std::vector<double>(v.begin(), v.end()));
                },
                { "dataset 'tensors': type is float32, expected an integer type" }));
  c.push_back(T("TensorsNoRows", [](hid_t f) { return PutDataset(f, "tensors", { 0, 2 }, H5T_STD_I32LE, std::vector<double>(1, 0.0)); }, { "dataset 'tensors': has no rows" }));
  c.push_back(T("TensorZeroChannels", [](hid_t f) { return SetCell(f, "tensors", 3, 0, 0); }, { "dataset 'tensors': row 3: 0 channels at level 0 (channels must be 1..4096, level 0..15)" }));
  c.push_back(T("TensorNegativeLevel", [](hid_t f) { return SetCell(f, "tensors", 4, 1, -1); }, { "dataset 'tensors': row 4: 16 channels at level -1" }));

  // layers
  c.push_back(T("LayersMissing", [](hid_t f) { return H5Ldelete(f, "layers", H5P_DEFAULT) >= 0; }, { "dataset 'layers' is missing" }));
  c.push_back(T("LayersSevenColumns",
                [](hid_t f) {
                  std::vector<long long> v = ReadAll<long long>(f, "layers", H5T_NATIVE_LLONG);
                  std::vector<double>    w;
                  for (size_t i = 0; i < v.size(); i++)
                    if (i % 8 != 7) w.push_back((double) v[i]);
                  return PutDataset(f, "layers", { 18, 7 }, H5T_STD_I32LE, w);
                },
                { "dataset 'layers': has 7 columns, expected 8 (op, in, in2, out, cin, cout, k, act)" }));
  c.push_back(T("LayerUnknownOp", [](hid_t f) { return SetCell(f, "layers", 4, 0, 9); }, { "dataset 'layers': row 4: unknown op code 9 (0 conv, 1 add, 2 avgpool2, 3 upsample2)" }));
  c.push_back(T("LayerUnknownActivation", [](hid_t f) { return SetCell(f, "layers", 4, 7, 7); }, { "dataset 'layers': row 4 (conv): unknown activation 7 (0 none, 1 relu)" }));
  c.push_back(T("LayerInputOutOfRange", [](hid_t f) { return SetCell(f, "layers", 2, 1, 50); }, { "dataset 'layers': row 2 (conv): 'in' = 50 is not a tensor index (0..18)" }));
  c.push_back(T("LayerIn2OutOfRange", [](hid_t f) { return SetCell(f, "layers", 2, 2, -2); }, { "dataset 'layers': row 2 (conv): 'in2' = -2 is neither -1 nor a tensor index (0..18)" }));
  c.push_back(T("LayerKernelSize2", [](hid_t f) { return SetCell(f, "layers", 2, 6, 2); }, { "dataset 'layers': row 2 (conv): kernel size 2 (1 or 3)" }));
  c.push_back(T("LayerZeroChannels", [](hid_t f) { return SetCell(f, "layers", 2, 5, 0); }, { "dataset 'layers': row 2 (conv): 16 -> 0 channels (each must be 1..4096)" }));
  c.push_back(T("PoolWithKernel", [](hid_t f) { return SetCell(f, "layers", kPool, 6, 3); }, { "dataset 'layers': row 5 (avgpool2): k = 3 and act = 0, both must be 0 for this op" }));
  c.push_back(T("PoolChannels", [](hid_t f) { return SetCell(f, "layers", kPool, 5, 8); }, { "dataset 'layers': row 5 (avgpool2): cin, cout = 16, 8, expected the 16 channels of tensor 5" }));
  // graph (nn_model_validate)
  c.push_back(T("ReadsBeforeWritten", [](hid_t f) { return SetCell(f, "layers", 1, 1, 5); }, { ": layers: layer 1 (conv): reads a tensor before it is computed" }));
  c.push_back(T("WritesTwice", [](hid_t f) { return SetCell(f, "layers", 2, 3, 2); }, { ": layers: layer 2 (conv): writes tensor 2 a second time" }));
  c.push_back(T("ConvChannelsMismatch", [](hid_t f) { return SetCell(f, "layers", 1, 4, 8); }, { ": layers: layer 1 (conv): shapes do not match (k 3, 8->16 channels)" }));
  c.push_back(T("PoolWrongLevel", [](hid_t f) { return SetCell(f, "tensors", 6, 1, 2); }, { ": layers: layer 5 (avgpool2): shapes do not match" }));

  // weights
  c.push_back(T("WeightsMissing", [](hid_t f) { return H5Ldelete(f, "weights", H5P_DEFAULT) >= 0; }, { "group 'weights' is missing" }));
  c.push_back(T("WeightsIsADataset",
                [](hid_t f) {
                  return H5Ldelete(f, "weights", H5P_DEFAULT) >= 0 && PutDataset(f, "weights", { 1 }, H5T_IEEE_F32LE, { 0.0 });
                },
                { "'weights' is not a group" }));
  c.push_back(T("KernelMissing", [](hid_t f) { return H5Ldelete(f, "weights/conv007", H5P_DEFAULT) >= 0; }, { "dataset 'weights/conv007' is missing" }));
  c.push_back(T("BiasMissing", [](hid_t f) { return H5Ldelete(f, "weights/bias007", H5P_DEFAULT) >= 0; }, { "dataset 'weights/bias007' is missing" }));
  c.push_back(T("KernelWrongShape", [](hid_t f) { return PutDataset(f, "weights/conv007", { 16, 16, 3, 3 }, H5T_IEEE_F32LE, std::vector<double>(16 * 16 * 9, 0.0)); },
                { "dataset 'weights/conv007': shape (16, 16, 3, 3), expected (cout, cin, k, k, k) = (16, 16, 3, 3, 3)" }));
  c.push_back(T("KernelTransposed", [](hid_t f) { return PutDataset(f, "weights/conv017", { 16, 1, 1, 1, 1 }, H5T_IEEE_F32LE, std::vector<double>(16, 0.0)); },
                { "dataset 'weights/conv017': shape (16, 1, 1, 1, 1), expected (cout, cin, k, k, k) = (1, 16, 1, 1, 1)" }));
  c.push_back(T("BiasWrongShape", [](hid_t f) { return PutDataset(f, "weights/bias007", { 15 }, H5T_IEEE_F32LE, std::vector<double>(15, 0.0)); }, { "dataset 'weights/bias007': shape (15), expected (cout) = (16)" }));
  c.push_back(T("KernelFloat64",
                [](hid_t f) {
                  std::vector<double> v = ReadAll<double>(f, "weights/conv007", H5T_NATIVE_DOUBLE);
                  return PutDataset(f, "weights/conv007", { 16, 16, 3, 3, 3 }, H5T_IEEE_F64LE, v);
                },
                { "dataset 'weights/conv007': type is float64, expected float32 (model weights are float32 only)" }));
  c.push_back(T("KernelInteger", [](hid_t f) { return PutDataset(f, "weights/conv007", { 16, 16, 3, 3, 3 }, H5T_STD_I32LE, std::vector<double>(16 * 16 * 27, 0.0)); },
                { "dataset 'weights/conv007': type is int32, expected float32" }));
  c.push_back(T("KernelIsAGroup",
                [](hid_t f) {
                  if (H5Ldelete(f, "weights/conv007", H5P_DEFAULT) < 0) return false;
                  hid_t g = H5Gcreate2(f, "weights/conv007", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
                  return g >= 0 && H5Gclose(g) >= 0;
                },
                { "'weights/conv007' is not a dataset" }));
  c.push_back(T("KernelNaN",
                [](hid_t f) {
                  std::vector<float> v          = ReadAll<float>(f, "weights/conv007", H5T_NATIVE_FLOAT);
                  v[KernelIndex(2, 5, 1, 0, 2)] = std::numeric_limits<float>::quiet_NaN();
                  return !v.empty() && WriteAll(f, "weights/conv007", H5T_NATIVE_FLOAT, v);
                },
                { "dataset 'weights/conv007': NaN or Inf at (cout, cin, z, y, x) = (2, 5, 1, 0, 2)" }));
  c.push_back(T("BiasInf",
                [](hid_t f) {
                  std::vector<float> v = ReadAll<float>(f, "weights/bias007", H5T_NATIVE_FLOAT);
                  v.at(3)              = -std::numeric_limits<float>::infinity();
                  return WriteAll(f, "weights/bias007", H5T_NATIVE_FLOAT, v);
                },
                { "dataset 'weights/bias007': NaN or Inf at 3" }));
  c.push_back(T("StrayKernel", [](hid_t f) { return PutDataset(f, "weights/conv005", { 16, 16, 3, 3, 3 }, H5T_IEEE_F32LE, std::vector<double>(16 * 16 * 27, 0.0)); },
                { "group 'weights': unexpected object 'conv005' (not the kernel or bias of a conv layer)" }));
  c.push_back(T("StrayObject", [](hid_t f) { return PutDataset(f, "weights/conv7", { 16 }, H5T_IEEE_F32LE, std::vector<double>(16, 0.0)); }, { "group 'weights': unexpected object 'conv7'" }));

  // training record
  c.push_back(T("TrainingIsADataset", [](hid_t f) { return H5Ldelete(f, "training", H5P_DEFAULT) >= 0 && PutDataset(f, "training", { 1 }, H5T_STD_I32LE, { 0.0 }); }, { "'training' is not a group" }));
  c.push_back(T("TrainingGridTwoValues",
                [](hid_t f) {
                  int g[2] = { 64, 64 };
                  return PutAttr(f, "training", "grid", H5T_STD_I32LE, H5T_NATIVE_INT, g, 2);
                },
                { "attribute 'training/grid' is not 3 values" }));
  c.push_back(T("TrainingGridNegative",
                [](hid_t f) {
                  int g[3] = { 64, -1, 64 };
                  return PutAttr(f, "training", "grid", H5T_STD_I32LE, H5T_NATIVE_INT, g, 3);
                },
                { "attribute 'training/grid' = (64, -1, 64): each must be in 0..2147483647" }));
  c.push_back(T("TrainingStepsString", [](hid_t f) { return PutString(f, "training", "steps", "100"); }, { "attribute 'training/steps' is not an integer" }));
  c.push_back(T("TrainingStepsNegative", [](hid_t f) { return PutInt(f, "training", "steps", -5, H5T_STD_I64LE); }, { "attribute 'training/steps' = -5 is out of range" }));
  c.push_back(T("TrainingLossValueInt", [](hid_t f) { return PutInt(f, "training", "loss_value", 1); }, { "attribute 'training/loss_value' is not a floating-point number" }));
  c.push_back(T("TrainingDataTooLong", [](hid_t f) { return PutString(f, "training", "data", std::string(300, 'd')); }, { "attribute 'training/data' is longer than 255 characters" }));
  c.push_back(T("TrainingSeedNegative", [](hid_t f) { return PutInt(f, "training", "seed", -1, H5T_STD_I64LE); }, { "attribute 'training/seed' = -1 is negative" }));
  return c;
}

class ModelIODamaged : public ::testing::TestWithParam<DamageCase> {};

// The damaged file through `deepcd model info`: one line naming the file and the item, nothing on stdout.
TEST_P(ModelIODamaged, InfoRefuses)
{
  const DamageCase &dc   = GetParam();
  std::string       dir  = CaseDir();
  std::string       path = ValidFile(dir);
  ASSERT_FALSE(path.empty());
  if (dc.raw) {
    ASSERT_TRUE(dc.damage(path, -1)) << dc.name;
  } else {
    H5File f(path);
    ASSERT_GE(f.id, 0);
    ASSERT_TRUE(dc.damage(path, f.id)) << dc.name << ": the damage could not be made";
  }
  CommandResult            r = RunCommand(Cli() + " model info " + path);
  std::vector<std::string> needles{ path + ": " };
  needles.insert(needles.end(), dc.needles.begin(), dc.needles.end());
  ExpectOneLineError(r, "deepcd model: error: ", needles);
}

INSTANTIATE_TEST_SUITE_P(Cases, ModelIODamaged, ::testing::ValuesIn(DamageCases()), [](const ::testing::TestParamInfo<DamageCase> &i) { return i.param.name; });

// Every case gives its own message.
TEST(ModelIODamagedCases, MessagesAreDistinct)
{
  std::vector<DamageCase>  cases = DamageCases();
  std::vector<std::string> msgs;
  for (const DamageCase &c : cases) msgs.push_back(c.needles.front());
  std::sort(msgs.begin(), msgs.end());
  EXPECT_EQ(std::adjacent_find(msgs.begin(), msgs.end()), msgs.end()) << "two cases expect the same message";
}

} // namespace

// ===========================================================================
// Round trips.

TEST(ModelIORoundTrip, From64)
{
  std::string dir = CaseDir(), path = dir + "/from64.h5";
  ModelPtr    m = Arch("from64", 11);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->nparams, 97457u);
  EXPECT_NEAR(nn_model_flops_per_voxel(m.get()), 1.22e5, 0.01 * 1.22e5);
  Write(m.get(), path);
  ModelPtr r = Read(path);
  ExpectSameModel(m.get(), r.get());
  EXPECT_EQ(r->nparams, 97457u);
  EXPECT_EQ(nn_model_levels(r.get()), 1);
  EXPECT_EQ(nn_model_flops_per_voxel(r.get()), nn_model_flops_per_voxel(m.get()));
  EXPECT_EQ(r->training.seed, 11u); // recorded by nn_model_init_he()
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{ "from64.h5" });
}

TEST(ModelIORoundTrip, From128WithTrainingRecord)
{
  std::string dir = CaseDir(), path = dir + "/from128.h5";
  ModelPtr    m = Arch("from128", 12);
  ASSERT_TRUE(m);
  SetTraining(m.get());
  EXPECT_EQ(m->nparams, 152881u);
  EXPECT_NEAR(nn_model_flops_per_voxel(m.get()), 1.84e5, 0.01 * 1.84e5);
  Write(m.get(), path);
  ModelPtr r = Read(path);
  ExpectSameModel(m.get(), r.get());
  EXPECT_EQ(r->nparams, 152881u);
}

// Two pooling levels, an explicit add, upsampling without a skip, residual convs, k = 1 and 3.
TEST(ModelIORoundTrip, CustomGraph)
{
  std::string dir = CaseDir(), path = dir + "/custom.h5";
  nn_model   *raw = NULL;
  ASSERT_EQ(nn_model_create(&raw), NN_SUCCESS);
  ModelPtr m(raw);
  int      t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11;
  ASSERT_EQ(nn_model_add_tensor(raw, 1, 0, &t0), NN_SUCCESS);
  raw->input = t0;
  ASSERT_EQ(nn_model_add_conv(raw, t0, -1, 4, 3, NN_ACT_RELU, &t1), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_avgpool2(raw, t1, &t2), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(raw, t2, -1, 8, 1, NN_ACT_NONE, &t3), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_avgpool2(raw, t3, &t4), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(raw, t4, t4, 8, 3, NN_ACT_RELU, &t5), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_upsample2(raw, t5, -1, &t6), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(raw, t6, t3, 8, 3, NN_ACT_NONE, &t7), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(raw, t7, -1, 4, 3, NN_ACT_RELU, &t8), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_upsample2(raw, t8, -1, &t9), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_add(raw, t9, t1, &t10), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(raw, t10, -1, 1, 1, NN_ACT_NONE, &t11), NN_SUCCESS);
  raw->output = t11;
  ASSERT_EQ(nn_model_validate(raw), NN_SUCCESS) << nn_error_message();
  ASSERT_EQ(nn_model_levels(raw), 2);
  // parameters with every bit pattern class: signs, tiny, large; biases non-zero
  for (size_t i = 0; i < raw->nparams; i++) raw->params[i] = (float) ((i % 7) - 3) * std::ldexp(1.0f + (float) i / 1024.0f, (int) (i % 41) - 20);
  snprintf(raw->arch, sizeof(raw->arch), "%s", "");
  SetTraining(raw);
  Write(raw, path);
  ModelPtr r = Read(path);
  ExpectSameModel(raw, r.get());
  EXPECT_EQ(nn_model_levels(r.get()), 2);

  // the layout of docs/formats.md, read with the raw HDF5 API
  H5File f(path, false);
  ASSERT_GE(f.id, 0);
  EXPECT_EQ(Dims(f.id, "tensors"), (std::vector<hsize_t>{ 12, 2 }));
  EXPECT_TRUE(HasType(f.id, "tensors", H5T_STD_I32LE));
  EXPECT_EQ(Dims(f.id, "layers"), (std::vector<hsize_t>{ 11, 8 }));
  EXPECT_TRUE(HasType(f.id, "layers", H5T_STD_I32LE));
  std::vector<int> layers = ReadAll<int>(f.id, "layers", H5T_NATIVE_INT);
  // row 5: upsample2 of t5 without skip into t6, 8 channels, k 0, act 0
  EXPECT_EQ(std::vector<int>(layers.begin() + 5 * 8, layers.begin() + 6 * 8), (std::vector<int>{ 3, 5, -1, 6, 8, 8, 0, 0 }));
  // row 9: add t9 + t1 -> t10
  EXPECT_EQ(std::vector<int>(layers.begin() + 9 * 8, layers.begin() + 10 * 8), (std::vector<int>{ 1, 9, 1, 10, 4, 4, 0, 0 }));
  // row 4: conv t4 (+ t4) -> t5, 8 -> 8, k 3, relu
  EXPECT_EQ(std::vector<int>(layers.begin() + 4 * 8, layers.begin() + 5 * 8), (std::vector<int>{ 0, 4, 4, 5, 8, 8, 3, 1 }));
  EXPECT_EQ(Dims(f.id, "weights/conv002"), (std::vector<hsize_t>{ 8, 4, 1, 1, 1 }));
  EXPECT_EQ(Dims(f.id, "weights/conv004"), (std::vector<hsize_t>{ 8, 8, 3, 3, 3 }));
  EXPECT_EQ(Dims(f.id, "weights/bias004"), (std::vector<hsize_t>{ 8 }));
  EXPECT_TRUE(HasType(f.id, "weights/conv004", H5T_IEEE_F32LE));
  EXPECT_EQ(H5Lexists(f.id, "weights/conv003", H5P_DEFAULT), 0); // avgpool2: no weights
  std::vector<float> k4 = ReadAll<float>(f.id, "weights/conv004", H5T_NATIVE_FLOAT), b4 = ReadAll<float>(f.id, "weights/bias004", H5T_NATIVE_FLOAT);
  ASSERT_EQ(k4.size(), 8u * 8 * 27);
  EXPECT_EQ(std::memcmp(k4.data(), raw->params + raw->layers[4].weight, k4.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(b4.data(), raw->params + raw->layers[4].bias, b4.size() * sizeof(float)), 0);
  hid_t g = H5Gopen2(f.id, "weights", H5P_DEFAULT);
  ASSERT_GE(g, 0);
  H5G_info_t gi;
  ASSERT_GE(H5Gget_info(g, &gi), 0);
  EXPECT_EQ(gi.nlinks, 12u); // 6 convs, kernel and bias each
  H5Gclose(g);
}

// Files as another writer (h5py, a converter) may make them are accepted.
TEST(ModelIORead, AcceptedVariants)
{
  std::string dir  = CaseDir();
  std::string path = ValidFile(dir);
  ModelPtr    ref  = Read(path);
  ASSERT_TRUE(ref);
  {
    H5File f(path);
    ASSERT_GE(f.id, 0);
    // UTF-8 variable-length strings, 64-bit and unsigned integers, big-endian float32 weights, no arch
    ASSERT_TRUE(PutString(f.id, ".", "format", "deepcd-model", true));
    ASSERT_TRUE(PutInt(f.id, ".", "version", 1, H5T_STD_U8LE));
    ASSERT_TRUE(PutInt(f.id, ".", "input", ref->input, H5T_STD_I64BE));
    ASSERT_TRUE(DeleteAttr(f.id, "arch"));
    std::vector<long long> layers = ReadAll<long long>(f.id, "layers", H5T_NATIVE_LLONG);
    ASSERT_TRUE(PutDataset(f.id, "layers", { 18, 8 }, H5T_STD_I64LE, std::vector<double>(layers.begin(), layers.end())));
    std::vector<double> k = ReadAll<double>(f.id, "weights/conv007", H5T_NATIVE_DOUBLE);
    ASSERT_TRUE(PutDataset(f.id, "weights/conv007", { 16, 16, 3, 3, 3 }, H5T_IEEE_F32BE, k));
    ASSERT_TRUE(PutString(f.id, "training", "loss", "mse", true));
  }
  ModelPtr r = Read(path);
  ASSERT_TRUE(r);
  EXPECT_STREQ(r->arch, "");
  EXPECT_STREQ(r->training.loss, "mse");
  snprintf(r->arch, sizeof(r->arch), "%s", ref->arch);
  snprintf(r->training.loss, sizeof(r->training.loss), "%s", ref->training.loss);
  ExpectSameModel(ref.get(), r.get());
  {
    // no training record at all: an untrained model
    H5File f(path);
    ASSERT_GE(f.id, 0);
    ASSERT_GE(H5Ldelete(f.id, "training", H5P_DEFAULT), 0);
  }
  ModelPtr u = Read(path);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->training.grid[0], 0);
  EXPECT_EQ(u->training.steps, 0);
  EXPECT_EQ(u->training.seed, 0u);
  EXPECT_STREQ(u->training.data, "");
}

// The library call itself: an error code, no model, HDF5's error printing restored.
TEST(ModelIORead, ErrorReturnsNoModel)
{
  std::string dir  = CaseDir();
  std::string path = ValidFile(dir);
  {
    H5File f(path);
    ASSERT_GE(f.id, 0);
    ASSERT_GE(H5Ldelete(f.id, "weights/conv007", H5P_DEFAULT), 0);
  }
  H5E_auto2_t func0 = NULL, func1 = NULL;
  void       *data0 = NULL, *data1 = NULL;
  H5Eget_auto2(H5E_DEFAULT, &func0, &data0);
  nn_model *m = (nn_model *) 0x1;
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  PetscErrorCode ierr = DeepCDModelRead(PETSC_COMM_WORLD, path.c_str(), &m);
  PetscPopErrorHandler();
  EXPECT_NE(ierr, 0);
  EXPECT_EQ(m, nullptr);
  const char *text     = NULL;
  char       *specific = NULL;
  PetscErrorMessage(ierr, &text, &specific);
  ASSERT_NE(specific, nullptr);
  EXPECT_EQ(std::string(specific), path + ": dataset 'weights/conv007' is missing");
  H5Eget_auto2(H5E_DEFAULT, &func1, &data1);
  EXPECT_EQ(func0, func1);
  EXPECT_EQ(data0, data1);
}

// The writer refuses an invalid model and leaves no file, not even a temporary one.
TEST(ModelIOWrite, RefusesInvalidModelAndLeavesNothing)
{
  if (Rank()) return;
  std::string dir = CaseDir();
  ModelPtr    m   = Arch("from64", 1);
  ASSERT_TRUE(m);
  m->params[100] = std::numeric_limits<float>::quiet_NaN();
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  PetscErrorCode ierr1 = DeepCDModelWrite(m.get(), (dir + "/nan.h5").c_str());
  m->params[100]       = 0;
  const int in0        = m->layers[3].in;
  m->layers[3].in      = 7; // reads a tensor before it is computed
  PetscErrorCode ierr2 = DeepCDModelWrite(m.get(), (dir + "/graph.h5").c_str());
  m->layers[3].in      = in0;
  PetscErrorCode ierr3 = DeepCDModelWrite(m.get(), (dir + "/nodir/m.h5").c_str());
  PetscPopErrorHandler();
  EXPECT_NE(ierr1, 0);
  EXPECT_NE(ierr2, 0);
  EXPECT_NE(ierr3, 0);
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{});
  ASSERT_EQ(DeepCDModelWrite(m.get(), (dir + "/ok.h5").c_str()), 0);
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{ "ok.h5" });
}

// The summary printed by DeepCDModelView().
TEST(ModelIOView, Summary)
{
  if (Rank()) return;
  std::string dir = CaseDir(), txt = dir + "/view.txt";
  ModelPtr    m = Arch("from64", 1);
  ASSERT_TRUE(m);
  PetscViewer v;
  ASSERT_EQ(PetscViewerASCIIOpen(PETSC_COMM_SELF, txt.c_str(), &v), 0);
  ASSERT_EQ(DeepCDModelView(m.get(), v), 0);
  ASSERT_EQ(PetscViewerDestroy(&v), 0);
  std::ifstream            in(txt);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 3u + 18u + 2u);
  EXPECT_EQ(lines[0], "model: arch from64, 18 layers (16 conv), 19 tensors, 97457 parameters (float32)");
  EXPECT_EQ(lines[1], "  input tensor 0, output tensor 18, 1 pooling level (grid sizes must be divisible by 2)");
  EXPECT_NE(lines[3].find("0  conv       0 -> 1      1 -> 16    3x3x3   none  -"), std::string::npos) << lines[3];
  EXPECT_NE(lines[3 + 12].find("upsample2"), std::string::npos) << lines[15];
  EXPECT_NE(lines[3 + 12].find("+ t5"), std::string::npos) << lines[15];
  EXPECT_NE(lines[21].find("FLOP per voxel"), std::string::npos) << lines[21];
  EXPECT_NE(lines[21].find("128^3"), std::string::npos) << lines[21];
  EXPECT_EQ(lines[22], "  training: none (initialisation seed 1)");
}

// ===========================================================================
// `deepcd model`.

TEST(ModelCLI, InitThenInfo)
{
  std::string   dir = CaseDir(), path = dir + "/m.h5";
  CommandResult r = RunCommand(Cli() + " model init --arch from64 --seed 42 -o " + path);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "deepcd model: wrote " + path + " (from64, 97457 parameters, He init seed 42)\n");
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{ "m.h5" });
  // the same weights as the library gives for that seed
  ModelPtr want = Arch("from64", 42), got = Read(path);
  ExpectSameModel(want.get(), got.get());

  r = RunCommand(Cli() + " model info " + path);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("97457"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("18 layers"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("seed 42"), std::string::npos) << r.out;
  EXPECT_EQ(CountNewlines(r.out), 3u + 18u + 2u) << r.out;

  std::string p128 = dir + "/m128.h5";
  r                = RunCommand(Cli() + " model init -o " + p128 + " --arch from128");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "deepcd model: wrote " + p128 + " (from128, 152881 parameters, He init seed 0)\n");
  r = RunCommand(Cli() + " model info " + p128);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("152881"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("26 layers"), std::string::npos) << r.out;
}

TEST(ModelCLI, Help)
{
  CommandResult r = RunCommand(Cli() + " model --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("usage: deepcd model init --arch A [--seed K] -o FILE\n", 0), 0u) << r.out;
  EXPECT_EQ(r.err, "");
  r = RunCommand(Cli() + " model init -h");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("usage: deepcd model"), std::string::npos);
  r = RunCommand(Cli() + " --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("  model  init --arch"), std::string::npos) << r.out;
}

// Argument errors: one line, non-zero exit, no file.
TEST(ModelCLI, InitErrors)
{
  std::string dir = CaseDir(), path = dir + "/m.h5";
  struct {
    std::string              args;
    std::vector<std::string> needles;
  } cases[] = {
    { "init --arch bogus -o " + path, { "option --arch: unknown architecture 'bogus' (known: from64, from128)" } },
    { "init -o " + path, { "missing --arch A (from64 or from128)" } },
    { "init --arch from64", { "missing -o FILE" } },
    { "init --arch from64 --seed -3 -o " + path, { "option --seed: '-3' is not a non-negative integer" } },
    { "init --arch from64 --seed 12x -o " + path, { "option --seed: '12x' is not a non-negative integer" } },
    { "init --arch from64 --seed 99999999999999999999 -o " + path, { "option --seed: 99999999999999999999 is too large" } },
    { "init --arch from64 --bogus -o " + path, { "unknown option '--bogus'" } },
    { "init --arch from64 extra.h5 -o " + path, { "unexpected argument 'extra.h5'" } },
    { "init --arch from64 -o", { "option -o needs a value" } },
    { "init --arch from64 -o " + dir + "/nodir/m.h5", { dir + "/nodir/m.h5: cannot create the temporary file" } },
    { "", { "missing subcommand: init or info" } },
    { "train m.h5", { "unknown subcommand 'train'" } },
    { "info", { "missing the model file (usage: deepcd model info FILE)" } },
    { "info " + path + " -o x.h5", { "option -o is not used by 'deepcd model info'" } },
    { "info a.h5 b.h5", { "unexpected argument 'b.h5'" } },
  };
  for (const auto &c : cases) {
    SCOPED_TRACE("deepcd model " + c.args);
    CommandResult r = RunCommand(Cli() + " model " + c.args);
    ExpectOneLineError(r, "deepcd model: error: ", c.needles);
    EXPECT_EQ(ListDir(dir), std::vector<std::string>{}) << "files left in " << dir;
  }
}

// The seed 2^64 - 1 is accepted and recorded.
TEST(ModelCLI, LargestSeed)
{
  std::string   dir = CaseDir(), path = dir + "/m.h5";
  CommandResult r = RunCommand(Cli() + " model init --arch from64 --seed 18446744073709551615 -o " + path);
  EXPECT_EQ(r.status, 0) << r.err;
  ModelPtr m = Read(path);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->training.seed, UINT64_MAX);
}
