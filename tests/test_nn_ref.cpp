// The nn library on the ref backend: the DCDM topologies, graph validation,
// hand-checked kernels, buffer planning, padding of odd grids, masking, the
// executor side of the device-pointer path.
#include <gtest/gtest.h>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>
#include <deepcd/nn.h>
extern "C" {
#include <deepcd/private/nnimpl.h>
}

namespace {

std::vector<float> Random(size_t n, unsigned seed)
{
  std::mt19937                          g(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float>                    v(n);
  for (auto &x : v) x = u(g);
  return v;
}

// Runs every layer with its own buffers through the ref kernels: the
// executor's buffer reuse must give the same result.
std::vector<float> ForwardNoReuse(const nn_model *m, const std::vector<float> &in, const int dims[3])
{
  std::vector<std::vector<float>> t(m->ntensors);
  auto                            dimsAt = [&](int level, int *d) {
    for (int i = 0; i < 3; i++) d[i] = dims[i] >> level;
  };
  auto size = [&](int tt) {
    int d[3];
    dimsAt(m->tensors[tt].level, d);
    return (size_t) d[0] * d[1] * d[2] * m->tensors[tt].channels;
  };
  t[m->input] = in;
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer *L = &m->layers[l];
    int             d[3];
    t[L->out].resize(size(L->out));
    dimsAt(m->tensors[L->out].level, d);
    const float *in2 = L->in2 >= 0 ? t[L->in2].data() : nullptr;
    switch (L->op) {
    case NN_OP_CONV:
      if (L->k == 3) {
        std::vector<float> p((size_t) (d[0] + 2) * (d[1] + 2) * (d[2] + 2) * L->cin);
        nn_ref_pad(t[L->in].data(), p.data(), d, L->cin);
        nn_ref_conv(L, m->params + L->weight, m->params + L->bias, p.data(), in2, t[L->out].data(), d);
      } else
        nn_ref_conv(L, m->params + L->weight, m->params + L->bias, t[L->in].data(), in2, t[L->out].data(), d);
      break;
    case NN_OP_ADD: nn_ref_add(t[L->in].data(), in2, t[L->out].data(), t[L->out].size()); break;
    case NN_OP_AVGPOOL2: {
      int di[3];
      dimsAt(m->tensors[L->in].level, di);
      nn_ref_avgpool2(t[L->in].data(), t[L->out].data(), di, L->cin);
      break;
    }
    case NN_OP_UPSAMPLE2: nn_ref_upsample2(t[L->in].data(), in2, t[L->out].data(), d, L->cout); break;
    }
  }
  return t[m->output];
}

} // namespace

TEST(NNModel, DcdmParameterCountsAndCost)
{
  nn_model *m;
  ASSERT_EQ(nn_model_create_arch("from64", &m), NN_SUCCESS);
  EXPECT_EQ(m->nparams, 97457u);
  EXPECT_EQ(nn_model_levels(m), 1);
  EXPECT_NEAR(nn_model_flops_per_voxel(m), 1.22e5, 0.01 * 1.22e5);
  EXPECT_EQ(nn_model_validate(m), NN_SUCCESS) << nn_error_message();
  nn_model_destroy(&m);
  ASSERT_EQ(nn_model_create_arch("from128", &m), NN_SUCCESS);
  EXPECT_EQ(m->nparams, 152881u);
  EXPECT_NEAR(nn_model_flops_per_voxel(m), 1.84e5, 0.01 * 1.84e5);
  nn_model_destroy(&m);
  EXPECT_EQ(nn_model_create_arch("from32", &m), NN_ERR_ARG);
  EXPECT_NE(std::string(nn_error_message()).find("from32"), std::string::npos);
}

TEST(NNModel, HeInitialisation)
{
  nn_model *m;
  ASSERT_EQ(nn_model_create_arch("from64", &m), NN_SUCCESS);
  ASSERT_EQ(nn_model_init_he(m, 42), NN_SUCCESS);
  // a 16->16 3x3x3 layer: std sqrt(2/432)
  const nn_layer *L = &m->layers[2];
  ASSERT_EQ(L->cin, 16);
  double s = 0, s2 = 0;
  size_t n = (size_t) 16 * 16 * 27;
  for (size_t i = 0; i < n; i++) {
    s += m->params[L->weight + i];
    s2 += (double) m->params[L->weight + i] * m->params[L->weight + i];
  }
  double sd = std::sqrt(s2 / n - (s / n) * (s / n));
  EXPECT_NEAR(sd, std::sqrt(2.0 / 432), 0.05 * std::sqrt(2.0 / 432));
  EXPECT_NEAR(s / n, 0.0, 0.01);
  for (int i = 0; i < 16; i++) EXPECT_EQ(m->params[L->bias + i], 0.0f);
  // deterministic per seed
  nn_model *m2;
  nn_model_create_arch("from64", &m2);
  nn_model_init_he(m2, 42);
  EXPECT_EQ(0, memcmp(m->params, m2->params, m->nparams * sizeof(float)));
  nn_model_init_he(m2, 43);
  EXPECT_NE(0, memcmp(m->params, m2->params, m->nparams * sizeof(float)));
  nn_model_destroy(&m);
  nn_model_destroy(&m2);
}

