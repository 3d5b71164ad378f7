// KSPDEEPCD: solutions against a direct solver on every scene, equivalence
// with truncated FCG, breakdown detection, options, views and the CLI.
#include <gtest/gtest.h>
#include <fstream>
#include <cmath>
#include <cstring>
#include "test_util.h"

namespace {

struct Solved {
  PetscInt           its = -1;
  KSPConvergedReason reason;
  Vec                x = nullptr;
};

// Loads `path` on one rank, solves with `options` (PETSc option string, set
// for this solve only) and returns iterations, reason and the solution.
Solved SolveFile(const std::string &path, const char *options, DeepCDProblem *pout = nullptr)
{
  Solved        s;
  DeepCDProblem p;
  Mat           A;
  Vec           b;
  KSP           ksp;
  EXPECT_EQ(DeepCDProblemLoad(PETSC_COMM_SELF, path.c_str(), &p), 0);
  EXPECT_EQ(DeepCDOperatorSetUp(p, &A, &b), 0);
  VecDuplicate(b, &s.x);
  KSPCreate(PETSC_COMM_SELF, &ksp);
  KSPSetOptionsPrefix(ksp, "t_");
  KSPSetOperators(ksp, A, A);
  KSPSetDM(ksp, p->da); // for -pc_type mg
  DeepCDKSPSetDMActive(ksp, PETSC_FALSE);
  KSPSetType(ksp, KSPDEEPCD);
  KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED);
  PetscOptionsPrefixPush(NULL, "t_");
  PetscOptionsInsertString(NULL, options);
  PetscOptionsPrefixPop(NULL);
  EXPECT_EQ(KSPSetFromOptions(ksp), 0);
  EXPECT_EQ(KSPSolve(ksp, b, s.x), 0);
  EXPECT_EQ(DeepCDProblemFinishSolution(p, A, s.x), 0);
  KSPGetIterationNumber(ksp, &s.its);
  KSPGetConvergedReason(ksp, &s.reason);
  PetscOptionsClear(NULL);
  KSPDestroy(&ksp);
  VecDestroy(&b);
  MatDestroy(&A);
  if (pout)
    *pout = p;
  else
    DeepCDProblemDestroy(&p);
  return s;
}

double RelDiff(Vec a, Vec b)
{
  Vec       d;
  PetscReal n, nb;
  VecDuplicate(a, &d);
  VecWAXPY(d, -1.0, b, a);
  VecNorm(d, NORM_2, &n);
  VecNorm(b, NORM_2, &nb);
  VecDestroy(&d);
  return n / nb;
}

} // namespace

class DirectBySceneTest : public ::testing::TestWithParam<const char *> {};

TEST_P(DirectBySceneTest, MatchesCholesky)
{
  std::string dir = TestTempDir("ksp"), path = dir + "/" + GetParam() + ".h5";
  WriteScene(GetParam(), 12, 10, 8, 11, path);
  DeepCDProblem p;
  ASSERT_EQ(DeepCDProblemLoad(PETSC_COMM_SELF, path.c_str(), &p), 0);
  DeepCDRegions r;
  ASSERT_EQ(DeepCDRegionsCompute(p, &r), 0);
  ASSERT_EQ(r.nfloating, 0) << "the direct comparison needs a nonsingular scene";
  DeepCDRegionsDestroy(&r);
  DeepCDProblemDestroy(&p);

  Solved direct = SolveFile(path, "-ksp_type preonly -pc_type cholesky");
  ASSERT_GT(direct.reason, 0);
  PetscInt plain_its = -1;
  for (const char *pc : { "-pc_type jacobi", "-pc_type none", "-pc_type icc", "-pc_type gamg", "-pc_type jacobi -ksp_deepcd_smooth 4", "-pc_type jacobi -ksp_deepcd_smooth 4 -ksp_deepcd_smooth_ksp_type chebyshev" }) {
    std::string opts = std::string("-ksp_rtol 1e-12 -ksp_max_it 2000 ") + pc;
    Solved      s    = SolveFile(path, opts.c_str());
    EXPECT_GT(s.reason, 0) << pc;
    EXPECT_LT(RelDiff(s.x, direct.x), 1e-8) << GetParam() << " " << pc;
    // smoothing each Jacobi direction must save iterations
    if (!strcmp(pc, "-pc_type jacobi"))
      plain_its = s.its;
    else if (strstr(pc, "smooth"))
      EXPECT_LT(s.its, plain_its) << GetParam() << " " << pc;
    VecDestroy(&s.x);
  }
  VecDestroy(&direct.x);
}

