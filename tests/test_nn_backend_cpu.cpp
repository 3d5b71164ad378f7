// The "cpu" (oneDNN) nn backend against the "ref" oracle: single layers,
// whole DCDM networks on cubic, non-cubic and odd grids, masks, bf16.
// Links only deepcd_nn (no PETSc).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <deepcd/nn.h>

namespace {

struct ModelPtr {
  nn_model *m = nullptr;
  ~ModelPtr()
  {
    nn_model_destroy(&m);
  }
};

struct NetPtr {
  nn_net *n = nullptr;
  ~NetPtr()
  {
    nn_net_destroy(&n);
  }
};

bool have_cpu(nn_precision p)
{
  return nn_backend_check("cpu", p) == NN_SUCCESS;
}

#define SKIP_WITHOUT_CPU(p)                               \
  do {                                                    \
    if (!have_cpu(p)) GTEST_SKIP() << nn_error_message(); \
  } while (0)

size_t volume(const int d[3])
{
  return (size_t) d[0] * (size_t) d[1] * (size_t) d[2];
}

std::vector<float> random_vector(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f)
{
  std::mt19937                          gen(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float>                    v(n);

  for (auto &x : v) x = u(gen);
  return v;
}

// He weights and random nonzero biases in [0.05, 0.3] * random sign.
void randomize(nn_model *m, uint64_t seed)
{
  ASSERT_EQ(nn_model_init_he(m, seed), NN_SUCCESS) << nn_error_message();
  std::mt19937                          gen((unsigned) seed + 17u);
  std::uniform_real_distribution<float> u(0.05f, 0.3f);
  std::bernoulli_distribution           sign(0.5);

  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer &L = m->layers[l];

    if (L.op != NN_OP_CONV) continue;
    for (int o = 0; o < L.cout; o++) m->params[L.bias + (size_t) o] = (sign(gen) ? 1.0f : -1.0f) * u(gen);
  }
}

std::vector<float> run(const nn_model *m, const char *backend, nn_precision p, const int dims[3], const std::vector<float> &in, const unsigned char *mask = nullptr, nn_halo_fn halo = nullptr)
{
  NetPtr             net;
  std::vector<float> out(volume(dims), NAN);

  EXPECT_EQ(nn_net_create(m, backend, p, dims, &net.n), NN_SUCCESS) << backend << ": " << nn_error_message();
  if (!net.n) return {};
  EXPECT_STREQ(nn_net_backend(net.n), backend);
  if (halo) {
    EXPECT_EQ(nn_net_set_halo(net.n, halo, nullptr), NN_SUCCESS);
  }
  EXPECT_EQ(nn_net_forward(net.n, in.data(), mask, out.data()), NN_SUCCESS) << backend << ": " << nn_error_message();
  return out;
}

// max |a - ref| / max |ref|
double rel_error(const std::vector<float> &a, const std::vector<float> &ref)
{
  double num = 0, den = 0;

  if (a.size() != ref.size() || ref.empty()) return INFINITY;
  for (size_t i = 0; i < ref.size(); i++) {
    if (!std::isfinite(a[i])) return INFINITY;
    num = std::max(num, std::fabs((double) a[i] - (double) ref[i]));
    den = std::max(den, std::fabs((double) ref[i]));
  }
  return den > 0 ? num / den : num;
}

// Runs m on cpu and ref with the same random input; returns the relative error.
double compare(const nn_model *m, const int dims[3], nn_precision p = NN_FP32, unsigned seed = 7)
{
  const std::vector<float> in  = random_vector(volume(dims), seed);
  const std::vector<float> ref = run(m, "ref", NN_FP32, dims, in);
  const std::vector<float> cpu = run(m, "cpu", p, dims, in);
  double                   mx  = 0;

  for (float v : ref) mx = std::max(mx, (double) std::fabs(v));
  EXPECT_GT(mx, 0.0) << "degenerate test: the reference output is zero";
  const double       err = rel_error(cpu, ref);
  std::ostringstream s;

  s.precision(3);
  s << std::scientific << err;
  ::testing::Test::RecordProperty(std::string("rel_error_") + nn_precision_names[p] + "_" + std::to_string(dims[0]) + "x" + std::to_string(dims[1]) + "x" + std::to_string(dims[2]), s.str());
  return err;
}

constexpr double kTolFP32 = 1e-5;
constexpr double kTolBF16 = 2e-2;

} // namespace

