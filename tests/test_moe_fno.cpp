// The Fourier neural operator backbone of the mixture of experts: sizes,
// deterministic initialisation, input features, and the backward pass
// against central finite differences (even and odd padded sizes, clipped
// modes, outputs at a subset of points).
#include <gtest/gtest.h>
#include <cmath>
#include <vector>
#include <deepcd/moe.h>
#include "test_util.h"

namespace {

struct Fno {
  DeepCDMoeBackbone   bb = nullptr;
  DeepCDMoeGrid       g;
  DeepCDMoePDE        pde = nullptr;
  std::vector<double> theta, X;
  PetscInt            nin = 0, nout = 0, n = 0;
  Fno(PetscInt nx, PetscInt nt, DeepCDMoeFNOOptions o, PetscInt nout_, DeepCDMoeActivation out, PetscInt seed)
  {
    EXPECT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_HEAT, &pde), 0);
    const double a[3] = { 0.7, -0.4, 0.25 };
    DeepCDMoePDESetParameters(pde, 3, a);
    DeepCDMoeGridSetUp(&g, nx, nt, pde->xlo, pde->xhi, pde->t0, pde->t1);
    EXPECT_EQ(DeepCDMoeBackboneCreateFNO(&g, &o, nout_, out, &bb), 0);
    DeepCDMoeBackboneGetSizes(bb, &nin, &nout, &n);
    theta.resize(n);
    EXPECT_EQ(DeepCDMoeBackboneInitialize(bb, seed, theta.data()), 0);
    X.resize(nx * nt * nin);
    EXPECT_EQ(DeepCDMoeBackboneInputs(bb, &g, pde, X.data()), 0);
  }
  ~Fno()
  {
    DeepCDMoeBackboneDestroy(&bb);
    DeepCDMoePDEDestroy(&pde);
  }
};

// L = sum_k Ybar_k Y_k at the points pts (empty: all)
double Loss(Fno &f, const std::vector<double> &theta, const std::vector<PetscInt> &pts, const std::vector<double> &Ybar)
{
  const PetscInt      npts = pts.empty() ? f.g.nx * f.g.nt : (PetscInt) pts.size();
  std::vector<double> Y(npts * f.nout);
  EXPECT_EQ(DeepCDMoeBackboneForward(f.bb, f.X.data(), theta.data(), npts, pts.empty() ? nullptr : pts.data(), Y.data()), 0);
  double L = 0;
  for (size_t k = 0; k < Y.size(); k++) L += Ybar[k] * Y[k];
  return L;
}

// every parameter's derivative against a central difference; the spectral weights are scaled up
// from their tiny initial values so that the Fourier path matters
void CheckGradient(PetscInt nx, PetscInt nt, DeepCDMoeFNOOptions o, DeepCDMoeActivation out, const std::vector<PetscInt> &pts)
{
  Fno f(nx, nt, o, 3, out, 7);
  ASSERT_EQ(f.nin, 3);
  auto r = RandomVector(f.n, 3);
  for (PetscInt k = 0; k < f.n; k++) f.theta[k] += 0.3 * r[k];
  const PetscInt      npts = pts.empty() ? nx * nt : (PetscInt) pts.size();
  std::vector<double> Ybar = RandomVector(npts * f.nout, 5), g(f.n, 0.0);
  Loss(f, f.theta, pts, Ybar);
  ASSERT_EQ(DeepCDMoeBackboneBackward(f.bb, f.theta.data(), Ybar.data(), g.data()), 0);
  double gmax = 0, errmax = 0;
  for (PetscInt k = 0; k < f.n; k++) gmax = std::max(gmax, std::fabs(g[k]));
  for (PetscInt k = 0; k < f.n; k++) {
    const double h  = 1e-6;
    auto         tp = f.theta, tm = f.theta;
    tp[k] += h;
    tm[k] -= h;
    const double fd = (Loss(f, tp, pts, Ybar) - Loss(f, tm, pts, Ybar)) / (2 * h);
    errmax          = std::max(errmax, std::fabs(fd - g[k]));
    EXPECT_NEAR(g[k], fd, 1e-6 * (1 + std::fabs(fd))) << "parameter " << k << " of " << f.n;
  }
  EXPECT_GT(gmax, 1e-2);
  EXPECT_LT(errmax / gmax, 1e-6);
  // backward does not consume the tape: two backward passes of one forward give the same gradient
  std::vector<double> g2(f.n, 0.0), g3(f.n, 0.0);
  Loss(f, f.theta, pts, Ybar);
  ASSERT_EQ(DeepCDMoeBackboneBackward(f.bb, f.theta.data(), Ybar.data(), g3.data()), 0);
  ASSERT_EQ(DeepCDMoeBackboneBackward(f.bb, f.theta.data(), Ybar.data(), g2.data()), 0);
  for (PetscInt k = 0; k < f.n; k++) EXPECT_EQ(g3[k], g2[k]);
}

} // namespace