INSTANTIATE_TEST_SUITE_P(Scenes, DirectBySceneTest, ::testing::Values("empty", "spheres", "plume", "random"));

TEST(KSPDeepCD, SameIterationsAsTruncatedFCG)
{
  std::string dir = TestTempDir("ksp");
  for (const char *scene : { "spheres", "plume" }) {
    std::string path = dir + "/fcg_" + scene + ".h5";
    WriteScene(scene, 16, 14, 12, 4, path);
    for (const char *pc : { "jacobi", "icc" }) {
      std::string common = std::string(" -ksp_rtol 1e-8 -ksp_norm_type unpreconditioned -pc_type ") + pc;
      Solved      cd     = SolveFile(path, ("-ksp_type deepcd -ksp_deepcd_directions 2" + common).c_str());
      Solved      fcg    = SolveFile(path, ("-ksp_type fcg -ksp_fcg_mmax 2 -ksp_fcg_truncation_type standard" + common).c_str());
      EXPECT_GT(cd.reason, 0);
      EXPECT_GT(fcg.reason, 0);
      EXPECT_LE(std::abs(cd.its - fcg.its), 1) << scene << " " << pc << ": deepcd " << cd.its << ", fcg " << fcg.its;
      EXPECT_LT(RelDiff(cd.x, fcg.x), 1e-6);
      // one kept direction with a symmetric PC is preconditioned CG
      Solved cd1 = SolveFile(path, ("-ksp_type deepcd -ksp_deepcd_directions 1" + common).c_str());
      Solved cg  = SolveFile(path, ("-ksp_type cg" + common).c_str());
      EXPECT_LE(std::abs(cd1.its - cg.its), 1) << scene << " " << pc << ": deepcd(1) " << cd1.its << ", cg " << cg.its;
      VecDestroy(&cd1.x);
      VecDestroy(&cg.x);
      VecDestroy(&cd.x);
      VecDestroy(&fcg.x);
    }
  }
}

TEST(KSPDeepCD, TrueResidualAndDirectionsOptions)
{
  std::string dir = TestTempDir("ksp"), path = dir + "/opts.h5";
  WriteScene("spheres", 12, 12, 12, 2, path);
  Solved ref = SolveFile(path, "-ksp_type preonly -pc_type cholesky");
  for (const char *o : { "-ksp_deepcd_true_residual 1", "-ksp_deepcd_true_residual 7", "-ksp_deepcd_directions 1", "-ksp_deepcd_directions 5", "-ksp_deepcd_normalize 0" }) {
    Solved s = SolveFile(path, (std::string("-pc_type jacobi -ksp_rtol 1e-11 -ksp_max_it 3000 ") + o).c_str());
    EXPECT_GT(s.reason, 0) << o;
    EXPECT_LT(RelDiff(s.x, ref.x), 1e-8) << o;
    VecDestroy(&s.x);
  }
  // m = 0 is steepest descent along the PC direction: far more iterations than m = 2
  Solved sd = SolveFile(path, "-pc_type jacobi -ksp_rtol 1e-6 -ksp_max_it 20000 -ksp_deepcd_directions 0");
  Solved cg = SolveFile(path, "-pc_type jacobi -ksp_rtol 1e-6");
  EXPECT_GT(sd.its, 3 * cg.its);
  VecDestroy(&sd.x);
  VecDestroy(&cg.x);
  VecDestroy(&ref.x);
}

