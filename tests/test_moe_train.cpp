// The training loop of the mixture-of-experts hard constraint and its
// baselines: the outer loss gradient against finite differences, the loss
// falls on tiny problems for the three models, checkpoint + resume equals an
// uninterrupted run exactly, run files load back, bad checkpoints give one
// clear error.
#include <gtest/gtest.h>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <numeric>
#include <string>
#include <vector>
#include <unistd.h>
#include <hdf5.h>
#include <deepcd/moe.h>
#include "test_util.h"

namespace {

DeepCDMoeTrainOptions Tiny(const char *pde, DeepCDMoeModelType model, PetscInt kx, PetscInt kt, DeepCDMoeBackboneType backbone = DEEPCD_MOE_BACKBONE_MLP)
{
  DeepCDMoeTrainOptions o;
  DeepCDMoeTrainOptionsDefault(pde, &o);
  DeepCDMoeTrainOptionsSetBackbone(&o, backbone);
  if (backbone == DEEPCD_MOE_BACKBONE_FNO) o.depth = 2, o.modes = 4, o.fc = 8, o.pad = 2;
  o.model      = model;
  o.kx         = kx;
  o.kt         = kt;
  o.N          = 6;
  o.width      = 12;
  o.nx         = 16;
  o.nt         = 10;
  o.points     = 40;
  o.batch      = 2;
  o.ntrain     = 8;
  o.ntest      = 2;
  o.lr         = 1e-2;
  o.seed       = 3;
  o.eval_every = 0;
  // independent experts with global condition rows (the reference's method), as these tests were written; the tests
  // of the coupling set it
  o.coupling   = DEEPCD_MOE_COUPLING_NONE;
  o.conditions = DEEPCD_MOE_CONDITIONS_GLOBAL;
  return o;
}

// dL/du of the outer loss against central differences, for each PDE and both loss types.
TEST(MoeTrain, LossGradientMatchesFiniteDifferences)
{
  for (DeepCDMoeLossType lt : { DEEPCD_MOE_LOSS_NORM, DEEPCD_MOE_LOSS_MSE }) {
    for (const char *type : { DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_PDE_BURGERS, DEEPCD_MOE_PDE_DIFFSORP }) {
      DeepCDMoePDE  pde;
      DeepCDMoeGrid g;
      ASSERT_EQ(DeepCDMoePDECreate(type, &pde), 0);
      DeepCDMoeGridSetUp(&g, 9, 7, pde->xlo, pde->xhi, pde->t0, pde->t1);
      const PetscInt      P = g.nx * g.nt;
      std::vector<double> u(P), ubar(P);
      for (PetscInt p = 0; p < P; p++) u[p] = 0.3 + 0.2 * std::sin(1.7 * p) + 0.01 * p;
      double L;
      ASSERT_EQ(DeepCDMoeLoss(pde, &g, lt, 1.0, 0.7, 0.5, u.data(), &L, ubar.data()), 0);
      double worst = 0, scale = 0;
      for (PetscInt p = 0; p < P; p++) {
        const double h = 1e-6, keep = u[p];
        double       Lp, Lm;
        u[p] = keep + h;
        DeepCDMoeLoss(pde, &g, lt, 1.0, 0.7, 0.5, u.data(), &Lp, nullptr);
        u[p] = keep - h;
        DeepCDMoeLoss(pde, &g, lt, 1.0, 0.7, 0.5, u.data(), &Lm, nullptr);
        u[p]  = keep;
        worst = std::max(worst, std::fabs((Lp - Lm) / (2 * h) - ubar[p]));
        scale = std::max(scale, std::fabs(ubar[p]));
      }
      EXPECT_GT(scale, 0.0) << type << " " << DeepCDMoeLossTypes[lt];
      EXPECT_LT(worst, 1e-6 * scale) << type << " " << DeepCDMoeLossTypes[lt];
      DeepCDMoePDEDestroy(&pde);
    }
  }
}

// The loss values at u = 0 on heat (F(0) = 0, zero walls): norm gives w_ic ||u0|| / ||u0|| = w_ic and a zero (not NaN)
// gradient from the terms whose norm is 0; mse gives w_ic mean u0^2.
TEST(MoeTrain, LossValuesAtZero)
{
  DeepCDMoePDE  pde;
  DeepCDMoeGrid g;
  ASSERT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_HEAT, &pde), 0);
  DeepCDMoeGridSetUp(&g, 17, 9, pde->xlo, pde->xhi, pde->t0, pde->t1);
  const PetscInt      P = g.nx * g.nt;
  std::vector<double> u(P, 0.0), ubar(P);
  double              L, ms = 0;
  ASSERT_EQ(DeepCDMoeLoss(pde, &g, DEEPCD_MOE_LOSS_NORM, 1.0, 0.7, 0.5, u.data(), &L, ubar.data()), 0);
  EXPECT_NEAR(L, 0.7, 1e-14);
  for (PetscInt p = 0; p < P; p++) EXPECT_TRUE(std::isfinite(ubar[p]));
  for (PetscInt i = 0; i < g.nx; i++) {
    const double x = g.xlo + i * g.hx, u0 = std::sin(M_PI * x) + 0.5 * std::sin(2 * M_PI * x) + 0.25 * std::sin(3 * M_PI * x);
    ms += u0 * u0 / g.nx;
  }
  ASSERT_EQ(DeepCDMoeLoss(pde, &g, DEEPCD_MOE_LOSS_MSE, 1.0, 0.7, 0.5, u.data(), &L, nullptr), 0);
  EXPECT_NEAR(L, 0.7 * ms, 1e-12);
  DeepCDMoePDEDestroy(&pde);
}

