/* Levenberg-Marquardt on one expert's stacked residual, with LAPACK Cholesky
   for the N x N damped normal equations (see deepcd/moe_constraint.h). */
#include <stdio.h>
#include <deepcd/private/moeimpl.h>
#include <petscblaslapack.h>
#include <deepcd/private/petsccompat.h>

/*@C
  DeepCDMoeLMOptionsDefault - Default Levenberg-Marquardt settings: 50 steps (the paper's cap), gatol 1e-10, grtol 0, xrtol 1e-12, tau 1e-6 (jaxopt's initial damping factor), w0 0, Gauss-Newton steps.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeLMOptionsDefault(DeepCDMoeLMOptions *o)
{
  PetscFunctionBegin;
  o->max_it  = 50;
  o->gatol   = 1e-10;
  o->grtol   = 0.0;
  o->xrtol   = 1e-12;
  o->tau     = 1e-6;
  o->w0      = 0.0;
  o->hessian = DEEPCD_MOE_HESSIAN_GN;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeLMOptionsSetFromOptions - Reads -moe_lm_max_it, -moe_lm_gatol, -moe_lm_grtol, -moe_lm_xrtol, -moe_lm_tau, -moe_lm_w0 and -moe_lm_hessian gn|exact.

  Not Collective

  Input Parameters:
+ prefix - an options prefix, or NULL
- o      - the settings to update

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeLMOptionsSetFromOptions(const char prefix[], DeepCDMoeLMOptions *o)
{
  char g[32];

  PetscFunctionBegin;
  PetscOptionsBegin(PETSC_COMM_SELF, prefix, "moe Levenberg-Marquardt options", NULL);
  PetscCall(PetscOptionsInt("-moe_lm_max_it", "Step cap (accepted and rejected)", "DeepCDMoeLMSolve", o->max_it, &o->max_it, NULL));
  PetscCall(PetscOptionsReal("-moe_lm_gatol", "Absolute tolerance on ||J^T r||_inf", "DeepCDMoeLMSolve", o->gatol, &o->gatol, NULL));
  PetscCall(PetscOptionsReal("-moe_lm_grtol", "Tolerance on ||J^T r||_inf relative to its initial value", "DeepCDMoeLMSolve", o->grtol, &o->grtol, NULL));
  PetscCall(PetscOptionsReal("-moe_lm_xrtol", "Relative tolerance on the step", "DeepCDMoeLMSolve", o->xrtol, &o->xrtol, NULL));
  PetscCall(PetscOptionsReal("-moe_lm_tau", "Initial damping relative to max diag(J^T J)", "DeepCDMoeLMSolve", o->tau, &o->tau, NULL));
  PetscCall(PetscOptionsReal("-moe_lm_w0", "Initial value of every weight", "DeepCDMoeLMSolve", o->w0, &o->w0, NULL));
  PetscCall(PetscOptionsEnum("-moe_lm_hessian", "Hessian of the damped step", "DeepCDMoeLMSolve", DeepCDMoeHessianTypes, (PetscEnum) o->hessian, (PetscEnum *) &o->hessian, NULL));
  PetscOptionsEnd();
  PetscCheck(o->max_it >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-moe_lm_max_it %" PetscInt_FMT ": must be >= 0", o->max_it);
  PetscCheck(o->tau > 0.0 && !PetscIsInfOrNanReal(o->tau), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-moe_lm_tau %s: must be finite and > 0", DeepCDFormatG(g, (double) o->tau));
  PetscCheck(o->gatol >= 0.0 && !PetscIsInfOrNanReal(o->gatol), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-moe_lm_gatol %s: must be finite and >= 0", DeepCDFormatG(g, (double) o->gatol));
  PetscCheck(o->grtol >= 0.0 && !PetscIsInfOrNanReal(o->grtol), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-moe_lm_grtol %s: must be finite and >= 0", DeepCDFormatG(g, (double) o->grtol));
  PetscCheck(o->xrtol >= 0.0 && !PetscIsInfOrNanReal(o->xrtol), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-moe_lm_xrtol %s: must be finite and >= 0", DeepCDFormatG(g, (double) o->xrtol));
  PetscCheck(!PetscIsInfOrNanReal(o->w0), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-moe_lm_w0 %s: must be finite", DeepCDFormatG(g, (double) o->w0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeLMReasonName - The name of a Levenberg-Marquardt stopping reason.

  Not Collective

  Level: intermediate
@*/
const char *DeepCDMoeLMReasonName(DeepCDMoeLMReason r)
{
  switch (r) {
  case DEEPCD_MOE_LM_ITERATING: return "ITERATING";
  case DEEPCD_MOE_LM_CONVERGED_GTOL: return "CONVERGED_GTOL";
  case DEEPCD_MOE_LM_CONVERGED_STEP: return "CONVERGED_STEP";
  case DEEPCD_MOE_LM_DIVERGED_MAXIT: return "DIVERGED_MAXIT";
  case DEEPCD_MOE_LM_DIVERGED_DAMPING: return "DIVERGED_DAMPING";
  case DEEPCD_MOE_LM_DIVERGED_NANORINF: return "DIVERGED_NANORINF";
  }
  return "UNKNOWN";
}

