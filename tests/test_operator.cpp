// The finite-volume operator against hand-computed rows; symmetry; regions
// and the null space of floating fluid regions.
#include <gtest/gtest.h>
#include <cmath>
#include "test_util.h"

namespace {

// Writes a small problem whose matrix rows are computed by hand below:
// 3 x 2 x 2 cells, h = 0.5 (1/h^2 = 4), walls x- D, x+ N, y- N, y+ D, z- N, z+ D,
// k = 3 in cell (1,0,0), k = 2 in cell (2,1,1), 1 elsewhere; cell (2,0,0) solid.
std::string WriteHandCase(const std::string &dir)
{
  DeepCDProblemData *d;
  EXPECT_EQ(DeepCDProblemDataCreate(3, 2, 2, 0.5, "DNNDND", &d), 0);
  EXPECT_EQ(PetscCalloc1(12, &d->coefficient), 0);
  EXPECT_EQ(PetscCalloc1(12, &d->solid), 0);
  for (int c = 0; c < 12; c++) {
    d->coefficient[c] = 1.0;
    d->rhs[c]         = 1.0;
  }
  auto idx                     = [](int i, int j, int k) { return (k * 2 + j) * 3 + i; };
  d->coefficient[idx(1, 0, 0)] = 3.0;
  d->coefficient[idx(2, 1, 1)] = 2.0;
  d->solid[idx(2, 0, 0)]       = 1;
  std::string path             = dir + "/hand.h5";
  EXPECT_EQ(DeepCDProblemDataWrite(d, path.c_str()), 0);
  EXPECT_EQ(DeepCDProblemDataDestroy(&d), 0);
  return path;
}

PetscInt Row(PetscInt i, PetscInt j, PetscInt k)
{
  return (k * 2 + j) * 3 + i;
}

// Entries of one row of A (natural ordering = PETSc ordering on one rank).
std::vector<std::pair<PetscInt, double>> RowEntries(Mat A, PetscInt r)
{
  PetscInt                                 ncols;
  const PetscInt                          *cols;
  const PetscScalar                       *vals;
  std::vector<std::pair<PetscInt, double>> e;
  MatGetRow(A, r, &ncols, &cols, &vals);
  for (PetscInt c = 0; c < ncols; c++)
    if (vals[c] != 0.0) e.push_back({ cols[c], PetscRealPart(vals[c]) });
  MatRestoreRow(A, r, &ncols, &cols, &vals);
  return e;
}

} // namespace

TEST(Operator, HandComputedRows)
{
  std::string   dir  = TestTempDir("operator");
  std::string   path = WriteHandCase(dir);
  DeepCDProblem p;
  Mat           A;
  ASSERT_EQ(DeepCDProblemLoad(PETSC_COMM_SELF, path.c_str(), &p), 0);
  ASSERT_EQ(DeepCDOperatorAssemble(p, &A), 0);

  using E = std::vector<std::pair<PetscInt, double>>;
  // cell (0,0,0), k=1: x- D wall 2*1*4 = 8; x+ to k=3: harmonic 1.5 -> 6; y+ and z+ to k=1 -> 4 each.
  EXPECT_EQ(RowEntries(A, Row(0, 0, 0)), (E{ { Row(0, 0, 0), 22.0 }, { Row(1, 0, 0), -6.0 }, { Row(0, 1, 0), -4.0 }, { Row(0, 0, 1), -4.0 } }));
  // cell (1,0,0), k=3: x- 6; x+ solid: nothing; y- N wall: nothing; y+ and z+ harmonic(3,1) -> 6 each.
  EXPECT_EQ(RowEntries(A, Row(1, 0, 0)), (E{ { Row(0, 0, 0), -6.0 }, { Row(1, 0, 0), 18.0 }, { Row(1, 1, 0), -6.0 }, { Row(1, 0, 1), -6.0 } }));
  // solid cell: identity row.
  EXPECT_EQ(RowEntries(A, Row(2, 0, 0)), (E{ { Row(2, 0, 0), 1.0 } }));
  // cell (2,1,1), k=2: three fluid neighbours with k=1 (harmonic 4/3 -> 16/3); x+ N wall; y+ and z+ D walls 2*2*4 = 16 each.
  {
    E e = RowEntries(A, Row(2, 1, 1));
    ASSERT_EQ(e.size(), 4u);
    EXPECT_EQ(e[0].first, Row(2, 1, 0));
    EXPECT_NEAR(e[0].second, -16.0 / 3, 1e-12);
    EXPECT_EQ(e[1].first, Row(2, 0, 1));
    EXPECT_NEAR(e[1].second, -16.0 / 3, 1e-12);
    EXPECT_EQ(e[2].first, Row(1, 1, 1));
    EXPECT_NEAR(e[2].second, -16.0 / 3, 1e-12);
    EXPECT_EQ(e[3].first, Row(2, 1, 1));
    EXPECT_NEAR(e[3].second, 48.0, 1e-12);
  }
  // cell (2,0,1): x- fluid (k=1) 4, x+ N, y- N, y+ fluid (k=2): 16/3, z- solid: nothing, z+ D: 8.
  {
    E e = RowEntries(A, Row(2, 0, 1));
    ASSERT_EQ(e.size(), 3u);
    EXPECT_EQ(e[0].first, Row(1, 0, 1));
    EXPECT_NEAR(e[0].second, -4.0, 1e-12);
    EXPECT_EQ(e[1].first, Row(2, 0, 1));
    EXPECT_NEAR(e[1].second, 4.0 + 16.0 / 3 + 8.0, 1e-12);
    EXPECT_EQ(e[2].first, Row(2, 1, 1));
    EXPECT_NEAR(e[2].second, -16.0 / 3, 1e-12);
  }
  PetscBool sym;
  ASSERT_EQ(MatIsSymmetric(A, 0.0, &sym), 0);
  EXPECT_TRUE(sym);
  MatDestroy(&A);
  DeepCDProblemDestroy(&p);
}