// The row scale (diffusion-sorption: tscale) is divided out of the outer loss by default: the first step's PDE term
// (same parameters, same batch) is the scaled one / tscale (norm) or / tscale^2 (mse); heat has none.
TEST(MoeTrain, LossUnscaledDividesTheRowScale)
{
  DeepCDMoePDE pde;
  PetscReal    s;
  ASSERT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_HEAT, &pde), 0);
  ASSERT_EQ(DeepCDMoePDEGetRowScale(pde, &s), 0);
  EXPECT_EQ(s, 1.0);
  DeepCDMoePDEDestroy(&pde);
  ASSERT_EQ(DeepCDMoePDECreate(DEEPCD_MOE_PDE_DIFFSORP, &pde), 0);
  ASSERT_EQ(DeepCDMoePDEGetRowScale(pde, &s), 0);
  EXPECT_EQ(s, 500.0);
  DeepCDMoePDEDestroy(&pde);
  for (DeepCDMoeLossType lt : { DEEPCD_MOE_LOSS_NORM, DEEPCD_MOE_LOSS_MSE }) {
    double L[2];
    for (int unscaled = 0; unscaled < 2; unscaled++) {
      DeepCDMoeTrainOptions o = Tiny(DEEPCD_MOE_PDE_DIFFSORP, DEEPCD_MOE_MODEL_HARD, 2, 1);
      o.loss                  = lt;
      o.loss_unscaled         = unscaled ? PETSC_TRUE : PETSC_FALSE;
      o.w_ic = o.w_bc = 0.0;
      DeepCDMoeTrainer t;
      ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_DIFFSORP, &o, &t), 0);
      ASSERT_EQ(DeepCDMoeTrainerStep(t, &L[unscaled]), 0);
      DeepCDMoeTrainerDestroy(&t);
    }
    EXPECT_GT(L[1], 0.0);
    EXPECT_NEAR(L[0] / L[1], lt == DEEPCD_MOE_LOSS_NORM ? 500.0 : 250000.0, 1e-9 * (lt == DEEPCD_MOE_LOSS_NORM ? 500.0 : 250000.0)) << DeepCDMoeLossTypes[lt];
  }
}

double MeanLoss(const PetscReal *l, PetscInt from, PetscInt to)
{
  double s = 0;
  for (PetscInt k = from; k < to; k++) s += l[k];
  return s / (to - from);
}

// Each model lowers the loss on a tiny heat problem within 40 steps, with either loss: mean squares to below half,
// unsquared norms to below 1/sqrt(2) (the same fall in squares).
TEST(MoeTrain, LossFallsForEveryModel)
{
  for (DeepCDMoeLossType lt : { DEEPCD_MOE_LOSS_NORM, DEEPCD_MOE_LOSS_MSE }) {
    struct {
      DeepCDMoeModelType    model;
      PetscInt              kx, kt;
      DeepCDMoeBackboneType backbone;
    } cases[] = {
      { DEEPCD_MOE_MODEL_SOFT, 1, 1, DEEPCD_MOE_BACKBONE_MLP },
      { DEEPCD_MOE_MODEL_HARD, 1, 1, DEEPCD_MOE_BACKBONE_MLP },
      { DEEPCD_MOE_MODEL_HARD, 2, 2, DEEPCD_MOE_BACKBONE_MLP },
      { DEEPCD_MOE_MODEL_SOFT, 1, 1, DEEPCD_MOE_BACKBONE_FNO },
      { DEEPCD_MOE_MODEL_HARD, 2, 2, DEEPCD_MOE_BACKBONE_FNO }
    };
    for (auto c : cases) {
      DeepCDMoeTrainOptions o = Tiny(DEEPCD_MOE_PDE_HEAT, c.model, c.kx, c.kt, c.backbone);
      o.steps                 = 40;
      o.loss                  = lt;
      DeepCDMoeTrainer t;
      ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_HEAT, &o, &t), 0);
      ASSERT_EQ(DeepCDMoeTrainerTrain(t), 0);
      PetscInt         n;
      const PetscReal *loss, *err;
      DeepCDMoeTrainerGetHistory(t, &n, &loss, &err);
      ASSERT_EQ(n, 40);
      const double first = MeanLoss(loss, 0, 5), last = MeanLoss(loss, 35, 40);
      EXPECT_LT(last, (lt == DEEPCD_MOE_LOSS_MSE ? 0.5 : std::sqrt(0.5)) * first) << DeepCDMoeLossTypes[lt] << " " << DeepCDMoeModelTypes[c.model] << " " << DeepCDMoeBackboneTypes[c.backbone] << " K=" << c.kx * c.kt << ": " << first << " -> " << last;
      EXPECT_TRUE(std::isfinite(err[39])); // evaluated at the last step
      EXPECT_TRUE(std::isnan(err[10]));
      DeepCDMoeTrainerDestroy(&t);
    }
  }
}

