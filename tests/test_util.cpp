// Helpers shared by the GoogleTest files.
#include "test_util.h"
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

std::string TestTempDir(const std::string &tag)
{
  int rank = 0;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  int pid = (int) getpid();
  MPI_Bcast(&pid, 1, MPI_INT, 0, PETSC_COMM_WORLD);
  char buf[512];
  snprintf(buf, sizeof(buf), "%s/deepcd-test-%s-%d", P_tmpdir, tag.c_str(), pid);
  if (!rank) mkdir(buf, 0700);
  MPI_Barrier(PETSC_COMM_WORLD);
  return buf;
}

static std::string slurp(const std::string &path)
{
  std::ifstream      f(path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

CommandResult RunCommand(const std::string &cmd)
{
  char outp[] = "/tmp/deepcd-test-outXXXXXX", errp[] = "/tmp/deepcd-test-errXXXXXX";
  int  fo = mkstemp(outp), fe = mkstemp(errp);
  close(fo);
  close(fe);
  // The MPI run-time variables of this (singleton) process must not leak into
  // a child that starts its own MPI job.
  std::string full = "env";
  for (char **e = environ; *e; e++) {
    std::string kv(*e), name = kv.substr(0, kv.find('='));
    bool        mpi = !name.compare(0, 5, "OMPI_") || !name.compare(0, 5, "PMIX_") || !name.compare(0, 5, "ORTE_");
    if (mpi && name.compare(0, 22, "OMPI_ALLOW_RUN_AS_ROOT") && name != "OMPI_MCA_rmaps_base_oversubscribe") full += " -u " + name;
  }
  full += " " + cmd + " >" + outp + " 2>" + errp;
  int           st = system(full.c_str());
  CommandResult r;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out    = slurp(outp);
  r.err    = slurp(errp);
  unlink(outp);
  unlink(errp);
  return r;
}

std::string CliPath()
{
  return DEEPCD_CLI;
}

void WriteScene(const std::string &scene, int nx, int ny, int nz, unsigned long seed, const std::string &path)
{
  int rank = 0;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  if (!rank) {
    DeepCDSceneType    type;
    DeepCDProblemData *data;
    ASSERT_EQ(DeepCDSceneTypeFromString(scene.c_str(), &type), 0);
    ASSERT_EQ(DeepCDSceneGenerate(type, nx, ny, nz, seed, &data), 0);
    ASSERT_EQ(DeepCDProblemDataWrite(data, path.c_str()), 0);
    ASSERT_EQ(DeepCDProblemDataDestroy(&data), 0);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
}

std::vector<double> RandomVector(size_t n, unsigned seed)
{
  std::vector<double> v(n);
  unsigned long       s = seed * 2654435761ul + 1;
  for (auto &x : v) {
    s = s * 6364136223846793005ul + 1442695040888963407ul;
    x = (double) (s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
  }
  return v;
}

std::vector<double> ReadDataset(const std::string &path, const std::string &name)
{
  std::vector<double> v;
  hid_t               f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return v;
  hid_t d = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
  if (d >= 0) {
    hid_t    s = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    v.resize((size_t) n);
    if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0) v.clear();
    H5Sclose(s);
    H5Dclose(d);
  }
  H5Fclose(f);
  return v;
}

bool FileExists(const std::string &path)
{
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::vector<double> GatherNatural(DM da, Vec v)
{
  Vec                nat, seq;
  VecScatter         sc;
  PetscInt           n;
  const PetscScalar *a;
  DMDACreateNaturalVector(da, &nat);
  DMDAGlobalToNaturalBegin(da, v, INSERT_VALUES, nat);
  DMDAGlobalToNaturalEnd(da, v, INSERT_VALUES, nat);
  VecScatterCreateToZero(nat, &sc, &seq);
  VecScatterBegin(sc, nat, seq, INSERT_VALUES, SCATTER_FORWARD);
  VecScatterEnd(sc, nat, seq, INSERT_VALUES, SCATTER_FORWARD);
  VecGetLocalSize(seq, &n);
  VecGetArrayRead(seq, &a);
  std::vector<double> out(n);
  for (PetscInt i = 0; i < n; i++) out[i] = PetscRealPart(a[i]);
  VecRestoreArrayRead(seq, &a);
  VecScatterDestroy(&sc);
  VecDestroy(&seq);
  VecDestroy(&nat);
  return out;
}

ProblemKSP::ProblemKSP(const std::string &path)
{
  EXPECT_EQ(DeepCDProblemLoad(PETSC_COMM_SELF, path.c_str(), &p), 0) << path;
  EXPECT_EQ(DeepCDOperatorSetUp(p, &A, &b), 0) << path;
  VecDuplicate(b, &x);
  NewKSP();
}

KSP ProblemKSP::NewKSP()
{
  KSPDestroy(&ksp);
  KSPCreate(PETSC_COMM_SELF, &ksp);
  KSPSetOperators(ksp, A, A);
  KSPSetDM(ksp, p->da);
  DeepCDKSPSetDMActive(ksp, PETSC_FALSE);
  KSPSetType(ksp, KSPDEEPCD);
  return ksp;
}

ProblemKSP::~ProblemKSP()
{
  KSPDestroy(&ksp);
  VecDestroy(&x);
  VecDestroy(&b);
  MatDestroy(&A);
  DeepCDProblemDestroy(&p);
}

std::string KSPViewString(KSP ksp)
{
  char       *buf = nullptr;
  size_t      len = 0;
  FILE       *f   = open_memstream(&buf, &len);
  PetscViewer v;
  PetscViewerASCIIOpenWithFILE(PETSC_COMM_SELF, f, &v);
  KSPView(ksp, v);
  PetscViewerDestroy(&v);
  fclose(f);
  std::string out(buf ? buf : "");
  free(buf);
  return out;
}
