// FlexiCubes backward pass and L_dev: analytic gradients against central
// finite differences (double) for every input (field, alpha, beta, gamma,
// deformation), on a sphere, a torus and random fields, in inference and
// training mode, open and closed, on non-cubic grids. Every perturbation is
// checked to keep the topology. The checker itself is shown to catch wrong
// gradients.
#include <gtest/gtest.h>
#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>
#include <deepcd/mesh.h>
#include "test_mesh_util.h"

namespace {

using mesh_test::Field;
using mesh_test::Surface;
using mesh_test::Vec;

// A non-cubic grid on [-1, 1] x [-0.9, 1.1] x [-1.05, 0.95].
mesh_grid Grid(int nx, int ny, int nz)
{
  const Vec lo = { -1.0, -0.9, -1.05 };
  mesh_grid g;
  int       d[3] = { nx, ny, nz };
  for (int a = 0; a < 3; a++) {
    g.dims[a]    = d[a];
    g.origin[a]  = lo[a];
    g.spacing[a] = 2.0 / d[a];
  }
  return g;
}

size_t NumVertices(const mesh_grid &g)
{
  return (size_t) (g.dims[0] + 1) * (g.dims[1] + 1) * (g.dims[2] + 1);
}

size_t NumCubes(const mesh_grid &g)
{
  return (size_t) g.dims[0] * g.dims[1] * g.dims[2];
}

// The inputs of one extraction; the raw weights and the deformation are random.
struct Inputs {
  mesh_grid           g;
  std::vector<double> field, alpha, beta, gamma, deform;
  bool                weights = true, deformed = true;
  int                 training = 0, close = 0;
  double              close_value = INFINITY, iso = 0.0, weight_scale = 0.99;

  mesh_flexicubes_options Options() const
  {
    mesh_flexicubes_options o;
    EXPECT_EQ(mesh_flexicubes_options_default(&o), MESH_SUCCESS);
    o.training     = training;
    o.iso          = iso;
    o.weight_scale = weight_scale;
    o.close        = close;
    o.close_value  = close_value;
    if (weights) {
      o.alpha = alpha.data();
      o.beta  = beta.data();
      o.gamma = gamma.data();
    }
    if (deformed) o.deform = deform.data();
    return o;
  }
};

Inputs MakeInputs(const mesh_grid &g, const Field &f, unsigned seed, double iso = 0.0)
{
  Inputs                                 in;
  std::mt19937                           gen(seed);
  std::normal_distribution<double>       n01(0.0, 0.7);
  std::uniform_real_distribution<double> u(-0.2, 0.2);
  in.g   = g;
  in.iso = iso;
  in.field.resize(NumVertices(g));
  for (int k = 0; k <= g.dims[2]; k++)
    for (int j = 0; j <= g.dims[1]; j++)
      for (int i = 0; i <= g.dims[0]; i++) {
        Vec     p = { g.origin[0] + g.spacing[0] * i, g.origin[1] + g.spacing[1] * j, g.origin[2] + g.spacing[2] * k };
        double &v = in.field[((size_t) k * (g.dims[1] + 1) + j) * (g.dims[0] + 1) + i];
        v         = f(p);
        // keep every value clear of the isovalue so that no perturbation flips a sign
        if (std::fabs(v - iso) < 1e-3) v = iso + (v < iso ? -1e-3 : 1e-3);
      }
  for (size_t c = 0; c < 8 * NumCubes(g); c++) in.alpha.push_back(n01(gen));
  for (size_t c = 0; c < 12 * NumCubes(g); c++) in.beta.push_back(n01(gen));
  for (size_t c = 0; c < NumCubes(g); c++) in.gamma.push_back(2 * n01(gen));
  for (size_t v = 0; v < NumVertices(g); v++)
    for (int a = 0; a < 3; a++) in.deform.push_back(u(gen) * g.spacing[a]);
  return in;
}

double Sphere(const Vec &p)
{
  return std::sqrt((p[0] - 0.05) * (p[0] - 0.05) + (p[1] + 0.03) * (p[1] + 0.03) + (p[2] - 0.02) * (p[2] - 0.02)) - 0.62;
}

double Torus(const Vec &p) // around the y axis
{
  double q = std::sqrt((p[0] - 0.02) * (p[0] - 0.02) + (p[2] + 0.04) * (p[2] + 0.04)) - 0.55;
  return std::sqrt(q * q + (p[1] - 0.05) * (p[1] - 0.05)) - 0.28;
}

Field RandomField(unsigned seed)
{
  auto gen = std::make_shared<std::mt19937>(seed);
  return [gen](const Vec &) { return std::uniform_real_distribution<double>(-1.0, 1.0)(*gen); };
}

enum class Loss { kLinear,
                  kLdev };

// The loss on a surface: sum_i r_i . verts_i (r from the seed) or L_dev.
struct Objective {
  Loss                kind;
  std::vector<double> r;

