/* PCNEURALMG: a symmetric multigrid V- or W-cycle on the 7-point operator of
   a 3-D DMDA, matrix-free and in single precision, with per-cell smoother
   weights from a small network and learned cycle scalars (model.c). */
#include <deepcd/private/pcneuralmgimpl.h>
#include <deepcd/private/petsccompat.h>

PetscLogEvent PC_NEURALMG_SetUp = 0, PC_NEURALMG_Apply = 0;

static const char *const PCNeuralMGCycleTypes[] = { "v", "w", "PCNeuralMGCycleType", "PC_NEURALMG_CYCLE_", NULL };

/* Chebyshev smoothing of degree nmg->degree on [lower, 1] x lmax with the
   level's weights W. From a zero guess x = q(WA) W b, otherwise
   x += q(WA) W (b - A x); pre- and post-smoothing use the same polynomial,
   which is self-adjoint in the A inner product, so the cycle is symmetric. */
static PetscErrorCode NMGSmooth(PC_NeuralMG *nmg, NMGLevel *L, PetscBool zero)
{
  const PetscReal hi = L->lmax, lo = nmg->cheb_used * L->lmax;
  const PetscReal theta = 0.5 * (hi + lo), delta = 0.5 * (hi - lo), sigma = theta / delta;
  PetscReal       rho = 1.0 / sigma;
  const nmg_box   B   = NMGLevelBox(L);
  float          *tmp;

  PetscFunctionBegin;
  /* after a first step from zero the direction is x itself; the last step keeps no direction */
  if (zero)
    nmg_kernel_cheb_first(&B, (float) (1.0 / theta), L->b, L->x);
  else {
    PetscCall(PCNeuralMGHalo(L, MPI_FLOAT, L->x));
    nmg_kernel_cheb_step(&B, 0.0f, (float) (1.0 / theta), L->x, L->b, NULL, L->degree > 1 ? L->p : NULL, L->t);
    tmp  = L->x;
    L->x = L->t;
    L->t = tmp;
  }
  for (PetscInt k = 1; k < L->degree; k++) {
    const PetscReal rnew = 1.0 / (2.0 * sigma - rho);
    const float    *pin  = (zero && k == 1) ? L->x : L->p;

    PetscCall(PCNeuralMGHalo(L, MPI_FLOAT, L->x));
    nmg_kernel_cheb_step(&B, (float) (rnew * rho), (float) (2.0 * rnew / delta), L->x, L->b, pin, k + 1 < L->degree ? L->p : NULL, L->t);
    tmp  = L->x;
    L->x = L->t;
    L->t = tmp;
    rho  = rnew;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* one cycle on level l: x_l from b_l (zero: x_l starts at 0) */
PetscErrorCode PCNeuralMGCycle(PC pc, PetscInt l, PetscBool zero)
{
  PC_NeuralMG *nmg = (PC_NeuralMG *) pc->data;
  NMGLevel    *L   = &nmg->lev[l], *C;
  nmg_box      B, BC;
  PetscInt     gamma;

  PetscFunctionBegin;
  if (l == nmg->nlevels - 1) {
    PetscCall(PCNeuralMGCoarseSolve(pc));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  C     = &nmg->lev[l + 1];
  B     = NMGLevelBox(L);
  BC    = NMGLevelBox(C);
  gamma = L->gamma;
  PetscCall(NMGSmooth(nmg, L, zero));
  for (PetscInt g = 0; g < gamma; g++) {
    PetscCall(PCNeuralMGHalo(L, MPI_FLOAT, L->x));
    nmg_kernel_residual(&B, L->x, L->b, L->t); /* t is free between the smoothings */
    if (L->straddle) PetscCall(PCNeuralMGHalo(L, MPI_FLOAT, L->t));
    nmg_kernel_restrict(&B, L->t, &BC, C->b);
    PetscCall(PCNeuralMGCycle(pc, l + 1, PETSC_TRUE));
    if (L->straddle) PetscCall(PCNeuralMGHalo(C, MPI_FLOAT, C->x));
    nmg_kernel_prolong_add(&B, (float) (g ? L->alpha2 : L->alpha), L->x, &BC, C->x);
  }
  PetscCall(NMGSmooth(nmg, L, PETSC_FALSE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Cost model of one application, summed over the whole grid: FLOPs and bytes
   moved (4-byte values; each array streamed once per kernel) */
static void NMGCost(PC_NeuralMG *nmg, PetscLogDouble *flops, PetscLogDouble *bytes)
{
  PetscLogDouble f = 0, b = 0, visits = 1;

  for (PetscInt l = 0; l < nmg->nlevels; l++) {
    const NMGLevel      *L = &nmg->lev[l];
    const PetscLogDouble n = (PetscLogDouble) L->M[0] * L->M[1] * L->M[2];

    if (l == nmg->nlevels - 1) {
      f += visits * 4.0 * nmg->coarse.n * nmg->coarse.bw;
      b += visits * 8.0 * nmg->coarse.n * nmg->coarse.bw;
      break;
    }
    {
      const PetscInt gamma = (nmg->cycle == PC_NEURALMG_CYCLE_W && l + 2 < nmg->nlevels) ? 2 : 1;
      const PetscInt k     = L->degree;
      /* a stencil step: 13 flops of stencil, 6 of update; streams the previous direction
         unless there is none or it is x, and stores the new one unless it is the last
         step. The zero-guess step: 2 flops. Bytes per cell: nmgkernels.h */
      PetscLogDouble sb = NMG_BYTES_CHEB_FIRST, sf = 2;
      for (PetscInt s = 2; s <= k; s++) sb += NMG_BYTES_CHEB_STEP(s > 2, s < k);
      for (PetscInt s = 1; s <= k; s++) sb += NMG_BYTES_CHEB_STEP(s > 1, s < k);
      sf += 19 * (2 * k - 1);
      f += visits * n * sf;
      b += visits * n * sb;
      /* per coarse correction: residual (14 flops), restriction (1), prolongation (2) */
      f += visits * gamma * n * 17;
      b += visits * gamma * n * (NMG_BYTES_RESIDUAL + NMG_BYTES_RESTRICT + NMG_BYTES_PROLONG_ADD);
      visits *= gamma;
    }
  }
  *flops = f;
  *bytes = b;
}

/* The option scalars not given show the model's values (as -help defaults) */
static void NMGOptionDefaultsFromModel(PC_NeuralMG *nmg)
{
  if (!nmg->cheb_lower_given) nmg->cheb_lower = nmg->model.cheb_lower;
  if (!nmg->alpha_given) nmg->alpha = nmg->model.alpha;
  if (!nmg->alpha2_given) nmg->alpha2 = nmg->model.alpha2;
  if (!nmg->alpha_exact_given) nmg->alpha_exact = nmg->model.alpha_exact;
}

/* The scalars in use: an option given wins, otherwise the model's (learned,
   or the classical 1, 1, 1 and 0.1 of -pc_neuralmg_model none). */
static void NMGResolveCorrection(PC_NeuralMG *nmg)
{
  nmg->alpha_used       = nmg->alpha_given ? nmg->alpha : nmg->model.alpha;
  nmg->alpha2_used      = nmg->alpha2_given ? nmg->alpha2 : nmg->model.alpha2;
  nmg->alpha_exact_used = nmg->alpha_exact_given ? nmg->alpha_exact : nmg->model.alpha_exact;
  nmg->cheb_used        = nmg->cheb_lower_given ? nmg->cheb_lower : nmg->model.cheb_lower;
}

/* Positive definiteness of the cycle, checked level by level from the
   coarsest up. With Q = a P B_c P^T A (B_c the next level's cycle; its
   eigenvalues mu lie in [0, m], m the largest eigenvalue of B_c A_c, 1 for the
   exact solve), a level's error propagation is E = S p(Q) S with S the
   smoother (A-self-adjoint, ||S||_A < 1) and p(mu) = 1 - a mu (V) or
   (1 - a1 mu)(1 - a2 mu) (W). Then (E v, v)_A <= max p ||S v||^2 < ||v||^2
   when p <= 1 on [0, m], so B = (I - E) A^{-1} is SPD, and the largest
   eigenvalue of B A is at most 1 - min(0, min p). A V-level never fails; a
   W-level needs m <= 1/a1 + 1/a2. */
void NMGPositiveBound(PetscInt nlevels, PCNeuralMGCycleType cycle, PetscReal alpha, PetscReal alpha2, PetscReal alpha_exact, PetscReal *bound, PetscInt *badlevel, PetscBool *ok)
{
  PetscReal m = 1; /* the exact solve: B A is a projection */

  *ok       = PETSC_TRUE;
  *badlevel = -1;
  for (PetscInt l = nlevels - 2; l >= 0; l--) {
    const PetscInt  gamma = (cycle == PC_NEURALMG_CYCLE_W && l + 2 < nlevels) ? 2 : 1;
    const PetscReal a1 = l == nlevels - 2 ? alpha_exact : alpha, a2 = alpha2;
    PetscReal       pmin;

    if (gamma == 1)
      pmin = 1 - a1 * m;
    else {
      const PetscReal mstar = PetscMin(m, (a1 + a2) / (2 * a1 * a2));

      if (m > 1 / a1 + 1 / a2) {
        *ok       = PETSC_FALSE;
        *badlevel = l;
        *bound    = m;
        return;
      }
      pmin = (1 - a1 * mstar) * (1 - a2 * mstar);
    }
    m = 1 - PetscMin(0, pmin);
  }
  *bound = m;
}

static PetscErrorCode NMGCheckPositive(PC pc)
{
  PC_NeuralMG *nmg = (PC_NeuralMG *) pc->data;
  PetscInt     bad;
  PetscBool    ok;
  PetscReal    m;

  PetscFunctionBegin;
  NMGPositiveBound(nmg->nlevels, nmg->cycle, nmg->alpha_used, nmg->alpha2_used, nmg->alpha_exact_used, &m, &bad, &ok);
  PetscCheck(ok, PetscObjectComm((PetscObject) pc), PETSC_ERR_ARG_OUTOFRANGE,
             "PCNEURALMG: W-cycle scalings %g and %g on level %" PetscInt_FMT " would not keep the preconditioner positive definite: the coarser cycle's spectrum reaches %g, more than 1/%g + 1/%g (-pc_neuralmg_correction, -pc_neuralmg_correction_second, -pc_neuralmg_correction_exact)", (double) nmg->alpha_used, (double) nmg->alpha2_used, bad, (double) m, (double) nmg->alpha_used, (double) nmg->alpha2_used);
  nmg->spectrum_bound = m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The model named by -pc_neuralmg_model (or PCNeuralMGSetModel()): a file,
   "none" for the classical parameters, or by default the shipped model;
   a shipped model that cannot be found leaves the classical parameters, which
   -pc_view reports. Read once per name here, and once per process and file (the file cache). */
static PetscErrorCode NMGLoadModel(PC pc)
{
  PC_NeuralMG *nmg = (PC_NeuralMG *) pc->data;
  char         path[PETSC_MAX_PATH_LEN];
  PetscBool    found;

  PetscFunctionBegin;
  if (nmg->model_set || (nmg->model_loaded && !strcmp(nmg->model_loaded_option, nmg->model_option))) PetscFunctionReturn(PETSC_SUCCESS);
  if (!strcmp(nmg->model_option, "none"))
    NMGModelClassical(&nmg->model);
  else if (nmg->model_option[0])
    PetscCall(NMGModelLoadCached(PetscObjectComm((PetscObject) pc), nmg->model_option, &nmg->model));
  else {
    PetscCall(NMGModelShippedPath(path, sizeof(path), &found));
    if (found)
      PetscCall(NMGModelLoadCached(PetscObjectComm((PetscObject) pc), path, &nmg->model));
    else {
      NMGModelClassical(&nmg->model);
      PetscCall(PetscSNPrintf(nmg->model.source, sizeof(nmg->model.source), "none (the shipped model %s was not found)", path[0] ? path : NMG_SHIPPED_NAME));
      PetscCall(PetscInfo(pc, "shipped model %s not found: classical parameters\n", path));
    }
  }
  nmg->model_loaded = PETSC_TRUE;
  PetscCall(PetscStrncpy(nmg->model_loaded_option, nmg->model_option, sizeof(nmg->model_loaded_option)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode PCSetUp_NeuralMG(PC pc)
{
  PC_NeuralMG *nmg = (PC_NeuralMG *) pc->data;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PC_NEURALMG_SetUp, pc, 0, 0, 0));
  PetscCall(PCNeuralMGDestroyHierarchy(pc));
  PetscCall(NMGLoadModel(pc));
  NMGResolveCorrection(nmg);
  PetscCall(PCNeuralMGBuildHierarchy(pc));
  for (PetscInt l = 0; l < nmg->nlevels; l++) nmg->lev[l].gamma = (nmg->cycle == PC_NEURALMG_CYCLE_W && l + 2 < nmg->nlevels) ? 2 : 1;
  PetscCall(NMGCheckPositive(pc));
  for (PetscInt l = 0; l < nmg->nlevels; l++) nmg->lev[l].degree = nmg->degree + l * nmg->degree_growth;
  NMGCost(nmg, &nmg->flops_apply, &nmg->bytes_apply);
  PetscCall(PetscLogEventEnd(PC_NEURALMG_SetUp, pc, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode PCApply_NeuralMG(PC pc, Vec xin, Vec yout)
{
  PC_NeuralMG       *nmg = (PC_NeuralMG *) pc->data;
  NMGLevel          *L   = &nmg->lev[0];
  const PetscScalar *r;
  PetscScalar       *z;
  PetscMPIInt        size;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PC_NEURALMG_Apply, pc, xin, yout, 0));
  PetscCall(VecGetArrayRead(xin, &r));
  for (PetscInt k = 1, m = 0; k <= L->xm[2]; k++)
    for (PetscInt j = 1; j <= L->xm[1]; j++) {
      float *b = L->b + k * L->sz + j * L->sy + 1;
      if (nmg->mask) {
        const float *mk = nmg->mask + k * L->sz + j * L->sy + 1;
        for (PetscInt i = 0; i < L->xm[0]; i++) b[i] = mk[i] * (float) PetscRealPart(r[m + i]);
      } else
        for (PetscInt i = 0; i < L->xm[0]; i++) b[i] = (float) PetscRealPart(r[m + i]);
      m += L->xm[0];
    }
  PetscCall(PCNeuralMGCycle(pc, 0, PETSC_TRUE));
  PetscCall(VecGetArrayWrite(yout, &z));
  for (PetscInt k = 1, m = 0; k <= L->xm[2]; k++)
    for (PetscInt j = 1; j <= L->xm[1]; j++) {
      const float *x = L->x + k * L->sz + j * L->sy + 1;
      if (nmg->mask) {
        const float *mk = nmg->mask + k * L->sz + j * L->sy + 1;
        for (PetscInt i = 0; i < L->xm[0]; i++) z[m + i] = mk[i] * x[i] + nmg->dinv_dec[m + i] * r[m + i];
      } else
        for (PetscInt i = 0; i < L->xm[0]; i++) z[m + i] = x[i];
      m += L->xm[0];
    }
  PetscCall(VecRestoreArrayWrite(yout, &z));
  PetscCall(VecRestoreArrayRead(xin, &r));
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject) pc), &size));
  PetscCall(PetscLogFlops(nmg->flops_apply / size));
  PetscCall(PetscLogEventEnd(PC_NEURALMG_Apply, pc, xin, yout, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode PCReset_NeuralMG(PC pc)
{
  PetscFunctionBegin;
  PetscCall(PCNeuralMGDestroyHierarchy(pc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode PCDestroy_NeuralMG(PC pc)
{
  PetscFunctionBegin;
  PetscCall(PCReset_NeuralMG(pc));
  PetscCall(PetscObjectComposeFunction((PetscObject) pc, "PCNeuralMGSetLevels_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) pc, "PCNeuralMGGetLevels_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) pc, "PCNeuralMGSetCycleType_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) pc, "PCNeuralMGSetSmoothDegree_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject) pc, "PCNeuralMGSetModel_C", NULL));
  PetscCall(PetscFree(pc->data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode PCView_NeuralMG(PC pc, PetscViewer viewer)
{
  PC_NeuralMG *nmg = (PC_NeuralMG *) pc->data;
  PetscBool    iascii;
  char         buf[32];

  PetscFunctionBegin;
  PetscCall(PetscObjectTypeCompare((PetscObject) viewer, PETSCVIEWERASCII, &iascii));
  if (!iascii) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscSNPrintf(buf, sizeof(buf), "%g", (double) nmg->alpha2_used));
  PetscCall(PetscViewerASCIIPrintf(viewer, "  %s-cycle, Chebyshev smoothing in W A of degree %" PetscInt_FMT " (+%" PetscInt_FMT " per coarser level) on [%g, 1] x (Gershgorin bound of W A), pre and post\n", nmg->cycle == PC_NEURALMG_CYCLE_W ? "W" : "V", nmg->degree, nmg->degree_growth, (double) nmg->cheb_used));
  if (nmg->nlevels) {
    const NMGModel *m = &nmg->model;

    PetscCall(PetscViewerASCIIPrintf(viewer, "  model: %s%s\n", nmg->model_set ? "parameters set by PCNeuralMGSetModelParameters()" : m->source, m->learned ? "" : " (classical parameters: Jacobi weights W = 1/a_ii)"));
    if (m->learned) PetscCall(PetscViewerASCIIPrintf(viewer, "    per-cell smoother weights W = m/a_ii, m in (1/2, 3/2) from a %d-%d-1 softsign network on the scaled stencil; training: %s\n", NMG_NFEAT, NMG_NHIDDEN, m->training[0] ? m->training : "(no record)"));
    PetscCall(PetscViewerASCIIPrintf(viewer, "    coarse-grid correction scalings %g (%s)%s%s%s, from the exact solve %g (%s); Chebyshev lower end %g (%s)\n", (double) nmg->alpha_used, nmg->alpha_given ? "option" : "model", nmg->cycle == PC_NEURALMG_CYCLE_W ? " then " : "", nmg->cycle == PC_NEURALMG_CYCLE_W ? buf : "", nmg->cycle == PC_NEURALMG_CYCLE_W ? (nmg->alpha2_given ? " (option)" : " (model)") : "", (double) nmg->alpha_exact_used, nmg->alpha_exact_given ? "option" : "model", (double) nmg->cheb_used, nmg->cheb_lower_given ? "option" : "model"));
  }
  if (nmg->nlevels) PetscCall(PetscViewerASCIIPrintf(viewer, "  symmetric positive definite by construction; largest eigenvalue of M A at most %g\n", (double) nmg->spectrum_bound));
  PetscCall(PetscViewerASCIIPrintf(viewer, "  coarsening: 2x2x2 aggregation, R = P^T, Galerkin 7-point coarse operators; single precision, matrix-free\n"));
  if (!nmg->nlevels) {
    PetscCall(PetscViewerASCIIPrintf(viewer, "  (not set up)\n"));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscViewerASCIIPrintf(viewer, "  levels: %" PetscInt_FMT "\n", nmg->nlevels));
  for (PetscInt l = 0; l < nmg->nlevels; l++) {
    const NMGLevel *L = &nmg->lev[l];
    if (l < nmg->nlevels - 1)
      PetscCall(PetscViewerASCIIPrintf(viewer, "    level %" PetscInt_FMT ": %" PetscInt_FMT " x %" PetscInt_FMT " x %" PetscInt_FMT ", smoothing degree %" PetscInt_FMT ", Gershgorin bound of W A %g, coarse-grid correction%s x %g%s%s%s\n", l, L->M[0], L->M[1], L->M[2], L->degree, (double) L->lmax, L->gamma == 2 ? "s" : "", (double) L->alpha, L->gamma == 2 ? " then x " : "", L->gamma == 2 ? buf : "", L->straddle ? ", aggregates straddle ranks" : ""));
    else
      PetscCall(PetscViewerASCIIPrintf(viewer, "    level %" PetscInt_FMT ": %" PetscInt_FMT " x %" PetscInt_FMT " x %" PetscInt_FMT ", exact solve: banded LDL^T (bandwidth %" PetscInt_FMT ") on every rank, %" PetscInt_FMT " zero pivots (empty aggregates, floating regions) dropped\n", l, L->M[0], L->M[1], L->M[2], nmg->coarse.bw, nmg->coarse.ndropped));
  }
  if (nmg->ndecoupled) PetscCall(PetscViewerASCIIPrintf(viewer, "  %" PetscInt_FMT " decoupled rows (no off-diagonal entries: solids, Dirichlet rows) get z = r / a_ii\n", nmg->ndecoupled));
  {
    const NMGLevel      *L  = &nmg->lev[0];
    const PetscLogDouble n  = (PetscLogDouble) L->M[0] * L->M[1] * L->M[2];
    const PetscInt       nl = nmg->nlevels;
    /* the same model for CG's PCMG with -pc_mg_galerkin, AIJ in double,
       Chebyshev/Jacobi 2+2: an AIJ row is 7 x (8 + 4) + 4 bytes, a vector 8 */
    PetscLogDouble mgf = 0, mgb = 0, sc = 1;
    for (PetscInt l = 0; l < nl - 1; l++, sc /= 8) {
      mgf += sc * (5 * (14 + 6) + 3);
      mgb += sc * (5 * (92 + 5 * 8 * 2) + 3 * 24);
    }
    PetscCall(PetscViewerASCIIPrintf(viewer, "  cost per application (model): %.1f FLOP and %.1f bytes per fine cell (PCMG V-cycle on AIJ, Chebyshev 2+2, same levels: about %.1f FLOP and %.1f bytes)\n", nmg->flops_apply / n, nmg->bytes_apply / n, mgf, mgb));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode PCSetFromOptions_NeuralMG(PC pc, DeepCDOptionItems PetscOptionsObject)
{
  PC_NeuralMG *nmg = (PC_NeuralMG *) pc->data;
  PetscBool    flg;

  PetscFunctionBegin;
  PetscOptionsHeadBegin(PetscOptionsObject, "NeuralMG options");
  PetscCall(PetscOptionsInt("-pc_neuralmg_levels", "Maximum number of levels (default: until the coarse size)", "PCNeuralMGSetLevels", nmg->maxlevels, &nmg->maxlevels, NULL));
  PetscCall(PetscOptionsInt("-pc_neuralmg_coarse_size", "Coarsen until the grid has at most this many cells", "PCNEURALMG", nmg->coarse_size, &nmg->coarse_size, NULL));
  PetscCall(PetscOptionsInt("-pc_neuralmg_smooth_degree", "Chebyshev degree of each pre- and post-smoothing", "PCNeuralMGSetSmoothDegree", nmg->degree, &nmg->degree, NULL));
  PetscCall(PetscOptionsInt("-pc_neuralmg_smooth_degree_growth", "Chebyshev degree added per coarser level", "PCNEURALMG", nmg->degree_growth, &nmg->degree_growth, NULL));
  PetscCall(PetscOptionsString("-pc_neuralmg_model", "Model file (none: the classical parameters; default: the shipped model)", "PCNeuralMGSetModel", nmg->model_option, nmg->model_option, sizeof(nmg->model_option), NULL));
  /* the model now, so that -help shows its values as the defaults of the scalars below */
  PetscCall(NMGLoadModel(pc));
  NMGOptionDefaultsFromModel(nmg);
  PetscCall(PetscOptionsReal("-pc_neuralmg_cheb_lower", "Lower end of the Chebyshev interval, as a fraction of the Gershgorin bound (default: the model's)", "PCNEURALMG", nmg->cheb_lower, &nmg->cheb_lower, &flg));
  nmg->cheb_lower_given = (PetscBool) (nmg->cheb_lower_given || flg);
  PetscCall(PetscOptionsReal("-pc_neuralmg_correction", "Scaling of the (first) coarse-grid correction of each level (default: the model's)", "PCNEURALMG", nmg->alpha, &nmg->alpha, &flg));
  nmg->alpha_given = (PetscBool) (nmg->alpha_given || flg);
  PetscCall(PetscOptionsReal("-pc_neuralmg_correction_second", "Scaling of the second coarse-grid correction of a W-cycle level (default: the model's)", "PCNEURALMG", nmg->alpha2, &nmg->alpha2, &flg));
  nmg->alpha2_given = (PetscBool) (nmg->alpha2_given || flg);
  PetscCall(PetscOptionsReal("-pc_neuralmg_correction_exact", "Scaling of the correction from the exact coarsest solve (default: the model's)", "PCNEURALMG", nmg->alpha_exact, &nmg->alpha_exact, &flg));
  nmg->alpha_exact_given = (PetscBool) (nmg->alpha_exact_given || flg);
  PetscCall(PetscOptionsEnum("-pc_neuralmg_cycle_type", "Multigrid cycle", "PCNeuralMGSetCycleType", PCNeuralMGCycleTypes, (PetscEnum) nmg->cycle, (PetscEnum *) &nmg->cycle, &flg));
  PetscOptionsHeadEnd();
  PetscCheck(nmg->maxlevels == PETSC_DECIDE || (nmg->maxlevels >= 1 && nmg->maxlevels <= NMG_MAX_LEVELS), PetscObjectComm((PetscObject) pc), PETSC_ERR_ARG_OUTOFRANGE, "-pc_neuralmg_levels %" PetscInt_FMT ": must be between 1 and %d", nmg->maxlevels, NMG_MAX_LEVELS);
  PetscCheck(nmg->degree >= 1, PetscObjectComm((PetscObject) pc), PETSC_ERR_ARG_OUTOFRANGE, "-pc_neuralmg_smooth_degree %" PetscInt_FMT ": must be at least 1", nmg->degree);
  PetscCheck(nmg->degree_growth >= 0, PetscObjectComm((PetscObject) pc), PETSC_ERR_ARG_OUTOFRANGE, "-pc_neuralmg_smooth_degree_growth %" PetscInt_FMT ": must be at least 0", nmg->degree_growth);
  PetscCheck(!nmg->cheb_lower_given || (nmg->cheb_lower > 0 && nmg->cheb_lower < 1), PetscObjectComm((PetscObject) pc), PETSC_ERR_ARG_OUTOFRANGE, "-pc_neuralmg_cheb_lower %g: must lie in (0, 1)", (double) nmg->cheb_lower);
  PetscCheck(!nmg->alpha_given || nmg->alpha > 0, PetscObjectComm((PetscObject) pc), PETSC_ERR_ARG_OUTOFRANGE, "-pc_neuralmg_correction %g: must be positive", (double) nmg->alpha);
  PetscCheck(!nmg->alpha2_given || nmg->alpha2 > 0, PetscObjectComm((PetscObject) pc), PETSC_ERR_ARG_OUTOFRANGE, "-pc_neuralmg_correction_second %g: must be positive", (double) nmg->alpha2);
  PetscCheck(!nmg->alpha_exact_given || nmg->alpha_exact > 0, PetscObjectComm((PetscObject) pc), PETSC_ERR_ARG_OUTOFRANGE, "-pc_neuralmg_correction_exact %g: must be positive", (double) nmg->alpha_exact);
  PetscCheck(nmg->coarse_size >= 1, PetscObjectComm((PetscObject) pc), PETSC_ERR_ARG_OUTOFRANGE, "-pc_neuralmg_coarse_size %" PetscInt_FMT ": must be at least 1", nmg->coarse_size);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode PCNeuralMGSetLevels_NeuralMG(PC pc, PetscInt n)
{
  PC_NeuralMG *nmg = (PC_NeuralMG *) pc->data;

  PetscFunctionBegin;
  PetscCheck(n == PETSC_DECIDE || (n >= 1 && n <= NMG_MAX_LEVELS), PetscObjectComm((PetscObject) pc), PETSC_ERR_ARG_OUTOFRANGE, "levels %" PetscInt_FMT ": must be between 1 and %d", n, NMG_MAX_LEVELS);
  nmg->maxlevels = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode PCNeuralMGGetLevels_NeuralMG(PC pc, PetscInt *n)
{
  PC_NeuralMG *nmg = (PC_NeuralMG *) pc->data;

  PetscFunctionBegin;
  *n = nmg->nlevels;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode PCNeuralMGSetCycleType_NeuralMG(PC pc, PCNeuralMGCycleType t)
{
  PC_NeuralMG *nmg = (PC_NeuralMG *) pc->data;

  PetscFunctionBegin;
  nmg->cycle = t;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode PCNeuralMGSetModel_NeuralMG(PC pc, const char file[])
{
  PC_NeuralMG *nmg = (PC_NeuralMG *) pc->data;

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(nmg->model_option, file ? file : "", sizeof(nmg->model_option)));
  nmg->model_set  = PETSC_FALSE;
  pc->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The parameter vector of the model in use (training); takes effect at the next PCSetUp() */
PetscErrorCode PCNeuralMGSetModelParameters(PC pc, const PetscReal th[NMG_NPARAM])
{
  PC_NeuralMG *nmg;
  PetscBool    is;

  PetscFunctionBegin;
  PetscCall(PetscObjectTypeCompare((PetscObject) pc, PCNEURALMG, &is));
  PetscCheck(is, PetscObjectComm((PetscObject) pc), PETSC_ERR_ARG_WRONG, "PCNeuralMGSetModelParameters: the PC is of type %s, not neuralmg", ((PetscObject) pc)->type_name);
  nmg = (PC_NeuralMG *) pc->data;
  NMGModelFromParameters(th, &nmg->model);
  PetscCall(PetscStrncpy(nmg->model.source, "(training)", sizeof(nmg->model.source)));
  nmg->model_set  = PETSC_TRUE;
  pc->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode PCNeuralMGSetSmoothDegree_NeuralMG(PC pc, PetscInt k)
{
  PC_NeuralMG *nmg = (PC_NeuralMG *) pc->data;

  PetscFunctionBegin;
  PetscCheck(k >= 1, PetscObjectComm((PetscObject) pc), PETSC_ERR_ARG_OUTOFRANGE, "smoothing degree %" PetscInt_FMT ": must be at least 1", k);
  nmg->degree = k;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  PCNeuralMGSetLevels - Sets the maximum number of levels of PCNEURALMG.

  Logically Collective

  Input Parameters:
+ pc - the preconditioner
- n  - the maximum number of levels, or PETSC_DECIDE to coarsen until the grid has at most -pc_neuralmg_coarse_size cells

  Options Database Key:
. -pc_neuralmg_levels <n> - the maximum number of levels

  Level: intermediate

.seealso: `PCNEURALMG`, `PCNeuralMGGetLevels()`
@*/
PetscErrorCode PCNeuralMGSetLevels(PC pc, PetscInt n)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(pc, PC_CLASSID, 1);
  PetscValidLogicalCollectiveInt(pc, n, 2);
  PetscTryMethod(pc, "PCNeuralMGSetLevels_C", (PC, PetscInt), (pc, n));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  PCNeuralMGGetLevels - Gets the number of levels of a set-up PCNEURALMG (0 before PCSetUp()).

  Not Collective

  Input Parameter:
. pc - the preconditioner

  Output Parameter:
. n - the number of levels, the finest and the coarsest included

  Level: intermediate

.seealso: `PCNEURALMG`, `PCNeuralMGSetLevels()`
@*/
PetscErrorCode PCNeuralMGGetLevels(PC pc, PetscInt *n)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(pc, PC_CLASSID, 1);
  PetscAssertPointer(n, 2);
  PetscUseMethod(pc, "PCNeuralMGGetLevels_C", (PC, PetscInt *), (pc, n));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  PCNeuralMGSetCycleType - Sets the multigrid cycle of PCNEURALMG.

  Logically Collective

  Input Parameters:
+ pc - the preconditioner
- t  - PC_NEURALMG_CYCLE_V or PC_NEURALMG_CYCLE_W

  Options Database Key:
. -pc_neuralmg_cycle_type <v,w> - the cycle

  Level: intermediate

.seealso: `PCNEURALMG`, `PCNeuralMGCycleType`
@*/
PetscErrorCode PCNeuralMGSetCycleType(PC pc, PCNeuralMGCycleType t)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(pc, PC_CLASSID, 1);
  PetscValidLogicalCollectiveEnum(pc, t, 2);
  PetscTryMethod(pc, "PCNeuralMGSetCycleType_C", (PC, PCNeuralMGCycleType), (pc, t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  PCNeuralMGSetModel - Sets the model file of PCNEURALMG: its learned smoother network and cycle scalings.

  Logically Collective

  Input Parameters:
+ pc   - the preconditioner
- file - a model file written by `deepcd train --arch neuralmg`; "none" for the classical parameters
         (Jacobi weights, unscaled corrections); NULL or "" for the shipped model (the default)

  Options Database Key:
. -pc_neuralmg_model <file> - the model file

  Note:
  The file is read at the next PCSetUp(). The scalings given as options (-pc_neuralmg_correction,
  -pc_neuralmg_correction_second, -pc_neuralmg_correction_exact, -pc_neuralmg_cheb_lower) override the
  model's.

  Level: intermediate

.seealso: `PCNEURALMG`
@*/
PetscErrorCode PCNeuralMGSetModel(PC pc, const char file[])
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(pc, PC_CLASSID, 1);
  PetscTryMethod(pc, "PCNeuralMGSetModel_C", (PC, const char[]), (pc, file));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  PCNeuralMGSetSmoothDegree - Sets the Chebyshev degree of each pre- and post-smoothing of PCNEURALMG.

  Logically Collective

  Input Parameters:
+ pc - the preconditioner
- k  - the degree (stencil applications per smoothing: k - 1 before the first coarse correction, k after)

  Options Database Key:
. -pc_neuralmg_smooth_degree <k> - the degree

  Level: intermediate

.seealso: `PCNEURALMG`
@*/
PetscErrorCode PCNeuralMGSetSmoothDegree(PC pc, PetscInt k)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(pc, PC_CLASSID, 1);
  PetscValidLogicalCollectiveInt(pc, k, 2);
  PetscTryMethod(pc, "PCNeuralMGSetSmoothDegree_C", (PC, PetscInt), (pc, k));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*MC
  PCNEURALMG - "neuralmg": a symmetric positive definite multigrid preconditioner for
  the 7-point cell-centred operators on a 3-D DMDA (loaded with -dll_append libdeepcd.so).

  At PCSetUp() it reads the stencil from the rows of the AIJ matrix on the DMDA of the PC
  (KSPSetDM()) or of the matrix (DMCreateMatrix()): the diagonal and the face couplings,
  symmetrised (a coupling that only one of its two rows has, as next to the Dirichlet rows
  of PETSc's ex45, is dropped). Rows without off-diagonal entries (solid cells, Dirichlet
  rows) are decoupled: z = r / a_ii. The remaining cells are coarsened by 2x2x2 aggregation
  (piecewise-constant P, R = P^T) with Galerkin coarse operators, which stay 7-point, down to
  a grid of at most -pc_neuralmg_coarse_size cells that is factored exactly (banded LDL^T on
  every rank; zero pivots of floating regions are dropped, so singular all-Neumann operators
  with their constant null spaces are handled). Each level is smoothed by Chebyshev
  polynomials in W A, W the per-cell weights (1/a_ii: Jacobi), on the interval
  [lower, 1] x the Gershgorin bound of W A, so the smoother converges in the A-norm by
  construction; pre- and post-smoothing use the same polynomial, so the cycle is a fixed,
  linear, symmetric positive definite operator, suitable for -ksp_type cg.

  All levels are matrix-free single-precision stencils on the ranks' boxes of the DMDA,
  padded by one cell of halo (PetscSF); coarse cells belong to the rank owning their first
  child, so DMDAs whose ownership ranges start at odd cells work too.

  Options Database Keys:
+ -pc_neuralmg_levels <n> - maximum number of levels
. -pc_neuralmg_coarse_size <1024> - coarsen until the grid has at most this many cells
. -pc_neuralmg_smooth_degree <2> - Chebyshev degree of each smoothing on the finest level
. -pc_neuralmg_smooth_degree_growth <2> - degree added per coarser level (cheap: a level has 1/8 of the cells)
. -pc_neuralmg_cheb_lower <0.2> - lower end of the Chebyshev interval (fraction of the bound)
. -pc_neuralmg_correction <2 (V), 2.5 (W)> - scaling of each (first) coarse-grid correction (over-correction for aggregation)
. -pc_neuralmg_correction_second <0.8> - scaling of the second correction of a W-cycle level
. -pc_neuralmg_correction_exact <correction (V), 1 (W)> - the same for the correction from the exact coarsest solve
- -pc_neuralmg_cycle_type <w,v> - the cycle (W: twice as robust on high-contrast coefficients; V: about 20% faster on smooth ones)

  Level: intermediate

.seealso: `PCMG`, `PCNeuralMGSetLevels()`, `PCNeuralMGSetCycleType()`, `PCNeuralMGSetSmoothDegree()`
M*/
PETSC_EXTERN PetscErrorCode PCCreate_NeuralMG(PC pc)
{
  PC_NeuralMG *nmg;

  PetscFunctionBegin;
  PetscCall(PetscNew(&nmg));
  pc->data           = (void *) nmg;
  nmg->maxlevels     = PETSC_DECIDE;
  nmg->coarse_size   = 1024;
  nmg->degree        = 2;
  nmg->degree_growth = 2;
  /* the option scalars are used only when given (the model's otherwise); until PCSetFromOptions()
     reads the model they show the classical values */
  NMGModelClassical(&nmg->model);
  NMGOptionDefaultsFromModel(nmg);
  nmg->cycle = PC_NEURALMG_CYCLE_W;

  pc->ops->setup          = PCSetUp_NeuralMG;
  pc->ops->apply          = PCApply_NeuralMG;
  pc->ops->applytranspose = PCApply_NeuralMG;
  pc->ops->reset          = PCReset_NeuralMG;
  pc->ops->destroy        = PCDestroy_NeuralMG;
  pc->ops->view           = PCView_NeuralMG;
  pc->ops->setfromoptions = PCSetFromOptions_NeuralMG;
  PetscCall(PetscObjectComposeFunction((PetscObject) pc, "PCNeuralMGSetLevels_C", PCNeuralMGSetLevels_NeuralMG));
  PetscCall(PetscObjectComposeFunction((PetscObject) pc, "PCNeuralMGGetLevels_C", PCNeuralMGGetLevels_NeuralMG));
  PetscCall(PetscObjectComposeFunction((PetscObject) pc, "PCNeuralMGSetCycleType_C", PCNeuralMGSetCycleType_NeuralMG));
  PetscCall(PetscObjectComposeFunction((PetscObject) pc, "PCNeuralMGSetSmoothDegree_C", PCNeuralMGSetSmoothDegree_NeuralMG));
  PetscCall(PetscObjectComposeFunction((PetscObject) pc, "PCNeuralMGSetModel_C", PCNeuralMGSetModel_NeuralMG));
  PetscFunctionReturn(PETSC_SUCCESS);
}
