// Reference solutions of the moe problems: the closed forms on the grid, and
// the diffusion-sorption finite-volume solution integrated by PETSc TS,
// which must converge at second order as the cells are refined.
#include <gtest/gtest.h>
#include <cmath>
#include <vector>
#include <deepcd/moe.h>

namespace {

TEST(MoeReference, ClosedFormsOnTheGrid)
{
  for (const char *type : { DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_PDE_BURGERS }) {
    DeepCDMoePDE  pde;
    DeepCDMoeGrid g;
    ASSERT_EQ(DeepCDMoePDECreate(type, &pde), 0);
    DeepCDMoeGridSetUp(&g, 11, 6, pde->xlo, pde->xhi, pde->t0, pde->t1);
    std::vector<double> u(g.nx * g.nt);
    ASSERT_EQ(DeepCDMoePDEReference(pde, &g, u.data()), 0);
    for (PetscInt p = 0; p < g.nx * g.nt; p++) {
      DeepCDMoePoint pt;
      double         e;
      DeepCDMoeGridPoint(&g, p, &pt);
      DeepCDMoePDEExact(pde, pt.x, pt.t, &e);
      EXPECT_EQ(u[p], e);
    }
    DeepCDMoePDEDestroy(&pde);
  }
}

std::vector<double> DiffSorp(PetscInt cells, const DeepCDMoeGrid &g, DeepCDMoePDE pde)
{
  char v[32];
  snprintf(v, sizeof(v), "%d", (int) cells);
  PetscOptionsSetValue(NULL, "-moe_ref_cells", v);
  std::vector<double> u(g.nx * g.nt);
  EXPECT_EQ(DeepCDMoePDEReference(pde, &g, u.data()), 0);
  PetscOptionsClearValue(NULL, "-moe_ref_cells");
  return u;
}

double MaxDiff(const std::vector<double> &a, const std::vector<double> &b)
{
  double d = 0;
  for (size_t k = 0; k < a.size(); k++) d = std::max(d, std::fabs(a[k] - b[k]));
  return d;
}

// Errors against 512 cells fall by about 4 per halving of the cells; the
// solution keeps the boundary and initial values and stays in [0, 1].
TEST(MoeReference, DiffSorpConvergesUnderRefinement)
{
  DeepCDMoePDE  pde;
  DeepCDMoeGrid g;
  ASSERT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_DIFFSORP, &pde), 0);
  const double c = 0.15;
  DeepCDMoePDESetParameters(pde, 1, &c);
  DeepCDMoeGridSetUp(&g, 33, 11, pde->xlo, pde->xhi, pde->t0, pde->t1);
  const std::vector<double> u64 = DiffSorp(64, g, pde), u128 = DiffSorp(128, g, pde), u256 = DiffSorp(256, g, pde), u512 = DiffSorp(512, g, pde);
  const double              e64 = MaxDiff(u64, u512), e128 = MaxDiff(u128, u512), e256 = MaxDiff(u256, u512);
  // against the finest: e(n) ~ C n^-2 (1 - 4^-k) so the ratios are 4 * (15/16)/(3/4) = 5 and 4 * (3/4) = 3
  EXPECT_GT(e64 / e128, 3.5) << e64 << " " << e128 << " " << e256;
  EXPECT_GT(e128 / e256, 2.5) << e64 << " " << e128 << " " << e256;
  EXPECT_LT(e256, 1e-4);
  for (PetscInt i = 0; i < g.nx; i++) EXPECT_EQ(u512[i], c);
  for (PetscInt j = 1; j < g.nt; j++) EXPECT_NEAR(u512[j * g.nx], 1.0, 1e-12);
  for (double v : u512) {
    EXPECT_GT(v, -1e-6);
    EXPECT_LT(v, 1.0 + 1e-6);
  }
  DeepCDMoePDEDestroy(&pde);
}

} // namespace