  double Value(const Inputs &in, const mesh_surface *s) const
  {
    if (kind == Loss::kLdev) {
      mesh_flexicubes_options o = in.Options();
      double                  l = NAN;
      EXPECT_EQ(flexicubes_ldev(&in.g, in.field.data(), &o, s, 1.0, &l, nullptr), MESH_SUCCESS) << mesh_error_message();
      return l;
    }
    double l = 0;
    for (size_t i = 0; i < 3 * (size_t) s->nverts; i++) l += r[i] * s->verts[i];
    return l;
  }
};

bool SameTopology(const mesh_surface *a, const mesh_surface *b)
{
  if (a->nverts != b->nverts || a->ntris != b->ntris || a->ndual != b->ndual || a->nquads != b->nquads) return false;
  if (!std::equal(a->tris, a->tris + 3 * (size_t) a->ntris, b->tris)) return false;
  for (int v = 0; v < a->ndual; v++) {
    const mesh_dual_vertex &x = a->dual[v], &y = b->dual[v];
    if (x.table_case != y.table_case || x.group != y.group || !std::equal(x.cube, x.cube + 3, y.cube)) return false;
  }
  return true;
}

struct Gradients {
  std::vector<double> field, alpha, beta, gamma, deform;

  explicit Gradients(const mesh_grid &g)
      : field(NumVertices(g)), alpha(8 * NumCubes(g)), beta(12 * NumCubes(g)), gamma(NumCubes(g)), deform(3 * NumVertices(g)) {}
  mesh_flexicubes_grad View()
  {
    return { field.data(), alpha.data(), beta.data(), gamma.data(), deform.data() };
  }
};

// The analytic gradient. `dverts` may be altered by `tamper` (to show that
// the checker catches a wrong one).
Gradients Analytic(const Inputs &in, const Objective &obj, const std::function<void(std::vector<double> &)> &tamper = nullptr)
{
  Gradients               gr(in.g);
  mesh_flexicubes_options o = in.Options();
  Surface                 s;
  EXPECT_EQ(flexicubes_extract(&in.g, in.field.data(), &o, &s.s), MESH_SUCCESS) << mesh_error_message();
  mesh_flexicubes_grad view = gr.View();
  if (obj.kind == Loss::kLdev) {
    EXPECT_EQ(flexicubes_ldev(&in.g, in.field.data(), &o, s.s, 1.0, nullptr, &view), MESH_SUCCESS) << mesh_error_message();
  } else {
    std::vector<double> dverts(obj.r.begin(), obj.r.begin() + 3 * (size_t) s.s->nverts);
    if (tamper) tamper(dverts);
    EXPECT_EQ(flexicubes_backward(&in.g, in.field.data(), &o, s.s, dverts.data(), &view), MESH_SUCCESS) << mesh_error_message();
  }
  return gr;
}

// Central differences of every component of every input against `an`.
struct CheckReport {
  double      worst = 0; // max |fd - an| / (tol_abs + tol_rel * max|an| of that input)
  std::string where;     // the worst component
  long        checked    = 0;
  long        nonzero    = 0; // components with |fd| > 1e-9
  long        topo_moved = 0; // perturbations that changed the topology (must be 0)
};

CheckReport CheckGradients(Inputs in, const Objective &obj, const Gradients &an, double h = 1e-6)
{
  CheckReport                                                                              rep;
  Surface                                                                                  ref;
  const mesh_flexicubes_options                                                            o0     = in.Options();
  std::vector<std::tuple<std::string, std::vector<double> *, const std::vector<double> *>> inputs = {
    { "field", &in.field, &an.field }, { "deform", &in.deform, &an.deform }, { "alpha", &in.alpha, &an.alpha }, { "beta", &in.beta, &an.beta }, { "gamma", &in.gamma, &an.gamma }
  };
  EXPECT_EQ(flexicubes_extract(&in.g, in.field.data(), &o0, &ref.s), MESH_SUCCESS) << mesh_error_message();
  std::vector<char> surface_cube(NumCubes(in.g), 0), surface_vertex(NumVertices(in.g), 0);
  for (int v = 0; v < ref.s->ndual; v++) {
    int c[3], inside = 1;
    for (int a = 0; a < 3; a++) c[a] = ref.s->dual[v].cube[a], inside = inside && c[a] >= 0 && c[a] < in.g.dims[a];
    if (inside) surface_cube[((size_t) c[2] * in.g.dims[1] + c[1]) * in.g.dims[0] + c[0]] = 1;
    for (int k = 0; k < 8; k++) { // corners, clamped (padding corners move with their neighbour)
      int p[3];
      for (int a = 0; a < 3; a++) p[a] = std::min(std::max(c[a] + ((k >> a) & 1), 0), in.g.dims[a]);
      surface_vertex[((size_t) p[2] * (in.g.dims[1] + 1) + p[1]) * (in.g.dims[0] + 1) + p[0]] = 1;
    }
  }
  for (auto &[name, x, g] : inputs) {
    if (!in.weights && (name == "alpha" || name == "beta" || name == "gamma")) continue;
    if (!in.deformed && name == "deform") continue;
    double scale = 0;
    for (double v : *g) scale = std::max(scale, std::fabs(v));
    const double tol = 1e-7 + 1e-6 * scale;
    for (size_t i = 0; i < x->size(); i++) {
      // every component of the surface cubes and their corners; a sample of the rest (gradient 0)
      const bool   per_cube = name == "alpha" || name == "beta" || name == "gamma";
      const size_t item     = i / (name == "alpha" ? 8 : name == "beta" ? 12
                                                     : name == "deform" ? 3
                                                                        : 1);
      if (!(per_cube ? surface_cube[item] : surface_vertex[item]) && i % 7) continue;
      const double x0 = (*x)[i];
      double       l[2];
      for (int side = 0; side < 2; side++) {
        (*x)[i]                   = x0 + (side ? -h : h);
        mesh_flexicubes_options o = in.Options();
        Surface                 s;
        EXPECT_EQ(flexicubes_extract(&in.g, in.field.data(), &o, &s.s), MESH_SUCCESS) << mesh_error_message();
        rep.topo_moved += !SameTopology(ref.s, s.s);
        l[side] = obj.Value(in, s.s);
      }
      (*x)[i]         = x0;
      const double fd = (l[0] - l[1]) / (2 * h);
      const double e  = std::fabs(fd - (*g)[i]) / tol;
      rep.checked++;
      rep.nonzero += std::fabs(fd) > 1e-9;
      if (e > rep.worst) {
        rep.worst = e;
        rep.where = name + "[" + std::to_string(i) + "]: fd " + std::to_string(fd) + " analytic " + std::to_string((*g)[i]);
      }
    }
  }
  return rep;
}

Objective MakeObjective(Loss kind, const Inputs &in, unsigned seed)
{
  Objective                              obj{ kind, {} };
  std::mt19937                           gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Surface                                s;
  mesh_flexicubes_options                o = in.Options();
  EXPECT_EQ(flexicubes_extract(&in.g, in.field.data(), &o, &s.s), MESH_SUCCESS) << mesh_error_message();
  for (int i = 0; i < 3 * s.s->nverts; i++) obj.r.push_back(u(gen));
  return obj;
}

void ExpectGradientsMatch(const Inputs &in, Loss kind, const std::string &what)
{
  Objective   obj = MakeObjective(kind, in, 17);
  Gradients   an  = Analytic(in, obj);
  CheckReport rep = CheckGradients(in, obj, an);
  EXPECT_EQ(rep.topo_moved, 0) << what;
  EXPECT_GT(rep.nonzero, 20) << what;
  EXPECT_LE(rep.worst, 1.0) << what << ": worst " << rep.where;
}

struct Case {
  std::string name;
  Field       f;
  int         nx, ny, nz;
};

std::vector<Case> Cases()
{
  return { { "sphere", Sphere, 6, 5, 7 }, { "torus", Torus, 7, 5, 8 }, { "random", RandomField(5), 4, 5, 3 }, { "random2", RandomField(6), 5, 3, 4 } };
}

} // namespace

