// 2-D Navier-Stokes in vorticity form for the moe module: the pseudo-spectral
// reference (an exact decaying solution, fourth-order convergence in time)
// and the Gaussian-random-field initial vorticity.
#include <gtest/gtest.h>
#include <cmath>
#include <vector>
#include <deepcd/moe.h>

namespace {

double MaxDiff(const double *a, const double *b, size_t n)
{
  double d = 0;
  for (size_t k = 0; k < n; k++) d = std::max(d, std::fabs(a[k] - b[k]));
  return d;
}

// A vorticity on one shell |k| = const has u . grad w = 0: it decays as
// exp(-nu |2 pi k|^2 t), which the integrating factor reproduces exactly.
TEST(MoeNS, SingleShellDecaysExactly)
{
  const PetscInt nx = 32, ny = 24;
  const double   nu = 0.01, tout[3] = { 0.0, 0.3, 1.0 };
  // modes (1, 2) and (2, 1), (-2, 1): |k|^2 = 5
  for (int shape = 0; shape < 2; shape++) {
    std::vector<double> w0(nx * ny), w(3 * nx * ny);
    for (PetscInt k = 0; k < ny; k++)
      for (PetscInt i = 0; i < nx; i++) {
        const double x = (double) i / nx, y = (double) k / ny;
        w0[k * nx + i] = shape == 0 ? std::cos(2 * M_PI * x) * std::cos(2 * M_PI * y)                                                                                 // Taylor-Green, |k|^2 = 2
                                    : 0.7 * std::sin(2 * M_PI * (x + 2 * y) + 0.3) + 0.4 * std::cos(2 * M_PI * (2 * x + y)) - 0.2 * std::sin(2 * M_PI * (2 * x - y)); // |k|^2 = 5
      }
    ASSERT_EQ(DeepCDMoeNSSolve(nx, ny, nu, w0.data(), 3, tout, 0.05, w.data()), 0);
    const double k2 = 4 * M_PI * M_PI * (shape == 0 ? 2 : 5);
    for (int j = 0; j < 3; j++) {
      std::vector<double> e(nx * ny);
      for (PetscInt p = 0; p < nx * ny; p++) e[p] = std::exp(-nu * k2 * tout[j]) * w0[p];
      EXPECT_LT(MaxDiff(e.data(), w.data() + j * nx * ny, nx * ny), 1e-13) << "shape " << shape << " t " << tout[j];
    }
  }
}

// Lawson RK4 on a random initial vorticity: the differences between the
// solutions with steps h, h/2 and h/4 fall by 2^4.
TEST(MoeNS, FourthOrderInTime)
{
  const PetscInt      n = 32, P = n * n;
  const double        nu = 1e-3, tout[2] = { 1.0, 2.0 };
  std::vector<double> w0(P), w1(2 * P), w2(2 * P), w3(2 * P);
  ASSERT_EQ(DeepCDMoeNSRandomField(0.8, 1.0, 7, n, n, w0.data()), 0);
  ASSERT_EQ(DeepCDMoeNSSolve(n, n, nu, w0.data(), 2, tout, 0.1, w1.data()), 0);
  ASSERT_EQ(DeepCDMoeNSSolve(n, n, nu, w0.data(), 2, tout, 0.05, w2.data()), 0);
  ASSERT_EQ(DeepCDMoeNSSolve(n, n, nu, w0.data(), 2, tout, 0.025, w3.data()), 0);
  for (PetscInt p = 0; p < 2 * P; p++) ASSERT_TRUE(std::isfinite(w1[p]));
  const double e1 = MaxDiff(w1.data() + P, w2.data() + P, P), e2 = MaxDiff(w2.data() + P, w3.data() + P, P);
  const double order = std::log2(e1 / e2);
  printf("NS reference at t = 2: |w_h - w_h/2| = %.3e, |w_h/2 - w_h/4| = %.3e, order %.3f\n", e1, e2, order);
  EXPECT_GT(e2, 1e-12); // above rounding: the measured order means something
  EXPECT_NEAR(order, 4.0, 0.3);
  // the automatic step agrees with the finest fixed step
  std::vector<double> wa(2 * P);
  ASSERT_EQ(DeepCDMoeNSSolve(n, n, nu, w0.data(), 2, tout, 0.0, wa.data()), 0);
  EXPECT_LT(MaxDiff(wa.data() + P, w3.data() + P, P), 10 * e2);
  // the mean stays 0
  double mean = 0;
  for (PetscInt p = 0; p < P; p++) mean += w3[P + p];
  EXPECT_LT(std::fabs(mean / P), 1e-14);
}

TEST(MoeNS, BadArgumentsAreRefused)
{
  std::vector<double> w0(16, 0.0), w(16);
  const double        t[2] = { 1.0, 0.5 };
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  EXPECT_NE(DeepCDMoeNSSolve(4, 4, -1.0, w0.data(), 1, t, 0.1, w.data()), 0);
  EXPECT_NE(DeepCDMoeNSSolve(4, 4, 1e-3, w0.data(), 2, t, 0.1, w.data()), 0);
  EXPECT_NE(DeepCDMoeNSSolve(2, 4, 1e-3, w0.data(), 1, t, 0.1, w.data()), 0);
  EXPECT_NE(DeepCDMoeNSRandomField(0.8, 1.0, 1.5, 4, 4, w0.data()), 0);
  { // an unstable step is an error, not a NaN answer
    const PetscInt      n = 32;
    std::vector<double> f(n * n), g(n * n);
    const double        t1 = 2.0;
    ASSERT_EQ(DeepCDMoeNSRandomField(0.8, 3.0, 7, n, n, f.data()), 0);
    EXPECT_NE(DeepCDMoeNSSolve(n, n, 1e-3, f.data(), 1, &t1, 0.5, g.data()), 0);
  }
  EXPECT_NE(DeepCDMoeNSRandomField(0.0, 1.0, 1.0, 4, 4, w0.data()), 0);
  PetscPopErrorHandler();
}

// The random field: grid mean 0, the same seed gives the same field (on
// every grid: a coarse grid's values are the fine grid's at the same points),
// different seeds give different fields, and the variance is sigma^2 (1 -
// c_0^2) on average.
TEST(MoeNS, RandomFieldIsMeanFreeAndDeterministic)
{
  const PetscInt      n = 64, P = n * n;
  std::vector<double> a(P), b(P), c(P), coarse(P / 4);
  ASSERT_EQ(DeepCDMoeNSRandomField(0.8, 1.0, 3, n, n, a.data()), 0);
  ASSERT_EQ(DeepCDMoeNSRandomField(0.8, 1.0, 3, n, n, b.data()), 0);
  ASSERT_EQ(DeepCDMoeNSRandomField(0.8, 1.0, 4, n, n, c.data()), 0);
  ASSERT_EQ(DeepCDMoeNSRandomField(0.8, 1.0, 3, n / 2, n / 2, coarse.data()), 0);
  double mean = 0, amax = 0;
  for (PetscInt p = 0; p < P; p++) mean += a[p], amax = std::max(amax, std::fabs(a[p]));
  EXPECT_LT(std::fabs(mean / P), 1e-15);
  EXPECT_GT(amax, 0.1);
  EXPECT_EQ(MaxDiff(a.data(), b.data(), P), 0.0);
  EXPECT_GT(MaxDiff(a.data(), c.data(), P), 0.1 * amax);
  double d = 0;
  for (PetscInt k = 0; k < n / 2; k++)
    for (PetscInt i = 0; i < n / 2; i++) d = std::max(d, std::fabs(coarse[k * n / 2 + i] - a[2 * k * n + 2 * i]));
  EXPECT_LT(d, 1e-12);
  // the variance over seeds: sigma^2 sum_{m != 0} c_m = 1 - c_0^2, c_0 = e^{-z} I_0(z), z = 1/0.64
  const double z  = 1 / 0.64;
  double       I0 = 0, term = 1;
  for (int j = 0; j < 40; j++) I0 += term, term *= 0.25 * z * z / ((j + 1.0) * (j + 1.0));
  const double expected = 1 - std::pow(std::exp(-z) * I0, 2);
  double       var      = 0;
  const int    seeds    = 200;
  for (int sd = 0; sd < seeds; sd++) {
    std::vector<double> f(16 * 16);
    ASSERT_EQ(DeepCDMoeNSRandomField(0.8, 1.0, 100 + sd, 16, 16, f.data()), 0);
    for (double v : f) var += v * v / (256.0 * seeds);
  }
  printf("random field: variance over %d seeds %.4f, kernel %.4f\n", seeds, var, expected);
  EXPECT_NEAR(var, expected, 0.15 * expected);
}

} // namespace

