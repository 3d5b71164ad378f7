// Scenes of `deepcd gen`: determinism, sdf/solid consistency, right-hand side
// and walls as documented.
#include <gtest/gtest.h>
#include <cmath>
#include <cstring>
#include "test_util.h"

namespace {

struct Scene {
  DeepCDProblemData *d = nullptr;
  Scene(const char *name, int nx, int ny, int nz, unsigned long seed)
  {
    DeepCDSceneType t;
    EXPECT_EQ(DeepCDSceneTypeFromString(name, &t), 0);
    EXPECT_EQ(DeepCDSceneGenerate(t, nx, ny, nz, seed, &d), 0);
  }
  ~Scene()
  {
    DeepCDProblemDataDestroy(&d);
  }
  size_t cells() const
  {
    return (size_t) d->nx * d->ny * d->nz;
  }
  size_t corners() const
  {
    return (size_t) (d->nx + 1) * (d->ny + 1) * (d->nz + 1);
  }
};

const char *const kScenes[] = { "empty", "spheres", "plume", "random", "plates" };

} // namespace

TEST(Scene, DeterministicPerSeed)
{
  for (const char *name : kScenes) {
    Scene a(name, 12, 10, 8, 7), b(name, 12, 10, 8, 7), c(name, 12, 10, 8, 8);
    EXPECT_EQ(0, memcmp(a.d->rhs, b.d->rhs, a.cells() * sizeof(PetscReal))) << name;
    EXPECT_EQ(0, memcmp(a.d->sdf, b.d->sdf, a.corners() * sizeof(PetscReal))) << name;
    EXPECT_NE(0, memcmp(a.d->rhs, c.d->rhs, a.cells() * sizeof(PetscReal))) << name;
  }
}

TEST(Scene, SolidFollowsSdfAndRhsVanishesThere)
{
  for (const char *name : kScenes) {
    Scene s(name, 14, 11, 9, 3);
    ASSERT_NE(s.d->sdf, nullptr) << name;
    ASSERT_NE(s.d->solid, nullptr) << name;
    const PetscInt nx = s.d->nx, ny = s.d->ny, nz = s.d->nz;
    size_t         nsolid = 0;
    for (PetscInt k = 0; k < nz; k++)
      for (PetscInt j = 0; j < ny; j++)
        for (PetscInt i = 0; i < nx; i++) {
          double sum = 0;
          for (int c = 0; c < 8; c++) sum += s.d->sdf[((k + (c >> 2)) * (ny + 1) + j + ((c >> 1) & 1)) * (nx + 1) + i + (c & 1)];
          size_t cell = (size_t) (k * ny + j) * nx + i;
          EXPECT_EQ(s.d->solid[cell], sum < 0 ? 1 : 0) << name << " cell " << i << "," << j << "," << k;
          EXPECT_TRUE(std::isfinite(s.d->rhs[cell]));
          if (s.d->solid[cell]) {
            EXPECT_EQ(s.d->rhs[cell], 0.0) << name;
            nsolid++;
          }
        }
    if (!strcmp(name, "empty")) EXPECT_EQ(nsolid, 0u);
    if (!strcmp(name, "spheres") || !strcmp(name, "plume")) EXPECT_GT(nsolid, 0u) << name;
    EXPECT_LT(nsolid, s.cells() / 2) << name;
  }
}

TEST(Scene, Walls)
{
  EXPECT_STREQ(Scene("empty", 8, 8, 8, 1).d->boundary, "DDDDDD");
  EXPECT_STREQ(Scene("spheres", 8, 8, 8, 1).d->boundary, "DDDDDD");
  EXPECT_STREQ(Scene("plume", 8, 8, 8, 1).d->boundary, "NNNNND");
  for (const char *name : { "random", "plates" })
    for (unsigned long seed = 0; seed < 20; seed++) {
      Scene s(name, 8, 8, 8, seed);
      EXPECT_EQ(DeepCDCheckBoundary(NULL, s.d->boundary), 0);
      EXPECT_NE(strchr(s.d->boundary, 'D'), nullptr) << name << " seed " << seed;
    }
}

// The high-contrast family: thin plates with holes, a blocky coefficient of
// contrast 1e4; CG with -pc_type neuralmg solves it.
TEST(Scene, PlatesHaveHolesAndABlockyCoefficientOfContrast1e4)
{
  for (unsigned long seed = 1; seed <= 3; seed++) {
    Scene  s("plates", 32, 32, 32, seed);
    size_t nsolid = 0, nlow = 0, nhigh = 0;
    ASSERT_NE(s.d->coefficient, nullptr);
    for (size_t c = 0; c < s.cells(); c++) {
      nsolid += s.d->solid[c];
      if (s.d->coefficient[c] == 1.0)
        nlow++;
      else if (s.d->coefficient[c] == 1e4)
        nhigh++;
      else
        ADD_FAILURE() << "coefficient " << s.d->coefficient[c] << " at cell " << c;
    }
    EXPECT_GT(nsolid, 0u) << "seed " << seed;
    EXPECT_LT(nsolid, s.cells() / 5) << "seed " << seed; // thin plates, with holes
    EXPECT_GT(nlow, s.cells() / 10) << "seed " << seed;
    EXPECT_GT(nhigh, s.cells() / 10) << "seed " << seed;
  }
  EXPECT_EQ(Scene("empty", 8, 8, 8, 1).d->coefficient, nullptr);
  std::string path = TestTempDir("scene") + "/plates.h5";
  WriteScene("plates", 32, 32, 32, 2, path);
  CommandResult r = RunCommand(CliPath() + " solve " + path + " -o " + path + ".out.h5 -ksp_type cg -pc_type neuralmg -ksp_rtol 1e-8 -ksp_max_it 200");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("CONVERGED_RTOL"), std::string::npos) << r.out;
}

TEST(Scene, UnknownNameIsRejected)
{
  DeepCDSceneType t;
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  EXPECT_NE(DeepCDSceneTypeFromString("bogus", &t), 0);
  PetscPopErrorHandler();
}