TEST(MeshGrad, BackwardMatchesFiniteDifferences)
{
  for (const Case &c : Cases())
    for (int training = 0; training < 2; training++) {
      Inputs in   = MakeInputs(Grid(c.nx, c.ny, c.nz), c.f, 11);
      in.training = training;
      ExpectGradientsMatch(in, Loss::kLinear, c.name + (training ? " training" : " inference"));
    }
}

TEST(MeshGrad, BackwardClosedSurfaces)
{
  // close mode: padding cubes (no weights) and padding vertices that move
  // with their grid neighbour's deformation; infinite and finite padding values
  for (double cv : { (double) INFINITY, 0.4 })
    for (int training = 0; training < 2; training++) {
      Inputs in      = MakeInputs(Grid(4, 5, 3), RandomField(9), 21);
      in.training    = training;
      in.close       = 1;
      in.close_value = cv;
      ExpectGradientsMatch(in, Loss::kLinear, std::string("close ") + std::to_string(cv) + (training ? " training" : " inference"));
    }
}

TEST(MeshGrad, IsovalueAndWeightScale)
{
  // iso != 0 shifts every corner value; weight_scale enters every weight's slope
  for (int training = 0; training < 2; training++) {
    Inputs in       = MakeInputs(Grid(6, 5, 7), Sphere, 61, 0.15);
    in.training     = training;
    in.weight_scale = 0.6;
    ExpectGradientsMatch(in, Loss::kLinear, training ? "iso 0.15, w 0.6, training" : "iso 0.15, w 0.6, inference");
  }
  Inputs in       = MakeInputs(Grid(6, 5, 7), Torus, 62, -0.05);
  in.training     = 1;
  in.weight_scale = 0.3;
  ExpectGradientsMatch(in, Loss::kLdev, "L_dev, iso -0.05, w 0.3");
}