namespace {

// Shell PCs that make the generator misbehave.
PetscErrorCode ApplyNaN(PC, Vec, Vec z)
{
  return VecSet(z, NAN);
}
PetscErrorCode ApplyZero(PC, Vec, Vec z)
{
  return VecSet(z, 0.0);
}
PetscErrorCode ApplyIdentity(PC, Vec r, Vec z)
{
  return VecCopy(r, z);
}
PetscErrorCode MultNegIdentity(Mat, Vec x, Vec y)
{
  VecCopy(x, y);
  return VecScale(y, -1.0);
}

KSPConvergedReason SolveWithShell(PetscErrorCode (*apply)(PC, Vec, Vec), bool negative_matrix, PetscInt *its)
{
  Mat A;
  Vec b, x;
  KSP ksp;
  PC  pc;
  if (negative_matrix) {
    MatCreateShell(PETSC_COMM_SELF, 10, 10, 10, 10, NULL, &A);
    MatShellSetOperation(A, MATOP_MULT, (void (*)(void)) MultNegIdentity);
  } else {
    MatCreateConstantDiagonal(PETSC_COMM_SELF, 10, 10, 10, 10, 2.0, &A);
  }
  MatCreateVecs(A, &x, &b);
  VecSet(b, 1.0);
  KSPCreate(PETSC_COMM_SELF, &ksp);
  KSPSetOperators(ksp, A, A);
  KSPSetType(ksp, KSPDEEPCD);
  KSPGetPC(ksp, &pc);
  PCSetType(pc, PCSHELL);
  PCShellSetApply(pc, apply);
  KSPSetTolerances(ksp, 1e-10, PETSC_DEFAULT, PETSC_DEFAULT, 50);
  KSPSetErrorIfNotConverged(ksp, PETSC_FALSE);
  EXPECT_EQ(KSPSolve(ksp, b, x), 0);
  KSPConvergedReason reason;
  KSPGetConvergedReason(ksp, &reason);
  KSPGetIterationNumber(ksp, its);
  KSPDestroy(&ksp);
  VecDestroy(&x);
  VecDestroy(&b);
  MatDestroy(&A);
  return reason;
}

} // namespace

TEST(KSPDeepCD, BreakdownStopsWithPetscReason)
{
  PetscInt its;
  EXPECT_EQ(SolveWithShell(ApplyNaN, false, &its), KSP_DIVERGED_NANORINF);
  EXPECT_EQ(its, 0);
  EXPECT_EQ(SolveWithShell(ApplyZero, false, &its), KSP_DIVERGED_BREAKDOWN);
  EXPECT_EQ(its, 0);
  EXPECT_EQ(SolveWithShell(ApplyIdentity, true, &its), KSP_DIVERGED_INDEFINITE_MAT);
  EXPECT_EQ(its, 0);
  // and a good generator converges in one step on a multiple of the identity
  EXPECT_GT(SolveWithShell(ApplyIdentity, false, &its), 0);
  EXPECT_EQ(its, 1);
}

namespace {

// A generator that cannot reduce the whole error: z = r on the first half of
// the unknowns, 0 on the second. On A = diag(1..n) deepcd is then CG on the
// first half; once that is solved the energy error of the second half stays
// and every further step removes nothing.
PetscErrorCode ApplyFirstHalf(PC, Vec r, Vec z)
{
  PetscInt     n;
  PetscScalar *a;
  PetscCall(VecCopy(r, z));
  PetscCall(VecGetLocalSize(z, &n));
  PetscCall(VecGetArray(z, &a));
  for (PetscInt i = n / 2; i < n; i++) a[i] = 0;
  PetscCall(VecRestoreArray(z, &a));
  return 0;
}

struct StallRun {
  KSPConvergedReason reason;
  PetscInt           its;
  std::string        view, reason_out;
};

// reason_file: where -ksp_converged_reason writes (given in options as ascii:FILE), or ""
StallRun SolveStalling(const char *options, const std::string &reason_file = "")
{
  const PetscInt n = 100;
  Mat            A;
  Vec            b, x;
  KSP            ksp;
  PC             pc;
  StallRun       s;
  MatCreateSeqAIJ(PETSC_COMM_SELF, n, n, 1, NULL, &A);
  for (PetscInt i = 0; i < n; i++) MatSetValue(A, i, i, (PetscScalar) (i + 1), INSERT_VALUES);
  MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY);
  MatCreateVecs(A, &x, &b);
  VecSet(b, 1.0);
  KSPCreate(PETSC_COMM_SELF, &ksp);
  KSPSetOptionsPrefix(ksp, "s_");
  KSPSetOperators(ksp, A, A);
  KSPSetType(ksp, KSPDEEPCD);
  KSPGetPC(ksp, &pc);
  PCSetType(pc, PCSHELL);
  PCShellSetApply(pc, ApplyFirstHalf);
  KSPSetTolerances(ksp, 1e-10, PETSC_DEFAULT, PETSC_DEFAULT, 2000);
  KSPSetErrorIfNotConverged(ksp, PETSC_FALSE);
  PetscOptionsPrefixPush(NULL, "s_");
  PetscOptionsInsertString(NULL, options);
  PetscOptionsPrefixPop(NULL);
  KSPSetFromOptions(ksp);
  EXPECT_EQ(KSPSolve(ksp, b, x), 0);
  PetscOptionsClear(NULL);
  KSPGetConvergedReason(ksp, &s.reason);
  KSPGetIterationNumber(ksp, &s.its);
  char        buf[4096] = { 0 };
  PetscViewer v;
  FILE       *f = fmemopen(buf, sizeof(buf) - 1, "w");
  PetscViewerASCIIOpenWithFILE(PETSC_COMM_SELF, f, &v);
  KSPView(ksp, v);
  PetscViewerDestroy(&v);
  fclose(f);
  s.view = buf;
  KSPDestroy(&ksp);
  if (!reason_file.empty()) {
    std::ifstream in(reason_file);
    s.reason_out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  VecDestroy(&x);
  VecDestroy(&b);
  MatDestroy(&A);
  return s;
}

} // namespace

