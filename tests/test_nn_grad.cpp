// The backward pass of the nn library (training mode).
//
// (a) Finite differences. Every layer type, through the ref kernels built
//     twice from one source (ref_kernels.inc): nn_ref64_* in float64 against
//     central differences to 1e-8, nn_ref_* in float32 to 1e-3. Whole
//     networks: the float64 oracle nn_ref64_net (the same kernels, a graph
//     walk of its own) against central differences to 1e-8; the fp32
//     executor (nn_net_backward, ref backend) against that oracle to 1e-5
//     and against central differences in fp32 to 1e-3, on odd grids with a
//     mask.
//     The loss is L = <g, out> for a random g, so dL/dout = g. The check is
//     the directional derivative along random directions v (per argument and
//     all together): |(L(p + hv) - L(p - hv)) / 2h - <grad, v>| / |<grad, v>|.
//     A central difference is exact for a function quadratic along v (every
//     layer is linear in its input and in its weights), so the step only
//     trades rounding against ReLU kinks: a step that flips a ReLU mask
//     (compared at p + hv and p - hv with p) is halved and retried.
// (b) cpu (oneDNN backward primitives) against ref: every gradient,
//     per-layer norm-wise relative error < 1e-5.
// (c) the training API: accumulation, masks, padding, errors.
// Links only deepcd_nn (no PETSc).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <deepcd/nn.h>
extern "C" {
#include <deepcd/private/nnimpl.h>
}