TEST(MeshGrad, DefaultWeightsAreDifferentiatedAtZero)
{
  // NULL weights: the gradient with respect to raw weights at 0 (FD on
  // explicit zero arrays, which give the same mesh)
  for (int training = 0; training < 2; training++) {
    Inputs in   = MakeInputs(Grid(7, 6, 8), Sphere, 3);
    in.training = training;
    std::fill(in.alpha.begin(), in.alpha.end(), 0.0);
    std::fill(in.beta.begin(), in.beta.end(), 0.0);
    std::fill(in.gamma.begin(), in.gamma.end(), 0.0);
    Objective obj  = MakeObjective(Loss::kLinear, in, 4);
    Gradients with = Analytic(in, obj);
    in.weights     = false;
    Gradients none = Analytic(in, obj);
    for (size_t i = 0; i < with.alpha.size(); i++) ASSERT_NEAR(with.alpha[i], none.alpha[i], 1e-12);
    for (size_t i = 0; i < with.beta.size(); i++) ASSERT_NEAR(with.beta[i], none.beta[i], 1e-12);
    for (size_t i = 0; i < with.gamma.size(); i++) ASSERT_NEAR(with.gamma[i], none.gamma[i], 1e-12);
    for (size_t i = 0; i < with.field.size(); i++) ASSERT_NEAR(with.field[i], none.field[i], 1e-12);
    in.weights = true;
    // (in inference mode uniform gamma ties the split: a gamma perturbation changes the topology)
    if (training) ExpectGradientsMatch(in, Loss::kLinear, "zero weights, training");
  }
}