TEST(KSPDeepCD, StagnationStopsWithReason)
{
  // default window 50, rtol 1e-6: the first half is solved well before
  // iteration 100, and the window after it removes nothing
  std::string reasons = TestTempDir("ksp") + "/reason.txt";
  std::remove(reasons.c_str());
  StallRun d = SolveStalling(("-ksp_converged_reason ascii:" + reasons + "::append").c_str(), reasons);
  EXPECT_EQ(d.reason, KSP_DIVERGED_BREAKDOWN) << d.view;
  EXPECT_GE(d.its, 50);
  EXPECT_LE(d.its, 200);
  EXPECT_NE(d.view.find("deepcd stagnated at iteration"), std::string::npos) << d.view;
  EXPECT_NE(d.view.find("stagnation test: stop when 50 iterations reduce the energy error by a fraction below 1e-06"), std::string::npos) << d.view;
  EXPECT_NE(d.reason_out.find("deepcd stagnated at iteration"), std::string::npos) << d.reason_out;
  EXPECT_NE(d.reason_out.find("DIVERGED_BREAKDOWN"), std::string::npos) << d.reason_out;
  EXPECT_LT(d.reason_out.find("deepcd stagnated"), d.reason_out.find("Linear solve did not converge")) << d.reason_out;
  // a shorter window stops sooner
  StallRun w = SolveStalling("-ksp_deepcd_stagnation_window 10");
  EXPECT_EQ(w.reason, KSP_DIVERGED_BREAKDOWN);
  EXPECT_LT(w.its, d.its);
  EXPECT_NE(w.view.find("deepcd stagnated at iteration"), std::string::npos) << w.view;
  // off: it runs to max_it
  StallRun off = SolveStalling("-ksp_deepcd_stagnation_window 0 -ksp_max_it 300");
  EXPECT_EQ(off.reason, KSP_DIVERGED_ITS);
  EXPECT_EQ(off.its, 300);
  EXPECT_NE(off.view.find("stagnation test: off"), std::string::npos) << off.view;
  EXPECT_EQ(off.view.find("deepcd stagnated"), std::string::npos) << off.view;
  // rtol 0 never fires either
  StallRun r0 = SolveStalling("-ksp_deepcd_stagnation_rtol 0 -ksp_max_it 300");
  EXPECT_EQ(r0.reason, KSP_DIVERGED_ITS);
}

TEST(KSPDeepCD, StagnationNeverFiresOnHealthyRuns)
{
  // slow but healthy: CG without PC on a 32^3 plume to 1e-12 (hundreds of
  // iterations) and steepest descent (m = 0, thousands of iterations)
  std::string dir = TestTempDir("ksp"), path = dir + "/healthy.h5", small = dir + "/healthy16.h5";
  WriteScene("plume", 32, 32, 32, 7, path);
  WriteScene("plume", 16, 16, 16, 7, small);
  Solved cg = SolveFile(path, "-ksp_max_it 20000 -ksp_rtol 1e-12 -pc_type none");
  EXPECT_GT(cg.reason, 0) << cg.its << " iterations";
  Solved sd = SolveFile(small, "-ksp_max_it 20000 -ksp_rtol 1e-6 -pc_type jacobi -ksp_deepcd_directions 0");
  EXPECT_GT(sd.reason, 0) << sd.its << " iterations";
  std::printf("[ healthy  ] plume 32^3 CG-like to 1e-12: %d iterations; 16^3 steepest descent to 1e-6: %d\n", (int) cg.its, (int) sd.its);
  VecDestroy(&cg.x);
  VecDestroy(&sd.x);
}