namespace {

using Vec   = std::vector<double>;
using Masks = std::vector<unsigned char>;

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

bool have_cpu()
{
  return nn_backend_check("cpu", NN_FP32) == NN_SUCCESS;
}

Vec normal(size_t n, unsigned seed, double scale = 1.0)
{
  std::mt19937                     g(seed);
  std::normal_distribution<double> d(0.0, 1.0);
  Vec                              v(n);
  for (auto &x : v) x = scale * d(g);
  return v;
}

Vec uniform(size_t n, unsigned seed, double lo = -1, double hi = 1)
{
  std::mt19937                           g(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  Vec                                    v(n);
  for (auto &x : v) x = d(g);
  return v;
}

double dot(const Vec &a, const Vec &b)
{
  double s = 0;
  for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
  return s;
}

// ||a - b|| / ||b||
double rel_norm(const double *a, const double *b, size_t n)
{
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

template <class T>
std::vector<T> cast(const Vec &v)
{
  return std::vector<T>(v.begin(), v.end());
}

template <class T>
Vec to_vec(const std::vector<T> &v)
{
  return Vec(v.begin(), v.end());
}

void report(const std::string &name, double err)
{
  std::ostringstream s;
  s.precision(2);
  s << std::scientific << err;
  ::testing::Test::RecordProperty(name, s.str());
  std::printf("[ measure  ] %-58s %s\n", name.c_str(), s.str().c_str());
}

// ---- the finite-difference check --------------------------------------------------

// loss(p, masks) -> L at p (the function evaluated in T), filling the ReLU masks.
using LossFn = std::function<double(const Vec &, Masks *)>;

struct FdResult {
  double err    = INFINITY;
  double h      = 0;
  int    shrink = 0; // how often a kink forced a smaller step
};

// Relative error of the central difference along v against <grad, v>. T:
// the precision the function is evaluated in; the perturbed points are
// rounded to T and the analytic derivative uses the rounded difference.
template <class T>
FdResult fd_check(const LossFn &loss, const Vec &p, const Vec &grad, const Vec &v, double h0)
{
  Masks    m0, mp, mm;
  FdResult r;

  loss(p, &m0);
  double h = h0;
  for (int t = 0; t < 24; t++, h /= 2) {
    Vec pp(p.size()), pm(p.size()), diff(p.size());
    for (size_t i = 0; i < p.size(); i++) {
      pp[i]   = (double) (T) (p[i] + h * v[i]);
      pm[i]   = (double) (T) (p[i] - h * v[i]);
      diff[i] = pp[i] - pm[i];
    }
    const double lp = loss(pp, &mp), lm = loss(pm, &mm);
    if (mp != m0 || mm != m0) continue; // a ReLU flipped inside the step
    const double fd = (lp - lm) / (2 * h), an = dot(grad, diff) / (2 * h);
    r.err    = std::fabs(fd - an) / std::max(std::fabs(an), 1e-300);
    r.h      = h;
    r.shrink = t;
    return r;
  }
  return r;
}

// ---- single layers through the kernels ------------------------------------------------

template <class T>
struct Ref;
#define REF_KERNELS(T, P)                                                                                                           \
  template <>                                                                                                                       \
  struct Ref<T> {                                                                                                                   \
    static void pad(const T *a, T *b, const int *d, int c)                                                                          \
    {                                                                                                                               \
      P##pad(a, b, d, c);                                                                                                           \
    }                                                                                                                               \
    static void conv(const nn_layer *L, const T *w, const T *b, const T *in, const T *in2, T *out, unsigned char *mk, const int *d) \
    {                                                                                                                               \
      P##conv_mask(L, w, b, in, in2, out, mk, d);                                                                                   \
    }                                                                                                                               \
    static void add(const T *a, const T *b, T *o, size_t n)                                                                         \
    {                                                                                                                               \
      P##add(a, b, o, n);                                                                                                           \
    }                                                                                                                               \
    static void pool(const T *a, T *o, const int *d, int c)                                                                         \
    {                                                                                                                               \
      P##avgpool2(a, o, d, c);                                                                                                      \
    }                                                                                                                               \
    static void up(const T *a, const T *s, T *o, const int *d, int c)                                                               \
    {                                                                                                                               \
      P##upsample2(a, s, o, d, c);                                                                                                  \
    }                                                                                                                               \
    static void acc(T *d, const T *s, size_t n, int a)                                                                              \
    {                                                                                                                               \
      P##grad_acc(d, s, n, a);                                                                                                      \
    }                                                                                                                               \
    static void relu(T *d, const unsigned char *mk, size_t n)                                                                       \
    {                                                                                                                               \
      P##relu_backward(d, mk, n);                                                                                                   \
    }                                                                                                                               \
    static void conv_bd(const nn_layer *L, const T *w, const T *g, T *din, int a, const int *d)                                     \
    {                                                                                                                               \
      P##conv_backward_data(L, w, g, din, a, d);                                                                                    \
    }                                                                                                                               \
    static void conv_bw(const nn_layer *L, const T *in, const T *g, T *dw, T *db, double *wk, const int *d)                         \
    {                                                                                                                               \
      P##conv_backward_weights(L, in, g, dw, db, wk, d);                                                                            \
    }                                                                                                                               \
    static void pool_b(const T *g, T *din, const int *d, int c, int a)                                                              \
    {                                                                                                                               \
      P##avgpool2_backward(g, din, d, c, a);                                                                                        \
    }                                                                                                                               \
    static void up_b(const T *g, T *din, const int *d, int c, int a)                                                                \
    {                                                                                                                               \
      P##upsample2_backward(g, din, d, c, a);                                                                                       \
    }                                                                                                                               \
  };
REF_KERNELS(float, nn_ref_)
REF_KERNELS(double, nn_ref64_)

struct LayerCase {
  const char *name;
  nn_op       op;
  int         cin, cout, k;
  nn_act      act;
  bool        in2;
  int         dims[3]; // of the output (conv, add, upsample2), of the input (avgpool2)
};

// One layer, its arguments packed in one vector: [x | x2 | w | b].
struct Layer {
  LayerCase c;
  nn_layer  L = {};
  int       din[3], dout[3];
  size_t    nx = 0, nx2 = 0, nw = 0, nb = 0, nout = 0;

  explicit Layer(const LayerCase &lc)
      : c(lc)
  {
    L.op   = c.op;
    L.cin  = c.cin;
    L.cout = c.cout;
    L.k    = c.k;
    L.act  = c.act;
    L.in2  = c.in2 ? 1 : -1;
    for (int i = 0; i < 3; i++) {
      din[i]  = c.op == NN_OP_UPSAMPLE2 ? c.dims[i] / 2 : c.dims[i];
      dout[i] = c.op == NN_OP_AVGPOOL2 ? c.dims[i] / 2 : c.dims[i];
    }
    const size_t vin = (size_t) din[0] * din[1] * din[2], vout = (size_t) dout[0] * dout[1] * dout[2];
    nx   = vin * c.cin;
    nout = vout * c.cout;
    nx2  = c.in2 ? nout : 0;
    if (c.op == NN_OP_CONV) {
      nw = (size_t) c.cout * c.cin * c.k * c.k * c.k;
      nb = (size_t) c.cout;
    }
  }
  size_t size() const
  {
    return nx + nx2 + nw + nb;
  }
  // offsets of the groups x, x2, w, b
  size_t off(int g) const
  {
    const size_t o[4] = { 0, nx, nx + nx2, nx + nx2 + nw };
    return o[g];
  }
  size_t len(int g) const
  {
    const size_t n[4] = { nx, nx2, nw, nb };
    return n[g];
  }
  // typical magnitude of each group (directions are scaled by it)
  double scale(int g) const
  {
    if (g == 2) return std::sqrt(2.0 / (c.cin * c.k * c.k * c.k));
    if (g == 3) return 0.1;
    return 1.0;
  }
  Vec point(unsigned seed) const
  {
    Vec p = uniform(size(), seed);
    for (int g = 2; g < 4; g++)
      for (size_t i = 0; i < len(g); i++) p[off(g) + i] *= scale(g) * std::sqrt(3.0);
    return p;
  }

  template <class T>
  std::vector<T> forward(const Vec &p, Masks *mask) const
  {
    const std::vector<T> a = cast<T>(p);
    const T             *x = a.data(), *x2 = nx2 ? a.data() + off(1) : nullptr, *w = a.data() + off(2), *b = a.data() + off(3);
    std::vector<T>       out(nout);
    Masks                mk(c.act == NN_ACT_RELU ? nout : 0);

    switch (c.op) {
    case NN_OP_CONV:
      if (c.k == 3) {
        std::vector<T> xp((size_t) (din[0] + 2) * (din[1] + 2) * (din[2] + 2) * c.cin);
        Ref<T>::pad(x, xp.data(), din, c.cin);
        Ref<T>::conv(&L, w, b, xp.data(), x2, out.data(), mk.empty() ? nullptr : mk.data(), dout);
      } else
        Ref<T>::conv(&L, w, b, x, x2, out.data(), mk.empty() ? nullptr : mk.data(), dout);
      break;
    case NN_OP_ADD: Ref<T>::add(x, x2, out.data(), nout); break;
    case NN_OP_AVGPOOL2: Ref<T>::pool(x, out.data(), din, c.cin); break;
    case NN_OP_UPSAMPLE2: Ref<T>::up(x, x2, out.data(), dout, c.cout); break;
    }
    if (mask) *mask = mk;
    return out;
  }

  // the gradient of <g, out> with respect to [x | x2 | w | b]
  template <class T>
  Vec backward(const Vec &p, const Vec &gd) const
  {
    Masks                mk;
    const std::vector<T> a  = cast<T>(p);
    std::vector<T>       g  = cast<T>(gd), grad(size(), (T) 0);
    T                   *gx = grad.data(), *gx2 = grad.data() + off(1), *gw = grad.data() + off(2), *gb = grad.data() + off(3);

    forward<T>(p, &mk);
    if (nx2) Ref<T>::acc(gx2, g.data(), nout, 0);
    switch (c.op) {
    case NN_OP_CONV: {
      std::vector<double> work(nw + nb);
      if (c.act == NN_ACT_RELU) Ref<T>::relu(g.data(), mk.data(), nout);
      Ref<T>::conv_bd(&L, a.data() + off(2), g.data(), gx, 0, dout);
      if (c.k == 3) {
        std::vector<T> xp((size_t) (din[0] + 2) * (din[1] + 2) * (din[2] + 2) * c.cin);
        Ref<T>::pad(a.data(), xp.data(), din, c.cin);
        Ref<T>::conv_bw(&L, xp.data(), g.data(), gw, gb, work.data(), dout);
      } else
        Ref<T>::conv_bw(&L, a.data(), g.data(), gw, gb, work.data(), dout);
      break;
    }
    case NN_OP_ADD: Ref<T>::acc(gx, g.data(), nout, 0); break;
    case NN_OP_AVGPOOL2: Ref<T>::pool_b(g.data(), gx, din, c.cin, 0); break;
    case NN_OP_UPSAMPLE2: Ref<T>::up_b(g.data(), gx, dout, c.cout, 0); break;
    }
    return to_vec(grad);
  }
};

const LayerCase kLayers[] = {
  { "conv3_lift_1to4", NN_OP_CONV, 1, 4, 3, NN_ACT_NONE, false, { 3, 4, 5 } },
  { "conv3_3to4", NN_OP_CONV, 3, 4, 3, NN_ACT_NONE, false, { 3, 4, 5 } },
  { "conv3_relu_3to4", NN_OP_CONV, 3, 4, 3, NN_ACT_RELU, false, { 3, 4, 5 } },
  { "conv3_relu_residual_3to3", NN_OP_CONV, 3, 3, 3, NN_ACT_RELU, true, { 4, 3, 5 } },
  { "conv1_head_4to1", NN_OP_CONV, 4, 1, 1, NN_ACT_NONE, false, { 3, 4, 5 } },
  { "conv1_relu_residual_2to3", NN_OP_CONV, 2, 3, 1, NN_ACT_RELU, true, { 3, 4, 5 } },
  { "add", NN_OP_ADD, 3, 3, 0, NN_ACT_NONE, true, { 3, 4, 5 } },
  { "avgpool2", NN_OP_AVGPOOL2, 3, 3, 0, NN_ACT_NONE, false, { 4, 2, 6 } },
  { "upsample2", NN_OP_UPSAMPLE2, 2, 2, 0, NN_ACT_NONE, false, { 4, 6, 2 } },
  { "upsample2_skip", NN_OP_UPSAMPLE2, 2, 2, 0, NN_ACT_NONE, true, { 4, 6, 2 } },
};

const char *kGroup[4] = { "x", "x2", "w", "b" };

// Max FD error over 3 directions per argument group and 3 along all of them.
template <class T>
double layer_fd(const Layer &ly, double h0, unsigned seed)
{
  const Vec p = ly.point(seed), g = normal(ly.nout, seed + 1);
  const Vec grad  = ly.backward<T>(p, g);
  double    worst = 0;
  LossFn    loss  = [&](const Vec &q, Masks *mk) {
    const std::vector<T> out = ly.forward<T>(q, mk);
    double               s   = 0;
    for (size_t i = 0; i < out.size(); i++) s += g[i] * (double) out[i];
    return s;
  };
  for (int grp = 0; grp <= 4; grp++) {
    if (grp < 4 && !ly.len(grp)) continue;
    double e = 0;
    for (unsigned d = 0; d < 3; d++) {
      Vec v(ly.size(), 0.0);
      for (int gg = 0; gg < 4; gg++) {
        if (grp < 4 && gg != grp) continue;
        const Vec r = normal(ly.len(gg), seed * 31 + d * 7 + gg);
        for (size_t i = 0; i < ly.len(gg); i++) v[ly.off(gg) + i] = ly.scale(gg) * r[i];
      }
      const FdResult r = fd_check<T>(loss, p, grad, v, h0);
      EXPECT_TRUE(std::isfinite(r.err)) << ly.c.name << ": no step without a ReLU flip";
      e = std::max(e, r.err);
    }
    worst = std::max(worst, e);
    report(std::string(ly.c.name) + (sizeof(T) == 8 ? "_fp64_" : "_fp32_") + (grp < 4 ? kGroup[grp] : "all"), e);
  }
  return worst;
}

constexpr double kTolFp64   = 1e-8;
constexpr double kTolFp32   = 1e-3;
constexpr double kTolCpuRef = 1e-5;
constexpr double kH64       = 1e-5; // relative step in float64
constexpr double kH32       = 1e-2; // relative step in float32 (rounding ~ 6e-8 / h)

// ---- whole networks -------------------------------------------------------------------

// He weights, random biases of either sign (nonzero, so that ReLUs are mixed).
void randomize(nn_model *m, uint64_t seed)
{
  ASSERT_EQ(nn_model_init_he(m, seed), NN_SUCCESS) << nn_error_message();
  const Vec r = uniform(m->nparams, (unsigned) seed + 5, 0.05, 0.3);
  const Vec s = uniform(m->nparams, (unsigned) seed + 6);
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer &L = m->layers[l];
    if (L.op != NN_OP_CONV) continue;
    for (int o = 0; o < L.cout; o++) m->params[L.bias + o] = (float) ((s[o] < 0 ? -1 : 1) * r[o]);
  }
}

// Every layer type, 3 channels: lift, ReLU pair with residual, add, pool,
// half-resolution residual pair, upsample with skip, 1x1x1 ReLU residual,
// head; plus a branch through an upsample without skip.
void build_every_layer(nn_model *m)
{
  int x, f, a, b, c, p, q, r, u, v, h, u2, s, out;
  ASSERT_EQ(nn_model_add_tensor(m, 1, 0, &x), NN_SUCCESS);
  m->input = x;
  ASSERT_EQ(nn_model_add_conv(m, x, -1, 3, 3, NN_ACT_NONE, &f), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(m, f, -1, 3, 3, NN_ACT_RELU, &a), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(m, a, a, 3, 3, NN_ACT_RELU, &b), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_add(m, b, f, &c), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_avgpool2(m, c, &p), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(m, p, -1, 3, 3, NN_ACT_RELU, &q), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(m, q, p, 3, 3, NN_ACT_RELU, &r), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_upsample2(m, r, c, &u), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(m, u, u, 3, 1, NN_ACT_RELU, &v), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(m, p, -1, 3, 1, NN_ACT_NONE, &h), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_upsample2(m, h, -1, &u2), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_add(m, v, u2, &s), NN_SUCCESS);
  ASSERT_EQ(nn_model_add_conv(m, s, -1, 1, 1, NN_ACT_NONE, &out), NN_SUCCESS);
  m->output = out;
  ASSERT_EQ(nn_model_validate(m), NN_SUCCESS) << nn_error_message();
}

size_t volume(const int d[3])
{
  return (size_t) d[0] * d[1] * d[2];
}

// Per-group scale of a parameter direction: He std for kernels, 0.1 for biases.
Vec param_direction(const nn_model *m, unsigned seed)
{
  Vec v = normal(m->nparams, seed);
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer &L = m->layers[l];
    if (L.op != NN_OP_CONV) continue;
    const double sw = std::sqrt(2.0 / (L.cin * L.k * L.k * L.k));
    for (size_t i = L.weight; i < L.bias; i++) v[i] *= sw;
    for (int o = 0; o < L.cout; o++) v[L.bias + o] *= 0.1;
  }
  return v;
}

// The worst per-layer relative error between two parameter gradients
// (kernels and biases of each convolution separately).
double params_rel(const nn_model *m, const double *a, const double *b, std::string *where = nullptr)
{
  double worst = 0;
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer &L = m->layers[l];
    if (L.op != NN_OP_CONV) continue;
    const double ew = rel_norm(a + L.weight, b + L.weight, L.bias - L.weight), eb = rel_norm(a + L.bias, b + L.bias, L.cout);
    if (ew > worst && where) *where = "layer " + std::to_string(l) + " kernel";
    worst = std::max(worst, ew);
    if (eb > worst && where) *where = "layer " + std::to_string(l) + " bias";
    worst = std::max(worst, eb);
  }
  return worst;
}