TEST(MeshGrad, GammaOnlyInTraining)
{
  Inputs    in  = MakeInputs(Grid(7, 6, 8), Sphere, 5);
  Objective obj = MakeObjective(Loss::kLinear, in, 6);
  Gradients inf = Analytic(in, obj);
  for (double g : inf.gamma) ASSERT_EQ(g, 0.0);
  in.training   = 1;
  obj           = MakeObjective(Loss::kLinear, in, 6);
  Gradients tr  = Analytic(in, obj);
  long      nnz = 0;
  for (double g : tr.gamma) nnz += g != 0.0;
  EXPECT_GT(nnz, 20);
}

TEST(MeshGrad, LdevMatchesFiniteDifferences)
{
  for (const Case &c : Cases())
    for (int training = 0; training < 2; training++) {
      Inputs in   = MakeInputs(Grid(c.nx, c.ny, c.nz), c.f, 31);
      in.training = training;
      ExpectGradientsMatch(in, Loss::kLdev, c.name + " L_dev" + (training ? " training" : " inference"));
    }
  Inputs in = MakeInputs(Grid(4, 5, 3), RandomField(12), 33);
  in.close  = 1;
  ExpectGradientsMatch(in, Loss::kLdev, "L_dev close");
}

TEST(MeshGrad, LdevOfOneCube)
{
  // one inside corner: the dual vertex is the centroid of the 3 crossings on
  // the edges at corner 0; L_dev computed by hand
  mesh_grid               g = Grid(1, 1, 1);
  std::vector<double>     f = { -0.2, 0.5, 0.3, 0.9, 0.7, 0.8, 0.6, 0.4 };
  mesh_flexicubes_options o;
  Surface                 s;
  ASSERT_EQ(mesh_flexicubes_options_default(&o), MESH_SUCCESS);
  ASSERT_EQ(flexicubes_extract(&g, f.data(), &o, &s.s), MESH_SUCCESS);
  ASSERT_EQ(s.s->ndual, 1);
  const double t[3] = { 0.2 / 0.7, 0.2 / 0.5, 0.2 / 0.9 }; // along x, y, z from corner 0
  Vec          u[3], v = { 0, 0, 0 };
  for (int e = 0; e < 3; e++) {
    for (int a = 0; a < 3; a++) u[e][a] = g.origin[a] + (a == e ? t[e] * g.spacing[a] : 0.0);
    for (int a = 0; a < 3; a++) v[a] += u[e][a] / 3;
  }
  double d[3], mean = 0, want = 0, got = -1;
  for (int e = 0; e < 3; e++) {
    d[e] = std::sqrt((v[0] - u[e][0]) * (v[0] - u[e][0]) + (v[1] - u[e][1]) * (v[1] - u[e][1]) + (v[2] - u[e][2]) * (v[2] - u[e][2]));
    mean += d[e] / 3;
  }
  for (int e = 0; e < 3; e++) want += std::fabs(d[e] - mean) / 3;
  ASSERT_EQ(flexicubes_ldev(&g, f.data(), &o, s.s, 1.0, &got, nullptr), MESH_SUCCESS);
  EXPECT_NEAR(got, want, 1e-14);
  EXPECT_GT(got, 1e-3);
}

