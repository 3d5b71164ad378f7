// Training (src/solvers/train.c, train_checkpoint.c, apps/cmd_train.c): the
// DCDM loss and its gradient, the loop, checkpoints and exact resume, the
// command and its errors.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmath>
#include <cstring>
#include <algorithm>
#include <limits>
#include <functional>
#include <random>
#include <deepcd.h>
#include <deepcd/train.h>
#include <deepcd/train_data.h>
#include "test_util.h"

namespace {

// A 6x5x4 problem with a few solid cells, mixed walls and a varying coefficient.
Mat SmallOperator(std::vector<unsigned char> &solid)
{
  DeepCDProblemData *d;
  DeepCDProblem      p;
  Mat                A;
  const int          nx = 6, ny = 5, nz = 4, n = nx * ny * nz;

  EXPECT_EQ(DeepCDProblemDataCreate(nx, ny, nz, 0.1, "DNDDNN", &d), 0);
  EXPECT_EQ(PetscCalloc1(n, &d->solid), 0);
  EXPECT_EQ(PetscMalloc1(n, &d->coefficient), 0);
  for (int c = 0; c < n; c++) d->coefficient[c] = 1.0 + 0.5 * std::sin(0.7 * c);
  d->solid[7] = d->solid[8] = d->solid[40] = 1;
  solid.assign(d->solid, d->solid + n);
  EXPECT_EQ(DeepCDProblemCreateFromData(PETSC_COMM_SELF, d, "small", &p), 0);
  EXPECT_EQ(DeepCDOperatorAssemble(p, &A), 0);
  EXPECT_EQ(DeepCDProblemDestroy(&p), 0);
  EXPECT_EQ(DeepCDProblemDataDestroy(&d), 0);
  return A;
}

void RandomFluid(std::mt19937 &g, const std::vector<unsigned char> &solid, std::vector<float> &v)
{
  std::normal_distribution<float> nd;
  v.resize(solid.size());
  for (size_t i = 0; i < v.size(); i++) v[i] = solid[i] ? 0.0f : nd(g);
}

// Runs the command; the same on every rank (rank 0 runs it, the status is shared).
CommandResult Cli(const std::string &args)
{
  return RunCommand(CliPath() + " train " + args);
}

// Writes a small training data file (two 8^3 problems) once per process.
const std::string &SmallData()
{
  static std::string path;
  if (path.empty()) {
    std::string dir = TestTempDir("train-data-small");
    WriteScene("empty", 8, 8, 8, 1, dir + "/e.h5");
    WriteScene("spheres", 8, 8, 8, 2, dir + "/s.h5");
    CommandResult r = RunCommand(CliPath() + " train-data " + dir + "/e.h5 " + dir + "/s.h5 -nev 12 -samples 24 -seed 3 -progress 0 -o " + dir + "/data.h5");
    EXPECT_EQ(r.status, 0) << r.err;
    path = dir + "/data.h5";
  }
  return path;
}

std::vector<float> Params(const nn_model *m)
{
  return std::vector<float>(m->params, m->params + m->nparams);
}

std::vector<float> ModelParams(const std::string &path)
{
  nn_model *m = nullptr;
  EXPECT_EQ(DeepCDModelRead(PETSC_COMM_SELF, path.c_str(), &m), 0);
  if (!m) return {};
  std::vector<float> p = Params(m);
  nn_model_destroy(&m);
  return p;
}

} // namespace