// The fp64 oracle's FD check on a model: directions in the input, the
// parameters, and both.
double oracle_fd(const nn_model *m, const int dims[3], unsigned seed, const std::string &tag)
{
  const size_t n = volume(dims), np = m->nparams;
  size_t       nmask = 0;
  for (int l = 0; l < m->nlayers; l++)
    if (m->layers[l].op == NN_OP_CONV && m->layers[l].act == NN_ACT_RELU) {
      const int lv = m->tensors[m->layers[l].out].level;
      nmask += (size_t) (dims[0] >> lv) * (dims[1] >> lv) * (dims[2] >> lv) * m->layers[l].cout;
    }
  // p = [input | params]
  Vec       p(n + np);
  const Vec in = uniform(n, seed);
  std::copy(in.begin(), in.end(), p.begin());
  for (size_t i = 0; i < np; i++) p[n + i] = m->params[i];
  const Vec g = normal(n, seed + 1);
  Vec       out(n), din(n), dp(np, 0.0);
  EXPECT_EQ(nn_ref64_net(m, p.data() + n, dims, p.data(), out.data(), nullptr, g.data(), din.data(), dp.data()), NN_SUCCESS) << nn_error_message();
  Vec grad(n + np);
  std::copy(din.begin(), din.end(), grad.begin());
  std::copy(dp.begin(), dp.end(), grad.begin() + n);
  LossFn loss = [&](const Vec &q, Masks *mk) {
    Vec o(n);
    mk->assign(nmask, 0);
    EXPECT_EQ(nn_ref64_net(m, q.data() + n, dims, q.data(), o.data(), mk->data(), nullptr, nullptr, nullptr), NN_SUCCESS);
    return dot(g, o);
  };
  double worst = 0;
  for (int which = 0; which < 3; which++) { // input, params, both
    double e = 0;
    for (unsigned d = 0; d < 3; d++) {
      Vec       v(n + np, 0.0);
      const Vec vi = normal(n, seed * 17 + d), vp = param_direction(m, seed * 19 + d);
      if (which != 1) std::copy(vi.begin(), vi.end(), v.begin());
      if (which != 0) std::copy(vp.begin(), vp.end(), v.begin() + n);
      const FdResult r = fd_check<double>(loss, p, grad, v, kH64);
      EXPECT_TRUE(std::isfinite(r.err)) << tag << ": no step without a ReLU flip";
      e = std::max(e, r.err);
    }
    report(tag + (which == 0 ? "_input" : which == 1 ? "_params"
                                                     : "_all"),
           e);
    worst = std::max(worst, e);
  }
  return worst;
}

