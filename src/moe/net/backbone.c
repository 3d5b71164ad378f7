/* The basis network's interface: a backbone type with its table of
   inputs, initialisation, forward, backward and parameter count
   (deepcd/moe_backbone.h); the implementations are mlp.c and fno.c. */
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

const char *const DeepCDMoeBackboneTypes[] = { "mlp", "fno", "DeepCDMoeBackboneType", "DEEPCD_MOE_BACKBONE_", NULL };

/*@C
  DeepCDMoeBackboneDestroy - Destroys a backbone and the network it holds.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeBackboneDestroy(DeepCDMoeBackbone *bb)
{
  PetscFunctionBegin;
  if (!*bb) PetscFunctionReturn(PETSC_SUCCESS);
  if ((*bb)->ops.destroy) PetscCall((*(*bb)->ops.destroy)(*bb));
  PetscCall(PetscFree(*bb));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeBackboneGetType - mlp or fno.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeBackboneGetType(DeepCDMoeBackbone bb, DeepCDMoeBackboneType *type)
{
  PetscFunctionBegin;
  *type = bb->type;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeBackboneGetSizes - Input features, outputs per point and parameters.

  Not Collective

  Output Parameters:
+ nin     - input features per grid point (may be NULL)
. nout    - outputs per grid point (may be NULL)
- nparams - length of the flat parameter array (may be NULL)

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeBackboneGetSizes(DeepCDMoeBackbone bb, PetscInt *nin, PetscInt *nout, PetscInt *nparams)
{
  PetscFunctionBegin;
  if (nin) *nin = bb->nin;
  if (nout) *nout = bb->nout;
  if (nparams) *nparams = bb->nparams;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeBackboneInitialize - Deterministic initial parameters for a seed (the same on every machine and rank).

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeBackboneInitialize(DeepCDMoeBackbone bb, PetscInt seed, PetscReal theta[])
{
  PetscFunctionBegin;
  PetscCall((*bb->ops.initialize)(bb, seed, theta));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeBackboneInputs - The backbone's input features on the whole grid for the problem's current instance.

  Not Collective

  Input Parameters:
+ bb   - the backbone
. g    - the grid (the one an FNO was created for)
- pde  - the problem, with its parameters set

  Output Parameter:
. X - row-major nx*nt x nin

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeBackboneInputs(DeepCDMoeBackbone bb, const DeepCDMoeGrid *g, DeepCDMoePDE pde, PetscReal X[])
{
  PetscFunctionBegin;
  PetscCall((*bb->ops.inputs)(bb, g, pde, X));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeBackboneForward - Evaluates the network and keeps what the backward pass needs.

  Not Collective

  Input Parameters:
+ bb    - the backbone
. X     - the whole grid's inputs (DeepCDMoeBackboneInputs())
. theta - the parameters
. npts  - number of points wanted
- pts   - their grid numbers j*nx + i, or NULL for all points in order (npts = nx*nt)

  Output Parameter:
. Y - row-major npts x nout

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeBackboneForward(DeepCDMoeBackbone bb, const PetscReal X[], const PetscReal theta[], PetscInt npts, const PetscInt pts[], PetscReal Y[])
{
  PetscFunctionBegin;
  PetscCheck(npts >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe backbone: negative number of points");
  PetscCall((*bb->ops.forward)(bb, X, theta, npts, pts, Y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeBackboneBackward - Back-propagates output sensitivities through the last forward pass.

  Not Collective

  Input Parameters:
+ bb    - the backbone, after DeepCDMoeBackboneForward()
. theta - the parameters of that pass
- Ybar  - dL/dY at that pass's points (row-major npts x nout)

  Output Parameter:
. thetabar - dL/dtheta is ADDED to it

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeBackboneBackward(DeepCDMoeBackbone bb, const PetscReal theta[], const PetscReal Ybar[], PetscReal thetabar[])
{
  PetscFunctionBegin;
  PetscCall((*bb->ops.backward)(bb, theta, Ybar, thetabar));
  PetscFunctionReturn(PETSC_SUCCESS);
}
