/* Training PCNEURALMG's parameters (deepcd train --arch neuralmg,
   docs/pc-neuralmg.md). The loss is what CG cares about: the mean over
   training problems and right-hand sides of log10(||r_k|| / ||r_0||) / k
   after k iterations of CG preconditioned by the cycle. It is a deterministic
   function of the parameters (fixed right-hand sides) but not a
   differentiable one we could back-propagate cheaply through CG, so the
   gradient is estimated by simultaneous perturbation (SPSA: two loss
   evaluations per estimate, whatever the number of parameters) and fed to
   Adam. Parameters that would break the W-cycle's positivity bound are not
   evaluated: they get the loss of no convergence. */
#include <math.h>
#include <string.h>
#include <deepcd/train.h>
#include <deepcd/pc.h>
#include <deepcd/operator.h>
#include <deepcd/private/pcneuralmgimpl.h>
#include <deepcd/private/adam.h>
#include <deepcd/private/rng.h>
#include <deepcd/private/petsccompat.h>

/* one problem: its operator, its KSP (CG + neuralmg) and its right-hand sides */
typedef struct {
  DeepCDProblem p;
  Mat           A;
  KSP           ksp;
  Vec           b[2], x;
  PetscReal     bnorm[2]; /* ||b|| = ||r_0|| (x_0 = 0) */
  PetscInt      nrhs, nlevels;
} NMGTrainProblem;

typedef struct {
  PetscInt         n;
  NMGTrainProblem *p;
} NMGTrainSet;

/*@C
  DeepCDTrainNeuralMGOptionsDefault - The defaults of `deepcd train --arch neuralmg`.

  Not Collective

  Output Parameter:
. o - the options

  Level: intermediate

.seealso: `DeepCDTrainNeuralMG()`
@*/
PetscErrorCode DeepCDTrainNeuralMGOptionsDefault(DeepCDTrainNeuralMGOptions *o)
{
  PetscFunctionBegin;
  PetscAssertPointer(o, 1);
  PetscCall(PetscMemzero(o, sizeof(*o)));
  o->steps       = 150;
  o->lr          = 0.05;
  o->perturb     = 0.1;
  o->its         = 6;
  o->val_every   = 25;
  o->seed        = 1;
  o->coarse_size = 64;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode NMGTrainSetDestroy(NMGTrainSet *s)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < s->n; i++) {
    NMGTrainProblem *q = &s->p[i];
    PetscCall(KSPDestroy(&q->ksp));
    PetscCall(VecDestroy(&q->b[0]));
    PetscCall(VecDestroy(&q->b[1]));
    PetscCall(VecDestroy(&q->x));
    PetscCall(MatDestroy(&q->A));
    PetscCall(DeepCDProblemDestroy(&q->p));
  }
  PetscCall(PetscFree(s->p));
  s->n = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Loads the problems, with the problem's right-hand side and a random one on
   the coupled cells (consistent with the null space) */