// Forward + backward of a training net; returns dparams (double) and din.
struct Grad {
  std::vector<float> out, din, dparams;
};

Grad net_grad(const nn_model *m, const char *backend, const int dims[3], const std::vector<float> &in, const std::vector<float> &dout, const unsigned char *mask = nullptr)
{
  NetPtr net;
  Grad   r;
  EXPECT_EQ(nn_net_create_train(m, backend, NN_FP32, dims, &net.n), NN_SUCCESS) << backend << ": " << nn_error_message();
  if (!net.n) return r;
  r.out.assign(in.size(), NAN);
  r.din.assign(in.size(), NAN);
  r.dparams.assign(m->nparams, 0.0f);
  EXPECT_EQ(nn_net_forward(net.n, in.data(), mask, r.out.data()), NN_SUCCESS) << nn_error_message();
  EXPECT_EQ(nn_net_backward(net.n, dout.data(), r.din.data(), r.dparams.data()), NN_SUCCESS) << nn_error_message();
  return r;
}

// The fp32 executor's FD check on the ref backend (odd grids and masks
// included): directions in the input, the parameters, and both.
double executor_fd(nn_model *m, const int dims[3], const unsigned char *mask, unsigned seed, const std::string &tag)
{
  const size_t n = volume(dims), np = m->nparams;
  NetPtr       net;
  EXPECT_EQ(nn_net_create_train(m, "ref", NN_FP32, dims, &net.n), NN_SUCCESS) << nn_error_message();
  if (!net.n) return INFINITY;
  const std::vector<float> params0(m->params, m->params + np);
  const std::vector<float> in = cast<float>(uniform(n, seed));
  const Vec                g  = normal(n, seed + 1);
  std::vector<float>       out(n), din(n), dp(np, 0.0f);
  EXPECT_EQ(nn_net_forward(net.n, in.data(), mask, out.data()), NN_SUCCESS);
  EXPECT_EQ(nn_net_backward(net.n, cast<float>(g).data(), din.data(), dp.data()), NN_SUCCESS) << nn_error_message();
  Vec p(n + np), grad(n + np);
  for (size_t i = 0; i < n; i++) p[i] = in[i], grad[i] = din[i];
  for (size_t i = 0; i < np; i++) p[n + i] = params0[i], grad[n + i] = dp[i];
  const std::vector<float> gf   = cast<float>(g);
  LossFn                   loss = [&](const Vec &q, Masks *mk) {
    for (size_t i = 0; i < np; i++) m->params[i] = (float) q[n + i];
    EXPECT_EQ(nn_net_params_changed(net.n), NN_SUCCESS);
    std::vector<float> x(q.begin(), q.begin() + n), o(n);
    EXPECT_EQ(nn_net_forward(net.n, x.data(), mask, o.data()), NN_SUCCESS);
    mk->clear();
    for (int l = 0; l < m->nlayers; l++)
      if (net.n->relumask[l]) {
        const unsigned char *b = (const unsigned char *) net.n->relumask[l];
        mk->insert(mk->end(), b, b + nn_net_tensor_size(net.n, m->layers[l].out));
      }
    double s = 0;
    for (size_t i = 0; i < n; i++) s += g[i] * (double) o[i];
    return s;
  };
  double worst = 0;
  for (int which = 0; which < 3; which++) {
    double e = 0;
    for (unsigned d = 0; d < 3; d++) {
      Vec       v(n + np, 0.0);
      const Vec vi = normal(n, seed * 17 + d), vp = param_direction(m, seed * 19 + d);
      if (which != 1) std::copy(vi.begin(), vi.end(), v.begin());
      if (which != 0) std::copy(vp.begin(), vp.end(), v.begin() + n);
      const FdResult r = fd_check<float>(loss, p, grad, v, kH32);
      EXPECT_TRUE(std::isfinite(r.err)) << tag << ": no step without a ReLU flip";
      e = std::max(e, r.err);
    }
    report(tag + (which == 0 ? "_input" : which == 1 ? "_params"
                                                     : "_all"),
           e);
    worst = std::max(worst, e);
  }
  std::copy(params0.begin(), params0.end(), m->params);
  return worst;
}

} // namespace

// ---- (a) single layers -----------------------------------------------------------------

TEST(NnGradLayer, Float64AgainstFiniteDifferences)
{
  unsigned seed = 100;
  for (const LayerCase &c : kLayers) {
    const Layer ly(c);
    EXPECT_LT(layer_fd<double>(ly, kH64, seed++), kTolFp64) << c.name;
  }
}

TEST(NnGradLayer, Float32AgainstFiniteDifferences)
{
  unsigned seed = 200;
  for (const LayerCase &c : kLayers) {
    const Layer ly(c);
    EXPECT_LT(layer_fd<float>(ly, kH32, seed++), kTolFp32) << c.name;
  }
}

// The fp32 kernels give the fp64 gradient up to fp32 rounding.
TEST(NnGradLayer, Float32KernelsMatchFloat64Kernels)
{
  unsigned seed = 300;
  for (const LayerCase &c : kLayers) {
    const Layer ly(c);
    const Vec   p = ly.point(seed), g = normal(ly.nout, seed + 1);
    // the point rounded to fp32, so that both see the same arguments
    const Vec pf = to_vec(cast<float>(p)), gf = to_vec(cast<float>(g));
    const Vec a = ly.backward<float>(pf, gf), b = ly.backward<double>(pf, gf);
    double    e = 0;
    for (int grp = 0; grp < 4; grp++)
      if (ly.len(grp)) e = std::max(e, rel_norm(a.data() + ly.off(grp), b.data() + ly.off(grp), ly.len(grp)));
    report(std::string(c.name) + "_fp32_vs_fp64_kernels", e);
    EXPECT_LT(e, 1e-6) << c.name;
    seed += 2;
  }
}

