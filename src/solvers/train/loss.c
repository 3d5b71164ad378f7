/* The DCDM loss of one sample through the operator (docs/training.md) and the
   float <-> Vec copies it shares with the smoother in the loop. */
#include <petsc/private/petscimpl.h>
#include <petscmat.h>
#include <deepcd/private/trainimpl.h>
#include <deepcd/private/petsccompat.h>

PetscErrorCode DeepCDTrainVecFromFloat(Vec v, const float a[])
{
  PetscScalar *p;
  PetscInt     n;

  PetscFunctionBegin;
  PetscCall(VecGetLocalSize(v, &n));
  PetscCall(VecGetArrayWrite(v, &p));
  for (PetscInt i = 0; i < n; i++) p[i] = a[i];
  PetscCall(VecRestoreArrayWrite(v, &p));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode DeepCDTrainVecToFloat(Vec v, float a[])
{
  const PetscScalar *p;
  PetscInt           n;

  PetscFunctionBegin;
  PetscCall(VecGetLocalSize(v, &n));
  PetscCall(VecGetArrayRead(v, &p));
  for (PetscInt i = 0; i < n; i++) a[i] = (float) PetscRealPart(p[i]);
  PetscCall(VecRestoreArrayRead(v, &p));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* L and dL/dq for one sample; v = 5 work vectors of A's size. */
PetscErrorCode DeepCDTrainLossEval(Mat A, Vec v[5], const float b[], const float q[], PetscReal *loss, float dq[], PetscBool *degenerate)
{
  Vec       vb = v[0], vq = v[1], y = v[2], r = v[3], w = v[4];
  PetscInt  n;
  PetscReal s, t, alpha, ry;

  PetscFunctionBegin;
  PetscCall(VecGetLocalSize(vb, &n));
  PetscCall(DeepCDTrainVecFromFloat(vb, b));
  PetscCall(DeepCDTrainVecFromFloat(vq, q));
  PetscCall(MatMult(A, vq, y));
  PetscCall(VecDot(vq, vb, &s));
  PetscCall(VecDot(vq, y, &t));
  *degenerate = (t > 0 && PetscIsNormalReal(t) && PetscIsNormalReal(s)) || (t > 0 && s == 0) ? PETSC_FALSE : PETSC_TRUE;
  if (*degenerate) {
    PetscCall(VecDot(vb, vb, loss));
    if (dq) PetscCall(PetscArrayzero(dq, n));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  alpha = s / t;
  PetscCall(VecWAXPY(r, -alpha, y, vb)); /* r = b - alpha A q */
  PetscCall(VecDot(r, r, loss));
  if (!dq) PetscFunctionReturn(PETSC_SUCCESS);
  /* dL/dq = -2 alpha A r - 2 (r.y) (b / t - 2 s y / t^2) */
  PetscCall(MatMult(A, r, w));
  PetscCall(VecDot(r, y, &ry));
  {
    const PetscScalar *pw, *py, *pbb;

    PetscCall(VecGetArrayRead(w, &pw));
    PetscCall(VecGetArrayRead(y, &py));
    PetscCall(VecGetArrayRead(vb, &pbb));
    for (PetscInt i = 0; i < n; i++) dq[i] = (float) (-2 * alpha * pw[i] - 2 * ry * (pbb[i] / t - 2 * s * py[i] / (t * t)));
    PetscCall(VecRestoreArrayRead(w, &pw));
    PetscCall(VecRestoreArrayRead(y, &py));
    PetscCall(VecRestoreArrayRead(vb, &pbb));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDTrainLoss - The DCDM loss of one sample and its gradient.

  Collective on A (A must be sequential)

  Input Parameters:
+ A - the operator
. b - the right-hand side, natural order
- q - the network's output f(b)

  Output Parameters:
+ loss       - L = ||b - (q.b / q.Aq) A q||_2^2, in float64
. dq         - dL/dq (NULL: not computed)
- degenerate - PETSC_TRUE when q.Aq <= 0 or not finite: then L = ||b||^2 and dq = 0

  Notes:
  L is invariant to the scale of q, so dq is orthogonal to q. The loop in
  DeepCDTrain() calls the same code with work vectors made once.

  Level: developer

.seealso: `DeepCDTrain()`
@*/
PetscErrorCode DeepCDTrainLoss(Mat A, const float b[], const float q[], PetscReal *loss, float dq[], PetscBool *degenerate)
{
  Vec       v[5];
  PetscBool deg = PETSC_FALSE;

  PetscFunctionBegin;
  PetscValidHeaderSpecific(A, MAT_CLASSID, 1);
  PetscCall(MatCreateVecs(A, &v[0], NULL));
  for (int i = 1; i < 5; i++) PetscCall(VecDuplicate(v[0], &v[i]));
  PetscCall(DeepCDTrainLossEval(A, v, b, q, loss, dq, &deg));
  if (degenerate) *degenerate = deg;
  for (int i = 0; i < 5; i++) PetscCall(VecDestroy(&v[i]));
  PetscFunctionReturn(PETSC_SUCCESS);
}
