/* The basis network evaluated at the grid points one rank's experts read,
   and its gradient summed over ranks (see deepcd/moe_experts.h). */
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

/*@C
  DeepCDMoeExpertsBasisForward - Evaluates the basis network at this rank's points (DeepCDMoeExpertsGetPoints()) and writes their rows of the whole-grid basis.

  Not Collective

  Input Parameters:
+ e     - the experts, set up
. mlp   - the network: 2 + (number of problem parameters) inputs, N outputs
- theta - its parameters (the same on every rank)

  Output Parameter:
. B - row-major nx*nt x N; rows of other points are untouched

  Notes:
  The network's inputs are (x, t) mapped to [-1, 1] and the problem's
  current parameters (DeepCDMoeGridInputs()). The network keeps this batch
  for DeepCDMoeExpertsBasisBackward().

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsBasisForward(DeepCDMoeExperts e, DeepCDMoeMLP mlp, const PetscReal theta[], PetscReal B[])
{
  const PetscInt N = e->N, n = e->npts;
  PetscInt       nin, nout;
  PetscReal     *X, *Y;

  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  PetscCall(DeepCDMoeMLPGetSizes(mlp, &nin, &nout, NULL));
  PetscCheck(nin == 2 + e->pde->nparam && nout == N, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "moe basis network has %" PetscInt_FMT " inputs and %" PetscInt_FMT " outputs; the experts need %" PetscInt_FMT " and %" PetscInt_FMT, nin, nout, 2 + e->pde->nparam, N);
  PetscCall(PetscMalloc2(n * nin, &X, n * N, &Y));
  PetscCall(DeepCDMoeGridInputs(&e->grid, n, e->pts, e->pde->nparam, e->pde->param, X));
  PetscCall(DeepCDMoeMLPForward(mlp, n, X, theta, Y));
  for (PetscInt k = 0; k < n; k++) PetscCall(PetscArraycpy(B + e->pts[k] * N, Y + k * N, N));
  PetscCall(PetscFree2(X, Y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsBasisBackward - The gradient of the loss in the network parameters, summed over the experts' ranks.

  Collective

  Input Parameters:
+ e     - the experts
. mlp   - the network, after DeepCDMoeExpertsBasisForward()
. theta - its parameters
- Bbar  - dL/dB of this rank (from DeepCDMoeExpertsBackward(); rows of this rank's points are read)

  Output Parameter:
. thetabar - dL/dtheta, the sum over ranks (MPI_Allreduce), the same on every rank; it is SET, not added to

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsBasisBackward(DeepCDMoeExperts e, DeepCDMoeMLP mlp, const PetscReal theta[], const PetscReal Bbar[], PetscReal thetabar[])
{
  const PetscInt N = e->N, n = e->npts;
  PetscInt       nth;
  PetscReal     *Ybar;

  PetscFunctionBegin;
  PetscCall(DeepCDMoeMLPGetSizes(mlp, NULL, NULL, &nth));
  PetscCall(PetscMalloc1(n * N, &Ybar));
  for (PetscInt k = 0; k < n; k++) PetscCall(PetscArraycpy(Ybar + k * N, Bbar + e->pts[k] * N, N));
  PetscCall(PetscArrayzero(thetabar, nth));
  PetscCall(DeepCDMoeMLPBackward(mlp, theta, Ybar, thetabar, NULL));
  PetscCall(DeepCDMoeExpertsAllreduce(e, nth, thetabar));
  PetscCall(PetscFree(Ybar));
  PetscFunctionReturn(PETSC_SUCCESS);
}
