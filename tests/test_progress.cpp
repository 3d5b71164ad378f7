// Progress lines and gnuplot plots (src/solvers/progress.c).
#include <gtest/gtest.h>
#include "progress.h"
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include "test_util.h"

namespace {

// Runs f with stdout redirected to a file; returns what it printed.
template <class F>
std::string CaptureStdout(const std::string &path, F f)
{
  fflush(stdout);
  int   saved = dup(fileno(stdout));
  FILE *tmp   = fopen(path.c_str(), "w");
  dup2(fileno(tmp), fileno(stdout));
  f();
  fflush(stdout);
  dup2(saved, fileno(stdout));
  close(saved);
  fclose(tmp);
  std::ifstream     in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST(Progress, FormatSeconds)
{
  char buf[32];
  ASSERT_EQ(DeepCDProgressFormatSeconds(42.4, buf, sizeof(buf)), 0);
  EXPECT_STREQ(buf, "42s");
  ASSERT_EQ(DeepCDProgressFormatSeconds(288, buf, sizeof(buf)), 0);
  EXPECT_STREQ(buf, "4m48s");
  ASSERT_EQ(DeepCDProgressFormatSeconds(3 * 3600 + 7 * 60 + 5, buf, sizeof(buf)), 0);
  EXPECT_STREQ(buf, "3h07m");
  ASSERT_EQ(DeepCDProgressFormatSeconds(NAN, buf, sizeof(buf)), 0);
  EXPECT_STREQ(buf, "?");
}

TEST(Progress, PlainLinesWhenNotATerminal)
{
  std::string dir = TestTempDir("progress");
  setenv("DEEPCD_PROGRESS_INTERVAL", "0", 1);
  std::string out = CaptureStdout(dir + "/out.txt", [] {
    DeepCDProgress p;
    ASSERT_EQ(DeepCDProgressCreate(PETSC_COMM_SELF, "train", 4, &p), 0);
    ASSERT_EQ(DeepCDProgressSetStart(p, 1), 0);
    for (PetscInt i = 2; i <= 4; i++) ASSERT_EQ(DeepCDProgressUpdate(p, i, "loss 0.5"), 0);
    ASSERT_EQ(DeepCDProgressEnd(&p, "final loss 0.1"), 0);
    EXPECT_EQ(p, nullptr);
  });
  unsetenv("DEEPCD_PROGRESS_INTERVAL");
  EXPECT_NE(out.find("train: 2/4 (50%) loss 0.5, "), std::string::npos) << out;
  EXPECT_NE(out.find("train: 4/4 (100%) loss 0.5, "), std::string::npos) << out;
  EXPECT_NE(out.find("ETA"), std::string::npos) << out;
  EXPECT_NE(out.find("train: done 4/4 in "), std::string::npos) << out;
  EXPECT_NE(out.find(", final loss 0.1\n"), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << "no in-place redraw into a file";
}

TEST(Progress, PlotWritesPng)
{
  std::string      dir  = TestTempDir("progress-plot");
  std::string      png  = dir + "/loss.png";
  PetscReal        x[4] = { 1, 2, 3, 4 }, a[4] = { 1, 0.5, 0.25, 0.125 }, b[4] = { 1, NAN, 0.3, 0.2 };
  const PetscReal *y[2]  = { a, b };
  const char      *nm[2] = { "train", "validation" };
  ASSERT_EQ(DeepCDPlotLines(PETSC_COMM_SELF, png.c_str(), "loss", "step", "loss", PETSC_TRUE, 2, nm, 4, x, y), 0);
  std::ifstream in(png, std::ios::binary);
  char          magic[8] = { 0 };
  in.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_FALSE(FileExists(png + ".tmp-" + std::to_string(getpid())));
}

TEST(Progress, PlotIntoMissingDirectoryFails)
{
  std::string      png  = "/nonexistent-deepcd-dir/loss.png";
  PetscReal        x[2] = { 1, 2 }, a[2] = { 1, 2 };
  const PetscReal *y[1] = { a };
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  PetscErrorCode ierr = DeepCDPlotLines(PETSC_COMM_SELF, png.c_str(), "t", "x", "y", PETSC_FALSE, 1, NULL, 2, x, y);
  PetscPopErrorHandler();
  EXPECT_NE(ierr, 0);
  const char *text     = NULL;
  char       *specific = NULL;
  PetscErrorMessage(ierr, &text, &specific);
  ASSERT_NE(specific, nullptr);
  EXPECT_EQ(std::string(specific).rfind("plot " + png + ": ", 0), 0u) << specific;
  EXPECT_FALSE(FileExists(png));
}