TEST(NnBackendCpu, ListedAndChecksPrecisions)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  bool listed = false;

  for (int i = 0; i < nn_backend_count(); i++) listed = listed || std::string(nn_backend_name(i)) == "cpu";
  EXPECT_TRUE(listed);
  EXPECT_EQ(nn_backend_check("cpu", NN_TF32), NN_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(nn_error_message()).find("fp32 and bf16"), std::string::npos) << nn_error_message();
  EXPECT_EQ(nn_backend_check("cpu", NN_FP16), NN_ERR_UNSUPPORTED);
  nn_err bf = nn_backend_check("cpu", NN_BF16);
  EXPECT_TRUE(bf == NN_SUCCESS || bf == NN_ERR_UNSUPPORTED);
}

// out = conv3(x) + b, 1 -> 1 channel: a model of one layer.
TEST(NnBackendCpu, Conv3x3x3SingleChannel)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  ModelPtr  M;
  int       x, y;
  const int dims[3] = { 5, 7, 6 };

  ASSERT_EQ(nn_model_create(&M.m), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_tensor(M.m, 1, 0, &x), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, x, -1, 1, 3, NN_ACT_NONE, &y), NN_SUCCESS);
  M.m->input  = x;
  M.m->output = y;
  randomize(M.m, 1);
  EXPECT_LT(compare(M.m, dims), kTolFP32);
}

// out = relu(conv3(x) + b) + x: residual from its own buffer, 1 channel.
TEST(NnBackendCpu, Conv3x3x3ReluResidualSingleLayer)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  ModelPtr  M;
  int       x, y;
  const int dims[3] = { 6, 4, 9 };

  ASSERT_EQ(nn_model_create(&M.m), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_tensor(M.m, 1, 0, &x), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, x, x, 1, 3, NN_ACT_RELU, &y), NN_SUCCESS);
  M.m->input  = x;
  M.m->output = y;
  randomize(M.m, 2);
  EXPECT_LT(compare(M.m, dims), kTolFP32);
}

// 1 -> 16 linear 3x3x3, then the 16 -> 1 1x1x1 head.
TEST(NnBackendCpu, Conv1To16LinearThenHead)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  ModelPtr  M;
  int       x, a, y;
  const int dims[3] = { 8, 6, 10 };

  ASSERT_EQ(nn_model_create(&M.m), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_tensor(M.m, 1, 0, &x), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, x, -1, 16, 3, NN_ACT_NONE, &a), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, a, -1, 1, 1, NN_ACT_NONE, &y), NN_SUCCESS);
  M.m->input  = x;
  M.m->output = y;
  randomize(M.m, 3);
  EXPECT_LT(compare(M.m, dims), kTolFP32);
}

// 16 -> 16 ReLU 3x3x3.
TEST(NnBackendCpu, Conv16To16Relu)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  ModelPtr  M;
  int       x, a, b, y;
  const int dims[3] = { 7, 8, 5 };

  ASSERT_EQ(nn_model_create(&M.m), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_tensor(M.m, 1, 0, &x), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, x, -1, 16, 3, NN_ACT_NONE, &a), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, a, -1, 16, 3, NN_ACT_RELU, &b), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, b, -1, 1, 1, NN_ACT_NONE, &y), NN_SUCCESS);
  M.m->input  = x;
  M.m->output = y;
  randomize(M.m, 4);
  EXPECT_LT(compare(M.m, dims), kTolFP32);
}