TEST(TrainLoss, ZeroForTheExactSolutionAndScaleInvariant)
{
  std::vector<unsigned char> solid;
  Mat                        A = SmallOperator(solid);
  std::mt19937               g(5);
  std::vector<float>         b, q;
  RandomFluid(g, solid, b);
  // q = A^{-1} b (exact up to float rounding): the loss vanishes
  KSP ksp;
  Vec vb, vx;
  ASSERT_EQ(MatCreateVecs(A, &vx, &vb), 0);
  PetscScalar *pb;
  ASSERT_EQ(VecGetArray(vb, &pb), 0);
  for (size_t i = 0; i < b.size(); i++) pb[i] = b[i];
  ASSERT_EQ(VecRestoreArray(vb, &pb), 0);
  ASSERT_EQ(KSPCreate(PETSC_COMM_SELF, &ksp), 0);
  ASSERT_EQ(KSPSetOperators(ksp, A, A), 0);
  ASSERT_EQ(KSPSetType(ksp, KSPPREONLY), 0);
  PC pc;
  ASSERT_EQ(KSPGetPC(ksp, &pc), 0);
  ASSERT_EQ(PCSetType(pc, PCLU), 0);
  ASSERT_EQ(KSPSolve(ksp, vb, vx), 0);
  const PetscScalar *px;
  ASSERT_EQ(VecGetArrayRead(vx, &px), 0);
  q.resize(b.size());
  for (size_t i = 0; i < b.size(); i++) q[i] = (float) px[i];
  ASSERT_EQ(VecRestoreArrayRead(vx, &px), 0);
  PetscReal bb = 0;
  for (float v : b) bb += (double) v * v;
  PetscReal loss;
  PetscBool deg;
  ASSERT_EQ(DeepCDTrainLoss(A, b.data(), q.data(), &loss, NULL, &deg), 0);
  EXPECT_FALSE(deg);
  EXPECT_LT(loss, 1e-10 * bb);
  // a random q: 0 < L, and L(3 q) = L(q)
  RandomFluid(g, solid, q);
  PetscReal l1, l3;
  ASSERT_EQ(DeepCDTrainLoss(A, b.data(), q.data(), &l1, NULL, &deg), 0);
  for (float &v : q) v *= 3;
  ASSERT_EQ(DeepCDTrainLoss(A, b.data(), q.data(), &l3, NULL, &deg), 0);
  EXPECT_GT(l1, 1e-3 * bb);
  EXPECT_NEAR(l1, l3, 1e-5 * l1);
  // q = 0 is degenerate: L = ||b||^2 and dq = 0
  std::vector<float> zero(b.size(), 0.0f), dq(b.size(), 1.0f);
  ASSERT_EQ(DeepCDTrainLoss(A, b.data(), zero.data(), &loss, dq.data(), &deg), 0);
  EXPECT_TRUE(deg);
  EXPECT_NEAR(loss, bb, 1e-12 * bb);
  for (float v : dq) EXPECT_EQ(v, 0.0f);
  KSPDestroy(&ksp);
  VecDestroy(&vb);
  VecDestroy(&vx);
  MatDestroy(&A);
}

TEST(TrainLoss, GradientMatchesCentralDifferences)
{
  std::vector<unsigned char> solid;
  Mat                        A = SmallOperator(solid);
  std::mt19937               g(11);
  for (int trial = 0; trial < 3; trial++) {
    std::vector<float> b, q;
    RandomFluid(g, solid, b);
    RandomFluid(g, solid, q);
    for (size_t i = 0; i < q.size(); i++) q[i] += 0.5f * b[i]; // correlated, as a trained net's output
    std::vector<float> dq(q.size());
    PetscReal          l;
    PetscBool          deg;
    ASSERT_EQ(DeepCDTrainLoss(A, b.data(), q.data(), &l, dq.data(), &deg), 0);
    ASSERT_FALSE(deg);
    double gmax = 0;
    for (float v : dq) gmax = std::max(gmax, (double) std::fabs(v));
    ASSERT_GT(gmax, 0);
    // central differences in double through float inputs: steps exactly representable
    for (size_t i = 0; i < q.size(); i += 7) {
      if (solid[i]) continue;
      const float eps = 1.0f / 256, q0 = q[i];
      PetscReal   lp, lm;
      q[i] = q0 + eps;
      ASSERT_EQ(DeepCDTrainLoss(A, b.data(), q.data(), &lp, NULL, &deg), 0);
      q[i] = q0 - eps;
      ASSERT_EQ(DeepCDTrainLoss(A, b.data(), q.data(), &lm, NULL, &deg), 0);
      q[i]      = q0;
      double fd = (lp - lm) / (2.0 * eps);
      EXPECT_NEAR(dq[i], fd, 2e-3 * gmax) << "cell " << i << " trial " << trial;
    }
    // scale invariance: the gradient is orthogonal to q
    double dot = 0, nq = 0, ng = 0;
    for (size_t i = 0; i < q.size(); i++) {
      dot += (double) dq[i] * q[i];
      nq += (double) q[i] * q[i];
      ng += (double) dq[i] * dq[i];
    }
    EXPECT_LT(std::fabs(dot), 1e-5 * std::sqrt(nq * ng));
  }
  MatDestroy(&A);
}

