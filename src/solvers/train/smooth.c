/* The smoother in the training loop (deepcd train --smooth N).

   The solver run as `-ksp_deepcd_smooth N -ksp_deepcd_smooth_ksp_type
   chebyshev -pc_type jacobi` does not use the network's output q0 = f(b)
   as it is: it scales it to its A-norm-optimal length for b and runs N
   Chebyshev/Jacobi iterations on A d = b from there (KSPDeepCDSmooth in
   ksp_deepcd.c). Trained alone, the network spends its capacity on the
   high-frequency error that those iterations remove anyway. With --smooth N
   the loss is taken on the direction the solver uses,

     d = S(q0) = alpha P q0 + c(b),   alpha = (q0.b) / (q0.A q0),

   where P = p(D^-1 A) is the error polynomial of the N iterations (fixed
   once the Chebyshev bounds are estimated for A) and c(b) their result from
   a zero guess. The gradient goes back through S:

     dL/dq0 = alpha P^T g + (P q0 . g) (b / t - 2 s A q0 / t^2),

   g = dL/dd, s = q0.b, t = q0.A q0, and P^T = D p(D^-1 A) D^-1 because A
   and D are symmetric, so P^T g and P q0 are two more runs of the same
   smoother with a zero right-hand side. The smoother is a PETSc KSP made by
   KSPDeepCDSmootherConfigure(), of type Chebyshev with PC Jacobi on the
   training operator: the very iteration the solver runs. */
#include <math.h>
#include <petsc/private/petscimpl.h>
#include <deepcd/ksp.h>
#include <deepcd/private/trainimpl.h>
#include <deepcd/private/petsccompat.h>