static PetscErrorCode NMGTrainSetCreate(MPI_Comm comm, PetscInt n, const char *const files[], unsigned long seed, PetscInt coarse_size, NMGTrainSet *s)
{
  PetscFunctionBegin;
  s->n = 0;
  PetscCall(PetscCalloc1(n > 0 ? n : 1, &s->p));
  for (PetscInt i = 0; i < n; i++) {
    NMGTrainProblem *q = &s->p[i];
    PC               pc;
    MatNullSpace     ns;
    PetscRandom      rnd;

    s->n++;
    PetscCall(DeepCDProblemLoad(comm, files[i], &q->p));
    PetscCall(DeepCDOperatorSetUp(q->p, &q->A, &q->b[0]));
    PetscCall(VecDuplicate(q->b[0], &q->b[1]));
    PetscCall(VecDuplicate(q->b[0], &q->x));
    PetscCall(PetscRandomCreate(comm, &rnd));
    PetscCall(PetscRandomSetSeed(rnd, (unsigned long) (seed * 7919 + (unsigned long) i)));
    PetscCall(PetscRandomSeed(rnd));
    PetscCall(VecSetRandom(q->b[1], rnd));
    PetscCall(PetscRandomDestroy(&rnd));
    PetscCall(VecShift(q->b[1], -0.5));
    PetscCall(VecPointwiseMult(q->x, q->p->solid, q->b[1])); /* the solid cells' share */
    PetscCall(VecAXPY(q->b[1], -1.0, q->x));
    PetscCall(MatGetNullSpace(q->A, &ns));
    if (ns) PetscCall(MatNullSpaceRemove(ns, q->b[1]));
    q->nrhs = 2;
    for (PetscInt r = 0; r < q->nrhs; r++) PetscCall(VecNorm(q->b[r], NORM_2, &q->bnorm[r]));
    PetscCall(KSPCreate(comm, &q->ksp));
    PetscCall(KSPSetOperators(q->ksp, q->A, q->A));
    PetscCall(KSPSetDM(q->ksp, q->p->da));
    PetscCall(DeepCDKSPSetDMActive(q->ksp, PETSC_FALSE));
    PetscCall(KSPSetType(q->ksp, KSPCG));
    PetscCall(KSPSetNormType(q->ksp, KSP_NORM_UNPRECONDITIONED));
    PetscCall(KSPSetConvergenceTest(q->ksp, KSPConvergedSkip, NULL, NULL));
    PetscCall(KSPGetPC(q->ksp, &pc));
    PetscCall(PCSetType(pc, PCNEURALMG));
    PetscCall(PCNeuralMGSetModel(pc, "none"));
    ((PC_NeuralMG *) pc->data)->coarse_size = coarse_size;
    PetscCall(KSPSetUp(q->ksp));
    PetscCall(PCNeuralMGGetLevels(pc, &q->nlevels));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The loss of parameters th on a set (0 when the cycle would not be SPD) */
static PetscErrorCode NMGTrainLoss(NMGTrainSet *s, const PetscReal th[NMG_NPARAM], PetscInt its, PetscReal *loss)
{
  NMGModel  m;
  PetscReal sum = 0;
  PetscInt  cnt = 0;

  PetscFunctionBegin;
  NMGModelClassical(&m);
  NMGModelFromParameters(th, &m);
  for (PetscInt i = 0; i < s->n; i++) {
    NMGTrainProblem *q = &s->p[i];
    PC               pc;
    PetscBool        ok;
    PetscInt         bad;
    PetscReal        bound;

    NMGPositiveBound(q->nlevels, PC_NEURALMG_CYCLE_W, m.alpha, m.alpha2, m.alpha_exact, &bound, &bad, &ok);
    if (!ok) {
      cnt += q->nrhs; /* contributes 0: no convergence */
      continue;
    }
    PetscCall(KSPGetPC(q->ksp, &pc));
    PetscCall(PCNeuralMGSetModelParameters(pc, th));
    PetscCall(KSPSetTolerances(q->ksp, 0, 0, PETSC_DEFAULT, its));
    for (PetscInt r = 0; r < q->nrhs; r++) {
      const PetscReal r0 = q->bnorm[r];
      PetscReal       rk;

      PetscCall(VecZeroEntries(q->x));
      PetscCall(KSPSolve(q->ksp, q->b[r], q->x));
      PetscCall(KSPGetResidualNorm(q->ksp, &rk));
      if (r0 > 0 && rk > 0 && PetscIsNormalReal(rk / r0)) sum += PetscLog10Real(PetscMin(rk / r0, 1.0)) / its;
      cnt++;
    }
  }
  *loss = cnt ? sum / cnt : 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDTrainNeuralMG - Trains the parameters of PCNEURALMG on problem files and writes the model.

  Collective

  Input Parameters:
+ comm    - the communicator (each problem is distributed over it)
. o       - the options (`DeepCDTrainNeuralMGOptionsDefault()`)
. output  - the model file to write
. monitor - called after every step (may be NULL)
- ctx     - its context

  Output Parameter:
. hist - the training loss at every step and the validation loss at each validation (may be NULL)

  Notes:
  The loss is the mean over the problems (each with its own right-hand side and a random one) of
  log10(||r_k|| / ||r_0||) / k after k = o->its iterations of CG with PCNEURALMG, a rate per
  iteration (more negative is better). Its gradient is estimated by simultaneous perturbation
  (SPSA) and applied by Adam. The model written is the one with the best validation loss (the
  training loss when there are no validation problems); training starts from the classical
  parameters (or o->init), so the untrained model is the classical cycle.

  Level: intermediate

.seealso: `PCNEURALMG`, `PCNeuralMGSetModel()`
@*/
PetscErrorCode DeepCDTrainNeuralMG(MPI_Comm comm, const DeepCDTrainNeuralMGOptions *o, const char output[], DeepCDTrainMonitor monitor, void *ctx, DeepCDTrainHistory *hist)
{
  NMGTrainSet         train = { 0, NULL }, val = { 0, NULL };
  NMGModel            m;
  PetscReal           th[NMG_NPARAM], best[NMG_NPARAM], mom[NMG_NPARAM] = { 0 }, var[NMG_NPARAM] = { 0 }, g[NMG_NPARAM], tp[NMG_NPARAM], tm[NMG_NPARAM];
  PetscReal           best_loss = PETSC_MAX_REAL, val_loss = PETSC_MAX_REAL, run = 0, loss0, untrained;
  PetscInt            nrun = 0;
  uint64_t            rng  = (uint64_t) o->seed * 0x9E3779B97F4A7C15ull + 1;
  deepcd_adam_hparams ah   = { 0.9, 0.999, 1e-8, 0 };
  PetscLogDouble      t0, t1;
  PetscMPIInt         rank;
  PetscErrorCode      ierr;

  PetscFunctionBegin;
  PetscAssertPointer(o, 2);
  PetscAssertPointer(output, 3);
  PetscCheck(o->nproblems >= 1, comm, PETSC_ERR_ARG_WRONG, "deepcd train --arch neuralmg: no training problem given");
  PetscCheck(o->steps >= 0 && o->its >= 1 && o->lr > 0 && o->perturb > 0 && o->val_every >= 0 && o->coarse_size >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "DeepCDTrainNeuralMG: steps >= 0, its >= 1, lr > 0, perturb > 0, val_every >= 0 and coarse_size >= 1 are required");
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (hist) PetscCall(PetscMemzero(hist, sizeof(*hist)));
  if (o->init[0])
    PetscCall(NMGModelLoad(comm, o->init, &m));
  else {
    NMGModelClassical(&m);
    /* hidden layer at random, output layer zero: the untrained network gives m_i = 1 */
    for (int h = 0; h < NMG_NHIDDEN; h++)
      for (int f = 0; f < NMG_NFEAT; f++) m.w1[h][f] = (float) (DeepCDNormal01(&rng) / PetscSqrtReal(NMG_NFEAT));
  }
  NMGModelToParameters(&m, th);
  PetscCall(PetscArraycpy(best, th, NMG_NPARAM));

  ierr = NMGTrainSetCreate(comm, o->nproblems, o->problems, o->seed, o->coarse_size, &train);
  if (!ierr) ierr = NMGTrainSetCreate(comm, o->nval, o->val, o->seed + 1000, o->coarse_size, &val);
  if (ierr) goto done;
  if (hist) {
    ierr = PetscMalloc1(o->steps + 2, &hist->step);
    if (!ierr) ierr = PetscMalloc1(o->steps + 2, &hist->loss);
    if (!ierr) ierr = PetscMalloc1(o->steps + 2, &hist->val_loss);
    if (ierr) goto done;
  }
  ierr = NMGTrainLoss(&train, th, o->its, &loss0);
  if (ierr) goto done;
  if (val.n) {
    ierr = NMGTrainLoss(&val, th, o->its, &val_loss);
    if (ierr) goto done;
  }
  best_loss = untrained = val.n ? val_loss : loss0;
  if (hist) {
    hist->step[0]     = 0;
    hist->loss[0]     = loss0;
    hist->val_loss[0] = untrained; /* the checks: on the validation problems, or the training ones */
    hist->n           = 1;
  }
  PetscCall(PetscTime(&t0));
  for (PetscInt step = 1; step <= o->steps; step++) {
    const PetscReal   c = o->perturb / PetscPowReal((PetscReal) step, 0.101);
    PetscReal         lp, lm, lr;
    uint64_t          draw;
    DeepCDTrainStatus st;

    /* the same perturbation on every rank: rng is replicated */
    for (PetscInt i = 0; i < NMG_NPARAM; i++) {
      draw  = DeepCDSplitMix64(&rng);
      g[i]  = (draw >> 63) ? 1.0 : -1.0;
      tp[i] = th[i] + c * g[i];
      tm[i] = th[i] - c * g[i];
    }
    ierr = NMGTrainLoss(&train, tp, o->its, &lp);
    if (!ierr) ierr = NMGTrainLoss(&train, tm, o->its, &lm);
    if (ierr) goto done;
    for (PetscInt i = 0; i < NMG_NPARAM; i++) g[i] *= (lp - lm) / (2 * c);
    /* cosine decay to lr/10 */
    lr = o->lr * (0.1 + 0.45 * (1 + PetscCosReal(PETSC_PI * (step - 1) / PetscMax(o->steps, 1))));
    deepcd_adam_update_f64(&ah, step, lr, NMG_NPARAM, th, mom, var, g);
    run += 0.5 * (lp + lm);
    nrun++;
    PetscCall(PetscMemzero(&st, sizeof(st)));
    st.step     = step;
    st.steps    = o->steps;
    st.loss     = 0.5 * (lp + lm);
    st.val_loss = val.n ? val_loss : NAN;
    st.lr       = lr;
    if ((o->val_every && step % o->val_every == 0) || step == o->steps) {
      PetscReal l;

      ierr = NMGTrainLoss(val.n ? &val : &train, th, o->its, &l);
      if (ierr) goto done;
      if (val.n) val_loss = l;
      if (l < best_loss) {
        best_loss = l;
        PetscCall(PetscArraycpy(best, th, NMG_NPARAM));
      }
      st.validated = PETSC_TRUE;
      st.val_loss  = l;
      st.loss_avg  = run / nrun;
      if (hist) {
        hist->step[hist->n]     = step;
        hist->loss[hist->n]     = run / nrun;
        hist->val_loss[hist->n] = l;
        hist->n++;
      }
      run  = 0;
      nrun = 0;
    }
    PetscCall(PetscTime(&t1));
    st.samples_per_s = 2.0 * step * train.n / PetscMax(t1 - t0, 1e-9); /* loss evaluations of one problem per second */
    if (monitor) {
      ierr = (*monitor)(&st, ctx);
      if (ierr) goto done;
    }
  }
  NMGModelClassical(&m);
  NMGModelFromParameters(best, &m);
  PetscCall(PetscSNPrintf(m.training, sizeof(m.training), "SPSA+Adam, %" PetscInt_FMT " steps, lr %g, %" PetscInt_FMT " problems, loss log10(r_%" PetscInt_FMT "/r_0)/%" PetscInt_FMT ": %.4f untrained, %.4f best %s", o->steps, (double) o->lr, o->nproblems, o->its, o->its, (double) untrained, (double) best_loss, val.n ? "validation" : "training"));
  {
    int werr = 0;

    if (rank == 0) werr = (int) NMGModelWrite(&m, output); /* its message names the file */
    ierr = MPI_Bcast(&werr, 1, MPI_INT, 0, comm);
    if (!ierr && werr && rank) ierr = PetscError(comm, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_FILE_WRITE, PETSC_ERROR_INITIAL, "%s: the model was not written (rank 0 says why)", output);
    if (!ierr && werr) ierr = (PetscErrorCode) werr;
  }
done:
  PetscCall(NMGTrainSetDestroy(&train));
  PetscCall(NMGTrainSetDestroy(&val));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}
