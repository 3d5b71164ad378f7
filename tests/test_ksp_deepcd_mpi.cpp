// Run with mpiexec -n 2: the distributed grid and solves against the same
// solves on one rank.
#include <gtest/gtest.h>
#include <cmath>
#include "test_util.h"

namespace {

struct Result {
  PetscInt            its;
  KSPConvergedReason  reason;
  std::vector<double> x; // natural ordering, on rank 0 of comm
};

// Solves the file on `comm`; the solution is gathered in natural ordering.
Result Solve(MPI_Comm comm, const std::string &path, const char *pc)
{
  Result        res;
  DeepCDProblem p;
  Mat           A;
  Vec           b, x;
  KSP           ksp;
  PC            prec;
  EXPECT_EQ(DeepCDProblemLoad(comm, path.c_str(), &p), 0);
  EXPECT_EQ(DeepCDOperatorSetUp(p, &A, &b), 0);
  VecDuplicate(b, &x);
  KSPCreate(comm, &ksp);
  KSPSetOperators(ksp, A, A);
  KSPSetType(ksp, KSPDEEPCD);
  KSPGetPC(ksp, &prec);
  PCSetType(prec, pc);
  KSPSetTolerances(ksp, 1e-10, PETSC_DEFAULT, PETSC_DEFAULT, 2000);
  EXPECT_EQ(KSPSolve(ksp, b, x), 0);
  DeepCDProblemFinishSolution(p, A, x);
  KSPGetIterationNumber(ksp, &res.its);
  KSPGetConvergedReason(ksp, &res.reason);
  res.x = GatherNatural(p->da, x);
  KSPDestroy(&ksp);
  VecDestroy(&x);
  VecDestroy(&b);
  MatDestroy(&A);
  DeepCDProblemDestroy(&p);
  return res;
}

} // namespace

TEST(Mpi, OwnershipRangesStartEven)
{
  int size;
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  ASSERT_EQ(size, 2) << "run with mpiexec -n 2";
  for (PetscInt nx : { 8, 9, 17, 30 }) {
    DM da;
    ASSERT_EQ(DeepCDGridCreate(PETSC_COMM_WORLD, nx, 7, 5, DMDA_STENCIL_BOX, 1, &da), 0);
    PetscInt        m, n, p;
    const PetscInt *lx, *ly, *lz;
    DMDAGetInfo(da, NULL, NULL, NULL, NULL, &m, &n, &p, NULL, NULL, NULL, NULL, NULL, NULL);
    DMDAGetOwnershipRanges(da, &lx, &ly, &lz);
    const PetscInt *l[3] = { lx, ly, lz }, cnt[3] = { m, n, p };
    for (int d = 0; d < 3; d++) {
      PetscInt start = 0;
      for (PetscInt r = 0; r < cnt[d]; r++) {
        EXPECT_EQ(start % 2, 0) << "dimension " << d << " nx " << nx;
        start += l[d][r];
      }
    }
    EXPECT_EQ(m * n * p, 2);
    DMDestroy(&da);
  }
}

class RanksBySceneTest : public ::testing::TestWithParam<const char *> {};

