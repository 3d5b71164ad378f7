/* KSPDEEPCD: the Deep Conjugate Direction method (Kaneda et al., ICML 2023)
   as a PETSc Krylov solver. Each iteration asks a direction generator for
   z = G(r/||r||), A-orthogonalises z against the last m directions (classical
   Gram-Schmidt in the A-inner product), and takes the exact A-norm line step. */
#include <petsc/private/kspimpl.h>
#include <deepcd/ksp.h>
#include <deepcd/private/dirgenimpl.h>
#include <deepcd/private/petsccompat.h>

/* where the number of smoothing steps came from (-ksp_view says it) */
typedef enum {
  SMOOTH_DEFAULT,
  SMOOTH_OPTION, /* -ksp_deepcd_smooth or KSPDeepCDSetSmooth() */
  SMOOTH_MODEL   /* the model's training record (deepcd train --smooth N) */
} SmoothSource;

static const char *const SmoothSources[] = { "default", "option", "from the model's training record" };

typedef struct {
  PetscInt     m;         /* kept directions */
  PetscInt     truek;     /* recompute r = b - Ax every truek iterations; 0: never */
  PetscBool    normalize; /* scale the generator's input to unit norm */
  PetscInt     nsmooth;   /* smoother iterations on each generated direction */
  SmoothSource smoothsrc;
  PetscBool    fromoptions; /* KSPSetFromOptions() was called: a smoother made at setup reads its options too */
  /* stagnation: stop when w iterations reduced the energy error by less than rtol of it */
  PetscInt     stagw;
  PetscReal    stagrtol;
  PetscReal   *stagdec; /* ring of the last stagw energy decreases (d.r)^2/(d.Ad) */
  PetscInt     stagn;   /* its length */
  PetscInt     stagits; /* the iteration of the last solve that stopped for stagnation; -1: none */
  PetscReal    stagD, stagEsd;
  KSP          smoother; /* shares the PC; prefix -ksp_deepcd_smooth_ */
  char         generator[64];
  char         model[PETSC_MAX_PATH_LEN];
  DeepCDDirGen gen;
  /* ring of m+1 slots: the new direction is built in the free slot */
  Vec         *D, *AD;
  PetscReal   *dAd;
  PetscScalar *beta;
  Vec         *Dk, *ADk; /* the kept slots, in order, for VecMDot/VecMAXPY */
  PetscInt     nslots;
  Vec          pair[2];
  PetscScalar  dots[2];
} KSP_DeepCD;

PetscLogEvent KSPDEEPCD_Generator = 0, KSPDEEPCD_Orthogonalize = 0, KSPDEEPCD_Smooth = 0;

/* The generator's type: -ksp_deepcd_generator if given, else cnn when a
   model is set, else pc. */
static const char *KSPDeepCDGeneratorType(KSP_DeepCD *cd)
{
  return cd->generator[0] ? cd->generator : (cd->model[0] ? DEEPCD_DIRGEN_CNN : DEEPCD_DIRGEN_PC);
}

/* Creates the direction generator, a sub-object under the prefix
   <ksp prefix>ksp_deepcd_ (so its options read -ksp_deepcd_backend, ...). */