// The global hard constraint (K = 1, N = 16) on a 32 x 16 grid from the problem's defaults, seed 1.
DeepCDMoeTrainOptions Small(const char *pde, PetscInt steps)
{
  DeepCDMoeTrainOptions o;
  EXPECT_EQ(DeepCDMoeTrainOptionsDefault(pde, &o), 0);
  o.kx = o.kt  = 1;
  o.N          = 16;
  o.nx         = 32;
  o.nt         = 16;
  o.steps      = steps;
  o.seed       = 1;
  o.eval_every = 0;
  return o;
}

// The fno on heat (K = 1, default sizes, 32 x 16): with the reference's unsquared norms its basis collapses to
// constant columns within 20 steps (held-out error 58.7%, the loss's kink at F = 0 traps it; docs/results.md,
// 2026-12-07 night); with the mean squares, heat's default loss, it does not (16.9% after 20 steps).
TEST(MoeTrain, FnoBasisOnHeatDoesNotCollapse)
{
  DeepCDMoeTrainOptions o = Small(DEEPCD_MOE_PDE_HEAT, 20);
  EXPECT_EQ(o.loss, DEEPCD_MOE_LOSS_MSE);
  DeepCDMoeTrainOptionsSetBackbone(&o, DEEPCD_MOE_BACKBONE_FNO);
  DeepCDMoeTrainer t;
  ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_HEAT, &o, &t), 0);
  ASSERT_EQ(DeepCDMoeTrainerTrain(t), 0);
  std::vector<double> errs(o.ntest);
  double              mean;
  ASSERT_EQ(DeepCDMoeTrainerEvaluate(t, errs.data(), nullptr, &mean), 0);
  EXPECT_LT(mean, 0.3);
  // the prediction at t = 0 follows u0 across x instead of a constant
  PetscInt         ntest, np;
  const PetscReal *par, *ref;
  ASSERT_EQ(DeepCDMoeTrainerGetInstances(t, PETSC_TRUE, &ntest, &np, &par), 0);
  ASSERT_EQ(DeepCDMoeTrainerGetReferences(t, &ref), 0);
  std::vector<double> u(o.nx * o.nt);
  ASSERT_EQ(DeepCDMoeTrainerPredict(t, par, u.data()), 0);
  double su = 0, sr = 0, mu = 0, mr = 0;
  for (PetscInt i = 0; i < o.nx; i++) mu += u[i] / o.nx, mr += ref[i] / o.nx;
  for (PetscInt i = 0; i < o.nx; i++) su += (u[i] - mu) * (u[i] - mu), sr += (ref[i] - mr) * (ref[i] - mr);
  EXPECT_GT(std::sqrt(su / sr), 0.5) << "the basis collapsed: u(x, 0) is nearly constant";
  DeepCDMoeTrainerDestroy(&t);
}

// Burgers (nu = 0.02, 32 x 16, K = 1): with the inputs in the front's units (the default) 80 steps reach 17.2%
// held-out error; with x, t in [-1, 1] and the raw x0 27.8% (docs/results.md, 2026-12-07 night). The run file
// keeps the setting: loaded back, the same errors.
TEST(MoeTrain, BurgersScaledInputsBeatABound)
{
  const std::string     dir = TestTempDir("moe_train_scaled"), file = dir + "/run.h5";
  DeepCDMoeTrainOptions o = Small(DEEPCD_MOE_PDE_BURGERS, 80);
  o.points                = 200;
  EXPECT_TRUE(o.scale_inputs);
  DeepCDMoeTrainer t, back;
  DeepCDMoePDE     pde;
  ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_BURGERS, &o, &t), 0);
  ASSERT_EQ(DeepCDMoeTrainerGetPDE(t, &pde), 0);
  ASSERT_EQ(DeepCDMoePDESetConstant(pde, "nu", 0.02), 0);
  ASSERT_EQ(DeepCDMoeTrainerTrain(t), 0);
  std::vector<double> e1(o.ntest), e2(o.ntest);
  double              mean;
  ASSERT_EQ(DeepCDMoeTrainerEvaluate(t, e1.data(), nullptr, &mean), 0);
  EXPECT_LT(mean, 0.22);
  ASSERT_EQ(DeepCDMoeTrainerSave(t, file.c_str()), 0);
  ASSERT_EQ(DeepCDMoeTrainerLoad(PETSC_COMM_SELF, file.c_str(), &back), 0);
  const DeepCDMoeTrainOptions *ob;
  DeepCDMoeTrainerGetOptions(back, &ob);
  EXPECT_TRUE(ob->scale_inputs);
  ASSERT_EQ(DeepCDMoeTrainerEvaluate(back, e2.data(), nullptr, nullptr), 0);
  EXPECT_EQ(e1, e2);
  DeepCDMoeTrainerDestroy(&t);
  DeepCDMoeTrainerDestroy(&back);
}