TEST_P(RanksBySceneTest, TwoRanksMatchOneRank)
{
  int rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  std::string dir = TestTempDir("mpi"), path = dir + "/" + GetParam() + ".h5";
  WriteScene(GetParam(), 14, 12, 10, 17, path);
  for (const char *pc : { "jacobi", "none" }) {
    Result two = Solve(PETSC_COMM_WORLD, path, pc);
    Result one;
    if (!rank) one = Solve(PETSC_COMM_SELF, path, pc);
    if (!rank) {
      EXPECT_GT(two.reason, 0);
      EXPECT_EQ(one.its, two.its) << GetParam() << " " << pc;
      ASSERT_EQ(one.x.size(), two.x.size());
      double num = 0, den = 0;
      for (size_t i = 0; i < one.x.size(); i++) {
        num += (one.x[i] - two.x[i]) * (one.x[i] - two.x[i]);
        den += one.x[i] * one.x[i];
      }
      EXPECT_LT(std::sqrt(num / den), 1e-8) << GetParam() << " " << pc;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Scenes, RanksBySceneTest, ::testing::Values("empty", "spheres", "plume", "random"));

namespace {

// Region labels of a problem on `comm`, gathered in natural ordering on its rank 0.
std::vector<PetscInt> GatherLabels(MPI_Comm comm, const std::string &path, DeepCDRegions *r)
{
  DeepCDProblem p;
  EXPECT_EQ(DeepCDProblemLoad(comm, path.c_str(), &p), 0);
  EXPECT_EQ(DeepCDRegionsCompute(p, r), 0);
  std::vector<double>   x = GatherNatural(p->da, r->label);
  std::vector<PetscInt> lab(x.size());
  for (size_t i = 0; i < x.size(); i++) lab[i] = (PetscInt) x[i];
  DeepCDProblemDestroy(&p);
  return lab;
}

} // namespace

TEST(Mpi, RegionsAcrossRanksMatchOneRank)
{
  int rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  std::string dir = TestTempDir("mpi"), path = dir + "/maze.h5";
  // 45% random solid cells: many small regions, many of them cut by the
  // subdomain boundary, some only connected through the other rank.
  if (!rank) {
    DeepCDProblemData *d;
    ASSERT_EQ(DeepCDProblemDataCreate(16, 10, 8, 0.1, "NNNNND", &d), 0);
    ASSERT_EQ(PetscCalloc1(16 * 10 * 8, &d->solid), 0);
    unsigned long long x = 12345;
    for (int c = 0; c < 16 * 10 * 8; c++) {
      x           = x * 6364136223846793005ULL + 1442695040888963407ULL;
      d->solid[c] = (x >> 33) % 100 < 45;
      d->rhs[c]   = d->solid[c] ? 0.0 : 1.0;
    }
    ASSERT_EQ(DeepCDProblemDataWrite(d, path.c_str()), 0);
    DeepCDProblemDataDestroy(&d);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  DeepCDRegions         two, one;
  std::vector<PetscInt> l2 = GatherLabels(PETSC_COMM_WORLD, path, &two), l1;
  if (!rank) l1 = GatherLabels(PETSC_COMM_SELF, path, &one);
  if (!rank) {
    EXPECT_GT(one.nregions, 5);
    EXPECT_EQ(one.nregions, two.nregions);
    EXPECT_EQ(one.nfloating, two.nfloating);
    ASSERT_EQ(l1.size(), l2.size());
    // the same partition of the cells: labels correspond one to one
    std::vector<PetscInt> map12(one.nregions, -1), map21(two.nregions, -1);
    for (size_t c = 0; c < l1.size(); c++) {
      ASSERT_EQ(l1[c] < 0, l2[c] < 0);
      if (l1[c] < 0) continue;
      if (map12[l1[c]] < 0) map12[l1[c]] = l2[c];
      if (map21[l2[c]] < 0) map21[l2[c]] = l1[c];
      ASSERT_EQ(map12[l1[c]], l2[c]);
      ASSERT_EQ(map21[l2[c]], l1[c]);
    }
    for (PetscInt i = 0; i < one.nregions; i++) EXPECT_EQ(one.cells[i], two.cells[map12[i]]);
    std::vector<bool> f1(one.nregions), f2(two.nregions);
    for (PetscInt i = 0; i < one.nfloating; i++) f1[one.floating[i]] = true;
    for (PetscInt i = 0; i < two.nfloating; i++) f2[two.floating[i]] = true;
    for (PetscInt i = 0; i < one.nregions; i++) EXPECT_EQ(f1[i], f2[map12[i]]);
    DeepCDRegionsDestroy(&one);
  }
  DeepCDRegionsDestroy(&two);
}