namespace {

// A field of one Fourier mode per column: its velocity is exact to rounding.
TEST(MoeNS, VelocityOfOneModeIsExact)
{
  DeepCDMoeGrid g;
  ASSERT_EQ(DeepCDMoeGridSetUpPeriodic2D(&g, 16, 12, 4, 0, 1, 0, 1, 0, 1), 0);
  const PetscInt      P = DeepCDMoeGridSize(&g), mx[2] = { 2, 1 }, my[2] = { 1, -3 };
  std::vector<double> W(2 * P), VX(2 * P), VY(2 * P);
  for (PetscInt p = 0; p < P; p++) {
    DeepCDMoePoint pt;
    DeepCDMoeGridPoint(&g, p, &pt);
    for (int c = 0; c < 2; c++) W[2 * p + c] = (pt.j + 1) * std::sin(2 * M_PI * (mx[c] * pt.x + my[c] * pt.y) + 0.3);
  }
  ASSERT_EQ(DeepCDMoeGridVelocity(&g, 2, W.data(), VX.data(), VY.data()), 0);
  double err = 0;
  for (PetscInt p = 0; p < P; p++) {
    DeepCDMoePoint pt;
    DeepCDMoeGridPoint(&g, p, &pt);
    for (int c = 0; c < 2; c++) {
      // psi = w / |k|^2; v_x = psi_y, v_y = -psi_x
      const double k2 = 4 * M_PI * M_PI * (mx[c] * mx[c] + my[c] * my[c]), cs = (pt.j + 1) * std::cos(2 * M_PI * (mx[c] * pt.x + my[c] * pt.y) + 0.3);
      err = std::max(err, std::fabs(VX[2 * p + c] - 2 * M_PI * my[c] * cs / k2));
      err = std::max(err, std::fabs(VY[2 * p + c] + 2 * M_PI * mx[c] * cs / k2));
    }
  }
  printf("velocity of single modes: max error %.2e\n", err);
  EXPECT_LT(err, 1e-14);
  // the transpose: <V a, b> = <a, V^T b> on random fields (odd sizes too)
  for (PetscInt n : { 8, 9 }) {
    ASSERT_EQ(DeepCDMoeGridSetUpPeriodic2D(&g, n, n + 2, 4, 0, 1, 0, 2, 0, 1), 0);
    const PetscInt      Q = DeepCDMoeGridSize(&g);
    std::vector<double> a(3 * Q), bx(3 * Q), by(3 * Q), ax(3 * Q), ay(3 * Q), at(3 * Q, 0.0);
    for (PetscInt l = 0; l < 3 * Q; l++) a[l] = std::sin(1.3 * l + 0.2), bx[l] = std::cos(0.7 * l), by[l] = std::sin(2.1 * l + 1);
    ASSERT_EQ(DeepCDMoeGridVelocity(&g, 3, a.data(), ax.data(), ay.data()), 0);
    ASSERT_EQ(DeepCDMoeGridVelocityTranspose(&g, 3, bx.data(), by.data(), at.data()), 0);
    double lhs = 0, rhs = 0;
    for (PetscInt l = 0; l < 3 * Q; l++) lhs += ax[l] * bx[l] + ay[l] * by[l], rhs += a[l] * at[l];
    EXPECT_NEAR(lhs, rhs, 1e-12 * std::fabs(lhs)) << "n " << n;
  }
}

// The residual F = w_t + v . grad w - nu lap w of the reference solution on
// the grid, with the grid's stencils and FFT velocity: small, and falling
// by 4 when h and the time step are halved (second-order stencils).
double ReferenceResidual(PetscInt n, DeepCDMoePDE pde)
{
  DeepCDMoeGrid g;
  EXPECT_EQ(DeepCDMoePDEGridSetUp(pde, n, n, n / 2 + 1, &g), 0);
  const PetscInt      P = DeepCDMoeGridSize(&g), nf = pde->nfields;
  std::vector<double> u(P), q(nf * P);
  EXPECT_EQ(DeepCDMoePDEReference(pde, &g, u.data()), 0);
  for (PetscInt p = 0; p < P; p++) q[p] = u[p];
  for (PetscInt a = 1; a < nf; a++)
    if (a != DEEPCD_MOE_VX && a != DEEPCD_MOE_VY) EXPECT_EQ(DeepCDMoeGridDerivative(&g, (DeepCDMoeField) a, 1, u.data(), q.data() + a * P), 0);
  EXPECT_EQ(DeepCDMoeGridVelocity(&g, 1, u.data(), q.data() + DEEPCD_MOE_VX * P, q.data() + DEEPCD_MOE_VY * P), 0);
  double fmax = 0, ic = 0;
  for (PetscInt p = 0; p < P; p++) {
    DeepCDMoePoint pt;
    double         qp[DEEPCD_MOE_MAX_FIELDS], F, u0, s;
    DeepCDMoeGridPoint(&g, p, &pt);
    if (pt.j == 0) {
      pde->ops.initial(pde, &pt, &u0, &s);
      ic = std::max(ic, std::fabs(u[p] - u0));
      continue;
    }
    for (PetscInt a = 0; a < nf; a++) qp[a] = q[a * P + p];
    pde->ops.residual(pde, &pt, qp, &F, NULL, NULL);
    fmax = std::max(fmax, std::fabs(F));
  }
  EXPECT_LT(ic, 1e-14);
  return fmax;
}

TEST(MoeNS, ReferenceResidualFallsAtSecondOrder)
{
  DeepCDMoePDE pde;
  ASSERT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_NS, &pde), 0);
  const double seed = 5;
  DeepCDMoePDESetParameters(pde, 1, &seed);
  const double e16 = ReferenceResidual(16, pde), e32 = ReferenceResidual(32, pde), e64 = ReferenceResidual(64, pde);
  printf("NS: max residual of the reference on 16^2x9, 32^2x17, 64^2x33: %.3e %.3e %.3e (ratios %.2f %.2f)\n", e16, e32, e64, e16 / e32, e32 / e64);
  EXPECT_GT(e32 / e64, 3.5);
  EXPECT_LT(e32 / e64, 4.5);
  DeepCDMoePDEDestroy(&pde);
}