// ns on a 12 x 12 x 6 periodic grid: the loss falls for soft, global hard
// and 2 x 2 experts in space, and a run file loads back with ny and ky.
TEST(MoeTrain, NavierStokesLossFalls)
{
  struct {
    DeepCDMoeModelType model;
    PetscInt           kx, ky;
  } cases[] = {
    { DEEPCD_MOE_MODEL_SOFT, 1, 1 },
    { DEEPCD_MOE_MODEL_HARD, 1, 1 },
    { DEEPCD_MOE_MODEL_HARD, 2, 2 }
  };
  for (auto c : cases) {
    DeepCDMoeTrainOptions o = Tiny(DEEPCD_MOE_PDE_NS, c.model, c.kx, 1);
    o.ky                    = c.ky;
    o.nx = o.ny = 12;
    o.nt        = 6;
    o.steps     = 30;
    DeepCDMoeTrainer t;
    ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_NS, &o, &t), 0);
    ASSERT_EQ(DeepCDMoeTrainerTrain(t), 0);
    PetscInt         n;
    const PetscReal *loss, *err;
    DeepCDMoeTrainerGetHistory(t, &n, &loss, &err);
    const double first = MeanLoss(loss, 0, 5), last = MeanLoss(loss, 25, 30);
    printf("ns %s %dx%d: loss %.4g -> %.4g, held-out error %.2f%%\n", DeepCDMoeModelTypes[c.model], (int) c.kx, (int) c.ky, first, last, 100 * err[29]);
    EXPECT_LT(last, std::sqrt(0.5) * first) << DeepCDMoeModelTypes[c.model] << " " << c.kx << "x" << c.ky;
    EXPECT_TRUE(std::isfinite(err[29]));
    const char *file = "moe_ns_run.h5";
    ASSERT_EQ(DeepCDMoeTrainerSave(t, file), 0);
    DeepCDMoeTrainer back;
    ASSERT_EQ(DeepCDMoeTrainerLoad(PETSC_COMM_SELF, file, &back), 0);
    const DeepCDMoeTrainOptions *ob;
    DeepCDMoeTrainerGetOptions(back, &ob);
    EXPECT_EQ(ob->ny, 12);
    EXPECT_EQ(ob->ky, c.ky);
    std::vector<double> e1(2), e2(2);
    double              m1, m2;
    ASSERT_EQ(DeepCDMoeTrainerEvaluate(t, e1.data(), NULL, &m1), 0);
    ASSERT_EQ(DeepCDMoeTrainerEvaluate(back, e2.data(), NULL, &m2), 0);
    EXPECT_EQ(m1, m2);
    remove(file);
    DeepCDMoeTrainerDestroy(&back);
    DeepCDMoeTrainerDestroy(&t);
  }
  // the fno is 2-D (x, t): refused for ns
  DeepCDMoeTrainOptions o = Tiny(DEEPCD_MOE_PDE_NS, DEEPCD_MOE_MODEL_HARD, 2, 1, DEEPCD_MOE_BACKBONE_FNO);
  DeepCDMoeTrainer      t = NULL;
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  EXPECT_NE(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_NS, &o, &t), 0);
  // a 1-D problem with ny > 1
  o    = Tiny(DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_MODEL_HARD, 1, 1);
  o.ny = 4;
  EXPECT_NE(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_HEAT, &o, &t), 0);
  PetscPopErrorHandler();
}

std::vector<double> Params(DeepCDMoeTrainer t)
{
  PetscInt         n;
  const PetscReal *th;
  DeepCDMoeTrainerGetParameters(t, &n, &th);
  return std::vector<double>(th, th + n);
}