// accumulate = 0 overwrites whatever was there, 1 adds.
TEST(NnGradLayer, AccumulateFlags)
{
  const int          dims[3] = { 2, 4, 2 }, half[3] = { 1, 2, 1 };
  const int          c  = 2;
  const size_t       nf = volume(dims) * c, nh = volume(half) * c;
  std::vector<float> g = cast<float>(normal(nf, 1)), gh = cast<float>(normal(nh, 2));
  std::vector<float> zero_f(nf, 0.0f), zero_h(nh, 0.0f), junk_f(nf, 7.0f), junk_h(nh, 7.0f);
  // pooling backward
  std::vector<float> a = junk_f, b = zero_f;
  nn_ref_avgpool2_backward(gh.data(), a.data(), dims, c, 0);
  nn_ref_avgpool2_backward(gh.data(), b.data(), dims, c, 1);
  EXPECT_EQ(a, b);
  a = junk_f;
  nn_ref_avgpool2_backward(gh.data(), a.data(), dims, c, 1);
  for (size_t i = 0; i < nf; i++) EXPECT_EQ(a[i], 7.0f + b[i]);
  // upsampling backward
  std::vector<float> u = junk_h, w = zero_h;
  nn_ref_upsample2_backward(g.data(), u.data(), dims, c, 0);
  nn_ref_upsample2_backward(g.data(), w.data(), dims, c, 1);
  EXPECT_EQ(u, w);
  // conv data gradient
  nn_layer L                  = {};
  L.op                        = NN_OP_CONV;
  L.cin                       = c;
  L.cout                      = c;
  L.k                         = 3;
  L.in2                       = -1;
  const std::vector<float> wk = cast<float>(normal((size_t) c * c * 27, 3, 0.2));
  std::vector<float>       d0 = junk_f, d1 = zero_f, d2 = junk_f;
  nn_ref_conv_backward_data(&L, wk.data(), g.data(), d0.data(), 0, dims);
  nn_ref_conv_backward_data(&L, wk.data(), g.data(), d1.data(), 1, dims);
  nn_ref_conv_backward_data(&L, wk.data(), g.data(), d2.data(), 1, dims);
  EXPECT_EQ(d0, d1);
  for (size_t i = 0; i < nf; i++) EXPECT_FLOAT_EQ(d2[i], 7.0f + d1[i]);
  // pooling's gradient spreads 1/8; upsampling's sums the 8 children
  std::vector<float> ones_h(nh, 1.0f), ones_f(nf, 1.0f), s(nf), t(nh);
  nn_ref_avgpool2_backward(ones_h.data(), s.data(), dims, c, 0);
  for (float x : s) EXPECT_EQ(x, 0.125f);
  nn_ref_upsample2_backward(ones_f.data(), t.data(), dims, c, 0);
  for (float x : t) EXPECT_EQ(x, 8.0f);
}

// ---- (a) whole networks ------------------------------------------------------------------

TEST(NnGradNet, Float64OracleAgainstFiniteDifferences)
{
  ModelPtr M;
  ASSERT_EQ(nn_model_create(&M.m), NN_SUCCESS);
  build_every_layer(M.m);
  randomize(M.m, 11);
  const int dims[3] = { 4, 6, 4 };
  EXPECT_LT(oracle_fd(M.m, dims, 12, "every_layer_net_fp64"), kTolFp64);

  ModelPtr D;
  ASSERT_EQ(nn_model_create_arch("from64", &D.m), NN_SUCCESS);
  randomize(D.m, 13);
  const int small[3] = { 4, 4, 6 };
  EXPECT_LT(oracle_fd(D.m, small, 14, "from64_4x4x6_fp64"), kTolFp64);
}

// The fp32 executor (planned buffers, reverse walk, padding, mask) against
// the float64 oracle evaluated at the same (fp32) point.
TEST(NnGradNet, ExecutorMatchesFloat64Oracle)
{
  struct Case {
    const char *arch;
    int         dims[3];
    bool        masked;
  } cases[]     = { { "every", { 4, 6, 4 }, false }, { "every", { 5, 3, 7 }, true }, { "from64", { 6, 4, 8 }, false }, { "from64", { 5, 7, 3 }, true } };
  unsigned seed = 20;
  for (const Case &c : cases) {
    ModelPtr M;
    if (std::string(c.arch) == "every") {
      ASSERT_EQ(nn_model_create(&M.m), NN_SUCCESS);
      build_every_layer(M.m);
    } else
      ASSERT_EQ(nn_model_create_arch(c.arch, &M.m), NN_SUCCESS);
    randomize(M.m, seed);
    const size_t               n  = volume(c.dims);
    const std::vector<float>   in = cast<float>(uniform(n, seed + 1)), g = cast<float>(normal(n, seed + 2));
    std::vector<unsigned char> mask(n, 0);
    if (c.masked)
      for (size_t i = 0; i < n; i += 3) mask[i] = 1;
    const Grad r = net_grad(M.m, "ref", c.dims, in, g, c.masked ? mask.data() : nullptr);
    ASSERT_EQ(r.din.size(), n);
    // the oracle on the grid padded to even sizes: input embedded, masked dout zeroed
    int pd[3];
    for (int i = 0; i < 3; i++) pd[i] = (c.dims[i] + 1) / 2 * 2;
    const size_t np = volume(pd);
    Vec          pin(np, 0.0), pg(np, 0.0), pout(np), pdin(np), params(M.m->params, M.m->params + M.m->nparams), dp(M.m->nparams, 0.0);
    for (int z = 0; z < c.dims[0]; z++)
      for (int y = 0; y < c.dims[1]; y++)
        for (int x = 0; x < c.dims[2]; x++) {
          const size_t i = ((size_t) z * c.dims[1] + y) * c.dims[2] + x, j = ((size_t) z * pd[1] + y) * pd[2] + x;
          pin[j] = in[i];
          pg[j]  = mask[i] ? 0.0 : g[i];
        }
    ASSERT_EQ(nn_ref64_net(M.m, params.data(), pd, pin.data(), pout.data(), nullptr, pg.data(), pdin.data(), dp.data()), NN_SUCCESS) << nn_error_message();
    Vec din64(n), out64(n);
    for (int z = 0; z < c.dims[0]; z++)
      for (int y = 0; y < c.dims[1]; y++)
        for (int x = 0; x < c.dims[2]; x++) {
          const size_t i = ((size_t) z * c.dims[1] + y) * c.dims[2] + x, j = ((size_t) z * pd[1] + y) * pd[2] + x;
          din64[i] = pdin[j];
          out64[i] = mask[i] ? 0.0 : pout[j];
        }
    std::string       where;
    const Vec         dp32 = to_vec(r.dparams);
    const double      ep = params_rel(M.m, dp32.data(), dp.data(), &where), ei = rel_norm(to_vec(r.din).data(), din64.data(), n), eo = rel_norm(to_vec(r.out).data(), out64.data(), n);
    const std::string tag = std::string(c.arch) + "_" + std::to_string(c.dims[0]) + "x" + std::to_string(c.dims[1]) + "x" + std::to_string(c.dims[2]) + (c.masked ? "_masked" : "");
    report(tag + "_fp32_executor_vs_fp64_dparams", ep);
    report(tag + "_fp32_executor_vs_fp64_din", ei);
    EXPECT_LT(eo, 1e-6) << tag;
    EXPECT_LT(ep, 1e-5) << tag << " worst at " << where;
    EXPECT_LT(ei, 1e-5) << tag;
    // masked outputs have zero gradient: din does not depend on their dout
    seed += 3;
  }
}

