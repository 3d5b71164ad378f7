// PDE residual operators of the mixture of experts: truncation order under
// grid refinement against closed-form solutions (heat, Burgers) and a
// manufactured field (all problems); pointwise derivatives of each PDE;
// the constraint's Jacobian, Hessian and basis VJP against central finite
// differences.
#include <gtest/gtest.h>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <string>
#include <vector>
#include <petscviewer.h>
#include <deepcd/moe.h>
#include "test_util.h"

namespace {

const char *kPDEs[] = { DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_PDE_BURGERS, DEEPCD_MOE_PDE_DIFFSORP };

// Every PDE-eligible point (0 < i < nx-1, j > 0) and every condition point.
void AllPoints(const DeepCDMoeGrid &g, std::vector<PetscInt> &pde, std::vector<PetscInt> &cond)
{
  pde.clear();
  cond.clear();
  for (PetscInt j = 1; j < g.nt; j++)
    for (PetscInt i = 1; i < g.nx - 1; i++) pde.push_back(j * g.nx + i);
  for (PetscInt i = 0; i < g.nx; i++) cond.push_back(i);
  for (PetscInt j = 1; j < g.nt; j++) {
    cond.push_back(j * g.nx);
    cond.push_back(j * g.nx + g.nx - 1);
  }
}

// The residual rows of a field u on the grid (N = 1, w = 1).
std::vector<double> RowsOf(DeepCDMoePDE pde, const DeepCDMoeGrid &g, const std::vector<double> &u, PetscInt *mpde)
{
  std::vector<PetscInt> pp, cp;
  DeepCDMoeConstraint   c;
  PetscInt              m;
  const double          w = 1.0;
  AllPoints(g, pp, cp);
  EXPECT_EQ(DeepCDMoeConstraintCreate(pde, &g, 1, &c), 0);
  EXPECT_EQ(DeepCDMoeConstraintSetRidge(c, 0.0), 0);
  EXPECT_EQ(DeepCDMoeConstraintSetPoints(c, (PetscInt) pp.size(), pp.data(), (PetscInt) cp.size(), cp.data()), 0);
  EXPECT_EQ(DeepCDMoeConstraintSetBasis(c, u.data()), 0);
  DeepCDMoeConstraintGetSizes(c, mpde, &m, nullptr);
  std::vector<double> r(m);
  EXPECT_EQ(DeepCDMoeConstraintResidual(c, &w, r.data()), 0);
  DeepCDMoeConstraintDestroy(&c);
  r.pop_back(); // the ridge row
  return r;
}

// Closed form: the PDE rows are pure truncation error, the condition rows vanish.
void ClosedFormOrder(const char *type, PetscInt n0)
{
  DeepCDMoePDE pde;
  ASSERT_EQ(DeepCDMoePDECreate(type, &pde), 0);
  std::vector<double> err;
  for (int level = 0; level < 4; level++) {
    DeepCDMoeGrid  g;
    const PetscInt n = n0 * (1 << level) + 1;
    ASSERT_EQ(DeepCDMoeGridSetUp(&g, n, n, pde->xlo, pde->xhi, pde->t0, pde->t1), 0);
    std::vector<double> u(n * n);
    for (PetscInt p = 0; p < n * n; p++) {
      DeepCDMoePoint pt;
      DeepCDMoeGridPoint(&g, p, &pt);
      DeepCDMoePDEExact(pde, pt.x, pt.t, &u[p]);
    }
    PetscInt            mpde;
    std::vector<double> r = RowsOf(pde, g, u, &mpde);
    double              e = 0, ec = 0;
    for (PetscInt k = 0; k < mpde; k++) e = std::max(e, std::fabs(r[k]));
    for (size_t k = mpde; k < r.size(); k++) ec = std::max(ec, std::fabs(r[k]));
    EXPECT_LT(ec, 1e-14);
    err.push_back(e);
  }
  printf("    %s closed form, max |PDE row| on %d^2 .. %d^2 grids:", type, (int) n0 + 1, (int) (8 * n0 + 1));
  for (double e : err) printf(" %.3e", e);
  printf("; ratios");
  for (size_t l = 1; l < err.size(); l++) printf(" %.3f", err[l - 1] / err[l]);
  printf(" (order %.3f)\n", std::log2(err[2] / err[3]));
  EXPECT_NEAR(std::log2(err[2] / err[3]), 2.0, 0.1);
  DeepCDMoePDEDestroy(&pde);
}

TEST(MoeResidual, HeatClosedFormIsSecondOrder)
{
  ClosedFormOrder(DEEPCD_MOE_PDE_HEAT, 32);
}

TEST(MoeResidual, BurgersClosedFormIsSecondOrder)
{
  ClosedFormOrder(DEEPCD_MOE_PDE_BURGERS, 64);
}

// u = 0.5 + 0.3 sin(pi x + 0.3) exp(-t/T) and its derivatives.
void Manufactured(double x, double t, double T, double q[4])
{
  const double e = std::exp(-t / T), s = std::sin(M_PI * x + 0.3), c = std::cos(M_PI * x + 0.3);
  q[DEEPCD_MOE_U]   = 0.5 + 0.3 * s * e;
  q[DEEPCD_MOE_UT]  = -0.3 * s * e / T;
  q[DEEPCD_MOE_UX]  = 0.3 * M_PI * c * e;
  q[DEEPCD_MOE_UXX] = -0.3 * M_PI * M_PI * s * e;
}

TEST(MoeResidual, ManufacturedRowsAreSecondOrderForEveryPDE)
{
  for (const char *type : kPDEs) {
    DeepCDMoePDE pde;
    ASSERT_EQ(DeepCDMoePDECreate(type, &pde), 0);
    const double        T = pde->t1 - pde->t0;
    std::vector<double> err;
    for (int level = 0; level < 4; level++) {
      DeepCDMoeGrid  g;
      const PetscInt n = 16 * (1 << level) + 1;
      ASSERT_EQ(DeepCDMoeGridSetUp(&g, n, n, pde->xlo, pde->xhi, pde->t0, pde->t1), 0);
      std::vector<double> u(n * n);
      for (PetscInt p = 0; p < n * n; p++) {
        DeepCDMoePoint pt;
        double         q[4];
        DeepCDMoeGridPoint(&g, p, &pt);
        Manufactured(pt.x, pt.t, T, q);
        u[p] = q[0];
      }
      PetscInt              mpde;
      std::vector<double>   r = RowsOf(pde, g, u, &mpde);
      std::vector<PetscInt> pp, cp;
      AllPoints(g, pp, cp);
      double e = 0;
      for (size_t k = 0; k < r.size(); k++) { // the same rows from the exact derivatives
        DeepCDMoePoint pt;
        double         q[4], exact;
        DeepCDMoeGridPoint(&g, (PetscInt) k < mpde ? pp[k] : cp[k - mpde], &pt);
        Manufactured(pt.x, pt.t, T, q);
        if ((PetscInt) k < mpde)
          pde->ops.residual(pde, &pt, q, &exact, nullptr, nullptr);
        else if (pt.j == 0) {
          double u0, s;
          pde->ops.initial(pde, &pt, &u0, &s);
          exact = s * (q[0] - u0);
        } else {
          double c[4], gg;
          pde->ops.boundary(pde, pt.i == 0 ? 0 : 1, &pt, c, &gg);
          exact = c[0] * q[0] + c[1] * q[1] + c[2] * q[2] + c[3] * q[3] - gg;
        }
        e = std::max(e, std::fabs(r[k] - exact));
      }
      err.push_back(e);
    }
    printf("    %s manufactured, max |FD row - exact row| on 17^2 .. 129^2:", type);
    for (double e : err) printf(" %.3e", e);
    printf(" (order %.3f)\n", std::log2(err[2] / err[3]));
    EXPECT_NEAR(std::log2(err[2] / err[3]), 2.0, 0.15) << type;
    DeepCDMoePDEDestroy(&pde);
  }
}

TEST(MoeResidual, StencilsAreExactOnQuadratics)
{
  DeepCDMoeGrid g;
  ASSERT_EQ(DeepCDMoeGridSetUp(&g, 7, 5, -1.0, 2.0, 0.0, 3.0), 0);
  std::vector<double> u(35), d(35);
  auto                f = [](double x, double t) { return 1 + 2 * x - 3 * t + 0.5 * x * x - 0.25 * t * t + x * t; };
  for (PetscInt p = 0; p < 35; p++) {
    DeepCDMoePoint pt;
    DeepCDMoeGridPoint(&g, p, &pt);
    u[p] = f(pt.x, pt.t);
  }
  for (PetscInt a = 1; a < 4; a++) {
    ASSERT_EQ(DeepCDMoeGridDerivative(&g, (DeepCDMoeField) a, 1, u.data(), d.data()), 0);
    for (PetscInt p = 0; p < 35; p++) {
      DeepCDMoePoint pt;
      DeepCDMoeGridPoint(&g, p, &pt);
      double ex = a == 1 ? -3 - 0.5 * pt.t + pt.x : a == 2 ? 2 + pt.x + pt.t
                                                           : 1.0;
      EXPECT_NEAR(d[p], ex, 1e-12) << "field " << a << " point " << p;
    }
  }
}

TEST(MoeResidual, PointwiseDerivativesOfEveryPDE)
{
  for (const char *type : kPDEs) {
    DeepCDMoePDE pde;
    ASSERT_EQ(DeepCDMoePDECreate(type, &pde), 0);
    DeepCDMoePoint pt = { 3, 2, 0.4, 0.3 * pde->t1 };
    for (int trial = 0; trial < 5; trial++) {
      std::vector<double> q = RandomVector(4, 10 + trial);
      q[0]                  = 0.5 + 0.3 * q[0]; // u > 0 for diffusion-sorption's R(u)
      double F, dF[4], d2F[16];
      ASSERT_EQ(pde->ops.residual(pde, &pt, q.data(), &F, dF, d2F), 0);
      for (int a = 0; a < 4; a++) {
        const double h  = 1e-6 * std::max(1.0, std::fabs(q[a]));
        auto         qp = q, qm = q;
        double       Fp, Fm, dFp[4], dFm[4];
        qp[a] += h;
        qm[a] -= h;
        pde->ops.residual(pde, &pt, qp.data(), &Fp, dFp, nullptr);
        pde->ops.residual(pde, &pt, qm.data(), &Fm, dFm, nullptr);
        EXPECT_NEAR(dF[a], (Fp - Fm) / (2 * h), 1e-7 * (1 + std::fabs(dF[a]))) << type << " dF/dq" << a;
        for (int b = 0; b < 4; b++) EXPECT_NEAR(d2F[4 * a + b], (dFp[b] - dFm[b]) / (2 * h), 1e-6 * (1 + std::fabs(d2F[4 * a + b]))) << type << " d2F " << a << b;
      }
    }
    DeepCDMoePDEDestroy(&pde);
  }
}

// A small constraint with a network basis; for diffusion-sorption the first
// basis function is shifted so that u = B w stays positive.
struct Small {
  DeepCDMoePDE        pde = nullptr;
  DeepCDMoeGrid       g;
  DeepCDMoeConstraint c = nullptr;
  PetscInt            N = 5, m, mpde;
  std::vector<double> B, w;
  Small(const char *type)
  {
    EXPECT_EQ(DeepCDMoePDECreate(type, &pde), 0);
    DeepCDMoeGridSetUp(&g, 10, 8, pde->xlo, pde->xhi, pde->t0, pde->t1);
    const PetscInt P = g.nx * g.nt;
    DeepCDMoeMLP   mlp;
    PetscInt       width[] = { 2 + pde->nparam, 8, N }, nth;
    DeepCDMoeMLPCreate(2, width, DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_NONE, &mlp);
    DeepCDMoeMLPGetSizes(mlp, nullptr, nullptr, &nth);
    std::vector<double> th(nth), X(P * width[0]);
    DeepCDMoeMLPInitialize(mlp, 5, th.data());
    for (auto &t : th) t *= 2.0;
    DeepCDMoeGridInputs(&g, P, nullptr, pde->nparam, pde->param, X.data());
    B.resize(P * N);
    DeepCDMoeMLPForward(mlp, P, X.data(), th.data(), B.data());
    DeepCDMoeMLPDestroy(&mlp);
    w = RandomVector(N, 3);
    for (auto &x : w) x *= 0.3;
    if (!strcmp(type, DEEPCD_MOE_PDE_DIFFSORP)) {
      for (PetscInt p = 0; p < P; p++) B[p * N] = 1.0 + 0.1 * B[p * N];
      w[0] = 0.5;
    }
    std::vector<PetscInt> pp, cp;
    AllPoints(g, pp, cp);
    EXPECT_EQ(DeepCDMoeConstraintCreate(pde, &g, N, &c), 0);
    EXPECT_EQ(DeepCDMoeConstraintSetRidge(c, 1e-2), 0);
    EXPECT_EQ(DeepCDMoeConstraintSetPoints(c, (PetscInt) pp.size(), pp.data(), (PetscInt) cp.size(), cp.data()), 0);
    EXPECT_EQ(DeepCDMoeConstraintSetBasis(c, B.data()), 0);
    DeepCDMoeConstraintGetSizes(c, &mpde, &m, nullptr);
  }
  ~Small()
  {
    DeepCDMoeConstraintDestroy(&c);
    DeepCDMoePDEDestroy(&pde);
  }
  std::vector<double> Res(const std::vector<double> &x)
  {
    std::vector<double> r(m);
    EXPECT_EQ(DeepCDMoeConstraintResidual(c, x.data(), r.data()), 0);
    return r;
  }
  std::vector<double> Grad(const std::vector<double> &x)
  {
    std::vector<double> gr(N);
    EXPECT_EQ(DeepCDMoeConstraintNormal(c, x.data(), DEEPCD_MOE_HESSIAN_GN, nullptr, gr.data(), nullptr), 0);
    return gr;
  }
};

double MaxAbs(const std::vector<double> &v)
{
  double s = 0;
  for (double x : v) s = std::max(s, std::fabs(x));
  return s;
}

TEST(MoeResidual, JacobianHessianAndBasisVJPAgainstFiniteDifferences)
{
  for (const char *type : kPDEs) {
    Small               s(type);
    const PetscInt      N = s.N, m = s.m, P = s.g.nx * s.g.nt;
    std::vector<double> J(m * N), r = s.Res(s.w), g(N), H(N * N), Hgn(N * N);
    double              f;
    ASSERT_EQ(DeepCDMoeConstraintJacobian(s.c, s.w.data(), J.data()), 0);
    ASSERT_EQ(DeepCDMoeConstraintNormal(s.c, s.w.data(), DEEPCD_MOE_HESSIAN_EXACT, &f, g.data(), H.data()), 0);
    ASSERT_EQ(DeepCDMoeConstraintNormal(s.c, s.w.data(), DEEPCD_MOE_HESSIAN_GN, nullptr, nullptr, Hgn.data()), 0);
    double jerr = 0, herr = 0, gerr = 0, gnerr = 0, fr = 0;
    for (PetscInt k = 0; k < m; k++) fr += 0.5 * r[k] * r[k];
    EXPECT_NEAR(f, fr, 1e-13 * fr);
    for (PetscInt l = 0; l < N; l++) {
      const double h  = 1e-6;
      auto         wp = s.w, wm = s.w;
      wp[l] += h;
      wm[l] -= h;
      auto rp = s.Res(wp), rm = s.Res(wm), gp = s.Grad(wp), gm = s.Grad(wm);
      for (PetscInt k = 0; k < m; k++) jerr = std::max(jerr, std::fabs((rp[k] - rm[k]) / (2 * h) - J[k * N + l]));
      for (PetscInt i = 0; i < N; i++) herr = std::max(herr, std::fabs((gp[i] - gm[i]) / (2 * h) - H[i + l * N]));
      double jtr = 0, jtj = 0;
      for (PetscInt k = 0; k < m; k++) jtr += J[k * N + l] * r[k];
      gerr = std::max(gerr, std::fabs(jtr - g[l]));
      for (PetscInt i = 0; i < N; i++) {
        jtj = 0;
        for (PetscInt k = 0; k < m; k++) jtj += J[k * N + l] * J[k * N + i];
        gnerr = std::max(gnerr, std::fabs(jtj - Hgn[i + l * N]));
      }
    }
    // VJP: d/de [v . G(w, B + e dB)] = <Bbar, dB>
    std::vector<double> v = RandomVector(N, 21), dB = RandomVector(P * N, 22), Bbar(P * N, 0.0);
    ASSERT_EQ(DeepCDMoeConstraintBasisVJP(s.c, s.w.data(), v.data(), Bbar.data()), 0);
    auto vG = [&](double e) {
      std::vector<double> Be = s.B;
      for (PetscInt k = 0; k < P * N; k++) Be[k] += e * dB[k];
      DeepCDMoeConstraintSetBasis(s.c, Be.data());
      auto   gg = s.Grad(s.w);
      double t  = 0;
      for (PetscInt l = 0; l < N; l++) t += v[l] * gg[l];
      return t;
    };
    const double h = 1e-6, fd = (vG(h) - vG(-h)) / (2 * h);
    double       an = 0;
    for (PetscInt k = 0; k < P * N; k++) an += Bbar[k] * dB[k];
    DeepCDMoeConstraintSetBasis(s.c, s.B.data());
    printf("    %s (%d rows, N = %d): |J - FD| %.1e of %.1e; |H_exact - FD(g)| %.1e of %.1e; |J^T r - g| %.1e; |J^T J - H_gn| %.1e; VJP %.10e vs FD %.10e\n", type, (int) m, (int) N, jerr, MaxAbs(J), herr, MaxAbs(H), gerr, gnerr, an, fd);
    EXPECT_LT(jerr, 1e-7 * MaxAbs(J)) << type;
    EXPECT_LT(herr, 1e-6 * MaxAbs(H)) << type;
    EXPECT_LT(gerr, 1e-12 * MaxAbs(H) * MaxAbs(s.w) + 1e-12) << type;
    EXPECT_LT(gnerr, 1e-12 * MaxAbs(H)) << type;
    EXPECT_NEAR(an, fd, 1e-6 * std::fabs(fd)) << type;
    if (!strcmp(type, DEEPCD_MOE_PDE_HEAT))
      for (PetscInt k = 0; k < N * N; k++) EXPECT_EQ(H[k], Hgn[k]); // linear: exact Hessian = Gauss-Newton
  }
}

TEST(MoeResidual, RegistryConstantsAndErrors)
{
  DeepCDMoePDE pde;
  double       v;
  ASSERT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_DIFFSORP, &pde), 0);
  EXPECT_EQ(DeepCDMoePDEGetConstant(pde, "n_f", &v), 0);
  EXPECT_EQ(v, 0.874);
  EXPECT_EQ(DeepCDMoePDESetConstant(pde, "D", 1e-3), 0);
  EXPECT_EQ(DeepCDMoePDEGetConstant(pde, "D", &v), 0);
  EXPECT_EQ(v, 1e-3);
  PetscOptionsSetValue(nullptr, "-moe_diffsorp_phi", "0.3");
  PetscOptionsSetValue(nullptr, "-moe_diffsorp_c", "0.05");
  EXPECT_EQ(DeepCDMoePDESetFromOptions(pde), 0);
  PetscOptionsClearValue(nullptr, "-moe_diffsorp_phi");
  PetscOptionsClearValue(nullptr, "-moe_diffsorp_c");
  EXPECT_EQ(DeepCDMoePDEGetConstant(pde, "phi", &v), 0);
  EXPECT_EQ(v, 0.3);
  PetscInt      np;
  const double *par;
  DeepCDMoePDEGetParameters(pde, &np, &par);
  EXPECT_EQ(np, 1);
  EXPECT_EQ(par[0], 0.05);
  PetscViewer viewer;
  char        path[] = "/tmp/deepcd_moe_view_XXXXXX";
  int         fd     = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  PetscViewerASCIIOpen(PETSC_COMM_SELF, path, &viewer);
  EXPECT_EQ(DeepCDMoePDEView(pde, viewer), 0);
  PetscViewerDestroy(&viewer);
  std::ifstream     in(path);
  std::stringstream text;
  text << in.rdbuf();
  unlink(path);
  EXPECT_NE(text.str().find("moe PDE diffsorp on [0., 1.] x [0., 500.]"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("constant n_f = 0.874"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("parameter c = 0.05"), std::string::npos) << text.str();
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  EXPECT_NE(DeepCDMoePDEGetConstant(pde, "kappa", &v), 0);
  const double two[2] = { 1, 2 };
  EXPECT_NE(DeepCDMoePDESetParameters(pde, 2, two), 0);
  EXPECT_NE(DeepCDMoePDEExact(pde, 0.5, 1.0, &v), 0); // no closed form
  DeepCDMoePDE bad = nullptr;
  EXPECT_NE(DeepCDMoePDECreate("navier-stokes", &bad), 0);
  DeepCDMoeGrid g;
  EXPECT_NE(DeepCDMoeGridSetUp(&g, 3, 10, 0, 1, 0, 1), 0);
  PetscPopErrorHandler();
  DeepCDMoePDEDestroy(&pde);
}

} // namespace
