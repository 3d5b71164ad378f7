// Run with mpiexec -n 2 (or 4): distributed CNN inference inside KSPDEEPCD
// equals the 1-rank result within fp32 rounding.
#include <gtest/gtest.h>
#include <cmath>
#include "test_util.h"
#include <deepcd/model_io.h>

namespace {

// x after one deepcd iteration from x0 = 0: alpha * f(b/||b||), masked; gathered
// in natural ordering on rank 0 of comm.
std::vector<double> OneStep(MPI_Comm comm, const std::string &prob, const std::string &model, const char *backend)
{
  DeepCDProblem p;
  Mat           A;
  Vec           b, x;
  KSP           ksp;
  EXPECT_EQ(DeepCDProblemLoad(comm, prob.c_str(), &p), 0);
  EXPECT_EQ(DeepCDOperatorSetUp(p, &A, &b), 0);
  VecDuplicate(b, &x);
  KSPCreate(comm, &ksp);
  KSPSetOperators(ksp, A, A);
  KSPSetDM(ksp, p->da);
  DeepCDKSPSetDMActive(ksp, PETSC_FALSE);
  KSPSetType(ksp, KSPDEEPCD);
  KSPDeepCDSetModel(ksp, model.c_str());
  KSPSetTolerances(ksp, 1e-30, 1e-50, PETSC_DEFAULT, 1);
  PetscOptionsSetValue(NULL, "-ksp_deepcd_backend", backend);
  EXPECT_EQ(KSPSetFromOptions(ksp), 0);
  PetscOptionsClearValue(NULL, "-ksp_deepcd_backend");
  EXPECT_EQ(KSPSolve(ksp, b, x), 0);
  std::vector<double> v = GatherNatural(p->da, x);
  KSPDestroy(&ksp);
  VecDestroy(&x);
  VecDestroy(&b);
  MatDestroy(&A);
  DeepCDProblemDestroy(&p);
  return v;
}

} // namespace

class CnnRanksTest : public ::testing::TestWithParam<std::tuple<const char *, int, int, int>> {};

TEST_P(CnnRanksTest, DistributedInferenceMatchesOneRank)
{
  int rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  auto [scene, nx, ny, nz] = GetParam();
  std::string dir = TestTempDir("cnnmpi"), prob = dir + "/" + scene + std::to_string(nx) + ".h5", model = dir + "/from64.h5";
  WriteScene(scene, nx, ny, nz, 8, prob);
  if (!rank) {
    nn_model *m;
    ASSERT_EQ(nn_model_create_arch("from64", &m), NN_SUCCESS);
    nn_model_init_he(m, 5);
    for (int l = 0; l < m->nlayers; l++) // nonzero biases
      if (m->layers[l].op == NN_OP_CONV)
        for (int o = 0; o < m->layers[l].cout; o++) m->params[m->layers[l].bias + o] = 0.01f * (float) ((o * 7 + l) % 5 - 2);
    ASSERT_EQ(DeepCDModelWrite(m, model.c_str()), 0);
    nn_model_destroy(&m);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  for (const char *backend : { "ref", "cpu" }) {
    if (nn_backend_check(backend, NN_FP32)) continue;
    std::vector<double> many = OneStep(PETSC_COMM_WORLD, prob, model, backend), one;
    if (!rank) one = OneStep(PETSC_COMM_SELF, prob, model, backend);
    if (!rank) {
      ASSERT_EQ(one.size(), many.size());
      double num = 0, den = 0;
      for (size_t i = 0; i < one.size(); i++) {
        num += (one[i] - many[i]) * (one[i] - many[i]);
        den += one[i] * one[i];
      }
      EXPECT_GT(den, 0.0);
      EXPECT_LT(std::sqrt(num / den), 1e-5) << scene << " " << backend;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Grids, CnnRanksTest,
                         ::testing::Values(std::make_tuple("spheres", 16, 12, 10), std::make_tuple("plume", 15, 12, 9), std::make_tuple("random", 12, 18, 8)));