TEST(NNModel, ValidationCatchesBrokenGraphs)
{
  nn_model *m;
  ASSERT_EQ(nn_model_create_arch("from64", &m), NN_SUCCESS);
  m->layers[3].in = m->layers[5].out; // read before written
  EXPECT_EQ(nn_model_validate(m), NN_ERR_MODEL);
  EXPECT_NE(std::string(nn_error_message()).find("layer 3"), std::string::npos) << nn_error_message();
  nn_model_destroy(&m);
  ASSERT_EQ(nn_model_create_arch("from64", &m), NN_SUCCESS);
  m->layers[0].cout = 8;
  EXPECT_EQ(nn_model_validate(m), NN_ERR_MODEL);
  nn_model_destroy(&m);
  ASSERT_EQ(nn_model_create_arch("from64", &m), NN_SUCCESS);
  m->params[5] = NAN;
  EXPECT_EQ(nn_model_validate(m), NN_ERR_MODEL);
  nn_model_destroy(&m);
  ASSERT_EQ(nn_model_create_arch("from64", &m), NN_SUCCESS);
  m->output = m->layers[3].out; // 16 channels
  EXPECT_EQ(nn_model_validate(m), NN_ERR_MODEL);
  nn_model_destroy(&m);
}

TEST(NNRef, ConvWithOnesCountsNeighbours)
{
  // 3x3x3 kernel of ones, 1 channel, bias 0.5, on a field of ones: the output
  // at a cell is 0.5 + the number of its 27 neighbours inside the grid.
  nn_layer L = {};
  L.op       = NN_OP_CONV;
  L.cin = L.cout             = 1;
  L.k                        = 3;
  L.act                      = NN_ACT_NONE;
  L.in2                      = -1;
  int                dims[3] = { 3, 4, 5 };
  std::vector<float> w(27, 1.0f), b(1, 0.5f), in(60, 1.0f), p(5 * 6 * 7), out(60);
  nn_ref_pad(in.data(), p.data(), dims, 1);
  nn_ref_conv(&L, w.data(), b.data(), p.data(), nullptr, out.data(), dims);
  for (int z = 0; z < 3; z++)
    for (int y = 0; y < 4; y++)
      for (int x = 0; x < 5; x++) {
        int nz = (z > 0) + 1 + (z < 2), ny = (y > 0) + 1 + (y < 3), nx = (x > 0) + 1 + (x < 4);
        EXPECT_EQ(out[(z * 4 + y) * 5 + x], 0.5f + nz * ny * nx);
      }
  // ReLU before the residual add: relu(-x) + r
  L.act = NN_ACT_RELU;
  for (auto &x : w) x = -1.0f;
  std::vector<float> res(60, 2.0f);
  nn_ref_conv(&L, w.data(), b.data(), p.data(), res.data(), out.data(), dims);
  for (float v : out) EXPECT_EQ(v, 2.0f);
}

TEST(NNRef, PoolAndUpsample)
{
  int                dims[3] = { 2, 4, 2 }, half[3] = { 1, 2, 1 };
  std::vector<float> in(16 * 2), pooled(2 * 2), up(32);
  for (int i = 0; i < 32; i++) in[i] = (float) i; // 2 channels interleaved
  nn_ref_avgpool2(in.data(), pooled.data(), dims, 2);
  // block y = 0..1: cells (z,y,x) with z,x in {0,1}, y in {0,1}: indices c = ((z*4+y)*2+x)
  auto avg = [&](int yb, int ch) {
    float s = 0;
    for (int z = 0; z < 2; z++)
      for (int y = 2 * yb; y < 2 * yb + 2; y++)
        for (int x = 0; x < 2; x++) s += in[((z * 4 + y) * 2 + x) * 2 + ch];
    return s / 8;
  };
  EXPECT_EQ(pooled[0], avg(0, 0));
  EXPECT_EQ(pooled[1], avg(0, 1));
  EXPECT_EQ(pooled[2], avg(1, 0));
  EXPECT_EQ(pooled[3], avg(1, 1));
  nn_ref_upsample2(pooled.data(), in.data(), up.data(), dims, 2);
  for (int z = 0; z < 2; z++)
    for (int y = 0; y < 4; y++)
      for (int x = 0; x < 2; x++)
        for (int c = 0; c < 2; c++) {
          int o = ((z * 4 + y) * 2 + x) * 2 + c;
          EXPECT_EQ(up[o], pooled[(y / 2) * 2 + c] + in[o]);
        }
  (void) half;
}

