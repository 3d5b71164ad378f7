/* The basis network evaluated at the grid points one rank's experts read,
   and its gradient summed over ranks (see deepcd/moe_experts.h). */
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

/*@C
  DeepCDMoeExpertsBasisForward - Evaluates the basis network for this rank's points (DeepCDMoeExpertsGetPoints()) and writes their rows of the whole-grid basis.

  Not Collective

  Input Parameters:
+ e     - the experts, set up
. bb    - the network (N outputs)
- theta - its parameters (the same on every rank)

  Output Parameter:
. B - row-major nx*ny*nt x N; rows of other points are untouched

  Notes:
  The inputs are the backbone's features of the problem's current instance
  (DeepCDMoeBackboneInputs()). A pointwise backbone (mlp) evaluates only
  these points; the FNO evaluates the whole grid on every rank. The
  backbone keeps this pass for DeepCDMoeExpertsBasisBackward().

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsBasisForward(DeepCDMoeExperts e, DeepCDMoeBackbone bb, const PetscReal theta[], PetscReal B[])
{
  const PetscInt N = e->N, n = e->npts;
  PetscInt       nin, nout;
  PetscReal     *X, *Y;

  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  PetscCall(DeepCDMoeBackboneGetSizes(bb, &nin, &nout, NULL));
  PetscCheck(nout == N, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "moe basis network has %" PetscInt_FMT " outputs; the experts need %" PetscInt_FMT, nout, N);
  PetscCall(PetscMalloc2(DeepCDMoeGridSize(&e->grid) * nin, &X, n * N, &Y));
  PetscCall(DeepCDMoeBackboneInputs(bb, &e->grid, e->pde, X));
  PetscCall(DeepCDMoeBackboneForward(bb, X, theta, n, e->pts, Y));
  for (PetscInt k = 0; k < n; k++) PetscCall(PetscArraycpy(B + e->pts[k] * N, Y + k * N, N));
  PetscCall(PetscFree2(X, Y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsBasisBackward - The gradient of the loss in the network parameters, summed over the experts' ranks.

  Collective

  Input Parameters:
+ e     - the experts
. bb    - the network, after DeepCDMoeExpertsBasisForward()
. theta - its parameters
- Bbar  - dL/dB of this rank (from DeepCDMoeExpertsBackward(); rows of this rank's points are read)

  Output Parameter:
. thetabar - dL/dtheta, the sum over ranks (MPI_Allreduce), the same on every rank; it is SET, not added to

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsBasisBackward(DeepCDMoeExperts e, DeepCDMoeBackbone bb, const PetscReal theta[], const PetscReal Bbar[], PetscReal thetabar[])
{
  PetscInt nth;

  PetscFunctionBegin;
  PetscCall(DeepCDMoeBackboneGetSizes(bb, NULL, NULL, &nth));
  PetscCall(PetscArrayzero(thetabar, nth));
  PetscCall(DeepCDMoeExpertsBasisBackwardLocal(e, bb, theta, Bbar, thetabar));
  PetscCall(DeepCDMoeExpertsAllreduce(e, nth, thetabar));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsBasisBackwardLocal - This rank's share of the gradient of the loss in the network parameters, not summed over ranks.

  Not Collective

  Input Parameters:
+ e     - the experts
. bb    - the network, after DeepCDMoeExpertsBasisForward()
. theta - its parameters
- Bbar  - dL/dB of this rank (rows of this rank's points are read)

  Output Parameter:
. thetabar - this rank's dL/dtheta is ADDED to it

  Notes:
  Lets a caller accumulate several instances before one DeepCDMoeExpertsAllreduce().

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsBasisBackwardLocal(DeepCDMoeExperts e, DeepCDMoeBackbone bb, const PetscReal theta[], const PetscReal Bbar[], PetscReal thetabar[])
{
  const PetscInt N = e->N, n = e->npts;
  PetscReal     *Ybar;

  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  PetscCall(PetscMalloc1(n * N, &Ybar));
  for (PetscInt k = 0; k < n; k++) PetscCall(PetscArraycpy(Ybar + k * N, Bbar + e->pts[k] * N, N));
  PetscCall(DeepCDMoeBackboneBackward(bb, theta, Ybar, thetabar));
  PetscCall(PetscFree(Ybar));
  PetscFunctionReturn(PETSC_SUCCESS);
}