// 16 -> 16 with the residual, with and without ReLU (the residual is post-op
// 1 or 0), and a 1x1x1 16 -> 16 conv with a residual.
TEST(NnBackendCpu, Conv16To16Residual)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  const int dims[3] = { 6, 6, 8 };

  for (int act = 0; act < 2; act++)
    for (int k = 1; k <= 3; k += 2) {
      ModelPtr M;
      int      x, a, b, c, y;

      ASSERT_EQ(nn_model_create(&M.m), NN_SUCCESS);
      ASSERT_EQ(nn_model_add_tensor(M.m, 1, 0, &x), NN_SUCCESS);
      ASSERT_EQ(nn_model_add_conv(M.m, x, -1, 16, 3, NN_ACT_NONE, &a), NN_SUCCESS);
      ASSERT_EQ(nn_model_add_conv(M.m, a, -1, 16, 3, NN_ACT_RELU, &b), NN_SUCCESS);
      ASSERT_EQ(nn_model_add_conv(M.m, b, a, 16, k, act ? NN_ACT_RELU : NN_ACT_NONE, &c), NN_SUCCESS);
      ASSERT_EQ(nn_model_add_conv(M.m, c, -1, 1, 1, NN_ACT_NONE, &y), NN_SUCCESS);
      M.m->input  = x;
      M.m->output = y;
      randomize(M.m, 5 + (uint64_t) (2 * act + k));
      EXPECT_LT(compare(M.m, dims), kTolFP32) << "act " << act << " k " << k;
    }
}

// conv, pool, conv at level 1 with residual, upsample with skip, add, head.
TEST(NnBackendCpu, PoolUpsampleSkipAdd)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  ModelPtr  M;
  int       x, a, p, q, r, u, s, y;
  const int dims[3] = { 8, 4, 6 };

  ASSERT_EQ(nn_model_create(&M.m), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_tensor(M.m, 1, 0, &x), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, x, -1, 16, 3, NN_ACT_NONE, &a), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_avgpool2(M.m, a, &p), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, p, -1, 16, 3, NN_ACT_RELU, &q), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, q, p, 16, 3, NN_ACT_RELU, &r), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_upsample2(M.m, r, a, &u), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_add(M.m, u, a, &s), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, s, -1, 1, 1, NN_ACT_NONE, &y), NN_SUCCESS);
  M.m->input  = x;
  M.m->output = y;
  randomize(M.m, 9);
  EXPECT_LT(compare(M.m, dims), kTolFP32);
}

class NnBackendCpuFrom64 : public ::testing::TestWithParam<std::vector<int>> {};

TEST_P(NnBackendCpuFrom64, MatchesRef)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  ModelPtr  M;
  const int dims[3] = { GetParam()[0], GetParam()[1], GetParam()[2] };

  ASSERT_EQ(nn_model_create_arch("from64", &M.m), NN_SUCCESS) << nn_error_message();
  randomize(M.m, 42);
  EXPECT_LT(compare(M.m, dims, NN_FP32, 11), kTolFP32);
}

INSTANTIATE_TEST_SUITE_P(Grids, NnBackendCpuFrom64, ::testing::Values(std::vector<int>{ 8, 8, 8 }, std::vector<int>{ 12, 8, 16 }, std::vector<int>{ 7, 9, 5 }));

// He weights with zero biases (what nn_model_init_he gives) also match.
TEST(NnBackendCpu, From64HeZeroBias)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  ModelPtr  M;
  const int dims[3] = { 10, 6, 8 };

  ASSERT_EQ(nn_model_create_arch("from64", &M.m), NN_SUCCESS);
  ASSERT_EQ(nn_model_init_he(M.m, 3), NN_SUCCESS);
  EXPECT_LT(compare(M.m, dims), kTolFP32);
}

TEST(NnBackendCpu, MaskZeroesSolidCells)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  ModelPtr                   M;
  const int                  dims[3] = { 7, 9, 5 };
  const size_t               n       = volume(dims);
  std::vector<unsigned char> mask(n);
  std::mt19937               gen(5);

  ASSERT_EQ(nn_model_create_arch("from64", &M.m), NN_SUCCESS);
  randomize(M.m, 8);
  for (auto &b : mask) b = (unsigned char) (gen() % 3 == 0 ? 1 + gen() % 255 : 0);
  const std::vector<float> in     = random_vector(n, 13);
  const std::vector<float> masked = run(M.m, "cpu", NN_FP32, dims, in, mask.data());
  const std::vector<float> plain  = run(M.m, "cpu", NN_FP32, dims, in);
  const std::vector<float> ref    = run(M.m, "ref", NN_FP32, dims, in, mask.data());
  ASSERT_EQ(masked.size(), n);
  ASSERT_EQ(plain.size(), n);
  size_t nonzero = 0;
  for (size_t i = 0; i < n; i++) {
    if (mask[i])
      EXPECT_EQ(masked[i], 0.0f) << "cell " << i;
    else
      EXPECT_EQ(masked[i], plain[i]) << "cell " << i;
    nonzero += plain[i] != 0.0f;
  }
  EXPECT_GT(nonzero, n / 2);
  EXPECT_LT(rel_error(masked, ref), kTolFP32);
}

