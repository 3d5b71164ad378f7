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