PetscErrorCode DeepCDTrainSmootherSetUp(Mat A, PetscInt n, TrainSmoother *s)
{
  PC pc;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(s, sizeof(*s)));
  s->n = n;
  if (!n) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(KSPCreate(PetscObjectComm((PetscObject) A), &s->ksp));
  PetscCall(KSPSetOperators(s->ksp, A, A));
  PetscCall(KSPGetPC(s->ksp, &pc));
  PetscCall(PCSetType(pc, PCJACOBI));
  PetscCall(KSPDeepCDSmootherConfigure(s->ksp, n));
  PetscCall(KSPSetType(s->ksp, KSPCHEBYSHEV));
  PetscCall(KSPSetUp(s->ksp));
  PetscCall(MatCreateVecs(A, &s->b, NULL));
  PetscCall(VecDuplicate(s->b, &s->q0));
  PetscCall(VecDuplicate(s->b, &s->y0));
  PetscCall(VecDuplicate(s->b, &s->g));
  PetscCall(VecDuplicate(s->b, &s->u));
  PetscCall(VecDuplicate(s->b, &s->w));
  PetscCall(VecDuplicate(s->b, &s->zero));
  PetscCall(VecDuplicate(s->b, &s->diag));
  PetscCall(VecSet(s->zero, 0.0));
  PetscCall(MatGetDiagonal(A, s->diag));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDTrainSmootherDestroy(TrainSmoother *s)
{
  PetscFunctionBegin;
  PetscCall(KSPDestroy(&s->ksp));
  PetscCall(VecDestroy(&s->b));
  PetscCall(VecDestroy(&s->q0));
  PetscCall(VecDestroy(&s->y0));
  PetscCall(VecDestroy(&s->g));
  PetscCall(VecDestroy(&s->u));
  PetscCall(VecDestroy(&s->w));
  PetscCall(VecDestroy(&s->zero));
  PetscCall(VecDestroy(&s->diag));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDTrainSmootherForward(TrainSmoother *s, Mat A, const float b[], float q[])
{
  PetscScalar sv, tv;

  PetscFunctionBegin;
  s->smoothed = PETSC_FALSE;
  if (!s->n) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(DeepCDTrainVecFromFloat(s->b, b));
  PetscCall(DeepCDTrainVecFromFloat(s->q0, q));
  PetscCall(MatMult(A, s->q0, s->y0));
  PetscCall(VecDot(s->q0, s->b, &sv));
  PetscCall(VecDot(s->q0, s->y0, &tv));
  s->s = PetscRealPart(sv);
  s->t = PetscRealPart(tv);
  /* as in KSPDeepCDSmooth: a direction with q.Aq <= 0 is left as it is (the loss calls it degenerate) */
  if (!(s->t > 0 && PetscIsNormalReal(s->t) && !PetscIsInfOrNanReal(s->s))) PetscFunctionReturn(PETSC_SUCCESS);
  s->alpha = s->s / s->t;
  PetscCall(VecAXPBY(s->g, s->alpha, 0.0, s->q0)); /* g is the iterate here: alpha q0 */
  PetscCall(KSPSolve(s->ksp, s->b, s->g));
  PetscCall(DeepCDTrainVecToFloat(s->g, q));
  s->smoothed = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDTrainSmootherBackward(TrainSmoother *s, float dq[])
{
  PetscScalar c;

  PetscFunctionBegin;
  if (!s->n || !s->smoothed) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(DeepCDTrainVecFromFloat(s->g, dq));
  /* u = P^T g = D p(D^-1 A) D^-1 g */
  PetscCall(VecPointwiseDivide(s->u, s->g, s->diag));
  PetscCall(KSPSolve(s->ksp, s->zero, s->u));
  PetscCall(VecPointwiseMult(s->u, s->u, s->diag));
  /* c = (P q0) . g */
  PetscCall(VecCopy(s->q0, s->w));
  PetscCall(KSPSolve(s->ksp, s->zero, s->w));
  PetscCall(VecDot(s->w, s->g, &c));
  /* dL/dq0 = alpha u + c (b / t - 2 s y0 / t^2) */
  PetscCall(VecAXPBYPCZ(s->u, PetscRealPart(c) / s->t, -2.0 * PetscRealPart(c) * s->s / (s->t * s->t), s->alpha, s->b, s->y0));
  PetscCall(DeepCDTrainVecToFloat(s->u, dq));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDTrainLossSmoothed - The DCDM loss of one sample taken on the smoothed
  direction, and its gradient with respect to the network's output.

  Collective on A (A must be sequential)

  Input Parameters:
+ A - the operator
. n - Chebyshev/Jacobi smoothing iterations (0: DeepCDTrainLoss() itself)
. b - the right-hand side, natural order
- q - the network's output f(b)

  Output Parameters:
+ loss       - L(S(q)), S as `-ksp_deepcd_smooth n -ksp_deepcd_smooth_ksp_type chebyshev -pc_type jacobi` applies it
. dq         - dL/dq through S (NULL: not computed)
- degenerate - as in DeepCDTrainLoss()

  Level: developer

.seealso: `DeepCDTrainLoss()`, `DeepCDTrain()`, `KSPDeepCDSetSmooth()`
@*/
PetscErrorCode DeepCDTrainLossSmoothed(Mat A, PetscInt n, const float b[], const float q[], PetscReal *loss, float dq[], PetscBool *degenerate)
{
  TrainSmoother s;
  PetscInt      m;
  float        *d;

  PetscFunctionBegin;
  PetscValidHeaderSpecific(A, MAT_CLASSID, 1);
  PetscCheck(n >= 0, PetscObjectComm((PetscObject) A), PETSC_ERR_ARG_OUTOFRANGE, "smoothing iterations %" PetscInt_FMT ": must be >= 0", n);
  PetscCall(MatGetLocalSize(A, &m, NULL));
  PetscCall(PetscMalloc1(m, &d));
  PetscCall(PetscArraycpy(d, q, m));
  PetscCall(DeepCDTrainSmootherSetUp(A, n, &s));
  PetscCall(DeepCDTrainSmootherForward(&s, A, b, d));
  PetscCall(DeepCDTrainLoss(A, b, d, loss, dq, degenerate));
  if (dq) PetscCall(DeepCDTrainSmootherBackward(&s, dq));
  PetscCall(DeepCDTrainSmootherDestroy(&s));
  PetscCall(PetscFree(d));
  PetscFunctionReturn(PETSC_SUCCESS);
}