// 2n steps in one go against n steps, a checkpoint, and n more steps in a
// new trainer resumed from it: bitwise the same parameters and losses.
TEST(MoeTrain, ResumeEqualsUninterruptedRun)
{
  const std::string dir = TestTempDir("moe_train_resume");
  for (const char *type : { DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_PDE_BURGERS, "fno" }) {
    const bool            fno  = !strcmp(type, "fno");
    const std::string     ckpt = dir + "/" + type + ".h5";
    DeepCDMoeTrainOptions o    = Tiny(fno ? DEEPCD_MOE_PDE_HEAT : type, DEEPCD_MOE_MODEL_HARD, 2, 1, fno ? DEEPCD_MOE_BACKBONE_FNO : DEEPCD_MOE_BACKBONE_MLP);
    if (fno) type = DEEPCD_MOE_PDE_HEAT;
    o.steps      = 6;
    o.eval_every = 3;
    DeepCDMoeTrainer whole, first, second;
    ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, type, &o, &whole), 0);
    ASSERT_EQ(DeepCDMoeTrainerTrain(whole), 0);

    o.steps = 3;
    ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, type, &o, &first), 0);
    ASSERT_EQ(DeepCDMoeTrainerSetCheckpoint(first, ckpt.c_str(), 3), 0);
    ASSERT_EQ(DeepCDMoeTrainerTrain(first), 0);
    DeepCDMoeTrainerDestroy(&first);

    o.steps = 6;
    ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, type, &o, &second), 0);
    ASSERT_EQ(DeepCDMoeTrainerResume(second, ckpt.c_str()), 0);
    PetscInt step;
    DeepCDMoeTrainerGetStep(second, &step);
    EXPECT_EQ(step, 3);
    ASSERT_EQ(DeepCDMoeTrainerTrain(second), 0);

    const std::vector<double> a = Params(whole), b = Params(second);
    ASSERT_EQ(a.size(), b.size());
    size_t differ = 0;
    for (size_t k = 0; k < a.size(); k++) differ += a[k] != b[k];
    EXPECT_EQ(differ, 0u) << type;
    PetscInt         na, nb;
    const PetscReal *la, *lb, *ea, *eb;
    DeepCDMoeTrainerGetHistory(whole, &na, &la, &ea);
    DeepCDMoeTrainerGetHistory(second, &nb, &lb, &eb);
    ASSERT_EQ(na, nb);
    for (PetscInt k = 0; k < na; k++) {
      EXPECT_EQ(la[k], lb[k]) << type << " step " << k;
      if (std::isnan(ea[k]))
        EXPECT_TRUE(std::isnan(eb[k]));
      else
        EXPECT_EQ(ea[k], eb[k]);
    }
    DeepCDMoeTrainerDestroy(&whole);
    DeepCDMoeTrainerDestroy(&second);
  }
}

// A run file loads back into a trainer with the same settings, state and predictions.
TEST(MoeTrain, RunFileLoadsBack)
{
  const std::string     file = TestTempDir("moe_train_load") + "/run.h5";
  DeepCDMoeTrainOptions o    = Tiny(DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_MODEL_SOFT, 1, 1);
  o.steps                    = 3;
  DeepCDMoeTrainer t, back;
  ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_HEAT, &o, &t), 0);
  DeepCDMoePDE pde;
  DeepCDMoeTrainerGetPDE(t, &pde);
  DeepCDMoePDESetConstant(pde, "kappa", 0.06);
  ASSERT_EQ(DeepCDMoeTrainerTrain(t), 0);
  std::vector<double> err(o.ntest), err2(o.ntest);
  double              mean, mean2;
  ASSERT_EQ(DeepCDMoeTrainerEvaluate(t, err.data(), nullptr, &mean), 0);
  ASSERT_EQ(DeepCDMoeTrainerSave(t, file.c_str()), 0);
  EXPECT_FALSE(FileExists(file + ".tmp." + std::to_string(getpid())));
  ASSERT_EQ(DeepCDMoeTrainerLoad(PETSC_COMM_SELF, file.c_str(), &back), 0);
  EXPECT_EQ(Params(back), Params(t));
  const DeepCDMoeTrainOptions *ob;
  DeepCDMoeTrainerGetOptions(back, &ob);
  EXPECT_EQ(ob->model, DEEPCD_MOE_MODEL_SOFT);
  EXPECT_EQ(ob->nx, o.nx);
  EXPECT_EQ(ob->lr, o.lr);
  DeepCDMoePDE pb;
  DeepCDMoeTrainerGetPDE(back, &pb);
  double kappa;
  DeepCDMoePDEGetConstant(pb, "kappa", &kappa);
  EXPECT_EQ(kappa, 0.06);
  ASSERT_EQ(DeepCDMoeTrainerEvaluate(back, err2.data(), nullptr, &mean2), 0);
  EXPECT_EQ(err, err2);
  EXPECT_EQ(ReadDataset(file, "errors"), err);
  EXPECT_EQ(ReadDataset(file, "loss").size(), 3u);
  DeepCDMoeTrainerDestroy(&t);
  DeepCDMoeTrainerDestroy(&back);
}

// Both trainers give the same held-out errors.
void ExpectSameErrors(DeepCDMoeTrainer a, DeepCDMoeTrainer b, PetscInt ntest)
{
  std::vector<double> e1(ntest), e2(ntest);
  ASSERT_EQ(DeepCDMoeTrainerEvaluate(a, e1.data(), nullptr, nullptr), 0);
  ASSERT_EQ(DeepCDMoeTrainerEvaluate(b, e2.data(), nullptr, nullptr), 0);
  EXPECT_EQ(e1, e2);
}

// A heat run with options o trained, saved to `file` (*t) and loaded back (*back) with the same parameters and held-out
// errors; returns the loaded settings.
const DeepCDMoeTrainOptions *TrainSaveLoad(const DeepCDMoeTrainOptions &o, const std::string &file, DeepCDMoeTrainer *t, DeepCDMoeTrainer *back)
{
  const DeepCDMoeTrainOptions *ob = nullptr;
  EXPECT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_HEAT, &o, t), 0);
  EXPECT_EQ(DeepCDMoeTrainerTrain(*t), 0);
  EXPECT_EQ(DeepCDMoeTrainerSave(*t, file.c_str()), 0);
  EXPECT_EQ(DeepCDMoeTrainerLoad(PETSC_COMM_SELF, file.c_str(), back), 0);
  DeepCDMoeTrainerGetOptions(*back, &ob);
  EXPECT_EQ(Params(*back), Params(*t));
  ExpectSameErrors(*t, *back, o.ntest);
  return ob;
}