// --smooth: the loss on the direction the solver uses (Chebyshev/Jacobi
// smoothing of the network's output) and its gradient back through it.
TEST(TrainLoss, SmoothedGradientMatchesCentralDifferences)
{
  std::vector<unsigned char> solid;
  Mat                        A = SmallOperator(solid);
  std::mt19937               g(13);
  for (PetscInt n : { 3, 10 }) {
    std::vector<float> b, q;
    RandomFluid(g, solid, b);
    RandomFluid(g, solid, q);
    for (size_t i = 0; i < q.size(); i++) q[i] += 0.5f * b[i];
    std::vector<float> dq(q.size()), dq0(q.size());
    PetscReal          l, l0, l3;
    PetscBool          deg;
    // n = 0 is the plain loss
    ASSERT_EQ(DeepCDTrainLossSmoothed(A, 0, b.data(), q.data(), &l0, dq0.data(), &deg), 0);
    ASSERT_EQ(DeepCDTrainLoss(A, b.data(), q.data(), &l, dq.data(), &deg), 0);
    EXPECT_EQ(l0, l);
    EXPECT_EQ(dq0, dq);
    ASSERT_EQ(DeepCDTrainLossSmoothed(A, n, b.data(), q.data(), &l, dq.data(), &deg), 0);
    ASSERT_FALSE(deg);
    EXPECT_LT(l, 0.5 * l0) << "smoothing a random direction helps: n = " << n;
    // still invariant to the scale of q
    std::vector<float> q3(q);
    for (float &v : q3) v *= 3;
    ASSERT_EQ(DeepCDTrainLossSmoothed(A, n, b.data(), q3.data(), &l3, NULL, &deg), 0);
    EXPECT_NEAR(l, l3, 1e-5 * l);
    double gmax = 0;
    for (float v : dq) gmax = std::max(gmax, (double) std::fabs(v));
    ASSERT_GT(gmax, 0);
    int checked = 0;
    for (size_t i = 0; i < q.size(); i += 5) {
      if (solid[i]) continue;
      // a large step: the smoothed direction is rounded to float before the loss (as in training), which is
      // noise of ~1e-7 relative that smaller steps would amplify (measured: 1/1024 fails by 3x gmax, 1/16 passes)
      const float eps = 1.0f / 16, v0 = q[i];
      PetscReal   lp, lm;
      q[i] = v0 + eps;
      ASSERT_EQ(DeepCDTrainLossSmoothed(A, n, b.data(), q.data(), &lp, NULL, &deg), 0);
      q[i] = v0 - eps;
      ASSERT_EQ(DeepCDTrainLossSmoothed(A, n, b.data(), q.data(), &lm, NULL, &deg), 0);
      q[i]      = v0;
      double fd = (lp - lm) / (2.0 * eps);
      EXPECT_NEAR(dq[i], fd, 2e-3 * gmax) << "cell " << i << ", n = " << n;
      checked++;
    }
    EXPECT_GT(checked, 10);
  }
  PetscReal          l;
  PetscBool          deg;
  std::vector<float> b(8, 1.0f);
  EXPECT_NE(DeepCDTrainLossSmoothed(A, -1, b.data(), b.data(), &l, NULL, &deg), 0);
  MatDestroy(&A);
}