static PetscErrorCode KSPDeepCDCreateGenerator(KSP ksp)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;
  const char *prefix;

  PetscFunctionBegin;
  PetscCall(DeepCDDirGenCreate(PetscObjectComm((PetscObject) ksp), &cd->gen));
  PetscCall(PetscObjectIncrementTabLevel((PetscObject) cd->gen, (PetscObject) ksp, 1));
  PetscCall(KSPGetOptionsPrefix(ksp, &prefix));
  PetscCall(PetscObjectSetOptionsPrefix((PetscObject) cd->gen, prefix));
  PetscCall(PetscObjectAppendOptionsPrefix((PetscObject) cd->gen, "ksp_deepcd_"));
  PetscCall(DeepCDDirGenSetKSP(cd->gen, ksp));
  PetscCall(DeepCDDirGenSetType(cd->gen, KSPDeepCDGeneratorType(cd)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPSetUp_DeepCD(KSP ksp)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;

  PetscFunctionBegin;
  if (cd->nslots != cd->m + 1) {
    if (cd->nslots) {
      PetscCall(VecDestroyVecs(cd->nslots, &cd->D));
      PetscCall(VecDestroyVecs(cd->nslots, &cd->AD));
      PetscCall(PetscFree4(cd->dAd, cd->beta, cd->Dk, cd->ADk));
    }
    cd->nslots = cd->m + 1;
    PetscCall(KSPCreateVecs(ksp, cd->nslots, &cd->D, 0, NULL));
    PetscCall(KSPCreateVecs(ksp, cd->nslots, &cd->AD, 0, NULL));
    PetscCall(PetscMalloc4(cd->nslots, &cd->dAd, cd->nslots, &cd->beta, cd->nslots, &cd->Dk, cd->nslots, &cd->ADk));
  }
  if (!cd->gen) PetscCall(KSPDeepCDCreateGenerator(ksp));
  PetscCall(DeepCDDirGenSetUp(cd->gen));
  /* a model trained with `deepcd train --smooth N` runs with N Chebyshev smoothing steps unless the
     user set the smoothing (option or setter) */
  if (cd->smoothsrc != SMOOTH_OPTION) {
    cd->nsmooth   = cd->gen->smooth;
    cd->smoothsrc = cd->gen->smooth ? SMOOTH_MODEL : SMOOTH_DEFAULT;
    if (cd->nsmooth && !cd->smoother) {
      KSP s;

      PetscCall(KSPDeepCDGetSmoother(ksp, &s));
      PetscCall(KSPSetType(s, KSPCHEBYSHEV)); /* as in training (DeepCDTrainSmootherSetUp) */
      if (cd->fromoptions) PetscCall(KSPSetFromOptions(s));
    }
  }
  PetscCall(KSPSetWorkVecs(ksp, cd->nsmooth ? 3 : 2)); /* r, generator input and stagnation test; smoothing: A d */
  if (cd->nsmooth) {
    KSP s;

    PetscCall(KSPDeepCDGetSmoother(ksp, &s));
    PetscCall(KSPSetTolerances(s, 0.0, 0.0, PETSC_DEFAULT, cd->nsmooth));
    PetscCall(KSPSetUp(s));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Checks a scalar from a reduction; sets a divergence reason when it is bad. */
static PetscBool bad_scalar(KSP ksp, PetscReal v, KSPConvergedReason why)
{
  if (PetscIsInfOrNanReal(v)) {
    ksp->reason = KSP_DIVERGED_NANORINF;
    return PETSC_TRUE;
  }
  if (why != KSP_CONVERGED_ITERATING) {
    ksp->reason = why;
    return PETSC_TRUE;
  }
  return PETSC_FALSE;
}

/* Post-smoothing of a generated direction d ~ A^-1 q: the generator's output
   has no meaningful scale (the DCDM loss is scale-invariant), so d is first
   given its A-norm-optimal length for q, then nsmooth iterations of the
   smoother KSP on A d = q, started from d, take out the high-frequency error
   the network leaves (the network acts as a coarse correction, the smoother
   as in a two-level method). */
static PetscErrorCode KSPDeepCDSmooth(KSP ksp, Mat A, Vec q, Vec d)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;
  Vec         t;
  PetscScalar dq, dAd;

  PetscFunctionBegin;
  if (!cd->nsmooth) PetscFunctionReturn(PETSC_SUCCESS);
  t = ksp->work[2];
  PetscCall(PetscLogEventBegin(KSPDEEPCD_Smooth, ksp, q, d, 0));
  PetscCall(KSP_MatMult(ksp, A, d, t));
  cd->pair[0] = t;
  cd->pair[1] = q;
  PetscCall(VecMDot(d, 2, cd->pair, cd->dots));
  dAd = cd->dots[0];
  dq  = cd->dots[1];
  /* a direction with d.Ad <= 0 is left to the KSP's breakdown checks */
  if (PetscRealPart(dAd) > 0 && !PetscIsInfOrNanScalar(dq)) {
    PetscCall(VecScale(d, dq / dAd));
    PetscCall(KSPSolve(cd->smoother, q, d));
    PetscCall(KSPCheckSolve(cd->smoother, cd->smoother->pc, d));
  }
  PetscCall(PetscLogEventEnd(KSPDEEPCD_Smooth, ksp, q, d, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Stagnation test after iteration its (>= w, every ceil(w/2) iterations). The
   last w steps reduced the energy error ||x* - x||_A^2 by exactly D, the sum
   of their (d.r)^2/(d.Ad). By Cauchy-Schwarz every vector v gives a lower
   bound (v.r)^2/(v.Av) of the energy error now; with v = r (the steepest-
   descent step) E_sd = (r.r)^2/(r.Ar). The energy error w iterations ago was
   then at least D + E_sd, so the relative decrease over the window is at most
   D/(D + E_sd): below rtol, the method is certified stagnant (in exact
   arithmetic; costs one MatMult per check). */
static PetscErrorCode KSPDeepCDCheckStagnation(KSP ksp, Mat A, PetscInt its, Vec r, Vec t)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;
  PetscReal   D  = 0, rr, rAr, esd;

  PetscFunctionBegin;
  if (cd->stagw <= 0 || its < cd->stagw || its % ((cd->stagw + 1) / 2)) PetscFunctionReturn(PETSC_SUCCESS);
  for (PetscInt j = 0; j < cd->stagw; j++) D += cd->stagdec[j];
  PetscCall(KSP_MatMult(ksp, A, r, t));
  cd->pair[0] = r;
  cd->pair[1] = t;
  PetscCall(VecMDot(r, 2, cd->pair, cd->dots));
  rr  = PetscRealPart(cd->dots[0]);
  rAr = PetscRealPart(cd->dots[1]);
  if (!(rr > 0 && rAr > 0) || PetscIsInfOrNanReal(rr) || PetscIsInfOrNanReal(rAr)) PetscFunctionReturn(PETSC_SUCCESS); /* left to the other checks */
  esd = (rr / rAr) * rr;
  PetscCall(PetscInfo(ksp, "stagnation test at iteration %" PetscInt_FMT ": energy decrease over the last %" PetscInt_FMT " iterations %g, relative at most %g (stop below %g)\n", its, cd->stagw, (double) D, (double) (D / (D + esd)), (double) cd->stagrtol));
  if (D < cd->stagrtol * (D + esd)) {
    ksp->reason = KSP_DIVERGED_BREAKDOWN;
    cd->stagits = its;
    cd->stagD   = D;
    cd->stagEsd = esd;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The line -ksp_converged_reason prints before PETSc's own when the solve stopped for stagnation. */
static PetscErrorCode KSPDeepCDStagnationView(KSP ksp, PetscViewer viewer)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;

  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(viewer, "deepcd stagnated at iteration %" PetscInt_FMT ": the last %" PetscInt_FMT " iterations reduced the energy error by a fraction below %g (at most %.3g); DIVERGED_BREAKDOWN here means this (-ksp_deepcd_stagnation_window 0 turns the test off)\n", cd->stagits, cd->stagw, (double) cd->stagrtol, (double) (cd->stagD / (cd->stagD + cd->stagEsd))));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPSolve_DeepCD(KSP ksp)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;
  Mat         Amat;
  Vec         x = ksp->vec_sol, b = ksp->vec_rhs, r = ksp->work[0], rs = ksp->work[1];
  PetscReal   rnorm = 0;
  PetscInt    nkept = 0, head = 0; /* head: slot of the newest kept direction */
  PetscBool   neednorm;

  PetscFunctionBegin;
  PetscCall(PCGetOperators(ksp->pc, &Amat, NULL));
  cd->stagits = -1;
  if (cd->stagw > 0 && cd->stagn != cd->stagw) {
    PetscCall(PetscFree(cd->stagdec));
    PetscCall(PetscMalloc1(cd->stagw, &cd->stagdec));
    cd->stagn = cd->stagw;
  }
  neednorm = (ksp->normtype != KSP_NORM_NONE || (cd->normalize && !cd->gen->linear)) ? PETSC_TRUE : PETSC_FALSE;

  if (!ksp->guess_zero) {
    PetscCall(KSP_MatMult(ksp, Amat, x, r));
    PetscCall(VecAYPX(r, -1.0, b));
  } else {
    PetscCall(VecCopy(b, r));
  }
  if (neednorm) {
    PetscCall(VecNorm(r, NORM_2, &rnorm));
    KSPCheckNorm(ksp, rnorm);
  }
  PetscCall(PetscObjectSAWsTakeAccess((PetscObject) ksp));
  ksp->its   = 0;
  ksp->rnorm = ksp->normtype != KSP_NORM_NONE ? rnorm : 0;
  PetscCall(PetscObjectSAWsGrantAccess((PetscObject) ksp));
  PetscCall(KSPLogResidualHistory(ksp, ksp->rnorm));
  PetscCall(KSPMonitor(ksp, 0, ksp->rnorm));
  PetscCall((*ksp->converged)(ksp, 0, ksp->rnorm, &ksp->reason, ksp->cnvP));
  if (ksp->reason) PetscFunctionReturn(PETSC_SUCCESS);

  for (PetscInt it = 0; it < ksp->max_it; it++) {
    PetscInt    slot = nkept ? (head + 1) % cd->nslots : head, s;
    Vec         d = cd->D[slot], w = cd->AD[slot], input;
    PetscScalar kappa, dr;
    PetscReal   alpha;

    /* generator input: the residual scaled to unit norm. A linear generator's
       output scales with its input and the step length absorbs any scale, so
       it gets r itself and the copy is saved. */
    input = r;
    if (cd->normalize && !cd->gen->linear) {
      if (rnorm == 0) {
        ksp->reason = KSP_CONVERGED_ATOL; /* exact solution reached */
        break;
      }
      PetscCall(VecAXPBY(rs, 1.0 / rnorm, 0.0, r));
      input = rs;
    }
    PetscCall(PetscLogEventBegin(KSPDEEPCD_Generator, ksp, input, d, 0));
    PetscCall(DeepCDDirGenApply(cd->gen, input, d));
    PetscCall(PetscLogEventEnd(KSPDEEPCD_Generator, ksp, input, d, 0));
    PetscCall(KSPDeepCDSmooth(ksp, Amat, input, d));
    PetscCall(KSP_RemoveNullSpace(ksp, d));

    /* d <- z - sum_j (z.Ad_j / d_j.Ad_j) d_j over the kept directions */
    PetscCall(PetscLogEventBegin(KSPDEEPCD_Orthogonalize, ksp, d, 0, 0));
    if (nkept) {
      for (PetscInt j = 0; j < nkept; j++) {
        s          = (head - j + cd->nslots) % cd->nslots;
        cd->Dk[j]  = cd->D[s];
        cd->ADk[j] = cd->AD[s];
      }
      PetscCall(VecMDot(d, nkept, cd->ADk, cd->beta));
      for (PetscInt j = 0; j < nkept; j++) {
        s           = (head - j + cd->nslots) % cd->nslots;
        cd->beta[j] = -cd->beta[j] / cd->dAd[s];
      }
      PetscCall(VecMAXPY(d, nkept, cd->beta, cd->Dk));
    }
    PetscCall(PetscLogEventEnd(KSPDEEPCD_Orthogonalize, ksp, d, 0, 0));

    PetscCall(KSP_MatMult(ksp, Amat, d, w));
    /* d.Ad and d.r in one pass over d and one reduction */
    cd->pair[0] = w;
    cd->pair[1] = r;
    PetscCall(VecMDot(d, 2, cd->pair, cd->dots));
    kappa = cd->dots[0];
    dr    = cd->dots[1];
    if (bad_scalar(ksp, PetscRealPart(dr), KSP_CONVERGED_ITERATING)) break;
    if (bad_scalar(ksp, PetscRealPart(kappa), PetscRealPart(kappa) == 0 ? KSP_DIVERGED_BREAKDOWN : (PetscRealPart(kappa) < 0 ? KSP_DIVERGED_INDEFINITE_MAT : KSP_CONVERGED_ITERATING))) {
      PetscCall(PetscInfo(ksp, "breakdown at iteration %" PetscInt_FMT ": d.Ad = %g\n", it, (double) PetscRealPart(kappa)));
      break;
    }
    PetscCall(PetscInfo(ksp, "iteration %" PetscInt_FMT ": d.r = %g, d.Ad = %g\n", it, (double) PetscRealPart(dr), (double) PetscRealPart(kappa)));
    cd->dAd[slot] = PetscRealPart(kappa);
    alpha         = PetscRealPart(dr) / PetscRealPart(kappa);
    PetscCall(VecAXPY(x, alpha, d));
    if (cd->truek > 0 && (it + 1) % cd->truek == 0) {
      PetscCall(KSP_MatMult(ksp, Amat, x, r));
      PetscCall(VecAYPX(r, -1.0, b));
    } else
      PetscCall(VecAXPY(r, -alpha, w));
    head  = slot;
    nkept = PetscMin(nkept + 1, cd->m);
    if (cd->stagw > 0) cd->stagdec[it % cd->stagw] = alpha * PetscRealPart(dr); /* the exact energy decrease (d.r)^2/(d.Ad) */

    if (neednorm) {
      PetscCall(VecNorm(r, NORM_2, &rnorm));
      KSPCheckNorm(ksp, rnorm);
    }
    PetscCall(PetscObjectSAWsTakeAccess((PetscObject) ksp));
    ksp->its   = it + 1;
    ksp->rnorm = ksp->normtype != KSP_NORM_NONE ? rnorm : 0;
    PetscCall(PetscObjectSAWsGrantAccess((PetscObject) ksp));
    PetscCall(KSPLogResidualHistory(ksp, ksp->rnorm));
    PetscCall(KSPMonitor(ksp, ksp->its, ksp->rnorm));
    PetscCall((*ksp->converged)(ksp, ksp->its, ksp->rnorm, &ksp->reason, ksp->cnvP));
    if (ksp->reason) break;
    PetscCall(KSPDeepCDCheckStagnation(ksp, Amat, ksp->its, r, rs));
    if (ksp->reason) break;
  }
  if (!ksp->reason) ksp->reason = KSP_DIVERGED_ITS;
  if (cd->stagits >= 0) {
    PetscViewer       viewer;
    PetscViewerFormat format;
    PetscBool         flg;

    PetscCall(PetscInfo(ksp, "stopped for stagnation at iteration %" PetscInt_FMT "\n", cd->stagits));
    PetscCall(PetscOptionsCreateViewer(PetscObjectComm((PetscObject) ksp), ((PetscObject) ksp)->options, ((PetscObject) ksp)->prefix, "-ksp_converged_reason", &viewer, &format, &flg));
    if (flg) {
      PetscBool isascii;

      PetscCall(PetscObjectTypeCompare((PetscObject) viewer, PETSCVIEWERASCII, &isascii));
      if (isascii) {
        PetscCall(PetscViewerASCIIAddTab(viewer, ((PetscObject) ksp)->tablevel));
        PetscCall(KSPDeepCDStagnationView(ksp, viewer));
        PetscCall(PetscViewerASCIISubtractTab(viewer, ((PetscObject) ksp)->tablevel));
      }
      PetscCall(PetscViewerDestroy(&viewer));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPReset_DeepCD(KSP ksp)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;

  PetscFunctionBegin;
  if (cd->nslots) {
    PetscCall(VecDestroyVecs(cd->nslots, &cd->D));
    PetscCall(VecDestroyVecs(cd->nslots, &cd->AD));
    PetscCall(PetscFree4(cd->dAd, cd->beta, cd->Dk, cd->ADk));
    cd->nslots = 0;
  }
  if (cd->gen) PetscCall(DeepCDDirGenReset(cd->gen)); /* keeps its type and options */
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDestroy_DeepCD(KSP ksp)
{
  PetscFunctionBegin;
  PetscCall(KSPReset_DeepCD(ksp));
  PetscCall(DeepCDDirGenDestroy(&((KSP_DeepCD *) ksp->data)->gen));
  PetscCall(KSPDestroy(&((KSP_DeepCD *) ksp->data)->smoother));
  PetscCall(PetscFree(((KSP_DeepCD *) ksp->data)->stagdec));
  PetscCall(KSPDestroyDefault(ksp));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetDirections_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetDirections_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetTrueResidual_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetTrueResidual_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetNormalize_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetNormalize_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetSmooth_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetSmooth_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetSmoother_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetGenerator_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetGenerator_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetModel_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetModel_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetStagnation_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetStagnation_C", NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPView_DeepCD(KSP ksp, PetscViewer viewer)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;
  PetscBool   isascii;

  PetscFunctionBegin;
  PetscCall(PetscObjectTypeCompare((PetscObject) viewer, PETSCVIEWERASCII, &isascii));
  if (!isascii) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscViewerASCIIPrintf(viewer, "  kept directions %" PetscInt_FMT ", A-orthogonalised by classical Gram-Schmidt\n", cd->m));
  if (cd->truek > 0)
    PetscCall(PetscViewerASCIIPrintf(viewer, "  true residual b - Ax recomputed every %" PetscInt_FMT " iterations\n", cd->truek));
  else
    PetscCall(PetscViewerASCIIPrintf(viewer, "  residual updated by recurrence (true residual never recomputed)\n"));
  if (cd->gen && cd->gen->linear)
    PetscCall(PetscViewerASCIIPrintf(viewer, "  linear generator: it gets the residual itself (its scale does not matter)\n"));
  else
    PetscCall(PetscViewerASCIIPrintf(viewer, "  generator input normalised to unit norm: %s\n", PetscBools[cd->normalize]));
  PetscCall(PetscViewerASCIIPrintf(viewer, "  smoothing steps: %" PetscInt_FMT " (%s)\n", cd->nsmooth, SmoothSources[cd->smoothsrc]));
  if (cd->nsmooth) {
    KSPType type;

    PetscCall(KSPGetType(cd->smoother, &type));
    PetscCall(PetscViewerASCIIPrintf(viewer, "  each direction smoothed by %" PetscInt_FMT " iterations of KSP %s (prefix -ksp_deepcd_smooth_)\n", cd->nsmooth, type ? type : "(not set up)"));
    PetscCall(PetscViewerASCIIPushTab(viewer));
    PetscCall(PetscViewerASCIIPushTab(viewer));
    PetscCall(KSPView(cd->smoother, viewer));
    PetscCall(PetscViewerASCIIPopTab(viewer));
    PetscCall(PetscViewerASCIIPopTab(viewer));
  }
  if (cd->stagw > 0)
    PetscCall(PetscViewerASCIIPrintf(viewer, "  stagnation test: stop when %" PetscInt_FMT " iterations reduce the energy error by a fraction below %g (KSP_DIVERGED_BREAKDOWN)\n", cd->stagw, (double) cd->stagrtol));
  else
    PetscCall(PetscViewerASCIIPrintf(viewer, "  stagnation test: off\n"));
  if (cd->stagits >= 0) {
    PetscCall(PetscViewerASCIIPushTab(viewer));
    PetscCall(KSPDeepCDStagnationView(ksp, viewer)); /* the last solve */
    PetscCall(PetscViewerASCIIPopTab(viewer));
  }
  PetscCall(PetscViewerASCIIPushTab(viewer));
  if (cd->gen)
    PetscCall(DeepCDDirGenView(cd->gen, viewer));
  else
    PetscCall(PetscViewerASCIIPrintf(viewer, "direction generator: %s (not set up)\n", KSPDeepCDGeneratorType(cd)));
  PetscCall(PetscViewerASCIIPopTab(viewer));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPSetFromOptions_DeepCD(KSP ksp, DeepCDOptionItems PetscOptionsObject)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;
  PetscInt    m = cd->m, k = cd->truek;
  PetscBool   flg, nrm     = cd->normalize;
  char        buf[PETSC_MAX_PATH_LEN];

  PetscFunctionBegin;
  cd->fromoptions = PETSC_TRUE;
  PetscOptionsHeadBegin(PetscOptionsObject, "KSP DeepCD (deep conjugate direction) options");
  PetscCall(PetscOptionsInt("-ksp_deepcd_directions", "Number of previous directions each new one is A-orthogonalised against", "KSPDeepCDSetDirections", m, &m, &flg));
  if (flg) PetscCall(KSPDeepCDSetDirections(ksp, m));
  PetscCall(PetscOptionsInt("-ksp_deepcd_true_residual", "Recompute the true residual b - Ax every k iterations (0: never)", "KSPDeepCDSetTrueResidual", k, &k, &flg));
  if (flg) PetscCall(KSPDeepCDSetTrueResidual(ksp, k));
  {
    PetscInt ns = cd->nsmooth;

    PetscCall(PetscOptionsInt("-ksp_deepcd_smooth", "Smoother iterations applied to each generated direction (0: none; default: the model's training record, else 0)", "KSPDeepCDSetSmooth", ns, &ns, &flg));
    if (flg) PetscCall(KSPDeepCDSetSmooth(ksp, ns));
    if (cd->nsmooth) {
      KSP s;

      PetscCall(KSPDeepCDGetSmoother(ksp, &s));
      PetscCall(KSPSetFromOptions(s));
    }
  }
  {
    PetscInt  w    = cd->stagw;
    PetscReal rtol = cd->stagrtol;
    PetscBool fw, fr;

    PetscCall(PetscOptionsInt("-ksp_deepcd_stagnation_window", "Stop (DIVERGED_BREAKDOWN) when this many iterations reduce the energy error by a fraction below -ksp_deepcd_stagnation_rtol (0: never)", "KSPDeepCDSetStagnation", w, &w, &fw));
    PetscCall(PetscOptionsReal("-ksp_deepcd_stagnation_rtol", "Relative energy-error decrease over the window below which the method stagnates", "KSPDeepCDSetStagnation", rtol, &rtol, &fr));
    if (fw || fr) PetscCall(KSPDeepCDSetStagnation(ksp, w, rtol));
  }
  PetscCall(PetscOptionsBool("-ksp_deepcd_normalize", "Scale the residual to unit norm before the direction generator", "KSPDeepCDSetNormalize", nrm, &nrm, &flg));
  if (flg) PetscCall(KSPDeepCDSetNormalize(ksp, nrm));
  PetscCall(PetscOptionsFList("-ksp_deepcd_generator", "Direction generator", "KSPDeepCDSetGenerator", DeepCDDirGenList, KSPDeepCDGeneratorType(cd), buf, sizeof(buf), &flg));
  if (flg) PetscCall(KSPDeepCDSetGenerator(ksp, buf));
  PetscCall(PetscOptionsString("-ksp_deepcd_model", "CNN model file (HDF5) for the cnn direction generator", "KSPDeepCDSetModel", cd->model, buf, sizeof(buf), &flg));
  if (flg) PetscCall(KSPDeepCDSetModel(ksp, buf));
  /* the generator exists from here on, so that its own options are read */
  PetscOptionsHeadEnd();
  if (!cd->gen) PetscCall(KSPDeepCDCreateGenerator(ksp));
  PetscCall(DeepCDDirGenSetFromOptions(cd->gen));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDSetDirections_DeepCD(KSP ksp, PetscInt m)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;

  PetscFunctionBegin;
  PetscCheck(m >= 0, PetscObjectComm((PetscObject) ksp), PETSC_ERR_ARG_OUTOFRANGE, "-ksp_deepcd_directions %" PetscInt_FMT ": must be >= 0", m);
  if (m != cd->m) {
    cd->m = m;
    if (ksp->setupstage) PetscCall(KSPReset(ksp)); /* slots are reallocated at the next setup */
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDGetDirections_DeepCD(KSP ksp, PetscInt *m)
{
  PetscFunctionBegin;
  *m = ((KSP_DeepCD *) ksp->data)->m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDSetTrueResidual_DeepCD(KSP ksp, PetscInt k)
{
  PetscFunctionBegin;
  PetscCheck(k >= 0, PetscObjectComm((PetscObject) ksp), PETSC_ERR_ARG_OUTOFRANGE, "-ksp_deepcd_true_residual %" PetscInt_FMT ": must be >= 0", k);
  ((KSP_DeepCD *) ksp->data)->truek = k;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDGetTrueResidual_DeepCD(KSP ksp, PetscInt *k)
{
  PetscFunctionBegin;
  *k = ((KSP_DeepCD *) ksp->data)->truek;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDSetNormalize_DeepCD(KSP ksp, PetscBool flg)
{
  PetscFunctionBegin;
  ((KSP_DeepCD *) ksp->data)->normalize = flg;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDGetNormalize_DeepCD(KSP ksp, PetscBool *flg)
{
  PetscFunctionBegin;
  *flg = ((KSP_DeepCD *) ksp->data)->normalize;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDSetSmooth_DeepCD(KSP ksp, PetscInt n)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;

  PetscFunctionBegin;
  PetscCheck(n >= 0, PetscObjectComm((PetscObject) ksp), PETSC_ERR_ARG_OUTOFRANGE, "-ksp_deepcd_smooth %" PetscInt_FMT ": must be >= 0", n);
  /* smoothing's work vector is made at setup */
  if (n > 0 && !cd->nsmooth && ksp->setupstage) PetscCall(KSPReset(ksp));
  cd->nsmooth   = n;
  cd->smoothsrc = SMOOTH_OPTION; /* wins over the model's training record */
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDSetStagnation_DeepCD(KSP ksp, PetscInt w, PetscReal rtol)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;

  PetscFunctionBegin;
  if (w != PETSC_DEFAULT) {
    PetscCheck(w >= 0, PetscObjectComm((PetscObject) ksp), PETSC_ERR_ARG_OUTOFRANGE, "-ksp_deepcd_stagnation_window %" PetscInt_FMT ": must be >= 0", w);
    cd->stagw = w;
  }
  if (rtol != (PetscReal) PETSC_DEFAULT) {
    PetscCheck(rtol >= 0 && rtol < 1, PetscObjectComm((PetscObject) ksp), PETSC_ERR_ARG_OUTOFRANGE, "-ksp_deepcd_stagnation_rtol %g: must be in [0, 1)", (double) rtol);
    cd->stagrtol = rtol;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDGetStagnation_DeepCD(KSP ksp, PetscInt *w, PetscReal *rtol)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;

  PetscFunctionBegin;
  if (w) *w = cd->stagw;
  if (rtol) *rtol = cd->stagrtol;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDGetSmooth_DeepCD(KSP ksp, PetscInt *n)
{
  PetscFunctionBegin;
  *n = ((KSP_DeepCD *) ksp->data)->nsmooth;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  KSPDeepCDSmootherConfigure - Configures a KSP as the smoother of KSPDEEPCD's
  directions: Richardson with scale 2/3 (until its type is changed), a
  nonzero initial guess (the direction being smoothed), no norms, no
  convergence test, exactly n iterations.

  Logically Collective

  Input Parameters:
+ s - the smoother
- n - its iterations (>= 1)

  Notes:
  KSPDeepCDGetSmoother() makes its smoother with this; `deepcd train --smooth`
  makes the same smoother for the training loop, so that a network is
  trained for the direction the solver uses.

  Level: developer

.seealso: `KSPDeepCDGetSmoother()`, `KSPDeepCDSetSmooth()`
@*/
PetscErrorCode KSPDeepCDSmootherConfigure(KSP s, PetscInt n)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(s, KSP_CLASSID, 1);
  PetscCheck(n >= 1, PetscObjectComm((PetscObject) s), PETSC_ERR_ARG_OUTOFRANGE, "smoother iterations %" PetscInt_FMT ": must be >= 1", n);
  PetscCall(KSPSetType(s, KSPRICHARDSON));
  PetscCall(KSPRichardsonSetScale(s, 2.0 / 3.0));
  PetscCall(KSPSetInitialGuessNonzero(s, PETSC_TRUE));
  PetscCall(KSPSetNormType(s, KSP_NORM_NONE));
  PetscCall(KSPSetConvergenceTest(s, KSPConvergedSkip, NULL, NULL));
  PetscCall(KSPSetTolerances(s, 0.0, 0.0, PETSC_DEFAULT, n));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDGetSmoother_DeepCD(KSP ksp, KSP *smoother)
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;
  const char *prefix;
  PC          pc;

  PetscFunctionBegin;
  if (!cd->smoother) {
    KSP s;

    PetscCall(KSPCreate(PetscObjectComm((PetscObject) ksp), &s));
    PetscCall(PetscObjectIncrementTabLevel((PetscObject) s, (PetscObject) ksp, 1));
    PetscCall(KSPGetOptionsPrefix(ksp, &prefix));
    PetscCall(KSPSetOptionsPrefix(s, prefix));
    PetscCall(KSPAppendOptionsPrefix(s, "ksp_deepcd_smooth_"));
    /* the outer PC is shared (after the prefix, which would rename it) */
    PetscCall(KSPGetPC(ksp, &pc));
    PetscCall(KSPSetPC(s, pc));
    PetscCall(KSPDeepCDSmootherConfigure(s, PetscMax(cd->nsmooth, 1)));
    cd->smoother = s;
  }
  *smoother = cd->smoother;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDSetGenerator_DeepCD(KSP ksp, const char type[])
{
  KSP_DeepCD *cd                         = (KSP_DeepCD *) ksp->data;
  PetscErrorCode (*create)(DeepCDDirGen) = NULL;
  PetscBool same;

  PetscFunctionBegin;
  PetscCall(PetscFunctionListFind(DeepCDDirGenList, type, &create));
  PetscCheck(create, PetscObjectComm((PetscObject) ksp), PETSC_ERR_ARG_UNKNOWN_TYPE, "-ksp_deepcd_generator %s: unknown direction generator (see -help for the registered types)", type);
  PetscCall(PetscStrcmp(type, cd->generator, &same));
  if (!same) {
    PetscCall(PetscStrncpy(cd->generator, type, sizeof(cd->generator)));
    PetscCall(DeepCDDirGenDestroy(&cd->gen));
    ksp->setupstage = KSP_SETUP_NEW; /* the next solve sets up a new generator */
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDGetGenerator_DeepCD(KSP ksp, const char *type[])
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;

  PetscFunctionBegin;
  if (cd->gen)
    PetscCall(DeepCDDirGenGetType(cd->gen, type));
  else
    *type = KSPDeepCDGeneratorType(cd);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDSetModel_DeepCD(KSP ksp, const char file[])
{
  KSP_DeepCD *cd = (KSP_DeepCD *) ksp->data;

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(cd->model, file, sizeof(cd->model)));
  PetscCall(DeepCDDirGenDestroy(&cd->gen));
  ksp->setupstage = KSP_SETUP_NEW; /* the next solve sets up a new generator */
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KSPDeepCDGetModel_DeepCD(KSP ksp, const char *file[])
{
  PetscFunctionBegin;
  *file = ((KSP_DeepCD *) ksp->data)->model;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  KSPDeepCDSetDirections - Sets how many previous search directions each new
  direction is A-orthogonalised against.

  Logically Collective

  Input Parameters:
+ ksp - the Krylov solver of type KSPDEEPCD
- m   - the number of kept directions (default 2, as in DCDM; 0 gives steepest descent along the generator's output)

  Options Database Key:
. -ksp_deepcd_directions <m> - sets m

  Level: intermediate

.seealso: `KSPDEEPCD`, `KSPFCGSetMmax()`
@*/
PetscErrorCode KSPDeepCDSetDirections(KSP ksp, PetscInt m)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscValidLogicalCollectiveInt(ksp, m, 2);
  PetscTryMethod(ksp, "KSPDeepCDSetDirections_C", (KSP, PetscInt), (ksp, m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  KSPDeepCDGetDirections - Gets the number of kept directions.

  Not Collective

  Level: intermediate

.seealso: `KSPDeepCDSetDirections()`
@*/
PetscErrorCode KSPDeepCDGetDirections(KSP ksp, PetscInt *m)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscAssertPointer(m, 2);
  PetscUseMethod(ksp, "KSPDeepCDGetDirections_C", (KSP, PetscInt *), (ksp, m));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  KSPDeepCDSetTrueResidual - Recompute the true residual b - Ax every k
  iterations instead of updating it by recurrence.

  Logically Collective

  Input Parameters:
+ ksp - the Krylov solver of type KSPDEEPCD
- k   - the period; 0 (the default) never recomputes, 1 recomputes every iteration as the DCDM reference does

  Options Database Key:
. -ksp_deepcd_true_residual <k> - sets k

  Level: intermediate
@*/
PetscErrorCode KSPDeepCDSetTrueResidual(KSP ksp, PetscInt k)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscValidLogicalCollectiveInt(ksp, k, 2);
  PetscTryMethod(ksp, "KSPDeepCDSetTrueResidual_C", (KSP, PetscInt), (ksp, k));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  KSPDeepCDGetTrueResidual - Gets the true-residual period.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode KSPDeepCDGetTrueResidual(KSP ksp, PetscInt *k)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscAssertPointer(k, 2);
  PetscUseMethod(ksp, "KSPDeepCDGetTrueResidual_C", (KSP, PetscInt *), (ksp, k));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  KSPDeepCDSetNormalize - Whether the residual is scaled to unit 2-norm
  before it is given to the direction generator.

  Logically Collective

  Input Parameters:
+ ksp - the Krylov solver of type KSPDEEPCD
- flg - PETSC_TRUE (default) to normalise; a trained network expects it

  Options Database Key:
. -ksp_deepcd_normalize <bool> - sets it

  Level: intermediate
@*/
PetscErrorCode KSPDeepCDSetNormalize(KSP ksp, PetscBool flg)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscValidLogicalCollectiveBool(ksp, flg, 2);
  PetscTryMethod(ksp, "KSPDeepCDSetNormalize_C", (KSP, PetscBool), (ksp, flg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  KSPDeepCDGetNormalize - Gets whether the generator input is normalised.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode KSPDeepCDGetNormalize(KSP ksp, PetscBool *flg)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscAssertPointer(flg, 2);
  PetscUseMethod(ksp, "KSPDeepCDGetNormalize_C", (KSP, PetscBool *), (ksp, flg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  KSPDeepCDSetSmooth - Sets the number of smoother iterations applied to
  each direction the generator returns.

  Logically Collective

  Input Parameters:
+ ksp - the Krylov solver of type KSPDEEPCD
- n   - the number of iterations (default: N for a model trained with `deepcd train --smooth N`, read at
        setup, with a Chebyshev smoother as in training; else 0: the generator's direction is used as it is)

  Options Database Keys:
+ -ksp_deepcd_smooth <n>         - sets n (it then wins over a model's training record)
- -ksp_deepcd_smooth_ksp_type <> - the smoother (default richardson, scale 2/3, with the
                                   KSP's own preconditioner); all its options take the
                                   prefix -ksp_deepcd_smooth_

  Notes:
  The direction d = G(q) for the normalised residual q is first scaled to
  minimise the A-norm error for q, then the smoother runs n iterations on
  A d = q starting from d, before the A-orthogonalisation. A trained network
  reduces the smooth part of the error well and leaves high-frequency error
  behind; the smoother removes that, as in a two-level method. Each
  Richardson iteration costs one multiplication by A and one preconditioner
  application (plus one multiplication for the scaling), small on the CPU
  next to a network evaluation. The smoother shares the KSP's preconditioner
  (Jacobi in `deepcd solve`); `-ksp_deepcd_smooth_ksp_type chebyshev` is the
  other usual choice. The exact line step and the A-orthogonalisation keep
  each step an energy-norm improvement for any smoother; a fixed linear one
  (Richardson, Chebyshev with fixed bounds) keeps the method a conjugate
  direction method.

  Level: intermediate

.seealso: `KSPDEEPCD`, `KSPDeepCDGetSmooth()`, `KSPDeepCDGetSmoother()`, `KSPDeepCDSetGenerator()`
@*/
PetscErrorCode KSPDeepCDSetSmooth(KSP ksp, PetscInt n)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscValidLogicalCollectiveInt(ksp, n, 2);
  PetscTryMethod(ksp, "KSPDeepCDSetSmooth_C", (KSP, PetscInt), (ksp, n));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  KSPDeepCDGetSmooth - Gets the number of smoother iterations per direction.

  Not Collective

  Input Parameter:
. ksp - the Krylov solver of type KSPDEEPCD

  Output Parameter:
. n - the number of iterations

  Level: intermediate

.seealso: `KSPDEEPCD`, `KSPDeepCDSetSmooth()`, `KSPDeepCDGetSmoother()`
@*/
PetscErrorCode KSPDeepCDGetSmooth(KSP ksp, PetscInt *n)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscAssertPointer(n, 2);
  PetscUseMethod(ksp, "KSPDeepCDGetSmooth_C", (KSP, PetscInt *), (ksp, n));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  KSPDeepCDGetSmoother - Gets the KSP that smooths each generated direction,
  creating it if needed, to set its type and options in code.

  Not Collective

  Input Parameter:
. ksp - the Krylov solver of type KSPDEEPCD

  Output Parameter:
. smoother - the smoother (richardson with scale 2/3 unless changed; it shares
             ksp's preconditioner; options prefix -ksp_deepcd_smooth_)

  Note:
  Its iteration count is set by `KSPDeepCDSetSmooth()` at setup.

  Level: advanced

.seealso: `KSPDEEPCD`, `KSPDeepCDSetSmooth()`
@*/
PetscErrorCode KSPDeepCDGetSmoother(KSP ksp, KSP *smoother)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscAssertPointer(smoother, 2);
  PetscUseMethod(ksp, "KSPDeepCDGetSmoother_C", (KSP, KSP *), (ksp, smoother));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  KSPDeepCDSetGenerator - Chooses the kind of direction generator.

  Logically Collective

  Input Parameters:
+ ksp  - the Krylov solver of type KSPDEEPCD
- type - "pc" (the KSP's preconditioner, the default) or "cnn" (needs a model)

  Options Database Key:
. -ksp_deepcd_generator <pc,cnn> - sets it

  Level: intermediate

.seealso: `DeepCDDirGenRegister()`, `KSPDeepCDSetModel()`
@*/
PetscErrorCode KSPDeepCDSetGenerator(KSP ksp, const char type[])
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscAssertPointer(type, 2);
  PetscTryMethod(ksp, "KSPDeepCDSetGenerator_C", (KSP, const char[]), (ksp, type));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  KSPDeepCDGetGenerator - Gets the kind of direction generator.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode KSPDeepCDGetGenerator(KSP ksp, const char *type[])
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscAssertPointer(type, 2);
  PetscUseMethod(ksp, "KSPDeepCDGetGenerator_C", (KSP, const char *[]), (ksp, type));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  KSPDeepCDSetModel - Sets the CNN model file; the directions then come from the network.

  Logically Collective

  Input Parameters:
+ ksp  - the Krylov solver of type KSPDEEPCD
- file - path of a deepcd model file (HDF5)

  Options Database Key:
. -ksp_deepcd_model <file> - sets it

  Notes:
  The file is read at KSPSetUp(); the KSP then needs the problem's DMDA (KSPSetDM()).
  -ksp_deepcd_backend and -ksp_deepcd_precision choose where and how the network runs.

  Level: intermediate
@*/
PetscErrorCode KSPDeepCDSetModel(KSP ksp, const char file[])
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscAssertPointer(file, 2);
  PetscTryMethod(ksp, "KSPDeepCDSetModel_C", (KSP, const char[]), (ksp, file));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  KSPDeepCDGetModel - Gets the CNN model file ("" when none).

  Not Collective

  Level: intermediate
@*/
PetscErrorCode KSPDeepCDGetModel(KSP ksp, const char *file[])
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscAssertPointer(file, 2);
  PetscUseMethod(ksp, "KSPDeepCDGetModel_C", (KSP, const char *[]), (ksp, file));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  KSPDeepCDSetStagnation - Sets the stagnation test: the solve stops with
  `KSP_DIVERGED_BREAKDOWN` when w iterations reduce the energy error by a
  fraction below rtol.

  Logically Collective

  Input Parameters:
+ ksp  - the Krylov solver of type KSPDEEPCD
. w    - the window in iterations (default 50; 0 turns the test off; `PETSC_DEFAULT` keeps it)
- rtol - the relative energy-error decrease over the window below which the method stagnates (default 1e-6; `PETSC_DEFAULT` keeps it)

  Options Database Keys:
+ -ksp_deepcd_stagnation_window <w> - sets w
- -ksp_deepcd_stagnation_rtol <rtol> - sets rtol

  Notes:
  Every step is an exact line search in the A-norm, so the energy error
  E = ||x* - x||_A^2 falls by exactly (d.r)^2/(d.Ad) in each step; D, the sum
  over the last w steps, is known. Every vector v gives a lower bound
  (v.r)^2/(v.Av) of the energy error now (Cauchy-Schwarz); with v = r, the
  steepest-descent step, E_sd = (r.r)^2/(r.Ar). The energy error w iterations
  ago was at least D + E_sd, so D/(D + E_sd) bounds the relative decrease over
  the window from above. When it is below rtol the method has stagnated: it
  stops with `KSP_DIVERGED_BREAKDOWN` (PETSc has no reason for stagnation; the
  method no longer enlarges the space it searches in any useful way), and
  -ksp_converged_reason and -ksp_view add a line that says it was the
  stagnation test. The test runs every ceil(w/2) iterations once w are done and
  costs one multiplication by A each time.

  With the defaults a method stops only when 50 iterations together removed
  less than a millionth of the energy error, which needs about 10^8 more
  iterations for another factor of 10^-2 in it: a stall, never a slow but
  healthy run. The typical case is a network used without the smoothing it
  was trained for (docs/ksp-deepcd.md).

  Level: intermediate

.seealso: `KSPDEEPCD`, `KSPDeepCDGetStagnation()`, `KSPSetTolerances()`
@*/
PetscErrorCode KSPDeepCDSetStagnation(KSP ksp, PetscInt w, PetscReal rtol)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscValidLogicalCollectiveInt(ksp, w, 2);
  PetscValidLogicalCollectiveReal(ksp, rtol, 3);
  PetscTryMethod(ksp, "KSPDeepCDSetStagnation_C", (KSP, PetscInt, PetscReal), (ksp, w, rtol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  KSPDeepCDGetStagnation - Gets the stagnation test's window and relative decrease.

  Not Collective

  Input Parameter:
. ksp - the Krylov solver of type KSPDEEPCD

  Output Parameters:
+ w    - the window (0: off), or NULL
- rtol - the relative decrease, or NULL

  Level: intermediate

.seealso: `KSPDeepCDSetStagnation()`
@*/
PetscErrorCode KSPDeepCDGetStagnation(KSP ksp, PetscInt *w, PetscReal *rtol)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 1);
  PetscUseMethod(ksp, "KSPDeepCDGetStagnation_C", (KSP, PetscInt *, PetscReal *), (ksp, w, rtol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*MC
   KSPDEEPCD - "deepcd": the Deep Conjugate Direction method (Kaneda et al.,
   ICML 2023). Each iteration computes z = G(r/||r||) with a direction
   generator G, A-orthogonalises z against the last m directions, and steps
   with alpha = (d.r)/(d.Ad). With the "pc" generator it is Notay's flexible
   CG truncated to m directions, so any PC (even a nonlinear one) may be used.

   Options Database Keys:
+  -ksp_deepcd_directions <2> - number of kept directions
.  -ksp_deepcd_true_residual <0> - recompute b - Ax every k iterations (0: never)
.  -ksp_deepcd_normalize <true> - scale the generator's input to unit norm
.  -ksp_deepcd_smooth <0> - smoother iterations on each direction (default: the model's training record, else 0)
.  -ksp_deepcd_smooth_ksp_type <richardson> - the smoother (options prefix -ksp_deepcd_smooth_; chebyshev when the model sets the smoothing)
.  -ksp_deepcd_stagnation_window <50> - stop when this many iterations barely reduce the energy error (0: never)
.  -ksp_deepcd_stagnation_rtol <1e-6> - the relative energy-error decrease over the window that counts as stagnation
.  -ksp_deepcd_generator <pc> - the direction generator: pc or cnn
.  -ksp_deepcd_model <file> - CNN model file (selects the cnn generator)
.  -ksp_deepcd_backend <auto> - cnn generator: auto, cpu (oneDNN), cuda (cuDNN), ref (test oracle)
-  -ksp_deepcd_precision <fp32> - cnn generator: fp32, tf32, bf16, fp16

   Notes:
   Supports only the unpreconditioned residual norm (or none). Breakdown
   (d.Ad <= 0) stops with KSP_DIVERGED_BREAKDOWN or KSP_DIVERGED_INDEFINITE_MAT,
   a NaN/Inf from the generator with KSP_DIVERGED_NANORINF.

   Stagnation (w iterations that reduce the energy error by a fraction below
   rtol, see KSPDeepCDSetStagnation()) also stops with KSP_DIVERGED_BREAKDOWN:
   PETSc 3.18 has no reason for it, and breakdown (the method cannot usefully
   enlarge its search space) is the closest. -ksp_converged_reason prints a
   line "deepcd stagnated at iteration ..." before PETSc's, and -ksp_view
   shows the same line for the last solve.

   A model trained with `deepcd train --smooth N` carries that setting: with
   only -ksp_deepcd_model given, each direction is smoothed by N iterations
   of a Chebyshev smoother (the one used in training, with the KSP's PC:
   use -pc_type jacobi, as training did and deepcd solve does by default).
   -ksp_deepcd_smooth (or KSPDeepCDSetSmooth()) wins, -ksp_deepcd_smooth 0
   included; -ksp_view says where the number came from.

   Level: beginner

.seealso: `KSPFCG`, `KSPCG`, `KSPDeepCDSetDirections()`, `DeepCDDirGenRegister()`
M*/
PetscErrorCode KSPCreate_DeepCD(KSP ksp)
{
  KSP_DeepCD *cd;

  PetscFunctionBegin;
  PetscCall(PetscNew(&cd));
  cd->m         = 2;
  cd->truek     = 0;
  cd->normalize = PETSC_TRUE;
  cd->stagw     = 50;
  cd->stagrtol  = 1e-6;
  cd->stagits   = -1;
  ksp->data     = cd;

  PetscCall(KSPSetSupportedNorm(ksp, KSP_NORM_UNPRECONDITIONED, PC_LEFT, 3));
  PetscCall(KSPSetSupportedNorm(ksp, KSP_NORM_UNPRECONDITIONED, PC_RIGHT, 2));
  PetscCall(KSPSetSupportedNorm(ksp, KSP_NORM_NONE, PC_LEFT, 1));
  PetscCall(KSPSetSupportedNorm(ksp, KSP_NORM_NONE, PC_RIGHT, 1));

  ksp->ops->setup          = KSPSetUp_DeepCD;
  ksp->ops->solve          = KSPSolve_DeepCD;
  ksp->ops->reset          = KSPReset_DeepCD;
  ksp->ops->destroy        = KSPDestroy_DeepCD;
  ksp->ops->view           = KSPView_DeepCD;
  ksp->ops->setfromoptions = KSPSetFromOptions_DeepCD;
  ksp->ops->buildsolution  = KSPBuildSolutionDefault;
  ksp->ops->buildresidual  = KSPBuildResidualDefault;

  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetDirections_C", KSPDeepCDSetDirections_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetDirections_C", KSPDeepCDGetDirections_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetTrueResidual_C", KSPDeepCDSetTrueResidual_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetTrueResidual_C", KSPDeepCDGetTrueResidual_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetNormalize_C", KSPDeepCDSetNormalize_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetNormalize_C", KSPDeepCDGetNormalize_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetSmooth_C", KSPDeepCDSetSmooth_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetSmooth_C", KSPDeepCDGetSmooth_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetSmoother_C", KSPDeepCDGetSmoother_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetGenerator_C", KSPDeepCDSetGenerator_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetGenerator_C", KSPDeepCDGetGenerator_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetModel_C", KSPDeepCDSetModel_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetModel_C", KSPDeepCDGetModel_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDSetStagnation_C", KSPDeepCDSetStagnation_DeepCD));
  PetscCall(PetscObjectComposeFunction((PetscObject) ksp, "KSPDeepCDGetStagnation_C", KSPDeepCDGetStagnation_DeepCD));
  PetscFunctionReturn(PETSC_SUCCESS);
}
