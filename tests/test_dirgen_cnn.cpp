// The "cnn" direction generator inside KSPDEEPCD: a network that is the
// identity makes deepcd reproduce CG; options, view and errors.
#include <gtest/gtest.h>
#include <cmath>
#include <cstring>
#include "test_util.h"
#include <deepcd/model_io.h>

namespace {

// A model whose output equals its input: one 3x3x3 conv with a centre
// weight of 1 (exercises padding), then a 1x1x1 conv of weight 1.
std::string WriteIdentityModel(const std::string &dir)
{
  nn_model *m;
  int       x, a, out;
  EXPECT_EQ(nn_model_create(&m), NN_SUCCESS);
  nn_model_add_tensor(m, 1, 0, &x);
  m->input = x;
  nn_model_add_conv(m, x, -1, 1, 3, NN_ACT_NONE, &a);
  nn_model_add_conv(m, a, -1, 1, 1, NN_ACT_NONE, &out);
  m->output                           = out;
  m->params[m->layers[0].weight + 13] = 1.0f; // centre of 3x3x3
  m->params[m->layers[1].weight]      = 1.0f;
  snprintf(m->arch, sizeof(m->arch), "identity");
  std::string path = dir + "/identity.h5";
  int         rank;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  if (!rank) EXPECT_EQ(DeepCDModelWrite(m, path.c_str()), 0);
  MPI_Barrier(PETSC_COMM_WORLD);
  nn_model_destroy(&m);
  return path;
}

struct SolveRun {
  PetscInt           its;
  KSPConvergedReason reason;
  std::string        view;
  double             true_rel = -1; // ||b - A x|| / ||b||
};

SolveRun SolveWith(const std::string &problem, const char *opts)
{
  DeepCDProblem p;
  Mat           A;
  Vec           b, x;
  KSP           ksp;
  SolveRun      r;
  EXPECT_EQ(DeepCDProblemLoad(PETSC_COMM_SELF, problem.c_str(), &p), 0);
  EXPECT_EQ(DeepCDOperatorSetUp(p, &A, &b), 0);
  VecDuplicate(b, &x);
  KSPCreate(PETSC_COMM_SELF, &ksp);
  KSPSetOperators(ksp, A, A);
  KSPSetDM(ksp, p->da);
  KSPSetDMActive(ksp, PETSC_FALSE);
  KSPSetType(ksp, KSPDEEPCD);
  KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED);
  KSPSetOptionsPrefix(ksp, "c_");
  PetscOptionsPrefixPush(NULL, "c_");
  PetscOptionsInsertString(NULL, opts);
  PetscOptionsPrefixPop(NULL);
  EXPECT_EQ(KSPSetFromOptions(ksp), 0);
  EXPECT_EQ(KSPSolve(ksp, b, x), 0);
  KSPGetIterationNumber(ksp, &r.its);
  KSPGetConvergedReason(ksp, &r.reason);
  {
    Vec       t;
    PetscReal nt, nb;
    VecDuplicate(b, &t);
    MatMult(A, x, t);
    VecAYPX(t, -1.0, b);
    VecNorm(t, NORM_2, &nt);
    VecNorm(b, NORM_2, &nb);
    r.true_rel = nt / nb;
    VecDestroy(&t);
  }
  char        buf[8192] = { 0 };
  FILE       *f         = fmemopen(buf, sizeof(buf) - 1, "w");
  PetscViewer v;
  PetscViewerASCIIOpenWithFILE(PETSC_COMM_SELF, f, &v);
  KSPView(ksp, v);
  PetscViewerDestroy(&v);
  fclose(f);
  r.view = buf;
  PetscOptionsClear(NULL);
  KSPDestroy(&ksp);
  VecDestroy(&x);
  VecDestroy(&b);
  MatDestroy(&A);
  DeepCDProblemDestroy(&p);
  return r;
}

} // namespace

TEST(DirGenCNN, IdentityNetworkReproducesCG)
{
  std::string dir = TestTempDir("cnn"), model = WriteIdentityModel(dir), prob = dir + "/spheres.h5";
  WriteScene("spheres", 12, 10, 8, 3, prob);
  SolveRun cg = SolveWith(prob, "-ksp_type cg -pc_type none -ksp_rtol 1e-8");
  for (const char *backend : { "ref", "cpu" }) {
    if (nn_backend_check(backend, NN_FP32)) continue;
    std::string opts = std::string("-ksp_deepcd_model ") + model + " -ksp_deepcd_backend " + backend + " -ksp_rtol 1e-8";
    SolveRun    cd   = SolveWith(prob, opts.c_str());
    EXPECT_GT(cd.reason, 0) << backend;
    // fp32 directions: a few iterations more than CG at most
    EXPECT_LE(std::abs(cd.its - cg.its), 3) << backend << ": deepcd " << cd.its << ", cg " << cg.its;
    EXPECT_NE(cd.view.find("direction generator: cnn"), std::string::npos) << cd.view;
    EXPECT_NE(cd.view.find(std::string("backend: ") + backend), std::string::npos) << cd.view;
    EXPECT_NE(cd.view.find("2 layers, 30 parameters"), std::string::npos) << cd.view;
  }
}

