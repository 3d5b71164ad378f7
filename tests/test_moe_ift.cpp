// Gradients of the mixture of experts by implicit differentiation against
// central finite differences through the whole forward pass: network basis
// on the grid -> Levenberg-Marquardt per expert -> u = B w_k -> loss, for
// each PDE, one expert (the global hard constraint) and 2 x 2 experts.
#include <gtest/gtest.h>
#include <cmath>
#include <cstring>
#include <vector>
#include <deepcd/moe.h>
#include "test_util.h"

namespace {

// L(theta) = 1/(2P) sum_p (u_p - ref_p)^2 with u from the experts.
struct Chain {
  DeepCDMoePDE        pde = nullptr;
  DeepCDMoeGrid       g;
  DeepCDMoeMLP        mlp = nullptr;
  DeepCDMoeExperts    ex  = nullptr;
  PetscInt            N   = 6, P, nth;
  std::vector<double> X, ref, theta;
  DeepCDMoeLMInfo     info0;

  Chain(const char *type, PetscInt kx, PetscInt kt, DeepCDMoeHessianType htype, DeepCDMoeActivation out, DeepCDMoeCoupling coupling = DEEPCD_MOE_COUPLING_NONE, double cweight = 1.0)
  {
    EXPECT_EQ(DeepCDMoePDECreate(type, &pde), 0);
    DeepCDMoeGridSetUp(&g, 20, 12, pde->xlo, pde->xhi, pde->t0, pde->t1);
    P                = g.nx * g.nt;
    PetscInt width[] = { 2 + pde->nparam, 12, 12, N };
    EXPECT_EQ(DeepCDMoeMLPCreate(3, width, DEEPCD_MOE_ACT_TANH, out, &mlp), 0);
    DeepCDMoeMLPGetSizes(mlp, nullptr, nullptr, &nth);
    theta.resize(nth);
    DeepCDMoeMLPInitialize(mlp, 1, theta.data());
    for (auto &t : theta) t *= 1.5;
    X.resize(P * width[0]);
    DeepCDMoeGridInputs(&g, P, nullptr, pde->nparam, pde->param, X.data());
    ref.resize(P);
    for (PetscInt p = 0; p < P; p++) {
      DeepCDMoePoint pt;
      DeepCDMoeGridPoint(&g, p, &pt);
      if (pde->ops.exact)
        DeepCDMoePDEExact(pde, pt.x, pt.t, &ref[p]);
      else
        ref[p] = 0.1 + 0.9 * std::exp(-10 * pt.x) * (pt.t > 0); // diffusion-sorption: a plausible profile
    }
    EXPECT_EQ(DeepCDMoeExpertsCreate(PETSC_COMM_SELF, pde, &g, N, kx, kt, &ex), 0);
    EXPECT_EQ(DeepCDMoeExpertsSetSampling(ex, 40, 7), 0);
    EXPECT_EQ(DeepCDMoeExpertsSetHessian(ex, htype), 0);
    EXPECT_EQ(DeepCDMoeExpertsSetCoupling(ex, coupling, cweight), 0);
    DeepCDMoeLMOptions o;
    DeepCDMoeLMOptionsDefault(&o);
    o.max_it = 1000;
    o.gatol  = 0.0;
    o.xrtol  = 1e-15;
    o.w0     = strcmp(type, DEEPCD_MOE_PDE_DIFFSORP) ? 0.0 : 1.0;
    EXPECT_EQ(DeepCDMoeExpertsSetLMOptions(ex, &o), 0);
    EXPECT_EQ(DeepCDMoeExpertsSetUp(ex), 0);
  }
  ~Chain()
  {
    DeepCDMoeExpertsDestroy(&ex);
    DeepCDMoeMLPDestroy(&mlp);
    DeepCDMoePDEDestroy(&pde);
  }
  std::vector<double> B;
  double              Loss(const std::vector<double> &th, std::vector<double> *grad)
  {
    std::vector<double> u(P);
    B.resize(P * N);
    EXPECT_EQ(DeepCDMoeMLPForward(mlp, P, X.data(), th.data(), B.data()), 0);
    EXPECT_EQ(DeepCDMoeExpertsSolve(ex, B.data(), u.data()), 0);
    double L = 0;
    for (PetscInt p = 0; p < P; p++) L += 0.5 * (u[p] - ref[p]) * (u[p] - ref[p]) / P;
    if (grad) {
      DeepCDMoeExpertsGetLMInfo(ex, 0, &info0);
      std::vector<double> ubar(P), Bbar(P * N, 0.0);
      for (PetscInt p = 0; p < P; p++) ubar[p] = (u[p] - ref[p]) / P;
      EXPECT_EQ(DeepCDMoeExpertsBackward(ex, B.data(), ubar.data(), Bbar.data()), 0);
      grad->assign(nth, 0.0);
      EXPECT_EQ(DeepCDMoeMLPBackward(mlp, th.data(), Bbar.data(), grad->data(), nullptr), 0);
    }
    return L;
  }
};

// Returns the worst relative error of the directional derivatives.
double CheckGradient(const char *type, PetscInt kx, PetscInt kt, DeepCDMoeHessianType htype, DeepCDMoeActivation out = DEEPCD_MOE_ACT_NONE, bool print = true, DeepCDMoeCoupling coupling = DEEPCD_MOE_COUPLING_NONE)
{
  Chain               c(type, kx, kt, htype, out, coupling);
  std::vector<double> grad;
  const double        L     = c.Loss(c.theta, &grad);
  double              worst = 0;
  for (unsigned dir = 0; dir < 3; dir++) {
    std::vector<double> d = RandomVector(c.nth, 100 + dir), tp = c.theta, tm = c.theta;
    const double        h = 1e-5; // truncation-dominated: the error falls as h^2 down to h ~ 1e-6
    for (PetscInt k = 0; k < c.nth; k++) tp[k] += h * d[k], tm[k] -= h * d[k];
    const double fd = (c.Loss(tp, nullptr) - c.Loss(tm, nullptr)) / (2 * h);
    double       an = 0;
    for (PetscInt k = 0; k < c.nth; k++) an += grad[k] * d[k];
    worst = std::max(worst, std::fabs(an - fd) / std::fabs(fd));
    if (print && dir == 0) printf("    %s, %dx%d experts, coupling %s, %s Hessian: L = %.6e, expert 0 LM %s in %d steps; dL/dtheta.d = %.10e, FD %.10e", type, (int) kx, (int) kt, DeepCDMoeCouplingTypes[coupling], DeepCDMoeHessianTypes[htype], L, DeepCDMoeLMReasonName(c.info0.reason), (int) c.info0.its, an, fd);
  }
  if (print) printf("; worst relative error over 3 directions %.2e\n", worst);
  return worst;
}

TEST(MoeIFT, HeatGlobalAndExperts)
{
  EXPECT_LT(CheckGradient(DEEPCD_MOE_PDE_HEAT, 1, 1, DEEPCD_MOE_HESSIAN_EXACT), 1e-6);
  EXPECT_LT(CheckGradient(DEEPCD_MOE_PDE_HEAT, 2, 2, DEEPCD_MOE_HESSIAN_EXACT), 1e-6);
  // linear: Gauss-Newton is the exact Hessian
  EXPECT_LT(CheckGradient(DEEPCD_MOE_PDE_HEAT, 2, 2, DEEPCD_MOE_HESSIAN_GN), 1e-6);
}

TEST(MoeIFT, BurgersGlobalAndExperts)
{
  EXPECT_LT(CheckGradient(DEEPCD_MOE_PDE_BURGERS, 1, 1, DEEPCD_MOE_HESSIAN_EXACT), 1e-6);
  EXPECT_LT(CheckGradient(DEEPCD_MOE_PDE_BURGERS, 2, 2, DEEPCD_MOE_HESSIAN_EXACT, DEEPCD_MOE_ACT_GELU), 1e-6);
  // Gauss-Newton drops sum_k r_k d2r_k/dw2: an approximation, off by more
  const double gn = CheckGradient(DEEPCD_MOE_PDE_BURGERS, 2, 2, DEEPCD_MOE_HESSIAN_GN);
  EXPECT_GT(gn, 1e-6);
}

TEST(MoeIFT, DiffSorpGlobalAndExperts)
{
  EXPECT_LT(CheckGradient(DEEPCD_MOE_PDE_DIFFSORP, 1, 1, DEEPCD_MOE_HESSIAN_EXACT), 1e-6);
  EXPECT_LT(CheckGradient(DEEPCD_MOE_PDE_DIFFSORP, 4, 1, DEEPCD_MOE_HESSIAN_EXACT), 1e-6); // the reference's split: 4 experts along x
}

// interface coupling: the IFT through the joint solve (the coupled Hessian, the interface rows' term in dL/dB)
TEST(MoeIFT, CoupledExperts)
{
  EXPECT_LT(CheckGradient(DEEPCD_MOE_PDE_HEAT, 2, 2, DEEPCD_MOE_HESSIAN_EXACT, DEEPCD_MOE_ACT_NONE, true, DEEPCD_MOE_COUPLING_INTERFACE), 1e-6);
  EXPECT_LT(CheckGradient(DEEPCD_MOE_PDE_BURGERS, 2, 2, DEEPCD_MOE_HESSIAN_EXACT, DEEPCD_MOE_ACT_GELU, true, DEEPCD_MOE_COUPLING_INTERFACE), 1e-6);
  EXPECT_LT(CheckGradient(DEEPCD_MOE_PDE_DIFFSORP, 4, 1, DEEPCD_MOE_HESSIAN_EXACT, DEEPCD_MOE_ACT_NONE, true, DEEPCD_MOE_COUPLING_INTERFACE), 1e-6);
}

// After a coupled solve the interface rows are met: the jumps B_p (w_a - w_b) fall with the weight,
// far below those of independent experts, and the joint solve is stationary
TEST(MoeIFT, CoupledInterfaceRowsAreMet)
{
  for (const char *type : { DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_PDE_BURGERS }) {
    double none = 0, prev = 0;
    for (double wt : { 0.0, 1.0, 10.0, 100.0 }) {
      Chain  c(type, 2, 2, DEEPCD_MOE_HESSIAN_EXACT, DEEPCD_MOE_ACT_GELU, wt > 0 ? DEEPCD_MOE_COUPLING_INTERFACE : DEEPCD_MOE_COUPLING_NONE, wt > 0 ? wt : 1.0);
      double mx, rms;
      c.Loss(c.theta, nullptr);
      ASSERT_EQ(DeepCDMoeExpertsGetInterfaceResidual(c.ex, c.B.data(), &mx, &rms), 0);
      DeepCDMoeLMInfo info;
      DeepCDMoeExpertsGetLMInfo(c.ex, 0, &info);
      printf("    %s 2x2, coupling weight %g: interface jumps max %.3e, rms %.3e; LM %s in %d steps\n", type, wt, mx, rms, DeepCDMoeLMReasonName(info.reason), (int) info.its);
      EXPECT_GT(info.reason, 0);
      EXPECT_LE(rms, mx);
      if (wt == 0)
        none = mx;
      else
        EXPECT_LT(mx, prev);
      if (wt == 100.0) EXPECT_LT(mx, 1e-2 * none);
      prev = mx;
    }
  }
}

TEST(MoeIFT, ExpertsRowsAndErrors)
{
  DeepCDMoePDE     pde;
  DeepCDMoeGrid    g;
  DeepCDMoeExperts ex;
  ASSERT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_HEAT, &pde), 0);
  DeepCDMoeGridSetUp(&g, 21, 11, 0, 1, 0, 1);
  ASSERT_EQ(DeepCDMoeExpertsCreate(PETSC_COMM_SELF, pde, &g, 4, 2, 2, &ex), 0);
  ASSERT_EQ(DeepCDMoeExpertsSetSampling(ex, 25, 3), 0);
  ASSERT_EQ(DeepCDMoeExpertsSetUp(ex), 0);
  PetscInt        xs, xe, ts, te, mpde, m, ks, ke, npts;
  const PetscInt *pts;
  DeepCDMoeExpertsGetOwnership(ex, &ks, &ke);
  EXPECT_EQ(ks, 0);
  EXPECT_EQ(ke, 4);
  DeepCDMoeExpertsGetSubdomain(ex, 3, &xs, &xe, &ts, &te);
  EXPECT_EQ(xs, 10);
  EXPECT_EQ(xe, 21);
  EXPECT_EQ(ts, 5);
  EXPECT_EQ(te, 11);
  DeepCDMoeExpertsGetPoints(ex, &npts, &pts);
  EXPECT_EQ(npts, 21 * 11); // every point is read by some expert
  DeepCDMoeConstraint c;
  DeepCDMoeExpertsGetConstraint(ex, 3, &c);
  DeepCDMoeConstraintGetSizes(c, &mpde, &m, nullptr);
  EXPECT_EQ(mpde, 25);
  EXPECT_EQ(m, 25 + 21 + 2 * 10 + 4); // global conditions: all initial and boundary rows, ridge
  ASSERT_EQ(DeepCDMoeExpertsSetConditions(ex, DEEPCD_MOE_CONDITIONS_LOCAL), 0);
  ASSERT_EQ(DeepCDMoeExpertsSetUp(ex), 0);
  DeepCDMoeExpertsGetConstraint(ex, 3, &c);
  DeepCDMoeConstraintGetSizes(c, &mpde, &m, nullptr);
  EXPECT_EQ(m, 25 + 6 + 4); // upper-right expert: its part of the right wall only
  DeepCDMoeExpertsGetConstraint(ex, 0, &c);
  DeepCDMoeConstraintGetSizes(c, &mpde, &m, nullptr);
  EXPECT_EQ(m, 25 + 10 + 4 + 4); // lower-left: initial row i < 10, left wall j = 1..4
  // the options database
  PetscOptionsSetValue(nullptr, "-moe_points", "12");
  PetscOptionsSetValue(nullptr, "-moe_conditions", "global");
  PetscOptionsSetValue(nullptr, "-moe_ridge", "1e-3");
  PetscOptionsSetValue(nullptr, "-moe_hessian", "gn");
  ASSERT_EQ(DeepCDMoeExpertsSetFromOptions(ex), 0);
  PetscOptionsClearValue(nullptr, "-moe_points");
  PetscOptionsClearValue(nullptr, "-moe_conditions");
  PetscOptionsClearValue(nullptr, "-moe_ridge");
  PetscOptionsClearValue(nullptr, "-moe_hessian");
  ASSERT_EQ(DeepCDMoeExpertsSetUp(ex), 0);
  DeepCDMoeExpertsGetConstraint(ex, 0, &c);
  DeepCDMoeConstraintGetSizes(c, &mpde, &m, nullptr);
  EXPECT_EQ(mpde, 12);
  EXPECT_EQ(m, 12 + 21 + 2 * 10 + 4);
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  const double *w;
  EXPECT_NE(DeepCDMoeExpertsBackward(ex, nullptr, nullptr, nullptr), 0); // not solved
  EXPECT_NE(DeepCDMoeExpertsGetWeights(ex, 4, &w), 0);
  DeepCDMoeExperts bad = nullptr;
  EXPECT_NE(DeepCDMoeExpertsCreate(PETSC_COMM_SELF, pde, &g, 4, 0, 2, &bad), 0);
  EXPECT_NE(DeepCDMoeExpertsSetCoupling(ex, DEEPCD_MOE_COUPLING_INTERFACE, 0.0), 0);
  EXPECT_NE(DeepCDMoeExpertsSetCoupling(ex, (DeepCDMoeCoupling) 7, 1.0), 0);
  PetscPopErrorHandler();
  DeepCDMoeExpertsDestroy(&ex);
  DeepCDMoePDEDestroy(&pde);
}

} // namespace