TEST(Train, LossDecreasesOnASmallFamily)
{
  DeepCDTrainOptions o;
  ASSERT_EQ(DeepCDTrainOptionsDefault(&o), 0);
  strcpy(o.data, SmallData().c_str());
  o.steps     = 120;
  o.batch     = 4;
  o.lr        = 3e-3;
  o.warmup    = 0;
  o.val_every = 30;
  strcpy(o.schedule, "constant");
  nn_model          *m = nullptr;
  DeepCDTrainHistory h;
  ASSERT_EQ(DeepCDTrain(PETSC_COMM_SELF, &o, NULL, NULL, NULL, &m, &h), 0);
  ASSERT_EQ(h.n, 4);
  EXPECT_EQ(h.step[3], 120);
  // the held-out loss falls, and ends well below 1, the loss of a useless
  // direction (q.b = 0) and about where an untrained network starts
  EXPECT_LT(h.val_loss[3], h.val_loss[0]) << h.val_loss[0] << " -> " << h.val_loss[3];
  EXPECT_LT(h.val_loss[3], 0.6) << h.val_loss[0] << " -> " << h.val_loss[3];
  EXPECT_EQ(m->training.steps, 120);
  EXPECT_STREQ(m->training.loss, "dcdm");
  EXPECT_EQ(m->training.grid[0], 8);
  nn_model_destroy(&m);
  DeepCDTrainHistoryDestroy(&h);
}

TEST(Train, ResumeFromACheckpointIsBitIdentical)
{
  std::string        dir = TestTempDir("train-resume");
  DeepCDTrainOptions o;
  ASSERT_EQ(DeepCDTrainOptionsDefault(&o), 0);
  strcpy(o.data, SmallData().c_str());
  o.steps                 = 6;
  o.batch                 = 3;
  o.warmup                = 2;
  o.val_every             = 2;
  nn_model          *full = nullptr, *part = nullptr, *rest = nullptr;
  DeepCDTrainHistory hf, hp, hr;
  ASSERT_EQ(DeepCDTrain(PETSC_COMM_SELF, &o, NULL, NULL, NULL, &full, &hf), 0);
  strcpy(o.checkpoint, (dir + "/ck.h5").c_str());
  o.stop_at = 3;
  ASSERT_EQ(DeepCDTrain(PETSC_COMM_SELF, &o, NULL, NULL, NULL, &part, &hp), 0);
  EXPECT_EQ(part->training.steps, 3);
  EXPECT_NE(Params(part), Params(full));
  o.stop_at = 0;
  o.data[0] = 0; // the stored path
  ASSERT_EQ(DeepCDTrain(PETSC_COMM_SELF, &o, o.checkpoint, NULL, NULL, &rest, &hr), 0);
  EXPECT_EQ(rest->training.steps, 6);
  EXPECT_TRUE(Params(rest) == Params(full)) << "resumed weights differ from the uninterrupted run";
  ASSERT_EQ(hr.n, hf.n);
  for (PetscInt i = 0; i < hf.n; i++) {
    EXPECT_EQ(hr.step[i], hf.step[i]);
    EXPECT_EQ(hr.val_loss[i], hf.val_loss[i]);
  }
  // the checkpoint is a model file too, holding the last weights
  EXPECT_TRUE(ModelParams(o.checkpoint) == Params(full));
  nn_model_destroy(&full);
  nn_model_destroy(&part);
  nn_model_destroy(&rest);
  DeepCDTrainHistoryDestroy(&hf);
  DeepCDTrainHistoryDestroy(&hp);
  DeepCDTrainHistoryDestroy(&hr);
}