static PetscReal norminf(PetscInt n, const PetscReal x[])
{
  PetscReal s = 0.0;
  for (PetscInt i = 0; i < n; i++) s = PetscMax(s, PetscAbsReal(x[i]));
  return s;
}

/* The single expert as a DeepCDMoeLMProblem: the current residual r and the trial one rn, compared row by row. */
typedef struct {
  DeepCDMoeConstraint c;
  PetscReal          *r, *rn;
} LMOne;

static PetscErrorCode one_start(void *ctx, const PetscReal w[])
{
  LMOne *s = (LMOne *) ctx;

  PetscFunctionBegin;
  PetscCall(DeepCDMoeConstraintResidual(s->c, w, s->r));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode one_normal(void *ctx, const PetscReal w[], DeepCDMoeHessianType type, PetscReal *f, PetscReal g[], PetscReal H[])
{
  PetscFunctionBegin;
  PetscCall(DeepCDMoeConstraintNormal(((LMOne *) ctx)->c, w, type, f, g, H));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode one_trial(void *ctx, const PetscReal wn[], PetscReal *actual)
{
  LMOne         *s    = (LMOne *) ctx;
  const PetscInt mall = s->c->m + s->c->N;
  PetscReal      a    = 0.0;

  PetscFunctionBegin;
  PetscCall(DeepCDMoeConstraintResidual(s->c, wn, s->rn));
  for (PetscInt k = 0; k < mall; k++) a += (s->r[k] - s->rn[k]) * (s->r[k] + s->rn[k]); /* f(w) - f(w + dw), row by row */
  *actual = 0.5 * a;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode one_accept(void *ctx)
{
  LMOne     *s    = (LMOne *) ctx;
  PetscReal *swap = s->r;

  PetscFunctionBegin;
  s->r  = s->rn; /* the trial residual becomes the current one */
  s->rn = swap;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeLMSolve - Minimises 1/2 ||r(w)||^2 of one expert by Levenberg-Marquardt.

  Not Collective

  Input Parameters:
+ c - the constraint, with its basis set
- o - the settings (NULL: DeepCDMoeLMOptionsDefault())

  Output Parameters:
+ w    - the weights (N): start from o->w0 in every entry, end at the last accepted iterate
- info - iterations, final objective and gradient norm, reason (may be NULL)

  Notes:
  Each step solves (H + mu I) dw = -J^T r by Cholesky (LAPACK potrf/potrs),
  H = J^T J + ridge^2 I (classical LM, the default and the reference) or the
  exact Hessian (o->hessian; a damped Newton step, quadratic near a
  minimum whatever the residual; a factorisation that fails because H + mu I
  is indefinite counts as a rejected step). The damping starts at
  mu = tau max |diag H| (at 0 for a linear problem, whose first step then
  solves the least-squares problem exactly) and
  follows Nielsen's rule: after an accepted step
  with gain ratio rho, mu *= max(1/3, 1 - (2 rho - 1)^3); after a rejected
  one mu *= nu, nu *= 2. The actual decrease is summed row by row,
  1/2 sum (r_k - r'_k)(r_k + r'_k); once the model's predicted decrease is
  below the rounding level of f, a step is accepted when it lowers
  ||J^T r||_inf instead, so that the iteration goes on to the gradient's
  own rounding level. An accepted step recomputes H (never for a linear
  problem); a rejected one only refactors. Stops
  when ||J^T r||_inf <= gatol + grtol ||J^T r(w0)||_inf (CONVERGED_GTOL),
  when a step is below xrtol (||w||_inf + xrtol) (CONVERGED_STEP), or after
  max_it steps (DIVERGED_MAXIT). Not reaching a tolerance is reported, not
  raised, as in the reference.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeLMSolve(DeepCDMoeConstraint c, const DeepCDMoeLMOptions *o, PetscReal w[], DeepCDMoeLMInfo *info)
{
  const PetscInt     mall = c->m + c->N;
  LMOne              s    = { c, NULL, NULL };
  DeepCDMoeLMProblem p    = { 0 };
  PetscReal         *r;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(2 * mall, &r));
  s.r      = r;
  s.rn     = r + mall;
  p.n      = c->N;
  p.fixedH = c->pde->linear; /* H = J^T J + ridge^2 I (exact = Gauss-Newton) does not depend on w */
  p.ctx    = &s;
  p.start  = one_start;
  p.normal = one_normal;
  p.trial  = one_trial;
  p.accept = one_accept;
  PetscCall(DeepCDMoeLMIterate(&p, o, w, info));
  PetscCall(PetscFree(r));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The iteration of DeepCDMoeLMSolve() on any least-squares problem given by its callbacks (one expert, or the coupled experts of coupling.c). */
PetscErrorCode DeepCDMoeLMIterate(const DeepCDMoeLMProblem *p, const DeepCDMoeLMOptions *o, PetscReal w[], DeepCDMoeLMInfo *info)
{
  DeepCDMoeLMOptions def;
  const PetscInt     N = p->n;
  PetscReal         *g, *gn, *H, *A, *dw, *wn, f, gnorm, g0, mu, mu0, nu = 2.0, maxdiag = 0.0;
  PetscInt           its = 0, accepted = 0;
  DeepCDMoeLMReason  reason = DEEPCD_MOE_LM_ITERATING;
  PetscBLASInt       bN, one = 1, lierr;
  const PetscBool    fixedH = p->fixedH;

  PetscFunctionBegin;
  if (!o) {
    PetscCall(DeepCDMoeLMOptionsDefault(&def));
    o = &def;
  }
  PetscCall(PetscBLASIntCast(N, &bN));
  PetscCall(PetscMalloc5(2 * N, &g, N * N, &H, N * N, &A, N, &dw, N, &wn));
  gn = g + N;
  for (PetscInt l = 0; l < N; l++) w[l] = o->w0;
  PetscCall((*p->normal)(p->ctx, w, o->hessian, &f, g, H));
  PetscCall((*p->start)(p->ctx, w));
  gnorm = g0 = norminf(N, g);
  if (PetscIsInfOrNanReal(f) || PetscIsInfOrNanReal(gnorm))
    reason = DEEPCD_MOE_LM_DIVERGED_NANORINF;
  else if (gnorm <= o->gatol + o->grtol * g0)
    reason = DEEPCD_MOE_LM_CONVERGED_GTOL;
  for (PetscInt l = 0; l < N; l++) maxdiag = PetscMax(maxdiag, PetscAbsReal(H[l + l * N]));
  mu0 = o->tau * (maxdiag > 0.0 ? maxdiag : 1.0);
  mu  = fixedH ? 0.0 : mu0; /* the model of a linear problem is exact: try the undamped step first */
  while (reason == DEEPCD_MOE_LM_ITERATING) {
    PetscReal pred = 0.0, actual = 0.0, rho = 0.0, dwnorm = 0.0, tolx = 0.0;
    PetscBool ok = PETSC_FALSE, tiny = PETSC_FALSE;

    if (its >= o->max_it) {
      reason = DEEPCD_MOE_LM_DIVERGED_MAXIT;
      break;
    }
    its++;
    PetscCall(PetscArraycpy(A, H, N * N));
    for (PetscInt l = 0; l < N; l++) A[l + l * N] += mu;
    PetscCallBLAS("LAPACKpotrf", LAPACKpotrf_("L", &bN, A, &bN, &lierr));
    if (!lierr) { /* else H + mu I is not numerically positive definite: damp more */
      for (PetscInt l = 0; l < N; l++) dw[l] = -g[l];
      PetscCallBLAS("LAPACKpotrs", LAPACKpotrs_("L", &bN, &one, A, &bN, dw, &bN, &lierr));
      PetscCheck(!lierr, PETSC_COMM_SELF, PETSC_ERR_LIB, "LAPACK potrs: info %d", (int) lierr);
      PetscCall(PetscLogFlops(N * N * N / 3.0 + 2.0 * N * N));
      for (PetscInt l = 0; l < N; l++) wn[l] = w[l] + dw[l];
      PetscCall((*p->trial)(p->ctx, wn, &actual));
      for (PetscInt l = 0; l < N; l++) pred += dw[l] * (mu * dw[l] - g[l]); /* decrease of the quadratic model */
      pred *= 0.5;
      dwnorm = norminf(N, dw);
      tolx   = o->xrtol * (norminf(N, w) + o->xrtol);
      tiny   = (PetscBool) (pred > 0.0 && pred <= 64.0 * PETSC_MACHINE_EPSILON * f);
      if (!PetscIsInfOrNanReal(actual) && pred > 0.0) {
        rho = actual / pred;
        ok  = (PetscBool) (rho > 0.0);
      }
      if (tiny) { /* the gain ratio is rounding noise: judge the step by the gradient */
        PetscCall((*p->normal)(p->ctx, wn, o->hessian, NULL, gn, NULL));
        ok  = (PetscBool) (norminf(N, gn) < gnorm);
        rho = 1.0;
      }
    }
    if (ok) {
      const PetscReal t = 2.0 * rho - 1.0;

      accepted++;
      PetscCall((*p->accept)(p->ctx));
      PetscCall(PetscArraycpy(w, wn, N));
      PetscCall((*p->normal)(p->ctx, w, o->hessian, &f, g, fixedH ? NULL : H));
      gnorm = norminf(N, g);
      mu *= PetscMax(1.0 / 3.0, 1.0 - t * t * t);
      nu = 2.0;
      if (PetscIsInfOrNanReal(gnorm))
        reason = DEEPCD_MOE_LM_DIVERGED_NANORINF;
      else if (gnorm <= o->gatol + o->grtol * g0)
        reason = DEEPCD_MOE_LM_CONVERGED_GTOL;
      else if (dwnorm <= tolx)
        reason = DEEPCD_MOE_LM_CONVERGED_STEP;
      continue;
    }
    if (!lierr && dwnorm <= tolx) {
      reason = DEEPCD_MOE_LM_CONVERGED_STEP;
      break;
    }
    mu = mu > 0.0 ? mu * nu : mu0;
    nu *= 2.0;
    if (mu > 1e300 || PetscIsInfOrNanReal(mu)) reason = DEEPCD_MOE_LM_DIVERGED_DAMPING;
  }
  if (info) {
    info->its      = its;
    info->accepted = accepted;
    info->f        = f;
    info->gnorm    = gnorm;
    info->reason   = reason;
  }
  PetscCall(PetscFree5(g, H, A, dw, wn));
  PetscFunctionReturn(PETSC_SUCCESS);
}