// The hard constraint of ns on a random basis: the Jacobian and the exact
// Hessian against central differences, and the basis VJP of the
// stationarity condition against central differences in B (through the
// FFT velocity and its transpose).
TEST(MoeNS, ConstraintDerivativesAgainstFiniteDifferences)
{
  DeepCDMoePDE  pde;
  DeepCDMoeGrid g;
  ASSERT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_NS, &pde), 0);
  const double nu = 0.02; // larger than the default, so that every term counts
  DeepCDMoePDESetConstant(pde, "nu", nu);
  ASSERT_EQ(DeepCDMoePDEGridSetUp(pde, 8, 6, 5, &g), 0);
  const PetscInt        N = 4, P = DeepCDMoeGridSize(&g);
  std::vector<PetscInt> pdepts, condpts;
  for (PetscInt p = g.nx * g.ny; p < P; p += 3) pdepts.push_back(p);
  for (PetscInt p = 0; p < g.nx * g.ny; p += 2) condpts.push_back(p);
  DeepCDMoeConstraint c;
  ASSERT_EQ(DeepCDMoeConstraintCreate(pde, &g, N, &c), 0);
  ASSERT_EQ(DeepCDMoeConstraintSetPoints(c, (PetscInt) pdepts.size(), pdepts.data(), (PetscInt) condpts.size(), condpts.data()), 0);
  std::vector<double> B(P * N), D(P * N), w(N), v(N);
  for (PetscInt l = 0; l < P * N; l++) B[l] = std::sin(0.37 * l + 0.1) + 0.5 * std::cos(1.1 * l), D[l] = std::cos(0.91 * l + 0.4);
  for (PetscInt l = 0; l < N; l++) w[l] = 0.3 + 0.2 * l, v[l] = std::sin(1.0 + l);
  ASSERT_EQ(DeepCDMoeConstraintSetBasis(c, B.data()), 0);
  PetscInt mall;
  DeepCDMoeConstraintGetSizes(c, NULL, &mall, NULL);
  std::vector<double> J(mall * N), rp(mall), rm(mall), H(N * N), gp(N), gm(N);
  ASSERT_EQ(DeepCDMoeConstraintJacobian(c, w.data(), J.data()), 0);
  ASSERT_EQ(DeepCDMoeConstraintNormal(c, w.data(), DEEPCD_MOE_HESSIAN_EXACT, NULL, NULL, H.data()), 0);
  const double h    = 1e-6;
  double       jerr = 0, jmax = 0, herr = 0, hmax = 0;
  for (PetscInt l = 0; l < N; l++) {
    std::vector<double> wp = w, wm = w;
    wp[l] += h, wm[l] -= h;
    DeepCDMoeConstraintResidual(c, wp.data(), rp.data());
    DeepCDMoeConstraintResidual(c, wm.data(), rm.data());
    for (PetscInt k = 0; k < mall; k++) {
      jerr = std::max(jerr, std::fabs((rp[k] - rm[k]) / (2 * h) - J[k * N + l]));
      jmax = std::max(jmax, std::fabs(J[k * N + l]));
    }
    DeepCDMoeConstraintNormal(c, wp.data(), DEEPCD_MOE_HESSIAN_GN, NULL, gp.data(), NULL);
    DeepCDMoeConstraintNormal(c, wm.data(), DEEPCD_MOE_HESSIAN_GN, NULL, gm.data(), NULL);
    for (PetscInt i = 0; i < N; i++) {
      herr = std::max(herr, std::fabs((gp[i] - gm[i]) / (2 * h) - H[i + l * N]));
      hmax = std::max(hmax, std::fabs(H[i + l * N]));
    }
  }
  printf("ns constraint: |J - FD|/max|J| %.2e, |H - FD(g)|/max|H| %.2e\n", jerr / jmax, herr / hmax);
  EXPECT_LT(jerr / jmax, 1e-8);
  EXPECT_LT(herr / hmax, 1e-8);
  // VJP in B of v . G(w, B), G = J^T r + ridge^2 w
  std::vector<double> Bbar(P * N, 0.0), Bp = B, Bm = B;
  ASSERT_EQ(DeepCDMoeConstraintBasisVJP(c, w.data(), v.data(), Bbar.data()), 0);
  const double hb = 1e-6;
  for (PetscInt l = 0; l < P * N; l++) Bp[l] += hb * D[l], Bm[l] -= hb * D[l];
  DeepCDMoeConstraintSetBasis(c, Bp.data());
  DeepCDMoeConstraintNormal(c, w.data(), DEEPCD_MOE_HESSIAN_GN, NULL, gp.data(), NULL);
  DeepCDMoeConstraintSetBasis(c, Bm.data());
  DeepCDMoeConstraintNormal(c, w.data(), DEEPCD_MOE_HESSIAN_GN, NULL, gm.data(), NULL);
  double fd = 0, an = 0;
  for (PetscInt l = 0; l < N; l++) fd += v[l] * (gp[l] - gm[l]) / (2 * hb);
  for (PetscInt l = 0; l < P * N; l++) an += Bbar[l] * D[l];
  printf("ns basis VJP: FD %.10e, VJP %.10e, relative error %.2e\n", fd, an, std::fabs(fd - an) / std::fabs(an));
  EXPECT_LT(std::fabs(fd - an), 1e-7 * std::fabs(an));
  DeepCDMoeConstraintDestroy(&c);
  DeepCDMoePDEDestroy(&pde);
}