// --smooth: the option is kept by the checkpoint (the resumed run smooths
// too, bit for bit) and recorded in the model; it changes what is learned.
TEST(Train, SmoothedTrainingResumesBitIdentical)
{
  std::string        dir = TestTempDir("train-smooth");
  DeepCDTrainOptions o;
  ASSERT_EQ(DeepCDTrainOptionsDefault(&o), 0);
  strcpy(o.data, SmallData().c_str());
  o.steps                  = 4;
  o.batch                  = 3;
  o.val_every              = 2;
  nn_model          *plain = nullptr, *full = nullptr, *part = nullptr, *rest = nullptr;
  DeepCDTrainHistory h0, hf, hp, hr;
  ASSERT_EQ(DeepCDTrain(PETSC_COMM_SELF, &o, NULL, NULL, NULL, &plain, &h0), 0);
  o.smooth = 4;
  ASSERT_EQ(DeepCDTrain(PETSC_COMM_SELF, &o, NULL, NULL, NULL, &full, &hf), 0);
  EXPECT_STREQ(full->training.loss, "dcdm, smoothed by 4 chebyshev/jacobi");
  EXPECT_NE(Params(full), Params(plain));
  EXPECT_LT(hf.val_loss[0], h0.val_loss[0]) << "the smoothed direction is better than the raw one";
  strcpy(o.checkpoint, (dir + "/ck.h5").c_str());
  o.stop_at = 2;
  ASSERT_EQ(DeepCDTrain(PETSC_COMM_SELF, &o, NULL, NULL, NULL, &part, &hp), 0);
  DeepCDTrainOptions r;
  PetscInt           step;
  ASSERT_EQ(DeepCDTrainCheckpointOptions(PETSC_COMM_SELF, o.checkpoint, &r, &step), 0);
  EXPECT_EQ(r.smooth, 4);
  o.stop_at = 0;
  o.smooth  = 0; // the checkpoint's value is used
  o.data[0] = 0;
  ASSERT_EQ(DeepCDTrain(PETSC_COMM_SELF, &o, o.checkpoint, NULL, NULL, &rest, &hr), 0);
  EXPECT_TRUE(Params(rest) == Params(full)) << "resumed weights differ from the uninterrupted smoothed run";
  nn_model_destroy(&plain);
  nn_model_destroy(&full);
  nn_model_destroy(&part);
  nn_model_destroy(&rest);
  DeepCDTrainHistoryDestroy(&h0);
  DeepCDTrainHistoryDestroy(&hf);
  DeepCDTrainHistoryDestroy(&hp);
  DeepCDTrainHistoryDestroy(&hr);
}

TEST(TrainCli, KilledAndResumedEqualsUninterrupted)
{
  std::string   dir = TestTempDir("train-kill"), data = SmallData();
  std::string   common = data + " --steps 8 --batch 2 --val-every 4 --seed 9 --plot none";
  CommandResult full   = Cli(common + " -o " + dir + "/full.h5");
  ASSERT_EQ(full.status, 0) << full.err;
  // a run killed with SIGKILL after its first checkpoint
  std::string ck  = dir + "/ck.h5";
  pid_t       pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd = "exec " + CliPath() + " train " + common + " --checkpoint " + ck + " --checkpoint-every 2 -o " + dir + "/killed.h5 > /dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), (char *) NULL);
    _exit(127);
  }
  for (int i = 0; i < 6000 && !FileExists(ck); i++) usleep(10000);
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(FileExists(ck)) << "no checkpoint before the kill";
  EXPECT_FALSE(FileExists(dir + "/killed.h5")) << "killed before the end (the test expects a kill mid-run)";
  CommandResult r = Cli("--resume " + ck + " -o " + dir + "/resumed.h5 --plot " + dir + "/loss.png");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("resuming " + ck + " at step "), std::string::npos) << r.out;
  EXPECT_TRUE(ModelParams(dir + "/resumed.h5") == ModelParams(dir + "/full.h5"));
  EXPECT_TRUE(FileExists(dir + "/loss.png"));
}

// A copy of the small data file changed by `edit` (the open file, read-write).
std::string EditedData(const std::string &name, const std::function<void(hid_t)> &edit)
{
  std::string dir = TestTempDir("train-edited"), path = dir + "/" + name;
  EXPECT_EQ(RunCommand("cp " + SmallData() + " " + path).status, 0);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  EXPECT_GE(f, 0) << path;
  edit(f);
  H5Fclose(f);
  return path;
}