TEST(MeshGrad, CheckerCatchesWrongGradients)
{
  // 1. the largest component of each input off by 1e-4 of itself
  Inputs in      = MakeInputs(Grid(5, 4, 6), Sphere, 41);
  in.training    = 1;
  Objective obj  = MakeObjective(Loss::kLinear, in, 42);
  Gradients good = Analytic(in, obj);
  for (std::vector<double> Gradients::*member : { &Gradients::field, &Gradients::deform, &Gradients::alpha, &Gradients::beta, &Gradients::gamma }) {
    Gradients bad   = good;
    auto     &v     = bad.*member;
    auto      it    = std::max_element(v.begin(), v.end(), [](double a, double b) { return std::fabs(a) < std::fabs(b); });
    double    scale = std::fabs(*it);
    ASSERT_GT(scale, 0);
    *it += 1e-4 * scale; // the largest component: always among the checked ones
    CheckReport rep = CheckGradients(in, obj, bad);
    EXPECT_GT(rep.worst, 1.0) << "a wrong component was not detected";
  }
  // 2. a missing term: the centres' gradient dropped
  Gradients   missing = Analytic(in, obj, [&](std::vector<double> &dv) {
    Surface                 s;
    mesh_flexicubes_options o = in.Options();
    ASSERT_EQ(flexicubes_extract(&in.g, in.field.data(), &o, &s.s), MESH_SUCCESS);
    std::fill(dv.begin() + 3 * (size_t) s.s->ndual, dv.end(), 0.0);
  });
  CheckReport rep     = CheckGradients(in, obj, missing);
  EXPECT_GT(rep.worst, 1.0);
  // 3. the correct gradient passes the same checker
  EXPECT_LE(CheckGradients(in, obj, good).worst, 1.0);
}

TEST(MeshGrad, ArgumentChecks)
{
  Inputs                  in = MakeInputs(Grid(7, 6, 8), Sphere, 51);
  mesh_flexicubes_options o  = in.Options();
  Surface                 s;
  Gradients               gr(in.g);
  mesh_flexicubes_grad    view = gr.View();
  ASSERT_EQ(flexicubes_extract(&in.g, in.field.data(), &o, &s.s), MESH_SUCCESS);
  std::vector<double> dv(3 * (size_t) s.s->nverts, 1.0);
  EXPECT_EQ(flexicubes_backward(&in.g, in.field.data(), &o, s.s, nullptr, &view), MESH_ERR_ARG);
  EXPECT_EQ(flexicubes_backward(&in.g, in.field.data(), &o, s.s, dv.data(), nullptr), MESH_ERR_ARG);
  EXPECT_EQ(flexicubes_backward(&in.g, nullptr, &o, s.s, dv.data(), &view), MESH_ERR_ARG);
  o.training = 1; // the surface was extracted in inference mode
  EXPECT_EQ(flexicubes_backward(&in.g, in.field.data(), &o, s.s, dv.data(), &view), MESH_ERR_ARG);
  EXPECT_NE(std::string(mesh_error_message()).find("training"), std::string::npos) << mesh_error_message();
  EXPECT_EQ(flexicubes_ldev(&in.g, in.field.data(), &o, s.s, 1.0, nullptr, &view), MESH_ERR_ARG);
  o.training  = 0;
  mesh_grid g = in.g;
  g.dims[0]   = 3; // a smaller grid than the surface's
  EXPECT_EQ(flexicubes_backward(&g, in.field.data(), &o, s.s, dv.data(), &view), MESH_ERR_ARG);
  EXPECT_EQ(flexicubes_ldev(&in.g, in.field.data(), &o, s.s, NAN, nullptr, &view), MESH_ERR_ARG);
  // an empty surface: nothing to do, value 0
  std::vector<double> pos(NumVertices(in.g), 1.0);
  Surface             e;
  double              l = -1;
  ASSERT_EQ(flexicubes_extract(&in.g, pos.data(), &o, &e.s), MESH_SUCCESS);
  EXPECT_EQ(flexicubes_backward(&in.g, pos.data(), &o, e.s, nullptr, &view), MESH_SUCCESS);
  EXPECT_EQ(flexicubes_ldev(&in.g, pos.data(), &o, e.s, 1.0, &l, &view), MESH_SUCCESS);
  EXPECT_EQ(l, 0.0);
  for (double x : gr.field) EXPECT_EQ(x, 0.0);
}