void DestroyTrainers(std::initializer_list<DeepCDMoeTrainer *> ts)
{
  for (DeepCDMoeTrainer *t : ts) DeepCDMoeTrainerDestroy(t);
}

// A one-step heat run with options o (2 x 1 experts unless changed) saved to `file` without the root attributes
// `drop` (a file written before they existed), in *t, and that file loaded back, in *back.
void SaveWithout(DeepCDMoeTrainOptions o, const std::string &file, std::vector<const char *> drop, DeepCDMoeTrainer *t, DeepCDMoeTrainer *back)
{
  o.steps = 1;
  ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_HEAT, &o, t), 0);
  ASSERT_EQ(DeepCDMoeTrainerSave(*t, file.c_str()), 0);
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  for (const char *name : drop) EXPECT_GE(H5Adelete(f, name), 0) << name;
  H5Fclose(f);
  ASSERT_EQ(DeepCDMoeTrainerLoad(PETSC_COMM_SELF, file.c_str(), back), 0);
}

// Resuming t from `file` is refused with a message that contains `what`.
void ExpectResumeRefused(DeepCDMoeTrainer t, const std::string &file, const char *what)
{
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  PetscErrorCode ierr = DeepCDMoeTrainerResume(t, file.c_str());
  PetscPopErrorHandler();
  EXPECT_NE(ierr, 0);
  char *specific = nullptr;
  PetscErrorMessage(ierr, nullptr, &specific);
  EXPECT_NE(std::string(specific ? specific : "").find(what), std::string::npos) << specific;
}

// A run file written with options o but without the attributes `drop` (a file of an older version) loads back
// with the same parameters and the settings `check` expects; resuming that run from `newer` is refused with `what`.
template <class Check>
void OldFileReadsAsBefore(const DeepCDMoeTrainOptions &o, const std::string &old, std::vector<const char *> drop, Check check, const std::string &newer, const char *what)
{
  DeepCDMoeTrainer t, back;
  SaveWithout(o, old, drop, &t, &back);
  const DeepCDMoeTrainOptions *ob;
  DeepCDMoeTrainerGetOptions(back, &ob);
  check(*ob);
  EXPECT_EQ(Params(back), Params(t));
  ExpectResumeRefused(t, newer, what);
  DestroyTrainers({ &t, &back });
}

// An FNO run file keeps its backbone and sizes; a run file without the backbone attribute (written
// before the FNO) reads as the MLP; resuming an MLP run from an FNO checkpoint is refused in one line.
TEST(MoeTrain, RunFileKeepsTheBackbone)
{
  const std::string     dir = TestTempDir("moe_train_backbone"), file = dir + "/fno.h5", old = dir + "/old.h5";
  DeepCDMoeTrainOptions o = Tiny(DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_MODEL_HARD, 2, 1, DEEPCD_MOE_BACKBONE_FNO);
  o.steps                 = 2;
  o.modes                 = 3;
  DeepCDMoeTrainer             t, back;
  const DeepCDMoeTrainOptions *ob = TrainSaveLoad(o, file, &t, &back);
  EXPECT_EQ(ob->backbone, DEEPCD_MOE_BACKBONE_FNO);
  EXPECT_EQ(ob->modes, 3);
  EXPECT_EQ(ob->depth, 2);
  EXPECT_EQ(ob->pad, 2);

  OldFileReadsAsBefore(
      Tiny(DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_MODEL_HARD, 2, 1), old, { "backbone" }, [](const DeepCDMoeTrainOptions &b) { EXPECT_EQ(b.backbone, DEEPCD_MOE_BACKBONE_MLP); }, file, "backbone fno, this run mlp");
  DestroyTrainers({ &t, &back });
}

// A coupled run file keeps the coupling and its weight, and evaluates to the same errors; a run file without
// the coupling attributes (written before the coupling) reads as independent experts; resuming an uncoupled
// run from a coupled checkpoint is refused in one line.
TEST(MoeTrain, RunFileKeepsTheCoupling)
{
  const std::string     dir = TestTempDir("moe_train_coupling"), file = dir + "/coupled.h5", old = dir + "/old.h5";
  DeepCDMoeTrainOptions o = Tiny(DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_MODEL_HARD, 2, 2);
  o.steps                 = 2;
  o.coupling              = DEEPCD_MOE_COUPLING_INTERFACE;
  o.coupling_weight       = 3.0;
  DeepCDMoeTrainer             t, back;
  const DeepCDMoeTrainOptions *ob = TrainSaveLoad(o, file, &t, &back);
  EXPECT_EQ(ob->coupling, DEEPCD_MOE_COUPLING_INTERFACE);
  EXPECT_EQ(ob->coupling_weight, 3.0);

  OldFileReadsAsBefore(
      Tiny(DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_MODEL_HARD, 2, 2), old, { "coupling", "coupling_weight" }, [](const DeepCDMoeTrainOptions &b) { EXPECT_EQ(b.coupling, DEEPCD_MOE_COUPLING_NONE); }, file, "coupling 1, this run 0");
  DestroyTrainers({ &t, &back });
}