TEST(NNNet, ExecutorMatchesUnplannedForward)
{
  for (const char *arch : { "from64", "from128" }) {
    nn_model *m;
    ASSERT_EQ(nn_model_create_arch(arch, &m), NN_SUCCESS);
    nn_model_init_he(m, 7);
    auto rb = Random(m->nparams, 3); // nonzero biases too
    for (int l = 0; l < m->nlayers; l++)
      if (m->layers[l].op == NN_OP_CONV)
        for (int o = 0; o < m->layers[l].cout; o++) m->params[m->layers[l].bias + o] = 0.1f * rb[o];
    int                dims[3] = { 6, 4, 8 };
    auto               in      = Random(6 * 4 * 8, 11);
    std::vector<float> out(in.size());
    nn_net            *net;
    ASSERT_EQ(nn_net_create(m, "ref", NN_FP32, dims, &net), NN_SUCCESS) << nn_error_message();
    EXPECT_STREQ(nn_net_backend(net), "ref");
    ASSERT_EQ(nn_net_forward(net, in.data(), nullptr, out.data()), NN_SUCCESS);
    auto expect = ForwardNoReuse(m, in, dims);
    for (size_t i = 0; i < out.size(); i++) EXPECT_EQ(out[i], expect[i]) << arch << " " << i;
    // a second call gives the same answer (no state left behind)
    std::vector<float> again(in.size());
    ASSERT_EQ(nn_net_forward(net, in.data(), nullptr, again.data()), NN_SUCCESS);
    EXPECT_EQ(out, again);
    nn_net_destroy(&net);
    nn_model_destroy(&m);
  }
}

TEST(NNNet, OddGridsArePaddedAndMaskZeroes)
{
  nn_model *m;
  ASSERT_EQ(nn_model_create_arch("from64", &m), NN_SUCCESS);
  nn_model_init_he(m, 9);
  int                odd[3] = { 5, 3, 7 }, even[3] = { 6, 4, 8 };
  auto               in = Random(5 * 3 * 7, 4);
  std::vector<float> padded(6 * 4 * 8, 0.0f), out(in.size());
  for (int z = 0; z < 5; z++)
    for (int y = 0; y < 3; y++)
      for (int x = 0; x < 7; x++) padded[(z * 4 + y) * 8 + x] = in[(z * 3 + y) * 7 + x];
  nn_net *net;
  ASSERT_EQ(nn_net_create(m, "ref", NN_FP32, odd, &net), NN_SUCCESS) << nn_error_message();
  std::vector<unsigned char> mask(in.size(), 0);
  mask[0] = mask[17] = 1;
  ASSERT_EQ(nn_net_forward(net, in.data(), mask.data(), out.data()), NN_SUCCESS);
  auto expect = ForwardNoReuse(m, padded, even);
  for (int z = 0; z < 5; z++)
    for (int y = 0; y < 3; y++)
      for (int x = 0; x < 7; x++) {
        int c = (z * 3 + y) * 7 + x;
        if (mask[c])
          EXPECT_EQ(out[c], 0.0f);
        else
          EXPECT_EQ(out[c], expect[(z * 4 + y) * 8 + x]);
      }
  nn_net_destroy(&net);
  nn_model_destroy(&m);
}

TEST(NNBackend, UnknownAndMissingBackendsSayWhy)
{
  EXPECT_EQ(nn_backend_check("bogus", NN_FP32), NN_ERR_ARG);
  EXPECT_NE(std::string(nn_error_message()).find("bogus"), std::string::npos);
  EXPECT_EQ(nn_backend_check("ref", NN_FP16), NN_ERR_UNSUPPORTED);
  EXPECT_EQ(nn_backend_check("ref", NN_FP32), NN_SUCCESS);
  bool has_cuda = false;
  for (int i = 0; i < nn_backend_count(); i++) has_cuda |= std::string(nn_backend_name(i)) == "cuda";
  if (!has_cuda) {
    EXPECT_EQ(nn_backend_check("cuda", NN_FP32), NN_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(nn_error_message()).find("not compiled"), std::string::npos);
  }
}

