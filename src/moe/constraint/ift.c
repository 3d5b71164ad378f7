/* The backward pass through one expert's Levenberg-Marquardt solve by the
   implicit function theorem (see deepcd/moe_constraint.h). */
#include <deepcd/private/moeimpl.h>
#include <petscblaslapack.h>
#include <deepcd/private/petsccompat.h>

/*@C
  DeepCDMoeConstraintBackward - Pulls dL/dw of a solved constraint back to dL/dB without unrolling the solve.

  Not Collective

  Input Parameters:
+ c    - the constraint, with the basis of the forward solve
. w    - the solution w* of the forward solve
. type - DEEPCD_MOE_HESSIAN_EXACT (the reference) or DEEPCD_MOE_HESSIAN_GN
- wbar - dL/dw* (N)

  Output Parameter:
. Bbar - dL/dB through w* is ADDED to it (row-major nx*nt x N)

  Notes:
  w* satisfies G(w*, B) = J^T r + ridge^2 w* = 0. Differentiating gives
  dw* / dB = -H^{-1} dG/dB with H = dG/dw, so dL/dB = (dG/dB)^T v with
  H v = -wbar. H is the exact Hessian of 1/2 ||r||^2 or its Gauss-Newton
  part (exact for a linear problem; an approximation otherwise, good when
  the residual at w* is small). The N x N system is solved by LAPACK gesv
  (LU: the exact Hessian need not be definite away from a minimum). The
  result is exact for an exact minimiser; with an inexact w* its error is
  of the order of ||w - w*||.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeConstraintBackward(DeepCDMoeConstraint c, const PetscReal w[], DeepCDMoeHessianType type, const PetscReal wbar[], PetscReal Bbar[])
{
  const PetscInt N = c->N;
  PetscReal     *H, *v;
  PetscBLASInt   bN, one = 1, *piv, lierr;

  PetscFunctionBegin;
  PetscCall(PetscBLASIntCast(N, &bN));
  PetscCall(PetscMalloc3(N * N, &H, N, &v, N, &piv));
  PetscCall(DeepCDMoeConstraintNormal(c, w, type, NULL, NULL, H));
  for (PetscInt l = 0; l < N; l++) v[l] = -wbar[l];
  PetscCallBLAS("LAPACKgesv", LAPACKgesv_(&bN, &one, H, &bN, piv, v, &bN, &lierr));
  PetscCheck(lierr >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "LAPACK gesv: info %d", (int) lierr);
  PetscCheck(lierr == 0, PETSC_COMM_SELF, PETSC_ERR_MAT_LU_ZRPVT, "moe backward: the %s Hessian in w is singular (zero pivot %d)", DeepCDMoeHessianTypes[type], (int) lierr);
  PetscCall(PetscLogFlops(2.0 * N * N * N / 3.0 + 2.0 * N * N));
  PetscCall(DeepCDMoeConstraintBasisVJP(c, w, v, Bbar));
  PetscCall(PetscFree3(H, v, piv));
  PetscFunctionReturn(PETSC_SUCCESS);
}