TEST(KSPDeepCD, BadSettersAreRejected)
{
  KSP ksp;
  KSPCreate(PETSC_COMM_SELF, &ksp);
  KSPSetType(ksp, KSPDEEPCD);
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  EXPECT_EQ(KSPDeepCDSetGenerator(ksp, "bogus"), PETSC_ERR_ARG_UNKNOWN_TYPE);
  EXPECT_EQ(KSPDeepCDSetDirections(ksp, -1), PETSC_ERR_ARG_OUTOFRANGE);
  EXPECT_EQ(KSPDeepCDSetTrueResidual(ksp, -3), PETSC_ERR_ARG_OUTOFRANGE);
  EXPECT_EQ(KSPDeepCDSetSmooth(ksp, -1), PETSC_ERR_ARG_OUTOFRANGE);
  EXPECT_EQ(KSPDeepCDSetStagnation(ksp, -1, PETSC_DEFAULT), PETSC_ERR_ARG_OUTOFRANGE);
  EXPECT_EQ(KSPDeepCDSetStagnation(ksp, PETSC_DEFAULT, 1.0), PETSC_ERR_ARG_OUTOFRANGE);
  PetscPopErrorHandler();
  KSPDestroy(&ksp);
}

TEST(KSPDeepCD, OptionsViewAndGetters)
{
  KSP ksp;
  KSPCreate(PETSC_COMM_SELF, &ksp);
  KSPSetOptionsPrefix(ksp, "v_");
  PetscOptionsInsertString(NULL, "-v_ksp_type deepcd -v_ksp_deepcd_directions 3 -v_ksp_deepcd_true_residual 10 -v_ksp_deepcd_normalize 0 -v_ksp_deepcd_smooth 3 -v_ksp_deepcd_smooth_ksp_type chebyshev");
  KSPSetFromOptions(ksp);
  PetscOptionsClear(NULL);
  PetscInt  m, k;
  PetscBool nrm;
  KSPDeepCDGetDirections(ksp, &m);
  KSPDeepCDGetTrueResidual(ksp, &k);
  KSPDeepCDGetNormalize(ksp, &nrm);
  EXPECT_EQ(m, 3);
  EXPECT_EQ(k, 10);
  EXPECT_FALSE(nrm);
  PetscInt ns;
  KSP      smoother;
  KSPType  stype;
  KSPDeepCDGetSmooth(ksp, &ns);
  EXPECT_EQ(ns, 3);
  KSPDeepCDGetSmoother(ksp, &smoother);
  KSPGetType(smoother, &stype);
  EXPECT_STREQ(stype, KSPCHEBYSHEV);
  const char *gen;
  KSPDeepCDGetGenerator(ksp, &gen);
  EXPECT_STREQ(gen, "pc");
  PetscInt  w;
  PetscReal srtol;
  KSPDeepCDGetStagnation(ksp, &w, &srtol);
  EXPECT_EQ(w, 50);
  EXPECT_EQ(srtol, 1e-6);

  char        buf[4096] = { 0 };
  PetscViewer v;
  FILE       *f = fmemopen(buf, sizeof(buf) - 1, "w");
  PetscViewerASCIIOpenWithFILE(PETSC_COMM_SELF, f, &v);
  KSPView(ksp, v);
  PetscViewerDestroy(&v);
  fclose(f);
  EXPECT_NE(strstr(buf, "type: deepcd"), nullptr) << buf;
  EXPECT_NE(strstr(buf, "kept directions 3"), nullptr) << buf;
  EXPECT_NE(strstr(buf, "every 10 iterations"), nullptr) << buf;
  EXPECT_NE(strstr(buf, "direction generator: pc"), nullptr) << buf;
  EXPECT_NE(strstr(buf, "smoothed by 3 iterations of KSP chebyshev (prefix -ksp_deepcd_smooth_)"), nullptr) << buf;
  EXPECT_NE(strstr(buf, "smoothing steps: 3 (option)"), nullptr) << buf;
  KSPDestroy(&ksp);
}