// ---- the device-pointer path (nn_net_set_mask, nn_net_forward_device) ----------

namespace {

// A stand-in for a device backend on the host: the ref backend with
// host_memory = 0 and the three device-path entries written to the
// semantics of the cuda kernels (nnk_import_f64, nnk_export_f64), so that
// the executor's part of nn_net_forward_device (the mask kept by
// nn_net_set_mask, padding of odd grids, cropping) is checked here. The cuda
// kernels themselves are checked on a GPU by tests/gpu/test_nn_cuda.
nn_err StandInImport(nn_net *, void *dst, const double *src, double scale, const int d[3], const int p[3])
{
  float *o = static_cast<float *>(dst);
  for (int z = 0; z < p[0]; z++)
    for (int y = 0; y < p[1]; y++)
      for (int x = 0; x < p[2]; x++) o[((size_t) z * p[1] + y) * p[2] + x] = z < d[0] && y < d[1] && x < d[2] ? (float) (scale * src[((size_t) z * d[1] + y) * d[2] + x]) : 0.0f;
  return NN_SUCCESS;
}

nn_err StandInExport(nn_net *, double *dst, const void *src, const void *mask, const int d[3], const int p[3])
{
  const float         *s = static_cast<const float *>(src);
  const unsigned char *m = static_cast<const unsigned char *>(mask);
  for (int z = 0; z < d[0]; z++)
    for (int y = 0; y < d[1]; y++)
      for (int x = 0; x < d[2]; x++) {
        size_t o = ((size_t) z * d[1] + y) * d[2] + x;
        dst[o]   = m && m[o] ? 0.0 : (double) s[((size_t) z * p[1] + y) * p[2] + x];
      }
  return NN_SUCCESS;
}

nn_err StandInUploadBytes(nn_net *, void **dst, const unsigned char *src, size_t n)
{
  if (!*dst) *dst = malloc(n ? n : 1); // the ref backend's release frees it
  if (!*dst) return NN_ERR_MEM;
  memcpy(*dst, src, n);
  return NN_SUCCESS;
}

nn_backend_ops StandInDevice()
{
  nn_backend_ops ops = nn_backend_ref;
  ops.name           = "stand-in device";
  ops.host_memory    = 0;
  ops.import_f64     = StandInImport;
  ops.export_f64     = StandInExport;
  ops.upload_bytes   = StandInUploadBytes;
  return ops;
}

nn_model *HeFrom64(uint64_t seed)
{
  nn_model *m = nullptr;
  if (nn_model_create_arch("from64", &m) != NN_SUCCESS) return nullptr;
  nn_model_init_he(m, seed);
  auto rb = Random(m->nparams, 5); // nonzero biases: masked and padded cells are not zero by accident
  for (int l = 0; l < m->nlayers; l++)
    if (m->layers[l].op == NN_OP_CONV)
      for (int o = 0; o < m->layers[l].cout; o++) m->params[m->layers[l].bias + o] = 0.1f * rb[o];
  return m;
}

} // namespace

TEST(NNDevicePath, HostBackendsRefuseAndArgumentsAreChecked)
{
  nn_model *m = HeFrom64(3);
  ASSERT_NE(m, nullptr);
  int                        dims[3] = { 5, 3, 7 };
  const size_t               n       = 5 * 3 * 7;
  std::vector<double>        in(n, 1.0), out(n);
  std::vector<unsigned char> mask(n, 0);
  mask[4] = 1;
  EXPECT_EQ(nn_net_set_mask(nullptr, mask.data()), NN_ERR_ARG);
  EXPECT_NE(std::string(nn_error_message()).find("nn_net_set_mask"), std::string::npos);
  EXPECT_EQ(nn_net_forward_device(nullptr, in.data(), 1.0, out.data()), NN_ERR_ARG);
  EXPECT_EQ(nn_net_device_memory(nullptr), 0);
  for (const char *backend : { "ref", "cpu" }) {
    if (nn_backend_check(backend, NN_FP32) != NN_SUCCESS) continue; // cpu: oneDNN not compiled in
    nn_net *net;
    ASSERT_EQ(nn_net_create(m, backend, NN_FP32, dims, &net), NN_SUCCESS) << nn_error_message();
    EXPECT_EQ(nn_net_device_memory(net), 0) << backend;
    EXPECT_EQ(nn_net_set_mask(net, mask.data()), NN_SUCCESS) << backend;
    EXPECT_EQ(net->devmask, nullptr) << backend << ": a host-memory backend keeps nothing";
    EXPECT_EQ(nn_net_set_mask(net, nullptr), NN_SUCCESS) << backend;
    EXPECT_EQ(nn_net_forward_device(net, nullptr, 1.0, out.data()), NN_ERR_ARG) << backend;
    EXPECT_EQ(nn_net_forward_device(net, in.data(), 1.0, nullptr), NN_ERR_ARG) << backend;
    EXPECT_EQ(nn_net_forward_device(net, in.data(), 1.0, out.data()), NN_ERR_UNSUPPORTED) << backend;
    std::string msg = nn_error_message();
    EXPECT_NE(msg.find("host memory"), std::string::npos) << msg;
    EXPECT_NE(msg.find(backend), std::string::npos) << msg;
    nn_net_destroy(&net);
  }
  nn_model_destroy(&m);
}