// Forward twice on one net: identical results (no state left in buffers).
TEST(NnBackendCpu, RepeatedForwardIsDeterministic)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  ModelPtr     M;
  NetPtr       net;
  const int    dims[3] = { 8, 12, 8 };
  const size_t n       = volume(dims);

  ASSERT_EQ(nn_model_create_arch("from64", &M.m), NN_SUCCESS);
  randomize(M.m, 21);
  ASSERT_EQ(nn_net_create(M.m, "cpu", NN_FP32, dims, &net.n), NN_SUCCESS) << nn_error_message();
  const std::vector<float> in1 = random_vector(n, 1), in2 = random_vector(n, 2);
  std::vector<float>       a(n), b(n), c(n);
  ASSERT_EQ(nn_net_forward(net.n, in1.data(), nullptr, a.data()), NN_SUCCESS) << nn_error_message();
  ASSERT_EQ(nn_net_forward(net.n, in2.data(), nullptr, b.data()), NN_SUCCESS) << nn_error_message();
  ASSERT_EQ(nn_net_forward(net.n, in1.data(), nullptr, c.data()), NN_SUCCESS) << nn_error_message();
  EXPECT_EQ(0, std::memcmp(a.data(), c.data(), n * sizeof(float)));
  EXPECT_NE(0, std::memcmp(a.data(), b.data(), n * sizeof(float)));
}

// A halo callback takes the download/upload path of the padded buffer; this
// one leaves the zero border, so the result is the plain one.
static nn_err keep_zero_halo(void *, int, int, float *)
{
  return NN_SUCCESS;
}

TEST(NnBackendCpu, HaloCallbackPath)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  ModelPtr  M;
  const int dims[3] = { 6, 10, 8 };

  ASSERT_EQ(nn_model_create_arch("from64", &M.m), NN_SUCCESS);
  randomize(M.m, 31);
  const std::vector<float> in  = random_vector(volume(dims), 3);
  const std::vector<float> ref = run(M.m, "ref", NN_FP32, dims, in);
  const std::vector<float> cpu = run(M.m, "cpu", NN_FP32, dims, in, nullptr, keep_zero_halo);
  EXPECT_LT(rel_error(cpu, ref), kTolFP32);
}

TEST(NnBackendCpu, Bf16From64)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  if (!have_cpu(NN_BF16)) GTEST_SKIP() << nn_error_message();
  for (const auto &g : { std::vector<int>{ 8, 8, 8 }, std::vector<int>{ 7, 9, 5 } }) {
    ModelPtr  M;
    const int dims[3] = { g[0], g[1], g[2] };

    ASSERT_EQ(nn_model_create_arch("from64", &M.m), NN_SUCCESS);
    randomize(M.m, 42);
    double err = compare(M.m, dims, NN_BF16, 11);
    EXPECT_LT(err, kTolBF16) << g[0] << "x" << g[1] << "x" << g[2];
    EXPECT_GT(err, 0.0) << "bf16 result identical to fp32: was bf16 really used?";
  }
}

TEST(NnBackendCpu, Bf16SingleLayers)
{
  SKIP_WITHOUT_CPU(NN_FP32);
  if (!have_cpu(NN_BF16)) GTEST_SKIP() << nn_error_message();
  ModelPtr  M;
  int       x, a, b, c, y;
  const int dims[3] = { 6, 4, 10 };

  ASSERT_EQ(nn_model_create(&M.m), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_tensor(M.m, 1, 0, &x), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, x, -1, 16, 3, NN_ACT_NONE, &a), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, a, -1, 16, 3, NN_ACT_RELU, &b), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, b, a, 16, 3, NN_ACT_RELU, &c), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(M.m, c, -1, 1, 1, NN_ACT_NONE, &y), NN_SUCCESS);
  M.m->input  = x;
  M.m->output = y;
  randomize(M.m, 77);
  EXPECT_LT(compare(M.m, dims, NN_BF16), kTolBF16);
}