// Small grids: every ReLU is a kink that a step must not cross, and the
// fewer the pre-activations the larger the step can stay (fp32 rounding of
// the loss difference grows as 1/h).
TEST(NnGradNet, Float32ExecutorAgainstFiniteDifferences)
{
  ModelPtr M;
  ASSERT_EQ(nn_model_create(&M.m), NN_SUCCESS);
  build_every_layer(M.m);
  randomize(M.m, 31);
  const int dims[3] = { 4, 2, 4 };
  EXPECT_LT(executor_fd(M.m, dims, nullptr, 32, "every_layer_net_4x2x4_fp32"), kTolFp32);
  const int                  odd[3] = { 3, 3, 5 };
  std::vector<unsigned char> mask(volume(odd), 0);
  for (size_t i = 1; i < mask.size(); i += 4) mask[i] = 1;
  EXPECT_LT(executor_fd(M.m, odd, mask.data(), 33, "every_layer_net_3x3x5_masked_fp32"), kTolFp32);

  ModelPtr D;
  ASSERT_EQ(nn_model_create_arch("from64", &D.m), NN_SUCCESS);
  randomize(D.m, 34);
  const int small[3] = { 2, 2, 4 };
  EXPECT_LT(executor_fd(D.m, small, nullptr, 35, "from64_2x2x4_fp32"), kTolFp32);
}

// ---- (b) cpu against ref ------------------------------------------------------------------

namespace {

void compare_cpu_ref(nn_model *m, const int dims[3], bool masked, unsigned seed, const std::string &tag)
{
  const size_t               n  = volume(dims);
  const std::vector<float>   in = cast<float>(uniform(n, seed)), g = cast<float>(normal(n, seed + 1));
  std::vector<unsigned char> mask(n, 0);
  if (masked)
    for (size_t i = 0; i < n; i += 5) mask[i] = 1;
  const Grad a = net_grad(m, "cpu", dims, in, g, masked ? mask.data() : nullptr);
  const Grad b = net_grad(m, "ref", dims, in, g, masked ? mask.data() : nullptr);
  ASSERT_EQ(a.din.size(), n);
  ASSERT_EQ(b.din.size(), n);
  std::string  where;
  const Vec    pa = to_vec(a.dparams), pb = to_vec(b.dparams);
  const double ep = params_rel(m, pa.data(), pb.data(), &where);
  const double ei = rel_norm(to_vec(a.din).data(), to_vec(b.din).data(), n);
  const double eo = rel_norm(to_vec(a.out).data(), to_vec(b.out).data(), n);
  report(tag + "_cpu_vs_ref_dparams", ep);
  report(tag + "_cpu_vs_ref_din", ei);
  EXPECT_LT(eo, kTolCpuRef) << tag;
  EXPECT_LT(ep, kTolCpuRef) << tag << " worst at " << where;
  EXPECT_LT(ei, kTolCpuRef) << tag;
}

} // namespace

// One model per layer type between a lift and a head (model inputs and
// outputs have one channel), then the every-layer network and from64.
TEST(NnGradCpu, EveryLayerTypeMatchesRef)
{
  if (!have_cpu()) GTEST_SKIP() << nn_error_message();
  struct Case {
    const char *name;
    int         kind;
  } cases[]     = { { "conv3", 0 }, { "conv3_relu", 1 }, { "conv3_relu_residual", 2 }, { "conv1_relu_residual", 3 }, { "add", 4 }, { "avgpool2_upsample2", 5 }, { "upsample2_skip", 6 } };
  unsigned seed = 40;
  for (const Case &c : cases) {
    ModelPtr M;
    int      x, a, b, out;
    ASSERT_EQ(nn_model_create(&M.m), NN_SUCCESS);
    ASSERT_EQ(nn_model_add_tensor(M.m, 1, 0, &x), NN_SUCCESS);
    M.m->input = x;
    ASSERT_EQ(nn_model_add_conv(M.m, x, -1, 8, 3, NN_ACT_NONE, &a), NN_SUCCESS);
    switch (c.kind) {
    case 0: ASSERT_EQ(nn_model_add_conv(M.m, a, -1, 8, 3, NN_ACT_NONE, &b), NN_SUCCESS); break;
    case 1: ASSERT_EQ(nn_model_add_conv(M.m, a, -1, 8, 3, NN_ACT_RELU, &b), NN_SUCCESS); break;
    case 2: ASSERT_EQ(nn_model_add_conv(M.m, a, a, 8, 3, NN_ACT_RELU, &b), NN_SUCCESS); break;
    case 3: ASSERT_EQ(nn_model_add_conv(M.m, a, a, 8, 1, NN_ACT_RELU, &b), NN_SUCCESS); break;
    case 4: {
      int t;
      ASSERT_EQ(nn_model_add_conv(M.m, a, -1, 8, 3, NN_ACT_RELU, &t), NN_SUCCESS);
      ASSERT_EQ(nn_model_add_add(M.m, t, a, &b), NN_SUCCESS);
      break;
    }
    case 5: {
      int p, q;
      ASSERT_EQ(nn_model_add_avgpool2(M.m, a, &p), NN_SUCCESS);
      ASSERT_EQ(nn_model_add_conv(M.m, p, -1, 8, 3, NN_ACT_RELU, &q), NN_SUCCESS);
      ASSERT_EQ(nn_model_add_upsample2(M.m, q, -1, &b), NN_SUCCESS);
      break;
    }
    case 6: {
      int p, q;
      ASSERT_EQ(nn_model_add_avgpool2(M.m, a, &p), NN_SUCCESS);
      ASSERT_EQ(nn_model_add_conv(M.m, p, p, 8, 3, NN_ACT_RELU, &q), NN_SUCCESS);
      ASSERT_EQ(nn_model_add_upsample2(M.m, q, a, &b), NN_SUCCESS);
      break;
    }
    }
    ASSERT_EQ(nn_model_add_conv(M.m, b, -1, 1, 1, NN_ACT_NONE, &out), NN_SUCCESS);
    M.m->output = out;
    randomize(M.m, seed);
    const int dims[3] = { 6, 8, 4 };
    compare_cpu_ref(M.m, dims, false, seed + 1, c.name);
    seed += 2;
  }
}

TEST(NnGradCpu, WholeNetworksMatchRef)
{
  if (!have_cpu()) GTEST_SKIP() << nn_error_message();
  ModelPtr M;
  ASSERT_EQ(nn_model_create(&M.m), NN_SUCCESS);
  build_every_layer(M.m);
  randomize(M.m, 50);
  const int d1[3] = { 6, 4, 8 }, d2[3] = { 5, 7, 3 };
  compare_cpu_ref(M.m, d1, false, 51, "every_layer_6x4x8");
  compare_cpu_ref(M.m, d2, true, 52, "every_layer_5x7x3_masked");
  for (const char *arch : { "from64", "from128" }) {
    ModelPtr D;
    ASSERT_EQ(nn_model_create_arch(arch, &D.m), NN_SUCCESS);
    randomize(D.m, 53);
    const int d3[3] = { 8, 6, 10 }, d4[3] = { 7, 9, 5 };
    compare_cpu_ref(D.m, d3, false, 54, std::string(arch) + "_8x6x10");
    compare_cpu_ref(D.m, d4, true, 55, std::string(arch) + "_7x9x5_masked");
  }
}

