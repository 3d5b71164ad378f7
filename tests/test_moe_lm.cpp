// Levenberg-Marquardt of one expert: recovery of known weights on forced
// problems whose exact discrete solution is u* = B w* (a test PDE registered
// here: a new problem needs no library change), stationarity on unforced
// problems, stopping reasons.
#include <gtest/gtest.h>
#include <cmath>
#include <cstring>
#include <vector>
#include <deepcd/moe.h>
#include "test_util.h"
#include <deepcd/private/petsccompat.h>

namespace {

// The forced problem: base PDE residual minus a grid forcing s, Dirichlet
// and initial data from u*. Context of the registered create function.
struct Forcing {
  DeepCDMoePDE        base = nullptr;
  DeepCDMoeGrid       g;
  std::vector<double> s, u;
} gF;

PetscErrorCode ForcedResidual(DeepCDMoePDE pde, const DeepCDMoePoint *pt, const PetscReal q[], PetscReal *F, PetscReal dF[], PetscReal d2F[])
{
  PetscFunctionBegin;
  PetscCall(gF.base->ops.residual(gF.base, pt, q, F, dF, d2F));
  *F -= gF.s[pt->j * gF.g.nx + pt->i];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ForcedInitial(DeepCDMoePDE pde, const DeepCDMoePoint *pt, PetscReal *u0, PetscReal *scale)
{
  *u0    = gF.u[pt->i];
  *scale = 1.0;
  return 0;
}

PetscErrorCode ForcedBoundary(DeepCDMoePDE pde, PetscInt side, const DeepCDMoePoint *pt, PetscReal c[], PetscReal *g)
{
  c[0] = 1, c[1] = 0, c[2] = 0, c[3] = 0;
  *g = gF.u[pt->j * gF.g.nx + pt->i];
  return 0;
}

PetscErrorCode CreateForced(DeepCDMoePDE pde)
{
  pde->ops.residual = ForcedResidual;
  pde->ops.initial  = ForcedInitial;
  pde->ops.boundary = ForcedBoundary;
  pde->linear       = gF.base->linear;
  pde->xlo = gF.base->xlo, pde->xhi = gF.base->xhi, pde->t0 = gF.base->t0, pde->t1 = gF.base->t1;
  return 0;
}

// A network basis on the grid.
std::vector<double> Basis(const DeepCDMoeGrid &g, DeepCDMoePDE pde, PetscInt N, PetscInt seed, double scale)
{
  const PetscInt P = g.nx * g.nt;
  DeepCDMoeMLP   mlp;
  PetscInt       width[] = { 2 + pde->nparam, 16, 16, N }, nth;
  DeepCDMoeMLPCreate(3, width, DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_NONE, &mlp);
  DeepCDMoeMLPGetSizes(mlp, nullptr, nullptr, &nth);
  std::vector<double> th(nth), X(P * width[0]), B(P * N);
  DeepCDMoeMLPInitialize(mlp, seed, th.data());
  for (auto &t : th) t *= scale;
  DeepCDMoeGridInputs(&g, P, nullptr, pde->nparam, pde->param, X.data());
  DeepCDMoeMLPForward(mlp, P, X.data(), th.data(), B.data());
  DeepCDMoeMLPDestroy(&mlp);
  return B;
}

// PDE rows at m drawn points (the first m of a fixed shuffle), all condition rows.
DeepCDMoeConstraint MakeConstraint(DeepCDMoePDE pde, const DeepCDMoeGrid &g, PetscInt N, PetscInt m, double ridge)
{
  std::vector<PetscInt> pp, cp;
  for (PetscInt j = 1; j < g.nt; j++)
    for (PetscInt i = 1; i < g.nx - 1; i++) pp.push_back(j * g.nx + i);
  auto r = RandomVector(pp.size(), 99);
  for (size_t k = 0; k < pp.size(); k++) std::swap(pp[k], pp[k + (size_t) ((r[k] + 1) / 2 * (pp.size() - k - 1))]);
  pp.resize(std::min<size_t>(pp.size(), m));
  for (PetscInt i = 0; i < g.nx; i++) cp.push_back(i);
  for (PetscInt j = 1; j < g.nt; j++) cp.push_back(j * g.nx), cp.push_back(j * g.nx + g.nx - 1);
  DeepCDMoeConstraint c;
  EXPECT_EQ(DeepCDMoeConstraintCreate(pde, &g, N, &c), 0);
  EXPECT_EQ(DeepCDMoeConstraintSetRidge(c, ridge), 0);
  EXPECT_EQ(DeepCDMoeConstraintSetPoints(c, (PetscInt) pp.size(), pp.data(), (PetscInt) cp.size(), cp.data()), 0);
  return c;
}

void RecoverKnownWeights(const char *basetype, double w0)
{
  const PetscInt N = 8;
  ASSERT_EQ(DeepCDMoePDECreate(basetype, &gF.base), 0);
  DeepCDMoeGridSetUp(&gF.g, 24, 16, gF.base->xlo, gF.base->xhi, gF.base->t0, gF.base->t1);
  const PetscInt      P = gF.g.nx * gF.g.nt;
  std::vector<double> B = Basis(gF.g, gF.base, N, 11, 2.0), wstar = RandomVector(N, 5);
  gF.u.assign(P, 0.0);
  for (PetscInt p = 0; p < P; p++)
    for (PetscInt l = 0; l < N; l++) gF.u[p] += B[p * N + l] * wstar[l];
  // the forcing: the base residual of u* with the same stencils
  std::vector<double> D[4];
  for (int a = 0; a < 4; a++) {
    D[a].resize(P);
    DeepCDMoeGridDerivative(&gF.g, (DeepCDMoeField) a, 1, gF.u.data(), D[a].data());
  }
  gF.s.assign(P, 0.0);
  for (PetscInt p = 0; p < P; p++) {
    DeepCDMoePoint pt;
    double         q[4] = { D[0][p], D[1][p], D[2][p], D[3][p] };
    DeepCDMoeGridPoint(&gF.g, p, &pt);
    gF.base->ops.residual(gF.base, &pt, q, &gF.s[p], nullptr, nullptr);
  }
  std::string name = std::string("forced_") + basetype;
  ASSERT_EQ(DeepCDMoePDERegister(name.c_str(), CreateForced), 0);
  DeepCDMoePDE pde;
  ASSERT_EQ(DeepCDMoePDECreate(name.c_str(), &pde), 0);
  DeepCDMoeConstraint c = MakeConstraint(pde, gF.g, N, 150, 0.0);
  ASSERT_EQ(DeepCDMoeConstraintSetBasis(c, B.data()), 0);
  DeepCDMoeLMOptions o;
  DeepCDMoeLMInfo    info;
  DeepCDMoeLMOptionsDefault(&o);
  o.max_it = 200;
  o.gatol  = 1e-13;
  o.w0     = w0;
  std::vector<double> w(N);
  ASSERT_EQ(DeepCDMoeLMSolve(c, &o, w.data(), &info), 0);
  double err = 0, nrm = 0;
  for (PetscInt l = 0; l < N; l++) err = std::max(err, std::fabs(w[l] - wstar[l])), nrm = std::max(nrm, std::fabs(wstar[l]));
  printf("    forced %s: LM from w0 = %g: %s after %d steps (%d accepted), 1/2||r||^2 = %.2e, ||J^T r||_inf = %.2e, max |w - w*| / max |w*| = %.2e\n", basetype, w0, DeepCDMoeLMReasonName(info.reason), (int) info.its, (int) info.accepted, info.f, info.gnorm, err / nrm);
  EXPECT_GT(info.reason, 0);
  EXPECT_LT(err, 1e-8 * nrm);
  EXPECT_LT(info.f, 1e-20);
  DeepCDMoeConstraintDestroy(&c);
  DeepCDMoePDEDestroy(&pde);
  DeepCDMoePDEDestroy(&gF.base);
}

TEST(MoeLM, RecoversKnownWeightsHeat)
{
  RecoverKnownWeights(DEEPCD_MOE_PDE_HEAT, 0.0);
}

TEST(MoeLM, RecoversKnownWeightsBurgers)
{
  RecoverKnownWeights(DEEPCD_MOE_PDE_BURGERS, 0.0);
}

TEST(MoeLM, RecoversKnownWeightsDiffSorp)
{
  RecoverKnownWeights(DEEPCD_MOE_PDE_DIFFSORP, 1.0); // the reference starts diffusion-sorption at w = 1
}

// Unforced problems have no exact solution in the span: LM must reach a
// stationary point with the ridge rows on.
TEST(MoeLM, StationaryOnEveryPDE)
{
  const char *types[] = { DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_PDE_BURGERS, DEEPCD_MOE_PDE_DIFFSORP };
  for (const char *type : types) {
    DeepCDMoePDE   pde;
    DeepCDMoeGrid  g;
    const PetscInt N = 12;
    ASSERT_EQ(DeepCDMoePDECreate(type, &pde), 0);
    DeepCDMoeGridSetUp(&g, 32, 21, pde->xlo, pde->xhi, pde->t0, pde->t1);
    std::vector<double> B = Basis(g, pde, N, 3, 2.0), w(N), gr(N);
    DeepCDMoeConstraint c = MakeConstraint(pde, g, N, 300, 1e-4);
    ASSERT_EQ(DeepCDMoeConstraintSetBasis(c, B.data()), 0);
    DeepCDMoeLMOptions o;
    DeepCDMoeLMInfo    info;
    DeepCDMoeLMOptionsDefault(&o);
    o.max_it = 300;
    o.gatol  = 1e-9;
    o.w0     = strcmp(type, DEEPCD_MOE_PDE_DIFFSORP) ? 0.0 : 1.0;
    double              f0;
    std::vector<double> wz(N, o.w0);
    DeepCDMoeConstraintNormal(c, wz.data(), DEEPCD_MOE_HESSIAN_GN, &f0, nullptr, nullptr);
    ASSERT_EQ(DeepCDMoeLMSolve(c, &o, w.data(), &info), 0);
    DeepCDMoeConstraintNormal(c, w.data(), DEEPCD_MOE_HESSIAN_GN, nullptr, gr.data(), nullptr);
    double gn = 0;
    for (double x : gr) gn = std::max(gn, std::fabs(x));
    printf("    %s (N = %d, %d PDE rows): %s after %d steps (%d accepted), 1/2||r||^2 %.3e -> %.3e, ||J^T r||_inf %.1e\n", type, (int) N, 300, DeepCDMoeLMReasonName(info.reason), (int) info.its, (int) info.accepted, f0, info.f, gn);
    EXPECT_GT(info.reason, 0) << type;
    EXPECT_LT(info.f, f0) << type;
    EXPECT_EQ(gn, info.gnorm) << type;
    if (info.reason == DEEPCD_MOE_LM_CONVERGED_GTOL) EXPECT_LE(gn, 1e-9) << type;
    // damped Newton steps (exact Hessian) reach the same stationary point
    DeepCDMoeLMOptions  on = o;
    DeepCDMoeLMInfo     ninfo;
    std::vector<double> wn(N);
    on.hessian = DEEPCD_MOE_HESSIAN_EXACT;
    ASSERT_EQ(DeepCDMoeLMSolve(c, &on, wn.data(), &ninfo), 0);
    printf("      with exact-Hessian steps: %s after %d steps (%d accepted), 1/2||r||^2 %.3e, ||J^T r||_inf %.1e\n", DeepCDMoeLMReasonName(ninfo.reason), (int) ninfo.its, (int) ninfo.accepted, ninfo.f, ninfo.gnorm);
    EXPECT_GT(ninfo.reason, 0) << type;
    EXPECT_NEAR(ninfo.f, info.f, 1e-9 * info.f) << type;
    // an iteration cap of 1 stops Burgers early and says so
    if (!strcmp(type, DEEPCD_MOE_PDE_BURGERS)) {
      o.max_it = 1;
      ASSERT_EQ(DeepCDMoeLMSolve(c, &o, w.data(), &info), 0);
      EXPECT_EQ(info.reason, DEEPCD_MOE_LM_DIVERGED_MAXIT);
      EXPECT_EQ(info.its, 1);
    }
    DeepCDMoeConstraintDestroy(&c);
    DeepCDMoePDEDestroy(&pde);
  }
}

TEST(MoeLM, OptionsFromTheDatabase)
{
  DeepCDMoeLMOptions o;
  DeepCDMoeLMOptionsDefault(&o);
  PetscOptionsSetValue(nullptr, "-moe_lm_max_it", "7");
  PetscOptionsSetValue(nullptr, "-moe_lm_w0", "1");
  ASSERT_EQ(DeepCDMoeLMOptionsSetFromOptions(nullptr, &o), 0);
  EXPECT_EQ(o.max_it, 7);
  EXPECT_EQ(o.w0, 1.0);
  PetscOptionsSetValue(nullptr, "-moe_lm_tau", "0");
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  EXPECT_NE(DeepCDMoeLMOptionsSetFromOptions(nullptr, &o), 0);
  PetscPopErrorHandler();
  PetscOptionsClearValue(nullptr, "-moe_lm_max_it");
  PetscOptionsClearValue(nullptr, "-moe_lm_w0");
  PetscOptionsClearValue(nullptr, "-moe_lm_tau");
}

} // namespace
