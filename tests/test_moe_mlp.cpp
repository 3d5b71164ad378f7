// The basis network of the mixture of experts: sizes, deterministic
// initialisation, forward against a hand computation, backward against
// central finite differences; the inputs in the problem's units.
#include <gtest/gtest.h>
#include <cmath>
#include <vector>
#include <deepcd/moe.h>
#include "test_util.h"

namespace {

struct Net {
  DeepCDMoeMLP        mlp = nullptr;
  std::vector<double> theta;
  Net(std::vector<PetscInt> w, DeepCDMoeActivation h, DeepCDMoeActivation o, PetscInt seed)
  {
    PetscInt n;
    EXPECT_EQ(DeepCDMoeMLPCreate((PetscInt) w.size() - 1, w.data(), h, o, &mlp), 0);
    DeepCDMoeMLPGetSizes(mlp, nullptr, nullptr, &n);
    theta.resize(n);
    EXPECT_EQ(DeepCDMoeMLPInitialize(mlp, seed, theta.data()), 0);
  }
  ~Net()
  {
    DeepCDMoeMLPDestroy(&mlp);
  }
};

// L = sum_k Ybar_k Y_k for fixed Ybar: dL/dtheta is the backward of Ybar.
double Loss(Net &net, PetscInt P, const std::vector<double> &X, const std::vector<double> &theta, const std::vector<double> &Ybar)
{
  std::vector<double> Y(Ybar.size());
  EXPECT_EQ(DeepCDMoeMLPForward(net.mlp, P, X.data(), theta.data(), Y.data()), 0);
  double L = 0;
  for (size_t k = 0; k < Y.size(); k++) L += Ybar[k] * Y[k];
  return L;
}

TEST(MoeMLP, SizesAndDeterministicInit)
{
  Net      a({ 3, 16, 16, 8 }, DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_NONE, 7);
  Net      b({ 3, 16, 16, 8 }, DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_NONE, 7);
  Net      c({ 3, 16, 16, 8 }, DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_NONE, 8);
  PetscInt nin, nout, n;
  DeepCDMoeMLPGetSizes(a.mlp, &nin, &nout, &n);
  EXPECT_EQ(nin, 3);
  EXPECT_EQ(nout, 8);
  EXPECT_EQ(n, 3 * 16 + 16 + 16 * 16 + 16 + 16 * 8 + 8);
  EXPECT_EQ(a.theta, b.theta);
  EXPECT_NE(a.theta, c.theta);
  // Glorot bound of the first layer, 1/sqrt(fan_in) for its biases
  for (int k = 0; k < 48; k++) EXPECT_LE(std::fabs(a.theta[k]), std::sqrt(6.0 / 19.0));
  for (int k = 48; k < 64; k++) EXPECT_LE(std::fabs(a.theta[k]), 1.0 / std::sqrt(3.0));
}

TEST(MoeMLP, ForwardByHand)
{
  // 2 -> 2 (tanh) -> 1 (gelu), parameters set by hand
  Net                 net({ 2, 2, 1 }, DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_GELU, 0);
  std::vector<double> th = { 0.5, -1.0, 2.0, 0.25, 0.1, -0.2, 1.5, -0.5, 0.3 };
  std::vector<double> X  = { 0.3, -0.7, 1.0, 2.0 }, Y(2);
  ASSERT_EQ(net.theta.size(), th.size());
  ASSERT_EQ(DeepCDMoeMLPForward(net.mlp, 2, X.data(), th.data(), Y.data()), 0);
  for (int p = 0; p < 2; p++) {
    double h0 = std::tanh(0.5 * X[2 * p] - 1.0 * X[2 * p + 1] + 0.1);
    double h1 = std::tanh(2.0 * X[2 * p] + 0.25 * X[2 * p + 1] - 0.2);
    double z  = 1.5 * h0 - 0.5 * h1 + 0.3;
    EXPECT_NEAR(Y[p], 0.5 * z * (1 + std::erf(z / std::sqrt(2.0))), 1e-15);
  }
}

void CheckBackward(DeepCDMoeActivation h, DeepCDMoeActivation o)
{
  const PetscInt      P = 37;
  Net                 net({ 4, 12, 10, 6 }, h, o, 3);
  std::vector<double> X = RandomVector(P * 4, 1), Ybar = RandomVector(P * 6, 2), Y(P * 6);
  std::vector<double> g(net.theta.size(), 0.0), Xbar(X.size());

  ASSERT_EQ(DeepCDMoeMLPForward(net.mlp, P, X.data(), net.theta.data(), Y.data()), 0);
  ASSERT_EQ(DeepCDMoeMLPBackward(net.mlp, net.theta.data(), Ybar.data(), g.data(), Xbar.data()), 0);
  double maxerr = 0, maxg = 0;
  for (size_t k = 0; k < net.theta.size(); k++) {
    const double        eps = 1e-6;
    std::vector<double> tp = net.theta, tm = net.theta;
    tp[k] += eps;
    tm[k] -= eps;
    double fd = (Loss(net, P, X, tp, Ybar) - Loss(net, P, X, tm, Ybar)) / (2 * eps);
    maxerr    = std::max(maxerr, std::fabs(fd - g[k]));
    maxg      = std::max(maxg, std::fabs(g[k]));
  }
  double xerr = 0;
  for (size_t k = 0; k < X.size(); k++) {
    const double        eps = 1e-6;
    std::vector<double> xp = X, xm = X;
    xp[k] += eps;
    xm[k] -= eps;
    double fd = (Loss(net, P, xp, net.theta, Ybar) - Loss(net, P, xm, net.theta, Ybar)) / (2 * eps);
    xerr      = std::max(xerr, std::fabs(fd - Xbar[k]));
  }
  printf("    MLP backward (%s hidden, %s output): max |FD - backward| = %.2e (theta, max |g| %.2e), %.2e (inputs)\n", DeepCDMoeActivations[h], DeepCDMoeActivations[o], maxerr, maxg, xerr);
  EXPECT_LT(maxerr, 1e-8 * maxg);
  EXPECT_LT(xerr, 1e-8 * maxg);
  // backward adds to thetabar
  std::vector<double> g2 = g;
  ASSERT_EQ(DeepCDMoeMLPForward(net.mlp, P, X.data(), net.theta.data(), Y.data()), 0);
  ASSERT_EQ(DeepCDMoeMLPBackward(net.mlp, net.theta.data(), Ybar.data(), g2.data(), nullptr), 0);
  for (size_t k = 0; k < g.size(); k++) EXPECT_NEAR(g2[k], 2 * g[k], 1e-14 * maxg);
}

TEST(MoeMLP, BackwardTanhAgainstFiniteDifferences)
{
  CheckBackward(DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_NONE);
}

TEST(MoeMLP, BackwardGeluAgainstFiniteDifferences)
{
  CheckBackward(DEEPCD_MOE_ACT_GELU, DEEPCD_MOE_ACT_GELU);
}

TEST(MoeMLP, BackwardTanhGeluHead)
{
  CheckBackward(DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_GELU);
}

TEST(MoeMLP, RejectsBadWidths)
{
  DeepCDMoeMLP   mlp = nullptr;
  const PetscInt w[] = { 3, 0, 4 };
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  EXPECT_NE(DeepCDMoeMLPCreate(2, w, DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_NONE, &mlp), 0);
  EXPECT_NE(DeepCDMoeMLPCreate(0, w, DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_NONE, &mlp), 0);
  PetscPopErrorHandler();
  EXPECT_EQ(mlp, nullptr);
}

// Scaled inputs (DeepCDMoeBackboneSetInputScaling): x, t in [-1, 1] times s = (xhi - xlo) / (2 L), L the
// problem's length scale read at every evaluation (Burgers: 4 nu), and each parameter centred on its
// range, divided by its half-width, times s. Without a length scale (heat) s = 1. Not for the fno.
TEST(MoeMLP, InputScalingInTheProblemsUnits)
{
  DeepCDMoePDE      pde;
  DeepCDMoeGrid     g;
  DeepCDMoeBackbone bb;
  DeepCDMoeMLP      mlp;
  const PetscInt    w[] = { 3, 4, 2 };
  ASSERT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_BURGERS, &pde), 0);
  DeepCDMoeGridSetUp(&g, 5, 4, pde->xlo, pde->xhi, pde->t0, pde->t1);
  ASSERT_EQ(DeepCDMoeMLPCreate(2, w, DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_GELU, &mlp), 0);
  ASSERT_EQ(DeepCDMoeBackboneCreateMLP(mlp, &bb), 0);
  const double x0 = 0.3, lo = 0.15, hi = 0.35;
  DeepCDMoePDESetParameters(pde, 1, &x0);
  std::vector<double> raw(20 * 3), X(20 * 3);
  ASSERT_EQ(DeepCDMoeBackboneInputs(bb, &g, pde, raw.data()), 0);
  EXPECT_EQ(raw[0], -1.0);
  EXPECT_EQ(raw[2], x0); // unscaled: the raw parameter
  ASSERT_EQ(DeepCDMoeBackboneSetInputScaling(bb, 1, &lo, &hi), 0);
  for (double nu : { 0.01, 0.02 }) {
    const double s = 1.0 / (8.0 * nu); // (1 - 0) / (2 * 4 nu)
    DeepCDMoePDESetConstant(pde, "nu", nu);
    ASSERT_EQ(DeepCDMoeBackboneInputs(bb, &g, pde, X.data()), 0);
    for (size_t k = 0; k < X.size(); k++) {
      const double want = k % 3 < 2 ? s * raw[k] : s * (x0 - 0.25) / 0.1;
      EXPECT_NEAR(X[k], want, 1e-12 * std::fabs(want)) << "nu " << nu << " entry " << k;
    }
  }
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  EXPECT_NE(DeepCDMoeBackboneSetInputScaling(bb, 2, &lo, &hi), 0); // Burgers has one parameter
  EXPECT_NE(DeepCDMoeBackboneSetInputScaling(bb, 1, &hi, &lo), 0); // empty range
  PetscPopErrorHandler();
  DeepCDMoeBackboneDestroy(&bb);
  DeepCDMoePDEDestroy(&pde);

  // heat: no length scale, s = 1; the parameters centred and scaled only
  ASSERT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_HEAT, &pde), 0);
  const PetscInt wh[]  = { 5, 4, 2 };
  const double   hlo[] = { 0.5, -0.5, -0.25 }, hhi[] = { 1.5, 0.5, 0.25 }, a[] = { 1.25, 0.5, 0.0 };
  ASSERT_EQ(DeepCDMoeMLPCreate(2, wh, DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_GELU, &mlp), 0);
  ASSERT_EQ(DeepCDMoeBackboneCreateMLP(mlp, &bb), 0);
  ASSERT_EQ(DeepCDMoeBackboneSetInputScaling(bb, 3, hlo, hhi), 0);
  DeepCDMoePDESetParameters(pde, 3, a);
  std::vector<double> Xh(20 * 5);
  ASSERT_EQ(DeepCDMoeBackboneInputs(bb, &g, pde, Xh.data()), 0);
  EXPECT_EQ(Xh[0], -1.0);
  EXPECT_NEAR(Xh[2], 0.5, 1e-15);
  EXPECT_NEAR(Xh[3], 1.0, 1e-15);
  EXPECT_NEAR(Xh[4], 0.0, 1e-15);
  DeepCDMoeBackboneDestroy(&bb);

  // the fno has its own inputs
  DeepCDMoeFNOOptions fo = { 2, 4, 1, 4, 2 };
  ASSERT_EQ(DeepCDMoeBackboneCreateFNO(&g, &fo, 2, DEEPCD_MOE_ACT_GELU, &bb), 0);
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  EXPECT_NE(DeepCDMoeBackboneSetInputScaling(bb, 3, hlo, hhi), 0);
  PetscPopErrorHandler();
  DeepCDMoeBackboneDestroy(&bb);
  DeepCDMoePDEDestroy(&pde);
}

} // namespace