// After nn_net_params_changed the cpu backend uses the new weights in the
// forward and in the data gradient.
TEST(NnGradCpu, ParamsChangedReloadsWeights)
{
  if (!have_cpu()) GTEST_SKIP() << nn_error_message();
  ModelPtr M;
  ASSERT_EQ(nn_model_create_arch("from64", &M.m), NN_SUCCESS);
  randomize(M.m, 60);
  const int                dims[3] = { 6, 6, 4 };
  const size_t             n       = volume(dims);
  const std::vector<float> in = cast<float>(uniform(n, 61)), g = cast<float>(normal(n, 62));
  NetPtr                   net;
  ASSERT_EQ(nn_net_create_train(M.m, "cpu", NN_FP32, dims, &net.n), NN_SUCCESS) << nn_error_message();
  std::vector<float> out(n), din(n), dp(M.m->nparams, 0.0f);
  ASSERT_EQ(nn_net_forward(net.n, in.data(), nullptr, out.data()), NN_SUCCESS);
  // a step of plain gradient descent
  ASSERT_EQ(nn_net_backward(net.n, g.data(), din.data(), dp.data()), NN_SUCCESS);
  for (size_t i = 0; i < M.m->nparams; i++) M.m->params[i] -= 0.01f * dp[i];
  ASSERT_EQ(nn_net_params_changed(net.n), NN_SUCCESS);
  EXPECT_EQ(nn_net_backward(net.n, g.data(), din.data(), dp.data()), NN_ERR_ARG) << "a backward after a parameter change needs a new forward";
  std::fill(dp.begin(), dp.end(), 0.0f);
  ASSERT_EQ(nn_net_forward(net.n, in.data(), nullptr, out.data()), NN_SUCCESS);
  ASSERT_EQ(nn_net_backward(net.n, g.data(), din.data(), dp.data()), NN_SUCCESS);
  const Grad r = net_grad(M.m, "ref", dims, in, g);
  EXPECT_LT(rel_norm(to_vec(out).data(), to_vec(r.out).data(), n), kTolCpuRef);
  EXPECT_LT(rel_norm(to_vec(din).data(), to_vec(r.din).data(), n), kTolCpuRef);
  const Vec a = to_vec(dp), b = to_vec(r.dparams);
  EXPECT_LT(params_rel(M.m, a.data(), b.data()), kTolCpuRef);
}

// ---- (c) the training API --------------------------------------------------------------

TEST(NnGradApi, TrainingForwardEqualsInference)
{
  ModelPtr M;
  ASSERT_EQ(nn_model_create_arch("from64", &M.m), NN_SUCCESS);
  randomize(M.m, 70);
  const int                dims[3] = { 5, 6, 7 };
  const size_t             n       = volume(dims);
  const std::vector<float> in      = cast<float>(uniform(n, 71));
  for (const char *backend : { "ref", "cpu" }) {
    if (std::string(backend) == "cpu" && !have_cpu()) continue;
    NetPtr inf, tr;
    ASSERT_EQ(nn_net_create(M.m, backend, NN_FP32, dims, &inf.n), NN_SUCCESS);
    ASSERT_EQ(nn_net_create_train(M.m, backend, NN_FP32, dims, &tr.n), NN_SUCCESS) << nn_error_message();
    std::vector<float> a(n), b(n);
    ASSERT_EQ(nn_net_forward(inf.n, in.data(), nullptr, a.data()), NN_SUCCESS);
    ASSERT_EQ(nn_net_forward(tr.n, in.data(), nullptr, b.data()), NN_SUCCESS);
    if (std::string(backend) == "ref")
      EXPECT_EQ(a, b); // the same kernel, the mask written on the side
    else
      EXPECT_LT(rel_norm(to_vec(b).data(), to_vec(a).data(), n), kTolCpuRef); // residual added after the primitive
    // the memory plan: more kept in training, reported
    EXPECT_GT(nn_net_memory(tr.n), nn_net_memory(inf.n));
    std::printf("[ measure  ] %s from64 %dx%dx%d: inference %zu buffers %zu bytes; training %zu activation + %d gradient buffers, %zu bytes\n", backend, dims[0], dims[1], dims[2], (size_t) inf.n->nbuf, nn_net_memory(inf.n), (size_t) tr.n->nbuf, tr.n->ngbuf, nn_net_memory(tr.n));
  }
}

// dparams accumulates: a mini-batch is a loop; the gradient of a sum of
// losses is the sum of the gradients.
TEST(NnGradApi, ParameterGradientsAccumulate)
{
  ModelPtr M;
  ASSERT_EQ(nn_model_create_arch("from64", &M.m), NN_SUCCESS);
  randomize(M.m, 80);
  const int    dims[3] = { 4, 4, 4 };
  const size_t n = volume(dims), np = M.m->nparams;
  for (const char *backend : { "ref", "cpu" }) {
    if (std::string(backend) == "cpu" && !have_cpu()) continue;
    NetPtr net;
    ASSERT_EQ(nn_net_create_train(M.m, backend, NN_FP32, dims, &net.n), NN_SUCCESS);
    std::vector<float>       out(n), acc(np, 0.0f), one(np, 0.0f), two(np, 0.0f);
    const std::vector<float> x1 = cast<float>(uniform(n, 81)), x2 = cast<float>(uniform(n, 82)), g1 = cast<float>(normal(n, 83)), g2 = cast<float>(normal(n, 84));
    ASSERT_EQ(nn_net_forward(net.n, x1.data(), nullptr, out.data()), NN_SUCCESS);
    ASSERT_EQ(nn_net_backward(net.n, g1.data(), nullptr, one.data()), NN_SUCCESS);
    ASSERT_EQ(nn_net_backward(net.n, g1.data(), nullptr, acc.data()), NN_SUCCESS);
    ASSERT_EQ(nn_net_forward(net.n, x2.data(), nullptr, out.data()), NN_SUCCESS);
    ASSERT_EQ(nn_net_backward(net.n, g2.data(), nullptr, two.data()), NN_SUCCESS);
    ASSERT_EQ(nn_net_backward(net.n, g2.data(), nullptr, acc.data()), NN_SUCCESS);
    double num = 0, den = 0;
    for (size_t i = 0; i < np; i++) {
      const double s = (double) one[i] + two[i];
      num += (acc[i] - s) * (acc[i] - s);
      den += s * s;
    }
    EXPECT_LT(std::sqrt(num / den), 1e-6) << backend;
    // the same backward twice gives the same numbers (no state left behind)
    std::vector<float> again(np, 0.0f);
    ASSERT_EQ(nn_net_backward(net.n, g2.data(), nullptr, again.data()), NN_SUCCESS);
    EXPECT_EQ(again, two) << backend;
  }
}

// Masked outputs carry no gradient; the padding of odd grids is cropped.
TEST(NnGradApi, MaskedOutputsHaveZeroGradient)
{
  ModelPtr M;
  ASSERT_EQ(nn_model_create_arch("from64", &M.m), NN_SUCCESS);
  randomize(M.m, 90);
  const int                  dims[3] = { 5, 3, 7 };
  const size_t               n       = volume(dims);
  const std::vector<float>   in      = cast<float>(uniform(n, 91));
  std::vector<float>         g = cast<float>(normal(n, 92)), g2 = g;
  std::vector<unsigned char> mask(n, 0);
  for (size_t i = 0; i < n; i += 2) {
    mask[i] = 1;
    g2[i]   = 1e3f; // must not matter
  }
  const Grad a = net_grad(M.m, "ref", dims, in, g, mask.data()), b = net_grad(M.m, "ref", dims, in, g2, mask.data());
  EXPECT_EQ(a.din, b.din);
  EXPECT_EQ(a.dparams, b.dparams);
  // without a mask they differ
  const Grad c = net_grad(M.m, "ref", dims, in, g2, nullptr);
  EXPECT_NE(a.din, c.din);
}