TEST(Cli, SolveWritesSolutionMatchingDirect)
{
  std::string dir = TestTempDir("cli"), prob = dir + "/plume.h5", out = dir + "/out.h5";
  WriteScene("plume", 12, 12, 10, 9, prob);
  CommandResult r = RunCommand(CliPath() + " solve " + prob + " -o " + out + " -ksp_rtol 1e-12");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("CONVERGED_RTOL"), std::string::npos) << r.out;
  ASSERT_TRUE(FileExists(out));
  ASSERT_TRUE(FileExists(dir + "/out.xmf"));
  std::vector<double> x = ReadDataset(out, "x"), hist = ReadDataset(out, "residual_history");
  ASSERT_EQ(x.size(), 12u * 12u * 10u);
  Solved             direct = SolveFile(prob, "-ksp_type preonly -pc_type cholesky");
  const PetscScalar *a;
  VecGetArrayRead(direct.x, &a);
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size(); i++) {
    num += (x[i] - PetscRealPart(a[i])) * (x[i] - PetscRealPart(a[i]));
    den += PetscRealPart(a[i]) * PetscRealPart(a[i]);
  }
  VecRestoreArrayRead(direct.x, &a);
  VecDestroy(&direct.x);
  EXPECT_LT(std::sqrt(num / den), 1e-8);
  ASSERT_GE(hist.size(), 2u);
  EXPECT_LT(hist.back(), 1e-12 * hist.front() * 1.0000001);
}

TEST(Cli, SolveHistoryTextAndSeconds)
{
  std::string dir = TestTempDir("cli-history"), prob = dir + "/spheres.h5", out = dir + "/out.h5", hist = dir + "/h.txt";
  WriteScene("spheres", 12, 12, 12, 4, prob);
  CommandResult r = RunCommand(CliPath() + " solve " + prob + " -o " + out + " -residuals " + hist + " -ksp_rtol 1e-8");
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<double> h = ReadDataset(out, "residual_history"), sec = ReadDataset(out, "residual_seconds");
  ASSERT_EQ(h.size(), sec.size());
  for (size_t i = 1; i < sec.size(); i++) EXPECT_GE(sec[i], sec[i - 1]) << i;
  EXPECT_GE(sec[0], 0.0);
  std::ifstream in(hist);
  std::string   line;
  std::getline(in, line);
  EXPECT_EQ(line.rfind("# deepcd solve: deepcd/jacobi, ", 0), 0u) << line;
  std::getline(in, line);
  EXPECT_EQ(line, "# iteration residual relative seconds");
  size_t n = 0;
  long   it;
  double res, rel, s;
  while (in >> it >> res >> rel >> s) {
    ASSERT_LT(n, h.size());
    EXPECT_EQ(it, (long) n);
    EXPECT_NEAR(res, h[n], 1e-9 * h[n]);
    EXPECT_NEAR(rel, h[n] / h[0], 1e-9);
    EXPECT_NEAR(s, sec[n], 1e-5);
    n++;
  }
  EXPECT_EQ(n, h.size());
  // a missing directory is refused before anything is solved or written
  CommandResult bad = RunCommand(CliPath() + " solve " + prob + " -o " + dir + "/o2.h5  -residuals /nonexistent-dir/h.txt");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("-residuals /nonexistent-dir/h.txt: the directory does not exist or is not writable"), std::string::npos) << bad.err;
  EXPECT_FALSE(FileExists(dir + "/o2.h5"));
}

TEST(Cli, TwoRanksMatchOneRank)
{
  std::string dir = TestTempDir("cli"), prob = dir + "/random.h5", o1 = dir + "/o1.h5", o2 = dir + "/o2.h5";
  WriteScene("spheres", 16, 12, 10, 21, prob);
  CommandResult r1 = RunCommand(CliPath() + " solve " + prob + " -o " + o1 + " -ksp_rtol 1e-10");
  CommandResult r2 = RunCommand(std::string(MPIEXEC_CMD) + " -n 2 " + CliPath() + " solve " + prob + " -o " + o2 + " -ksp_rtol 1e-10");
  ASSERT_EQ(r1.status, 0) << r1.err;
  ASSERT_EQ(r2.status, 0) << r2.err << r2.out;
  std::vector<double> h1 = ReadDataset(o1, "residual_history"), h2 = ReadDataset(o2, "residual_history");
  EXPECT_EQ(h1.size(), h2.size());
  std::vector<double> x1 = ReadDataset(o1, "x"), x2 = ReadDataset(o2, "x");
  ASSERT_EQ(x1.size(), x2.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < x1.size(); i++) {
    num += (x1[i] - x2[i]) * (x1[i] - x2[i]);
    den += x1[i] * x1[i];
  }
  EXPECT_LT(std::sqrt(num / den), 1e-8);
}