// The defaults depend on the problem as measured (docs/results.md): diffusion-sorption gets the fno, heat and Burgers the
// mlp; all three local condition rows and interface coupling of weight 10.
TEST(MoeTrain, DefaultsByProblem)
{
  DeepCDMoeTrainOptions o;
  ASSERT_EQ(DeepCDMoeTrainOptionsDefault(DEEPCD_MOE_PDE_DIFFSORP, &o), 0);
  EXPECT_EQ(o.backbone, DEEPCD_MOE_BACKBONE_FNO);
  EXPECT_EQ(o.coupling, DEEPCD_MOE_COUPLING_INTERFACE);
  EXPECT_EQ(o.coupling_weight, 10.0);
  EXPECT_EQ(o.conditions, DEEPCD_MOE_CONDITIONS_LOCAL);
  for (const char *type : { DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_PDE_BURGERS }) {
    ASSERT_EQ(DeepCDMoeTrainOptionsDefault(type, &o), 0);
    EXPECT_EQ(o.backbone, DEEPCD_MOE_BACKBONE_MLP) << type;
    EXPECT_EQ(o.coupling, DEEPCD_MOE_COUPLING_INTERFACE) << type;
    EXPECT_EQ(o.coupling_weight, 10.0) << type;
    EXPECT_EQ(o.conditions, DEEPCD_MOE_CONDITIONS_LOCAL) << type;
  }
}

// The per-expert report: heat is linear (one LM step per solve), the objective is the expert's own one
// (checked against its constraint), the conditioning is that of J^T J + ridge^2 I; the soft model has no experts.
TEST(MoeTrain, PerExpertReport)
{
  for (DeepCDMoeCoupling coupling : { DEEPCD_MOE_COUPLING_NONE, DEEPCD_MOE_COUPLING_INTERFACE }) {
    DeepCDMoeTrainOptions o = Tiny(DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_MODEL_HARD, 2, 1);
    o.steps                 = 1;
    o.coupling              = coupling;
    DeepCDMoeTrainer t;
    ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_HEAT, &o, &t), 0);
    ASSERT_EQ(DeepCDMoeTrainerTrain(t), 0);
    DeepCDMoeExpertReport rep[2];
    ASSERT_EQ(DeepCDMoeTrainerReport(t, rep), 0);
    // by hand, for the last held-out instance (the report's last solve): f and cond of expert 1
    const PetscReal *param;
    PetscInt         np;
    DeepCDMoeTrainerGetInstances(t, PETSC_TRUE, nullptr, &np, &param);
    std::vector<double> u(o.nx * o.nt);
    ASSERT_EQ(DeepCDMoeTrainerPredict(t, param + (o.ntest - 1) * np, u.data()), 0);
    DeepCDMoeExpertReport last[2];
    DeepCDMoeExperts      ex;
    ASSERT_EQ(DeepCDMoeTrainerGetExperts(t, &ex), 0);
    ASSERT_EQ(DeepCDMoeExpertsGetReport(ex, last), 0);
    DeepCDMoeConstraint c;
    DeepCDMoeExpertsGetConstraint(ex, 1, &c);
    const PetscReal *w;
    DeepCDMoeExpertsGetWeights(ex, 1, &w);
    PetscInt mall, N;
    DeepCDMoeConstraintGetSizes(c, nullptr, &mall, &N);
    std::vector<double> r(mall), H(N * N);
    ASSERT_EQ(DeepCDMoeConstraintResidual(c, w, r.data()), 0);
    double f = 0;
    for (double x : r) f += 0.5 * x * x;
    EXPECT_NEAR(last[1].f, f, 1e-12 * f);
    // the condition number from the extreme Rayleigh quotients' bounds: power iteration on H for the largest eigenvalue
    ASSERT_EQ(DeepCDMoeConstraintNormal(c, w, DEEPCD_MOE_HESSIAN_GN, nullptr, nullptr, H.data()), 0);
    std::vector<double> x(N, 1.0), y(N);
    double              lmax = 0;
    for (int it = 0; it < 500; it++) {
      double n = 0;
      for (PetscInt i = 0; i < N; i++) {
        y[i] = 0;
        for (PetscInt j = 0; j < N; j++) y[i] += H[i + j * N] * x[j];
        n += y[i] * y[i];
      }
      n    = std::sqrt(n);
      lmax = n / std::sqrt(std::inner_product(x.begin(), x.end(), x.begin(), 0.0));
      for (PetscInt i = 0; i < N; i++) x[i] = y[i] / n;
    }
    const double ridge2 = 1e-8; // lambda_min >= ridge^2: log10 cond <= log10(lmax / ridge^2)
    EXPECT_GT(last[1].log10cond, 0.0);
    EXPECT_LE(last[1].log10cond, std::log10(lmax / ridge2) + 1e-9);
    for (int k = 0; k < 2; k++) {
      printf("    coupling %s, expert %d: %.1f LM steps, %.0f%% at cap, 1/2||r||^2 %.3e, log10 cond %.2f\n", DeepCDMoeCouplingTypes[coupling], k, rep[k].its, 100 * rep[k].capped, rep[k].f, rep[k].log10cond);
      EXPECT_EQ(rep[k].capped, 0.0);
      EXPECT_GT(rep[k].f, 0.0);
      EXPECT_TRUE(std::isfinite(rep[k].log10cond));
      if (coupling == DEEPCD_MOE_COUPLING_NONE) EXPECT_EQ(rep[k].its, 1.0); // linear: one undamped step
    }
    DeepCDMoeTrainerDestroy(&t);
  }
  DeepCDMoeTrainOptions o = Tiny(DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_MODEL_SOFT, 1, 1);
  DeepCDMoeTrainer      t;
  ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_HEAT, &o, &t), 0);
  DeepCDMoeExpertReport rep[1];
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  EXPECT_NE(DeepCDMoeTrainerReport(t, rep), 0);
  PetscPopErrorHandler();
  DeepCDMoeTrainerDestroy(&t);
}