// The outer loss of ns (initial and PDE terms, no walls): dL/du against central differences, both types.
TEST(MoeNS, LossGradientAgainstFiniteDifferences)
{
  DeepCDMoePDE  pde;
  DeepCDMoeGrid g;
  ASSERT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_NS, &pde), 0);
  ASSERT_EQ(DeepCDMoePDEGridSetUp(pde, 8, 8, 5, &g), 0);
  const PetscInt      P = DeepCDMoeGridSize(&g);
  std::vector<double> u(P), ubar(P), D(P);
  for (PetscInt p = 0; p < P; p++) u[p] = std::sin(0.3 * p) + 0.2 * std::cos(1.7 * p), D[p] = std::cos(0.77 * p + 0.5);
  for (DeepCDMoeLossType type : { DEEPCD_MOE_LOSS_NORM, DEEPCD_MOE_LOSS_MSE }) {
    double L, Lp, Lm, an = 0;
    ASSERT_EQ(DeepCDMoeLoss(pde, &g, type, 1.0, 0.7, 1.0, u.data(), &L, ubar.data()), 0);
    std::vector<double> up = u, um = u;
    const double        h = 1e-6;
    for (PetscInt p = 0; p < P; p++) up[p] += h * D[p], um[p] -= h * D[p], an += ubar[p] * D[p];
    DeepCDMoeLoss(pde, &g, type, 1.0, 0.7, 1.0, up.data(), &Lp, NULL);
    DeepCDMoeLoss(pde, &g, type, 1.0, 0.7, 1.0, um.data(), &Lm, NULL);
    EXPECT_TRUE(std::isfinite(L));
    EXPECT_NEAR((Lp - Lm) / (2 * h), an, 1e-7 * std::fabs(an)) << "loss type " << type;
  }
  DeepCDMoePDEDestroy(&pde);
}

} // namespace