TEST(NNDevicePath, ExecutorMatchesForwardOnAStandInDeviceBackend)
{
  nn_model *m = HeFrom64(11);
  ASSERT_NE(m, nullptr);
  const nn_backend_ops device = StandInDevice();
  for (auto d : { std::vector<int>{ 5, 3, 7 }, std::vector<int>{ 6, 4, 8 } }) {
    const size_t               n     = (size_t) d[0] * d[1] * d[2];
    const double               scale = 3.7;
    auto                       rf    = Random(n, 21);
    std::vector<double>        in(rf.begin(), rf.end()), out(n);
    std::vector<float>         inf(n), expect(n);
    std::vector<unsigned char> mask(n, 0), mask2(n, 0);
    for (size_t i = 0; i < n; i++) {
      inf[i]   = (float) (scale * in[i]); // what the host path feeds nn_net_forward
      mask[i]  = i % 7 == 3;
      mask2[i] = i % 5 == 0;
    }
    nn_net *net;
    ASSERT_EQ(nn_net_create(m, "ref", NN_FP32, d.data(), &net), NN_SUCCESS) << nn_error_message();
    net->ops = &device;
    EXPECT_EQ(nn_net_device_memory(net), 1);
    const size_t before = nn_net_memory(net);
    // no mask set yet: unmasked
    ASSERT_EQ(nn_net_forward(net, inf.data(), nullptr, expect.data()), NN_SUCCESS) << nn_error_message();
    ASSERT_EQ(nn_net_forward_device(net, in.data(), scale, out.data()), NN_SUCCESS) << nn_error_message();
    for (size_t i = 0; i < n; i++) ASSERT_EQ(out[i], (double) expect[i]) << d[0] << "x" << d[1] << "x" << d[2] << " cell " << i;
    // with a mask, then another one in the same buffer, then cleared
    for (const unsigned char *mk : { (const unsigned char *) mask.data(), (const unsigned char *) mask2.data(), (const unsigned char *) nullptr }) {
      ASSERT_EQ(nn_net_set_mask(net, mk), NN_SUCCESS) << nn_error_message();
      ASSERT_EQ(nn_net_forward(net, inf.data(), mk, expect.data()), NN_SUCCESS);
      ASSERT_EQ(nn_net_forward_device(net, in.data(), scale, out.data()), NN_SUCCESS) << nn_error_message();
      size_t nonzero = 0;
      for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(out[i], (double) expect[i]) << d[0] << "x" << d[1] << "x" << d[2] << " cell " << i;
        if (mk && mk[i]) ASSERT_EQ(out[i], 0.0);
        nonzero += out[i] != 0.0;
      }
      EXPECT_GT(nonzero, n / 2);
    }
    EXPECT_EQ(nn_net_memory(net), before + n); // the kept mask: allocated once, reused
    nn_net_destroy(&net);                      // frees the kept mask through the backend's release
  }
  nn_model_destroy(&m);
}

TEST(NNDevicePath, TrainingNetsRefuse)
{
  nn_model *m = HeFrom64(2);
  ASSERT_NE(m, nullptr);
  const nn_backend_ops device  = StandInDevice();
  int                  dims[3] = { 4, 4, 4 };
  std::vector<double>  in(64, 0.5), out(64);
  nn_net              *net;
  ASSERT_EQ(nn_net_create_train(m, "ref", NN_FP32, dims, &net), NN_SUCCESS) << nn_error_message();
  net->ops = &device;
  EXPECT_EQ(nn_net_forward_device(net, in.data(), 1.0, out.data()), NN_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(nn_error_message()).find("training"), std::string::npos) << nn_error_message();
  nn_net_destroy(&net);
  nn_model_destroy(&m);
}