TEST(NnGradApi, ErrorsSayWhy)
{
  ModelPtr M;
  ASSERT_EQ(nn_model_create_arch("from64", &M.m), NN_SUCCESS);
  randomize(M.m, 95);
  const int          dims[3] = { 4, 4, 4 };
  std::vector<float> x(64, 0.5f), out(64), dp(M.m->nparams, 0.0f);
  NetPtr             inf, tr;
  ASSERT_EQ(nn_net_create(M.m, "ref", NN_FP32, dims, &inf.n), NN_SUCCESS);
  ASSERT_EQ(nn_net_forward(inf.n, x.data(), nullptr, out.data()), NN_SUCCESS);
  EXPECT_EQ(nn_net_backward(inf.n, x.data(), nullptr, dp.data()), NN_ERR_ARG);
  EXPECT_NE(std::string(nn_error_message()).find("nn_net_create_train"), std::string::npos) << nn_error_message();
  ASSERT_EQ(nn_net_create_train(M.m, "ref", NN_FP32, dims, &tr.n), NN_SUCCESS);
  EXPECT_EQ(nn_net_backward(tr.n, x.data(), nullptr, dp.data()), NN_ERR_ARG); // no forward yet
  EXPECT_NE(std::string(nn_error_message()).find("forward"), std::string::npos) << nn_error_message();
  ASSERT_EQ(nn_net_forward(tr.n, x.data(), nullptr, out.data()), NN_SUCCESS);
  EXPECT_EQ(nn_net_backward(tr.n, x.data(), nullptr, nullptr), NN_ERR_ARG);
  // distributed training is not implemented: a halo callback stops the backward
  ASSERT_EQ(nn_net_set_halo(
                tr.n, [](void *, int, int, float *) -> nn_err { return NN_SUCCESS; }, nullptr),
            NN_SUCCESS);
  ASSERT_EQ(nn_net_forward(tr.n, x.data(), nullptr, out.data()), NN_SUCCESS);
  EXPECT_EQ(nn_net_backward(tr.n, x.data(), nullptr, dp.data()), NN_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(nn_error_message()).find("single box"), std::string::npos) << nn_error_message();
  // fp32 only
  NetPtr bad;
  EXPECT_EQ(nn_net_create_train(M.m, "cpu", NN_BF16, dims, &bad.n), NN_ERR_UNSUPPORTED);
  EXPECT_EQ(nn_net_create_train(M.m, "ref", NN_FP16, dims, &bad.n), NN_ERR_UNSUPPORTED);
  // cuda: fp32 only; without a device (or not compiled) a one-line refusal
  bool has_cuda = false;
  for (int i = 0; i < nn_backend_count(); i++) has_cuda |= std::string(nn_backend_name(i)) == "cuda";
  EXPECT_EQ(nn_net_create_train(M.m, "cuda", NN_TF32, dims, &bad.n), NN_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(nn_error_message()).find("fp32 only"), std::string::npos) << nn_error_message();
  if (!has_cuda || nn_backend_check("cuda", NN_FP32) != NN_SUCCESS) {
    EXPECT_EQ(nn_net_create_train(M.m, "cuda", NN_FP32, dims, &bad.n), NN_ERR_UNSUPPORTED);
    const std::string msg = nn_error_message();
    EXPECT_EQ(msg.find('\n'), std::string::npos);
    EXPECT_NE(msg.find(has_cuda ? "no CUDA device" : "not compiled"), std::string::npos) << msg;
  }
}

// Gradient buffers are planned: far fewer than tensors.
TEST(NnGradApi, GradientBuffersAreReused)
{
  ModelPtr M;
  ASSERT_EQ(nn_model_create_arch("from64", &M.m), NN_SUCCESS);
  const int dims[3] = { 4, 4, 4 };
  NetPtr    tr;
  ASSERT_EQ(nn_net_create_train(M.m, "ref", NN_FP32, dims, &tr.n), NN_SUCCESS);
  EXPECT_LE(tr.n->ngbuf, 6);
  EXPECT_LT(tr.n->ngbuf, M.m->ntensors);
  // every convolution input is kept apart from every other tensor it outlives
  for (int l = 0; l < M.m->nlayers; l++)
    for (int l2 = l + 1; l2 < M.m->nlayers; l2++)
      if (M.m->layers[l].op == NN_OP_CONV) EXPECT_NE(tr.n->tbuf[M.m->layers[l].in], tr.n->tbuf[M.m->layers[l2].out]) << l << " " << l2;
}

// Timing of forward + backward for from64 (not run by default:
// --gtest_also_run_disabled_tests; DEEPCD_GRAD_N sets the grid, default 32).
TEST(NnGradTiming, DISABLED_From64ForwardBackward)
{
  ModelPtr M;
  ASSERT_EQ(nn_model_create_arch("from64", &M.m), NN_SUCCESS);
  randomize(M.m, 100);
  const char              *env     = std::getenv("DEEPCD_GRAD_N");
  const int                N       = env ? std::atoi(env) : 32;
  const int                dims[3] = { N, N, N };
  const size_t             n       = volume(dims);
  const std::vector<float> in = cast<float>(uniform(n, 101)), g = cast<float>(normal(n, 102));
  for (const char *backend : { "cpu", "ref" }) {
    if (std::string(backend) == "cpu" && !have_cpu()) continue;
    NetPtr net;
    ASSERT_EQ(nn_net_create_train(M.m, backend, NN_FP32, dims, &net.n), NN_SUCCESS);
    std::vector<float> out(n), din(n), dp(M.m->nparams, 0.0f);
    const int          reps = std::string(backend) == "ref" ? 1 : 5;
    double             tf = 1e30, tb = 1e30;
    for (int r = 0; r < reps + (reps > 1); r++) { // one warm-up for cpu
      auto t0 = std::chrono::steady_clock::now();
      ASSERT_EQ(nn_net_forward(net.n, in.data(), nullptr, out.data()), NN_SUCCESS);
      auto t1 = std::chrono::steady_clock::now();
      ASSERT_EQ(nn_net_backward(net.n, g.data(), din.data(), dp.data()), NN_SUCCESS);
      auto t2 = std::chrono::steady_clock::now();
      if (reps > 1 && r == 0) continue;
      tf = std::min(tf, std::chrono::duration<double>(t1 - t0).count());
      tb = std::min(tb, std::chrono::duration<double>(t2 - t1).count());
    }
    const double gf = nn_model_flops_per_voxel(M.m) * (double) n / 1e9;
    NetPtr       inf;
    ASSERT_EQ(nn_net_create(M.m, backend, NN_FP32, dims, &inf.n), NN_SUCCESS);
    std::printf("[ measure  ] from64 %d^3 %s: executor memory: inference %.1f MiB (%d buffers), training %.1f MiB (%d activation, %d gradient buffers, ReLU masks)\n", N, backend, nn_net_memory(inf.n) / 1048576.0, inf.n->nbuf, nn_net_memory(net.n) / 1048576.0, net.n->nbuf, net.n->ngbuf);
    std::printf("[ measure  ] from64 %d^3 %s: forward %.3f s, backward %.3f s, forward+backward %.3f s (forward %.1f GFLOP/s)\n", N, backend, tf, tb, tf + tb, gf / tf);
  }
}