// Strings written by h5py as fixed-length without a terminating NUL (here: the exact length,
// null-padded) read back whole: "heat" in 4 bytes is "heat", not "hea".
TEST(MoeTrain, FixedLengthStringsWithoutNulReadWhole)
{
  const std::string     file = TestTempDir("moe_train_fixedstr") + "/run.h5";
  DeepCDMoeTrainOptions o    = Tiny(DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_MODEL_SOFT, 1, 1);
  o.steps                    = 1;
  DeepCDMoeTrainer t, back = nullptr;
  ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_HEAT, &o, &t), 0);
  ASSERT_EQ(DeepCDMoeTrainerSave(t, file.c_str()), 0);
  {
    hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    for (const char *name : { "pde", "model" }) {
      const std::string value = std::string(name) == "pde" ? "heat" : "soft";
      ASSERT_GE(H5Adelete(f, name), 0);
      hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR);
      ASSERT_GE(H5Tset_size(type, value.size()), 0); // exactly 4 bytes: no room for a NUL
      ASSERT_GE(H5Tset_strpad(type, H5T_STR_NULLPAD), 0);
      hid_t a = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
      ASSERT_GE(a, 0);
      ASSERT_GE(H5Awrite(a, type, value.c_str()), 0);
      H5Aclose(a);
      H5Sclose(space);
      H5Tclose(type);
    }
    H5Fclose(f);
  }
  ASSERT_EQ(DeepCDMoeTrainerLoad(PETSC_COMM_SELF, file.c_str(), &back), 0);
  DeepCDMoePDE pde;
  DeepCDMoeTrainerGetPDE(back, &pde);
  EXPECT_STREQ(pde->type, "heat");
  const DeepCDMoeTrainOptions *ob;
  DeepCDMoeTrainerGetOptions(back, &ob);
  EXPECT_EQ(ob->model, DEEPCD_MOE_MODEL_SOFT);
  ASSERT_EQ(DeepCDMoeTrainerResume(t, file.c_str()), 0); // the same settings: "heat" matches
  DeepCDMoeTrainerDestroy(&t);
  DeepCDMoeTrainerDestroy(&back);
}

// Resuming from a missing file, a non-HDF5 file or a checkpoint of other settings fails with a clear error.
TEST(MoeTrain, BadCheckpointsAreRefused)
{
  const std::string     dir = TestTempDir("moe_train_bad");
  DeepCDMoeTrainOptions o   = Tiny(DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_MODEL_HARD, 1, 1);
  o.steps                   = 1;
  DeepCDMoeTrainer t, other;
  ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_HEAT, &o, &t), 0);
  const std::string good = dir + "/good.h5", text = dir + "/text.h5";
  ASSERT_EQ(DeepCDMoeTrainerSave(t, good.c_str()), 0);
  FILE *f = fopen(text.c_str(), "w");
  fputs("not hdf5\n", f);
  fclose(f);
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  const char *msg;
  EXPECT_NE(DeepCDMoeTrainerResume(t, (dir + "/missing.h5").c_str()), 0);
  EXPECT_NE(DeepCDMoeTrainerResume(t, text.c_str()), 0);
  PetscErrorMessage(PETSC_ERR_FILE_UNEXPECTED, &msg, nullptr);
  o.nx = 20;
  ASSERT_EQ(DeepCDMoeTrainerCreate(PETSC_COMM_SELF, DEEPCD_MOE_PDE_HEAT, &o, &other), 0);
  PetscErrorCode ierr = DeepCDMoeTrainerResume(other, good.c_str());
  EXPECT_NE(ierr, 0);
  char *specific = nullptr;
  PetscErrorMessage(ierr, nullptr, &specific);
  EXPECT_NE(std::string(specific ? specific : "").find("nx 16, this run 20"), std::string::npos) << specific;
  PetscPopErrorHandler();
  DeepCDMoeTrainerDestroy(&t);
  DeepCDMoeTrainerDestroy(&other);
}

} // namespace
