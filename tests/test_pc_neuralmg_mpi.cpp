// PCNEURALMG over MPI ranks (run with mpiexec -n 2 and -n 4): the
// preconditioner applied on n ranks equals the one-rank preconditioner of the
// same matrix (within single-precision rounding), also when the DMDA's
// ownership ranges start at odd cells so that aggregates straddle ranks;
// symmetry and positivity; CG iterations on n ranks against one rank.
#include <gtest/gtest.h>
#include <vector>
#include <deepcd.h>
#include <deepcd/pc.h>
#include "test_util.h"
#include "pc_neuralmg_util.h"

namespace {

// M v for v(i,j,k) = sin(...) on n ranks, gathered in natural order on rank 0
std::vector<double> ApplyNatural(MPI_Comm comm, const NMGOpSpec &s, PetscInt px, const PetscInt *lx, const char *opt, PetscInt *nlevels)
{
  DM       da = NMGCreateDA(comm, s, px, lx);
  Mat      A  = NMGAssemble(da, s);
  PC       pc = NMGCreatePC(da, A, opt);
  Vec      v, z;
  PetscInt xs, ys, zs, xm, ym, zm;
  EXPECT_EQ(PCSetUp(pc), 0);
  PCNeuralMGGetLevels(pc, nlevels);
  DMCreateGlobalVector(da, &v);
  VecDuplicate(v, &z);
  DMDAGetCorners(da, &xs, &ys, &zs, &xm, &ym, &zm);
  PetscScalar ***a;
  DMDAVecGetArray(da, v, &a);
  for (PetscInt k = zs; k < zs + zm; k++)
    for (PetscInt j = ys; j < ys + ym; j++)
      for (PetscInt i = xs; i < xs + xm; i++) a[k][j][i] = std::sin(0.37 * i + 0.11 * j * j) + std::cos(0.23 * k * i);
  DMDAVecRestoreArray(da, v, &a);
  EXPECT_EQ(PCApply(pc, v, z), 0);
  std::vector<double> out = GatherNatural(da, z);
  PCDestroy(&pc);
  VecDestroy(&v);
  VecDestroy(&z);
  MatDestroy(&A);
  DMDestroy(&da);
  return out;
}

void CompareWithOneRank(const NMGOpSpec &s, PetscInt px, const PetscInt *lx, const char *opt)
{
  int rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PetscInt            nl_n, nl_1 = 0;
  std::vector<double> zn = ApplyNatural(PETSC_COMM_WORLD, s, px, lx, opt, &nl_n), z1;
  if (!rank) z1 = ApplyNatural(PETSC_COMM_SELF, s, PETSC_DECIDE, NULL, opt, &nl_1);
  if (rank) return;
  EXPECT_EQ(nl_n, nl_1) << opt;
  ASSERT_EQ(zn.size(), z1.size());
  double num = 0, den = 0;
  for (size_t c = 0; c < zn.size(); c++) {
    num += (zn[c] - z1[c]) * (zn[c] - z1[c]);
    den += z1[c] * z1[c];
  }
  EXPECT_LT(std::sqrt(num / den), 1e-5) << opt;
}

TEST(PCNeuralMGMPI, SameAsOneRankWithPetscRanges)
{
  NMGOpSpec s = { { 20, 18, 16 }, "DNNDDN", 1e3, 15 };
  for (const char *opt : { "-pc_neuralmg_coarse_size 64", "-pc_neuralmg_coarse_size 8 -pc_neuralmg_cycle_type w -pc_neuralmg_smooth_degree 3" }) CompareWithOneRank(s, PETSC_DECIDE, NULL, opt);
}

TEST(PCNeuralMGMPI, SameAsOneRankWhenAggregatesStraddleRanks)
{
  int size;
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  // x split into ranges that start at odd cells: 7 | 8 | 5 | ...
  NMGOpSpec             s = { { 7 * size, 12, 10 }, "DDNNDN", 1e2, 10 };
  std::vector<PetscInt> lx(size, 7);
  if (size > 1) {
    lx[0] = 5;
    lx[1] = 9;
  }
  for (const char *opt : { "-pc_neuralmg_coarse_size 30", "-pc_neuralmg_coarse_size 16 -pc_neuralmg_cycle_type w" }) CompareWithOneRank(s, size, lx.data(), opt);
}

TEST(PCNeuralMGMPI, SymmetricPositiveDefinite)
{
  int size;
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  NMGOpSpec             s = { { 7 * size + 2, 11, 9 }, "DNNDND", 1e3, 20 };
  std::vector<PetscInt> lx(size, 7);
  lx[0] += 2;
  DM  da = NMGCreateDA(PETSC_COMM_WORLD, s, size, lx.data());
  Mat A  = NMGAssemble(da, s);
  NMGExpectSPD(da, A, "-pc_neuralmg_coarse_size 16", 5);
  MatDestroy(&A);
  DMDestroy(&da);
}

TEST(PCNeuralMGMPI, CGIterationsMatchOneRank)
{
  int rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  std::string path = TestTempDir("pc_neuralmg_mpi") + "/random_32.h5";
  WriteScene("random", 32, 32, 32, 2026, path);
  PetscInt its[2] = { -1, -1 };
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1 && rank) break;
    MPI_Comm      comm = pass ? PETSC_COMM_SELF : PETSC_COMM_WORLD;
    DeepCDProblem p;
    Mat           A;
    Vec           b, x;
    KSP           ksp;
    ASSERT_EQ(DeepCDProblemLoad(comm, path.c_str(), &p), 0);
    ASSERT_EQ(DeepCDOperatorSetUp(p, &A, &b), 0);
    VecDuplicate(b, &x);
    KSPCreate(comm, &ksp);
    KSPSetOperators(ksp, A, A);
    KSPSetDM(ksp, p->da);
    DeepCDKSPSetDMActive(ksp, PETSC_FALSE);
    KSPSetType(ksp, KSPCG);
    KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED);
    KSPSetTolerances(ksp, 1e-8, 1e-300, PETSC_DEFAULT, 200);
    PC pc;
    KSPGetPC(ksp, &pc);
    PCSetType(pc, PCNEURALMG);
    ASSERT_EQ(KSPSolve(ksp, b, x), 0);
    KSPConvergedReason reason;
    KSPGetConvergedReason(ksp, &reason);
    EXPECT_EQ(reason, KSP_CONVERGED_RTOL);
    KSPGetIterationNumber(ksp, &its[pass]);
    KSPDestroy(&ksp);
    VecDestroy(&x);
    VecDestroy(&b);
    MatDestroy(&A);
    DeepCDProblemDestroy(&p);
  }
  if (!rank) EXPECT_LE(std::abs(its[0] - its[1]), 1) << its[0] << " ranks vs " << its[1];
}

} // namespace
