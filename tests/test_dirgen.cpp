// The direction-generator object: a type registered from outside the library
// is found by name, listed, viewed and used by KSPDEEPCD; the object's life
// cycle and argument checks.
#include <gtest/gtest.h>
#include <cstring>
#include <deepcd/private/dirgenimpl.h>
#include "test_util.h"
#include <deepcd/private/petsccompat.h>

namespace {

// A linear generator z = 2 r: with one kept direction deepcd is then plain CG.
PetscErrorCode ApplyScaled(DeepCDDirGen, Vec r, Vec z)
{
  PetscFunctionBegin;
  PetscCall(VecAXPBY(z, 2.0, 0.0, r));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode ViewScaled(DeepCDDirGen, PetscViewer v)
{
  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(v, "scaled by 2\n"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode CreateScaled(DeepCDDirGen gen)
{
  PetscFunctionBegin;
  gen->ops->apply = ApplyScaled;
  gen->ops->view  = ViewScaled;
  gen->linear     = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscInt Solve(const std::string &path, const char *options, std::string *view)
{
  ProblemKSP pk(path);
  PetscInt   its = -1;
  KSPSetOptionsPrefix(pk.ksp, "g_");
  KSPSetNormType(pk.ksp, KSP_NORM_UNPRECONDITIONED);
  PetscOptionsPrefixPush(NULL, "g_");
  PetscOptionsInsertString(NULL, options);
  PetscOptionsPrefixPop(NULL);
  EXPECT_EQ(KSPSetFromOptions(pk.ksp), 0);
  EXPECT_EQ(KSPSolve(pk.ksp, pk.b, pk.x), 0);
  KSPConvergedReason reason;
  KSPGetConvergedReason(pk.ksp, &reason);
  EXPECT_GT(reason, 0);
  KSPGetIterationNumber(pk.ksp, &its);
  if (view) *view = KSPViewString(pk.ksp);
  PetscOptionsClear(NULL);
  return its;
}

} // namespace

TEST(DirGen, UserTypeIsRegisteredListedViewedAndUsed)
{
  ASSERT_EQ(DeepCDDirGenRegister("scaled", CreateScaled), 0);
  PetscErrorCode (*create)(DeepCDDirGen) = nullptr;
  PetscFunctionListFind(DeepCDDirGenList, "scaled", &create);
  EXPECT_EQ(create, CreateScaled);
  for (const char *t : { DEEPCD_DIRGEN_PC, DEEPCD_DIRGEN_CNN }) {
    create = nullptr;
    PetscFunctionListFind(DeepCDDirGenList, t, &create);
    EXPECT_NE(create, nullptr) << t;
  }

  std::string path = TestTempDir("dirgen") + "/spheres.h5";
  WriteScene("spheres", 12, 10, 8, 3, path);
  std::string view;
  PetscInt    its = Solve(path, "-ksp_type deepcd -ksp_deepcd_directions 1 -ksp_deepcd_generator scaled -ksp_rtol 1e-8", &view);
  PetscInt    cg  = Solve(path, "-ksp_type cg -pc_type none -ksp_rtol 1e-8", nullptr);
  EXPECT_LE(std::abs(its - cg), 1) << "deepcd with z = 2r: " << its << ", CG: " << cg;
  EXPECT_NE(view.find("direction generator: scaled"), std::string::npos) << view;
  EXPECT_NE(view.find("scaled by 2"), std::string::npos) << view;
  EXPECT_NE(view.find("linear generator"), std::string::npos) << view;
}

TEST(DirGen, ObjectLifeCycleAndErrors)
{
  DeepCDDirGen gen;
  ASSERT_EQ(DeepCDDirGenCreate(PETSC_COMM_SELF, &gen), 0);
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  EXPECT_EQ(DeepCDDirGenSetType(gen, "bogus"), PETSC_ERR_ARG_UNKNOWN_TYPE);
  EXPECT_EQ(DeepCDDirGenSetUp(gen), PETSC_ERR_ORDER); // no type
  EXPECT_EQ(DeepCDDirGenSetType(gen, DEEPCD_DIRGEN_PC), 0);
  EXPECT_EQ(DeepCDDirGenSetUp(gen), PETSC_ERR_ORDER); // no KSP
  PetscPopErrorHandler();
  DeepCDDirGenType type;
  PetscBool        linear;
  DeepCDDirGenGetType(gen, &type);
  EXPECT_STREQ(type, "pc");
  DeepCDDirGenIsLinear(gen, &linear);
  EXPECT_TRUE(linear);
  // changing the type replaces the implementation
  EXPECT_EQ(DeepCDDirGenSetType(gen, DEEPCD_DIRGEN_CNN), 0);
  DeepCDDirGenIsLinear(gen, &linear);
  EXPECT_FALSE(linear);
  KSP ksp;
  KSPCreate(PETSC_COMM_SELF, &ksp);
  EXPECT_EQ(DeepCDDirGenSetKSP(gen, ksp), 0);
  KSP got;
  DeepCDDirGenGetKSP(gen, &got);
  EXPECT_EQ(got, ksp);
  EXPECT_EQ(DeepCDDirGenDestroy(&gen), 0);
  EXPECT_EQ(gen, nullptr);
  EXPECT_EQ(DeepCDDirGenDestroy(&gen), 0); // NULL is fine
  KSPDestroy(&ksp);
}

// A model given after a solve (the generator is replaced: pc -> cnn) is set up
// by the next solve instead of being used half made.
TEST(DirGen, ModelSetAfterASolveIsSetUpByTheNextSolve)
{
  std::string dir  = TestTempDir("dirgen");
  std::string path = dir + "/plume.h5", model = dir + "/m.h5";
  WriteScene("plume", 8, 8, 8, 2, path);
  CommandResult r = RunCommand(CliPath() + " model init --arch from64 --seed 3 -o " + model);
  ASSERT_EQ(r.status, 0) << r.err;
  ProblemKSP pk(path);
  KSP        ksp = pk.ksp;
  Vec        b = pk.b, x = pk.x;
  KSPSetTolerances(ksp, 1e-6, PETSC_DEFAULT, PETSC_DEFAULT, 5);
  EXPECT_EQ(KSPSolve(ksp, b, x), 0);
  const char *gen;
  KSPDeepCDGetGenerator(ksp, &gen);
  EXPECT_STREQ(gen, "pc");
  EXPECT_EQ(KSPDeepCDSetModel(ksp, model.c_str()), 0);
  EXPECT_EQ(KSPSolve(ksp, b, x), 0);
  KSPDeepCDGetGenerator(ksp, &gen);
  EXPECT_STREQ(gen, "cnn");
  PetscInt its;
  KSPGetIterationNumber(ksp, &its);
  EXPECT_GT(its, 0);
  // and back to the PC
  EXPECT_EQ(KSPDeepCDSetGenerator(ksp, "pc"), 0);
  EXPECT_EQ(KSPSolve(ksp, b, x), 0);
  KSPDeepCDGetGenerator(ksp, &gen);
  EXPECT_STREQ(gen, "pc");
}