namespace {

// The mlp's inputs on the ns grid: (x, y, t) in [-1, 1], then u0, its
// gradient / 2 pi and 2 pi times its velocity, the same at every time level.
TEST(MoeNS, MlpInputsCarryTheInitialGradientAndVelocity)
{
  DeepCDMoePDE  pde;
  DeepCDMoeGrid g;
  ASSERT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_NS, &pde), 0);
  ASSERT_EQ(DeepCDMoePDEGridSetUp(pde, 16, 16, 4, &g), 0);
  const PetscInt    nin = DEEPCD_MOE_MLP_INPUTS_2D, P = DeepCDMoeGridSize(&g), nxy = g.nx * g.ny;
  PetscInt          width[] = { nin, 4, 2 };
  DeepCDMoeMLP      mlp;
  DeepCDMoeBackbone bb;
  ASSERT_EQ(DeepCDMoeMLPCreate(2, width, DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_NONE, &mlp), 0);
  ASSERT_EQ(DeepCDMoeBackboneCreateMLP(mlp, &bb), 0);
  std::vector<double> X(P * nin), w0(nxy), vx(nxy), vy(nxy);
  ASSERT_EQ(DeepCDMoeBackboneInputs(bb, &g, pde, X.data()), 0);
  ASSERT_EQ(DeepCDMoeNSRandomField(0.8, 1.0, 1.0, g.nx, g.ny, w0.data()), 0); // the default seed 1
  DeepCDMoeGrid g0 = g;
  g0.nt            = 1;
  ASSERT_EQ(DeepCDMoeGridVelocity(&g0, 1, w0.data(), vx.data(), vy.data()), 0);
  double err = 0;
  for (PetscInt p = 0; p < P; p++) {
    DeepCDMoePoint pt;
    DeepCDMoeGridPoint(&g, p, &pt);
    const PetscInt q = p % nxy, i = pt.i, k = pt.k, n = g.nx;
    const double   gx = (w0[k * n + (i + 1) % n] - w0[k * n + (i + n - 1) % n]) / (2 * g.hx), gy = (w0[((k + 1) % n) * n + i] - w0[((k + n - 1) % n) * n + i]) / (2 * g.hy);
    const double   want[8] = { 2 * pt.x - 1, 2 * pt.y - 1, 2 * pt.t / pde->t1 - 1, w0[q], gx / (2 * M_PI), gy / (2 * M_PI), 2 * M_PI * vx[q], 2 * M_PI * vy[q] };
    for (int l = 0; l < 8; l++) err = std::max(err, std::fabs(X[p * nin + l] - want[l]));
  }
  EXPECT_LT(err, 1e-12);
  DeepCDMoeBackboneDestroy(&bb);
  DeepCDMoePDEDestroy(&pde);
}

} // namespace