TEST(Operator, SymmetricPositiveDefiniteOnScenes)
{
  std::string dir = TestTempDir("operator");
  for (const char *scene : { "empty", "spheres", "plume", "random" }) {
    std::string path = dir + "/" + scene + ".h5";
    WriteScene(scene, 9, 7, 6, 5, path);
    DeepCDProblem p;
    Mat           A;
    ASSERT_EQ(DeepCDProblemLoad(PETSC_COMM_SELF, path.c_str(), &p), 0);
    ASSERT_EQ(DeepCDOperatorAssemble(p, &A), 0);
    PetscBool sym;
    ASSERT_EQ(MatIsSymmetric(A, 0.0, &sym), 0);
    EXPECT_TRUE(sym) << scene;
    // row sums vanish away from Dirichlet walls: A applied to ones is >= 0 everywhere
    Vec one, y;
    MatCreateVecs(A, &one, &y);
    VecSet(one, 1.0);
    MatMult(A, one, y);
    PetscReal mn;
    VecMin(y, NULL, &mn);
    EXPECT_GE(mn, -1e-9) << scene;
    VecDestroy(&one);
    VecDestroy(&y);
    MatDestroy(&A);
    DeepCDProblemDestroy(&p);
  }
}

TEST(Operator, FloatingRegionsGetNullSpace)
{
  // 6 x 4 x 4, all walls N except x- D; a solid slab at x = 3 splits the fluid
  // into a region touching x- (nonsingular) and one touching no D wall.
  std::string        dir = TestTempDir("operator");
  DeepCDProblemData *d;
  ASSERT_EQ(DeepCDProblemDataCreate(6, 4, 4, 0.25, "DNNNNN", &d), 0);
  ASSERT_EQ(PetscCalloc1(96, &d->solid), 0);
  for (int k = 0; k < 4; k++)
    for (int j = 0; j < 4; j++)
      for (int i = 0; i < 6; i++) {
        int c       = (k * 4 + j) * 6 + i;
        d->solid[c] = i == 3;
        d->rhs[c]   = i > 3 ? 1.0 : 0.5;
      }
  std::string path = dir + "/floating.h5";
  ASSERT_EQ(DeepCDProblemDataWrite(d, path.c_str()), 0);
  DeepCDProblemDataDestroy(&d);

  DeepCDProblem p;
  ASSERT_EQ(DeepCDProblemLoad(PETSC_COMM_SELF, path.c_str(), &p), 0);
  DeepCDRegions r;
  ASSERT_EQ(DeepCDRegionsCompute(p, &r), 0);
  EXPECT_EQ(r.nregions, 2);
  ASSERT_EQ(r.nfloating, 1);
  EXPECT_EQ(r.cells[r.floating[0]], 2 * 16);
  DeepCDRegionsDestroy(&r);

  Mat A;
  Vec b, x;
  ASSERT_EQ(DeepCDOperatorSetUp(p, &A, &b), 0);
  MatNullSpace nsp;
  MatGetNullSpace(A, &nsp);
  ASSERT_NE(nsp, nullptr);
  PetscBool isnull;
  MatNullSpaceTest(nsp, A, &isnull);
  EXPECT_TRUE(isnull);
  // b is consistent: its mean over the floating region is zero
  const PetscScalar *a;
  VecGetArrayRead(b, &a);
  double sum = 0;
  for (int c = 0; c < 96; c++)
    if (c % 6 > 3) sum += PetscRealPart(a[c]);
  VecRestoreArrayRead(b, &a);
  EXPECT_NEAR(sum, 0.0, 1e-12);

  KSP ksp;
  VecDuplicate(b, &x);
  KSPCreate(PETSC_COMM_SELF, &ksp);
  KSPSetOperators(ksp, A, A);
  KSPSetType(ksp, KSPDEEPCD);
  KSPSetTolerances(ksp, 1e-12, 1e-50, PETSC_DEFAULT, 500);
  ASSERT_EQ(KSPSolve(ksp, b, x), 0);
  KSPConvergedReason reason;
  KSPGetConvergedReason(ksp, &reason);
  EXPECT_GT(reason, 0);
  ASSERT_EQ(DeepCDProblemFinishSolution(p, A, x), 0);
  Vec res;
  VecDuplicate(b, &res);
  MatMult(A, x, res);
  VecAXPY(res, -1.0, b);
  PetscReal rn, bn;
  VecNorm(res, NORM_2, &rn);
  VecNorm(b, NORM_2, &bn);
  EXPECT_LT(rn / bn, 1e-10);
  VecGetArrayRead(x, &a);
  sum = 0;
  for (int c = 0; c < 96; c++) {
    if (c % 6 > 3) sum += PetscRealPart(a[c]);
    if (c % 6 == 3) EXPECT_EQ(PetscRealPart(a[c]), 0.0);
  }
  VecRestoreArrayRead(x, &a);
  EXPECT_NEAR(sum, 0.0, 1e-10);
  VecDestroy(&res);
  VecDestroy(&x);
  VecDestroy(&b);
  KSPDestroy(&ksp);
  MatDestroy(&A);
  DeepCDProblemDestroy(&p);
}