// A batch beyond the training samples (it would run for hours drawing the
// same samples) and a data file with a NaN in a sample that training may never
// draw (sample 5 of 42 with one step of batch 1), or without its required 'solid', are refused up front in one line.
TEST(TrainCli, BadBatchAndBadDataRefusedUpFront)
{
  std::string dir = TestTempDir("train-bad-up-front"), out = dir + "/m.h5";
  // 2 problems x 24 samples, ceil(0.1 x 24) = 3 held out each: 42 training samples
  std::string nan     = EditedData("nan.h5", [](hid_t f) {
    hid_t   d = H5Dopen2(f, "problem001/rhs", H5P_DEFAULT), fs = H5Dget_space(d);
    hsize_t start[4] = { 5, 3, 3, 3 }, count[4] = { 1, 1, 1, 1 }, one = 1;
    float   v  = std::numeric_limits<float>::quiet_NaN();
    hid_t   ms = H5Screate_simple(1, &one, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    EXPECT_GE(H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, &v), 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
  });
  std::string nosolid = EditedData("nosolid.h5", [](hid_t f) { EXPECT_GE(H5Ldelete(f, "problem000/solid", H5P_DEFAULT), 0); });
  struct Case {
    std::string args, message;
  } cases[] = {
    { SmallData() + " --steps 1 --batch 43 -o " + out, "batch 43 is more than the 42 training samples (6 held out for validation)" },
    { SmallData() + " --steps 1 --batch 100000000 -o " + out, "is more than the 42 training samples" },
    { nan + " --steps 1 --batch 1 -o " + out, nan + ": dataset 'problem001/rhs': sample 5 contains NaN or Inf" },
    { nosolid + " --steps 1 --batch 1 -o " + out, nosolid + ": dataset 'problem000/solid' is missing" },
  };
  for (const Case &c : cases) {
    CommandResult r = Cli(c.args + " --plot none");
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_EQ(r.err.rfind("deepcd train: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n"
                                                        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << "\n"
                                                               << r.err;
    EXPECT_FALSE(FileExists(out)) << c.args;
  }
  // the largest batch allowed runs
  CommandResult r = Cli(SmallData() + " --steps 1 --batch 42 --plot none -o " + out);
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(TrainCli, BadInputGetsOneLineAndNoOutput)
{
  std::string dir = TestTempDir("train-bad"), data = SmallData(), out = dir + "/m.h5";
  // a model file is not a checkpoint
  ASSERT_EQ(RunCommand(CliPath() + " model init --arch from64 -o " + dir + "/model.h5").status, 0);
  struct Case {
    std::string args, message;
  } cases[] = {
    { "-o " + out, "no training data file given" },
    { data, "no output file given" },
    { dir + "/missing.h5 -o " + out, dir + "/missing.h5: cannot read the training data file" },
    { data + " --steps 0 -o " + out, "option --steps: must be at least 1" },
    { data + " --lr abc -o " + out, "option --lr: 'abc' is not a finite number" },
    { data + " --batch -3 -o " + out, "option --batch: '-3' is not a non-negative integer" },
    { data + " --schedule linear -o " + out, "train: schedule 'linear' is not 'cosine' or 'constant'" },
    { data + " --backend tpu -o " + out, "train: backend 'tpu' is not cpu, cuda or ref" },
    { data + " --smooth -1 -o " + out, "option --smooth: '-1' is not a non-negative integer" },
    { data + " --smooth x -o " + out, "option --smooth: 'x' is not" },
    { data + " --val-fraction 1 -o " + out, "validation fraction 1 must be in [0, 1)" },
    { data + " --stop-at 2 -o " + out, "option --stop-at needs --checkpoint F" },
    { data + " -o /nonexistent-dir/m.h5", "-o /nonexistent-dir/m.h5: the directory does not exist or is not writable" },
    { data + " -o " + data, "-o " + data + ": it is the training data file" },
    { "--resume " + dir + "/model.h5 -o " + out, dir + "/model.h5: group 'checkpoint' is missing" },
    { "--resume " + dir + "/model.h5 --lr 1 -o " + out, "option --lr cannot be given with --resume" },
    { dir + "/model.h5 -o " + out, dir + "/model.h5: attribute 'format' is 'deepcd-model', expected 'deepcd-train-data'" },
  };
  for (const Case &c : cases) {
    CommandResult r = Cli(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n"
                                                        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << "\n"
                                                               << r.err;
    EXPECT_FALSE(FileExists(out)) << c.args;
  }
  // cuda has a backward pass; without a device (or not compiled) it says so in one line
  bool has_device = false;
  for (int i = 0; i < nn_backend_count(); i++)
    if (std::string(nn_backend_name(i)) == "cuda") has_device = nn_backend_check("cuda", NN_FP32) == NN_SUCCESS;
  if (!has_device) {
    CommandResult r = Cli(data + " --backend cuda --steps 1 -o " + out);
    EXPECT_NE(r.status, 0);
    EXPECT_TRUE(r.err.find("no CUDA device") != std::string::npos || r.err.find("not compiled") != std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(FileExists(out));
  }
}
