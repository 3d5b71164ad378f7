/* The basis network evaluated at the grid points one rank's experts read,
   and its gradient summed over ranks; or evaluated on one rank for the
   whole grid, shared with the others, and its dL/dB summed back onto that
   rank (data parallelism over instances; see deepcd/moe_experts.h). */
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
. B - row-major nx*nt x N; rows of other points are untouched

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
  PetscCall(PetscMalloc2(e->grid.nx * e->grid.nt * nin, &X, n * N, &Y));
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

/*@C
  DeepCDMoeExpertsBasisShare - Gives every rank the whole-grid basis that one rank evaluated (the network of an instance run on one rank: data parallelism over the instances of a batch).

  Collective

  Input Parameters:
+ e     - the experts, set up
. owner - the rank that evaluated the basis
- B     - on owner: the basis, row-major nx*nt x N

  Output Parameter:
. B - on the other ranks: the same basis

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsBasisShare(DeepCDMoeExperts e, PetscMPIInt owner, PetscReal B[])
{
  PetscMPIInt n;

  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  PetscCheck(owner >= 0 && owner < e->size, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe experts: basis owner %d outside [0, %d)", owner, e->size);
  if (e->size == 1) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMPIIntCast(e->grid.nx * e->grid.nt * e->N, &n));
  PetscCallMPI(MPI_Bcast(B, n, MPIU_REAL, owner, e->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsBasisReduce - Sums every rank's dL/dB of one instance onto the rank that evaluated its basis (DeepCDMoeExpertsBasisShare()), for that rank's network backward pass.

  Collective

  Input Parameters:
+ e     - the experts, set up
. owner - the rank that receives the sum
- Bbar  - this rank's dL/dB (row-major nx*nt x N; DeepCDMoeExpertsBackward())

  Output Parameter:
. sum - on owner: the sum over ranks (nx*nt x N; may not alias Bbar); not referenced on the other ranks

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsBasisReduce(DeepCDMoeExperts e, PetscMPIInt owner, const PetscReal Bbar[], PetscReal sum[])
{
  const PetscInt M = e->grid.nx * e->grid.nt * e->N;
  PetscMPIInt    n;

  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  PetscCheck(owner >= 0 && owner < e->size, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe experts: basis owner %d outside [0, %d)", owner, e->size);
  PetscCheck(Bbar != sum, PETSC_COMM_SELF, PETSC_ERR_ARG_IDN, "moe experts: the reduced dL/dB may not alias this rank's");
  if (e->size == 1) {
    PetscCall(PetscArraycpy(sum, Bbar, M));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscMPIIntCast(M, &n));
  PetscCallMPI(MPI_Reduce(Bbar, e->rank == owner ? sum : NULL, n, MPIU_REAL, MPIU_SUM, owner, e->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}