namespace {

// The experts of ns with the initial condition built in (u = w0 + t/T B w_k):
// u(0) = w0 exactly, and dL/dB of L = |u - g|^2 / 2 through the LM solves
// (implicit differentiation) against central differences in B.
TEST(MoeNS, BuiltInInitialConditionAndExpertsGradient)
{
  DeepCDMoePDE  pde;
  DeepCDMoeGrid g;
  ASSERT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_NS, &pde), 0);
  ASSERT_NE(pde->ops.builtin, nullptr);
  DeepCDMoePDESetConstant(pde, "nu", 0.02);
  ASSERT_EQ(DeepCDMoePDEGridSetUp(pde, 8, 8, 5, &g), 0);
  const PetscInt   N = 5, P = DeepCDMoeGridSize(&g), nxy = g.nx * g.ny;
  DeepCDMoeExperts ex;
  ASSERT_EQ(DeepCDMoeExpertsCreate2D(PETSC_COMM_SELF, pde, &g, N, 2, 2, 1, &ex), 0);
  ASSERT_EQ(DeepCDMoeExpertsSetSampling(ex, 40, 3), 0);
  DeepCDMoeLMOptions o;
  DeepCDMoeLMOptionsDefault(&o);
  o.max_it = 300, o.gatol = 1e-13;
  ASSERT_EQ(DeepCDMoeExpertsSetLMOptions(ex, &o), 0);
  ASSERT_EQ(DeepCDMoeExpertsSetUp(ex), 0);
  std::vector<double> B(P * N), D(P * N), u(P), tgt(P), ubar(P), Bbar(P * N, 0.0), w0(nxy);
  for (PetscInt l = 0; l < P * N; l++) B[l] = 0.3 * std::sin(0.37 * l + 0.1) + 0.2 * std::cos(1.1 * l), D[l] = std::cos(0.91 * l + 0.4);
  for (PetscInt p = 0; p < P; p++) tgt[p] = std::sin(0.21 * p);
  ASSERT_EQ(DeepCDMoeNSRandomField(0.8, 1.0, 1.0, g.nx, g.ny, w0.data()), 0);
  auto loss = [&](const std::vector<double> &b, bool grad) {
    EXPECT_EQ(DeepCDMoeExpertsSolve(ex, b.data(), u.data()), 0);
    double L = 0;
    for (PetscInt p = 0; p < P; p++) L += 0.5 * (u[p] - tgt[p]) * (u[p] - tgt[p]), ubar[p] = u[p] - tgt[p];
    if (grad) EXPECT_EQ(DeepCDMoeExpertsBackward(ex, b.data(), ubar.data(), Bbar.data()), 0);
    return L;
  };
  loss(B, true);
  double ic = 0;
  for (PetscInt p = 0; p < nxy; p++) ic = std::max(ic, std::fabs(u[p] - w0[p]));
  EXPECT_EQ(ic, 0.0); // the initial level is w0 itself
  for (PetscInt k = 0; k < 4; k++) {
    DeepCDMoeLMInfo info;
    DeepCDMoeExpertsGetLMInfo(ex, k, &info);
    EXPECT_GT(info.reason, 0) << "expert " << k;
  }
  // the solves are strongly nonlinear in B on this random basis: the differences converge as h falls
  // (h = 1e-5, 1e-6, 1e-7: relative errors 8e-3, 8e-5, 8e-7)
  const double        h  = 1e-7;
  std::vector<double> Bp = B, Bm = B;
  for (PetscInt l = 0; l < P * N; l++) Bp[l] += h * D[l], Bm[l] -= h * D[l];
  const double fd = (loss(Bp, false) - loss(Bm, false)) / (2 * h);
  double       an = 0;
  for (PetscInt l = 0; l < P * N; l++) an += Bbar[l] * D[l];
  printf("ns experts 2x2, built-in initial condition: dL/dB . D: FD %.10e, IFT %.10e, relative error %.2e\n", fd, an, std::fabs(fd - an) / std::fabs(an));
  EXPECT_LT(std::fabs(fd - an), 1e-5 * std::fabs(an));
  DeepCDMoeExpertsDestroy(&ex);
  DeepCDMoePDEDestroy(&pde);
}

} // namespace
