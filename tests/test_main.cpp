// GoogleTest main for tests that run inside PETSc.
#include <gtest/gtest.h>
#include <deepcd.h>

int main(int argc, char **argv)
{
  ::testing::InitGoogleTest(&argc, argv);
  if (PetscInitialize(&argc, &argv, NULL, NULL)) return 1;
  if (DeepCDInitializePackage()) return 1;
  int rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  if (rank) { // one report, from rank 0
    auto &listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int status = RUN_ALL_TESTS();
  int all    = 0;
  MPI_Allreduce(&status, &all, 1, MPI_INT, MPI_MAX, PETSC_COMM_WORLD);
  PetscFinalize();
  return all;
}