TEST(DirGenCNN, RandomDcdmNetworkNeverIncreasesTheEnergyError)
{
  // An untrained network is a poor generator, but every step is an exact
  // line search in the A-norm: the energy error cannot grow.
  std::string dir = TestTempDir("cnn"), prob = dir + "/plume.h5", model = dir + "/from64.h5";
  WriteScene("plume", 8, 8, 8, 5, prob);
  nn_model *m;
  ASSERT_EQ(nn_model_create_arch("from64", &m), NN_SUCCESS);
  nn_model_init_he(m, 1);
  ASSERT_EQ(DeepCDModelWrite(m, model.c_str()), 0);
  nn_model_destroy(&m);
  DeepCDProblem p;
  Mat           A;
  Vec           b, x, xs, e, Ae;
  KSP           ksp, direct;
  PC            pc;
  ASSERT_EQ(DeepCDProblemLoad(PETSC_COMM_SELF, prob.c_str(), &p), 0);
  ASSERT_EQ(DeepCDOperatorSetUp(p, &A, &b), 0);
  VecDuplicate(b, &x);
  VecDuplicate(b, &xs);
  VecDuplicate(b, &e);
  VecDuplicate(b, &Ae);
  KSPCreate(PETSC_COMM_SELF, &direct);
  KSPSetOperators(direct, A, A);
  KSPSetType(direct, KSPPREONLY);
  KSPGetPC(direct, &pc);
  PCSetType(pc, PCCHOLESKY);
  KSPSolve(direct, b, xs);
  KSPCreate(PETSC_COMM_SELF, &ksp);
  KSPSetOperators(ksp, A, A);
  KSPSetDM(ksp, p->da);
  KSPSetDMActive(ksp, PETSC_FALSE);
  KSPSetType(ksp, KSPDEEPCD);
  KSPDeepCDSetModel(ksp, model.c_str());
  KSPSetErrorIfNotConverged(ksp, PETSC_FALSE);
  double prev = 1e300;
  for (PetscInt its = 1; its <= 6; its++) {
    KSPSetTolerances(ksp, 1e-30, 1e-50, PETSC_DEFAULT, its);
    ASSERT_EQ(KSPSolve(ksp, b, x), 0);
    KSPConvergedReason reason;
    KSPGetConvergedReason(ksp, &reason);
    EXPECT_EQ(reason, KSP_DIVERGED_ITS);
    VecWAXPY(e, -1.0, x, xs);
    MatMult(A, e, Ae);
    PetscScalar energy;
    VecDot(e, Ae, &energy);
    EXPECT_LE(PetscRealPart(energy), prev * (1 + 1e-6)) << "after " << its << " iterations";
    prev = PetscRealPart(energy);
  }
  KSPDestroy(&ksp);
  KSPDestroy(&direct);
  VecDestroy(&x);
  VecDestroy(&xs);
  VecDestroy(&e);
  VecDestroy(&Ae);
  VecDestroy(&b);
  MatDestroy(&A);
  DeepCDProblemDestroy(&p);
}

// The shipped model (data/models/poisson3d.h5) on a scene type it never saw
// in training: alone it converges (slower than CG there, see
// docs/results.md); smoothing each direction (-ksp_deepcd_smooth) must cut
// its iterations below CG's while the true residual still meets the
// tolerance.
TEST(DirGenCNN, ShippedModelAndSmoothing)
{
  std::string dir = TestTempDir("cnn"), prob = dir + "/plume.h5";
  WriteScene("plume", 16, 16, 16, 2026, prob);
  SolveRun    cg    = SolveWith(prob, "-ksp_type cg -pc_type none -ksp_rtol 1e-6 -ksp_max_it 400");
  std::string model = std::string("-ksp_deepcd_model ") + DEEPCD_SHIPPED_MODEL + " -ksp_rtol 1e-6 -ksp_max_it 400 -pc_type jacobi";
  SolveRun    plain = SolveWith(prob, model.c_str());
  SolveRun    sm    = SolveWith(prob, (model + " -ksp_deepcd_smooth 5").c_str());
  ASSERT_GT(cg.reason, 0);
  ASSERT_GT(plain.reason, 0) << plain.view;
  ASSERT_GT(sm.reason, 0) << sm.view;
  std::printf("[ shipped  ] plume 16^3: cg %d, deepcd %d, deepcd + 5 smoothing steps %d iterations\n", (int) cg.its, (int) plain.its, (int) sm.its);
  EXPECT_LT(sm.its, plain.its);
  EXPECT_LT(sm.its, cg.its);
  EXPECT_LT(sm.true_rel, 2e-6);
  EXPECT_LT(plain.true_rel, 2e-6);
  EXPECT_NE(sm.view.find("smoothed by 5 iterations of KSP richardson"), std::string::npos) << sm.view;
}

TEST(DirGenCNN, BadModelOrBackendGivesOneLineError)
{
  std::string dir = TestTempDir("cnn"), prob = dir + "/e.h5", out = dir + "/o.h5", model = WriteIdentityModel(dir);
  WriteScene("empty", 6, 6, 6, 1, prob);
  CommandResult r = RunCommand(CliPath() + " solve " + prob + " -o " + out + " -ksp_deepcd_model " + dir + "/missing.h5");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("missing.h5"), std::string::npos) << r.err;
  EXPECT_FALSE(FileExists(out));
  r             = RunCommand(CliPath() + " solve " + prob + " -o " + out + " -ksp_deepcd_model " + model + " -ksp_deepcd_backend cuda");
  bool has_cuda = !nn_backend_check("cuda", NN_FP32);
  if (!has_cuda) {
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("cuda"), std::string::npos) << r.err;
    EXPECT_FALSE(FileExists(out));
  }
  r = RunCommand(CliPath() + " solve " + prob + " -o " + out + " -ksp_deepcd_model " + model + " -ksp_deepcd_backend ref -ksp_deepcd_precision fp16");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("fp16"), std::string::npos) << r.err;
  r = RunCommand(CliPath() + " solve " + prob + " -o " + out + " -ksp_deepcd_model " + model + " -ksp_deepcd_backend ref");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(FileExists(out));
}