TEST(MoeFNO, SizesAndDeterministicInit)
{
  DeepCDMoeFNOOptions o = { 3, 4, 2, 5, 2 };
  Fno                 a(12, 7, o, 6, DEEPCD_MOE_ACT_GELU, 11), b(12, 7, o, 6, DEEPCD_MOE_ACT_GELU, 11), c(12, 7, o, 6, DEEPCD_MOE_ACT_GELU, 12);
  // padded 9 x 14: modes 3 in t (<= 9/2) and 3 in x (<= 15/2): 2*3*3 complex W x W per layer
  const PetscInt nm = 2 * 3 * 3, W = 4;
  EXPECT_EQ(a.n, (3 + 1) * W + 2 * (2 * nm * W * W + (W + 1) * W) + (W + 1) * 5 + (5 + 1) * 6);
  EXPECT_EQ(a.nout, 6);
  EXPECT_EQ(a.theta, b.theta);
  EXPECT_NE(a.theta, c.theta);
  DeepCDMoeBackboneType t;
  DeepCDMoeBackboneGetType(a.bb, &t);
  EXPECT_EQ(t, DEEPCD_MOE_BACKBONE_FNO);
}

TEST(MoeFNO, InputsAreCoordinatesAndInitialCondition)
{
  DeepCDMoeFNOOptions o = { 2, 2, 1, 2, 0 };
  Fno                 f(9, 5, o, 1, DEEPCD_MOE_ACT_NONE, 1);
  for (PetscInt j = 0; j < 5; j++)
    for (PetscInt i = 0; i < 9; i++) {
      const double  *x = f.X.data() + (j * 9 + i) * 3;
      double         u0, s;
      DeepCDMoePoint pt;
      DeepCDMoeGridPoint(&f.g, i, &pt);
      f.pde->ops.initial(f.pde, &pt, &u0, &s);
      EXPECT_DOUBLE_EQ(x[0], i / 8.0);
      EXPECT_DOUBLE_EQ(x[1], j / 4.0);
      EXPECT_DOUBLE_EQ(x[2], u0);
    }
  // a different grid is refused
  DeepCDMoeGrid g2;
  DeepCDMoeGridSetUp(&g2, 10, 5, 0, 1, 0, 1);
  std::vector<double> X(10 * 5 * 3);
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  EXPECT_NE(DeepCDMoeBackboneInputs(f.bb, &g2, f.pde, X.data()), 0);
  PetscPopErrorHandler();
}

TEST(MoeFNO, BackwardAgainstFiniteDifferencesOddPadded)
{
  CheckGradient(12, 7, { 3, 4, 2, 5, 3 }, DEEPCD_MOE_ACT_GELU, {}); // padded 10 x 15
}

TEST(MoeFNO, BackwardAgainstFiniteDifferencesEvenClippedModes)
{
  CheckGradient(10, 6, { 8, 3, 3, 4, 0 }, DEEPCD_MOE_ACT_NONE, {}); // 6 x 10: modes 3 (Nyquist row kept) and 5
}

TEST(MoeFNO, BackwardAgainstFiniteDifferencesAtPoints)
{
  CheckGradient(11, 8, { 4, 3, 2, 4, 2 }, DEEPCD_MOE_ACT_GELU, { 0, 5, 17, 18, 40, 87 });
}

TEST(MoeFNO, RejectsBadOptions)
{
  DeepCDMoeGrid     g;
  DeepCDMoeBackbone bb = nullptr;
  DeepCDMoeGridSetUp(&g, 8, 8, 0, 1, 0, 1);
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  DeepCDMoeFNOOptions bad[] = {
    { 0, 4, 2, 4, 0 },
    { 2, 0, 2, 4, 0 },
    { 2, 4, 0, 4, 0 },
    { 2, 4, 2, 0, 0 },
    { 2, 4, 2, 4, -1 }
  };
  for (auto &o : bad) EXPECT_NE(DeepCDMoeBackboneCreateFNO(&g, &o, 2, DEEPCD_MOE_ACT_NONE, &bb), 0);
  PetscPopErrorHandler();
  EXPECT_EQ(bb, nullptr);
}
