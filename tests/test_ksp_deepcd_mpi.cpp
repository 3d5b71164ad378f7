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
  Vec           b, x, nat, seq;
  KSP           ksp;
  PC            prec;
  VecScatter    sc;
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
  DMDACreateNaturalVector(p->da, &nat);
  DMDAGlobalToNaturalBegin(p->da, x, INSERT_VALUES, nat);
  DMDAGlobalToNaturalEnd(p->da, x, INSERT_VALUES, nat);
  VecScatterCreateToZero(nat, &sc, &seq);
  VecScatterBegin(sc, nat, seq, INSERT_VALUES, SCATTER_FORWARD);
  VecScatterEnd(sc, nat, seq, INSERT_VALUES, SCATTER_FORWARD);
  PetscInt n;
  VecGetLocalSize(seq, &n);
  const PetscScalar *a;
  VecGetArrayRead(seq, &a);
  for (PetscInt i = 0; i < n; i++) res.x.push_back(PetscRealPart(a[i]));
  VecRestoreArrayRead(seq, &a);
  VecScatterDestroy(&sc);
  VecDestroy(&seq);
  VecDestroy(&nat);
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
