/* The direction generator object: creation, type selection, options, set-up,
   application, viewing and destruction (see deepcd/dirgen.h). */
#include <deepcd/private/dirgenimpl.h>
#include <deepcd/private/petsccompat.h>

PetscClassId      DEEPCD_DIRGEN_CLASSID = 0;
PetscFunctionList DeepCDDirGenList      = NULL;

/*@C
  DeepCDDirGenRegister - Adds a type of direction generator for KSPDEEPCD.

  Not Collective

  Input Parameters:
+ name   - the type's name, as given to -ksp_deepcd_generator
- create - fills a DeepCDDirGen's ops, data and linear flag

  Level: advanced

.seealso: `DeepCDDirGenRegisterAll()`, `KSPDeepCDSetGenerator()`
@*/
PetscErrorCode DeepCDDirGenRegister(const char name[], PetscErrorCode (*create)(DeepCDDirGen))
{
  PetscFunctionBegin;
  PetscCall(KSPInitializePackage());
  PetscCall(PetscFunctionListAdd(&DeepCDDirGenList, name, create));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  DeepCDDirGenCreate - Creates a direction generator with no type.

  Collective

  Input Parameter:
. comm - the communicator (the KSP's)

  Output Parameter:
. gen - the generator

  Level: developer

.seealso: `DeepCDDirGenSetType()`, `DeepCDDirGenSetKSP()`, `DeepCDDirGenDestroy()`
@*/
PetscErrorCode DeepCDDirGenCreate(MPI_Comm comm, DeepCDDirGen *gen)
{
  DeepCDDirGen g;

  PetscFunctionBegin;
  PetscAssertPointer(gen, 2);
  *gen = NULL;
  PetscCall(PetscHeaderCreate(g, DEEPCD_DIRGEN_CLASSID, "DeepCDDirGen", "Direction generator", "KSP", comm, DeepCDDirGenDestroy, DeepCDDirGenView));
  *gen = g;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDDirGenSetType - Chooses the type of a direction generator.

  Collective

  Input Parameters:
+ gen  - the generator
- type - a registered type, `DEEPCD_DIRGEN_PC` or `DEEPCD_DIRGEN_CNN`

  Options Database Key:
. -ksp_deepcd_generator <type> - through the owning KSP

  Level: developer

.seealso: `DeepCDDirGenRegister()`, `KSPDeepCDSetGenerator()`
@*/
PetscErrorCode DeepCDDirGenSetType(DeepCDDirGen gen, DeepCDDirGenType type)
{
  PetscErrorCode (*create)(DeepCDDirGen) = NULL;
  PetscBool same;

  PetscFunctionBegin;
  PetscValidHeaderSpecific(gen, DEEPCD_DIRGEN_CLASSID, 1);
  PetscAssertPointer(type, 2);
  PetscCall(PetscObjectTypeCompare((PetscObject) gen, type, &same));
  if (same) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFunctionListFind(DeepCDDirGenList, type, &create));
  PetscCheck(create, PetscObjectComm((PetscObject) gen), PETSC_ERR_ARG_UNKNOWN_TYPE, "-ksp_deepcd_generator %s: unknown direction generator (see -help for the registered types)", type);
  PetscCall(DeepCDDirGenReset(gen));
  PetscTryTypeMethod(gen, destroy);
  gen->data = NULL;
  PetscCall(PetscMemzero(gen->ops, sizeof(*gen->ops)));
  gen->linear = PETSC_FALSE;
  gen->smooth = 0;
  PetscCall(PetscObjectChangeTypeName((PetscObject) gen, type));
  PetscCall((*create)(gen));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDDirGenGetType - Gets the type of a direction generator.

  Not Collective

  Level: developer
@*/
PetscErrorCode DeepCDDirGenGetType(DeepCDDirGen gen, DeepCDDirGenType *type)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(gen, DEEPCD_DIRGEN_CLASSID, 1);
  PetscAssertPointer(type, 2);
  *type = ((PetscObject) gen)->type_name;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  DeepCDDirGenSetKSP - Tells a direction generator which KSP it serves (its operator, PC, DM and model).

  Logically Collective

  Level: developer
@*/
PetscErrorCode DeepCDDirGenSetKSP(DeepCDDirGen gen, KSP ksp)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(gen, DEEPCD_DIRGEN_CLASSID, 1);
  PetscValidHeaderSpecific(ksp, KSP_CLASSID, 2);
  gen->ksp = ksp; /* not referenced: the KSP owns the generator */
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  DeepCDDirGenGetKSP - Gets the KSP a direction generator serves.

  Not Collective

  Level: developer
@*/
PetscErrorCode DeepCDDirGenGetKSP(DeepCDDirGen gen, KSP *ksp)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(gen, DEEPCD_DIRGEN_CLASSID, 1);
  PetscAssertPointer(ksp, 2);
  *ksp = gen->ksp;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  DeepCDDirGenIsLinear - Tells whether the direction depends linearly on the residual.

  Not Collective

  Output Parameter:
. linear - `PETSC_TRUE` for a linear generator (it then gets the residual itself, not the unit-norm one)

  Level: developer
@*/
PetscErrorCode DeepCDDirGenIsLinear(DeepCDDirGen gen, PetscBool *linear)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(gen, DEEPCD_DIRGEN_CLASSID, 1);
  PetscAssertPointer(linear, 2);
  *linear = gen->linear;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  DeepCDDirGenSetFromOptions - Reads the options of a direction generator's type, under its prefix
  (the KSP's prefix followed by `ksp_deepcd_`).

  Collective

  Level: developer
@*/
PetscErrorCode DeepCDDirGenSetFromOptions(DeepCDDirGen gen)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(gen, DEEPCD_DIRGEN_CLASSID, 1);
  PetscObjectOptionsBegin((PetscObject) gen);
  PetscTryTypeMethod(gen, setfromoptions, PetscOptionsObject);
  PetscCall(PetscObjectProcessOptionsHandlers((PetscObject) gen, PetscOptionsObject));
  PetscOptionsEnd();
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  DeepCDDirGenSetUp - Prepares a direction generator for `DeepCDDirGenApply()` (loads a model, builds a network); runs once until `DeepCDDirGenReset()`.

  Collective

  Level: developer
@*/
PetscErrorCode DeepCDDirGenSetUp(DeepCDDirGen gen)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(gen, DEEPCD_DIRGEN_CLASSID, 1);
  if (gen->setupcalled) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(((PetscObject) gen)->type_name, PetscObjectComm((PetscObject) gen), PETSC_ERR_ORDER, "DeepCDDirGenSetType() must come before DeepCDDirGenSetUp()");
  PetscCheck(gen->ksp, PetscObjectComm((PetscObject) gen), PETSC_ERR_ORDER, "DeepCDDirGenSetKSP() must come before DeepCDDirGenSetUp()");
  PetscTryTypeMethod(gen, setup);
  gen->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  DeepCDDirGenApply - Computes a search direction z from a residual r.

  Collective

  Input Parameters:
+ gen - the generator
- r   - the residual (for a nonlinear generator scaled to unit 2-norm unless the KSP's normalisation is off)

  Output Parameter:
. z - the direction (any scale)

  Level: developer
@*/
PetscErrorCode DeepCDDirGenApply(DeepCDDirGen gen, Vec r, Vec z)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(gen, DEEPCD_DIRGEN_CLASSID, 1);
  PetscValidHeaderSpecific(r, VEC_CLASSID, 2);
  PetscValidHeaderSpecific(z, VEC_CLASSID, 3);
  PetscCall(DeepCDDirGenSetUp(gen));
  PetscUseTypeMethod(gen, apply, r, z);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDDirGenView - Prints a direction generator: its type, then what its type says.

  Collective

  Level: developer
@*/
PetscErrorCode DeepCDDirGenView(DeepCDDirGen gen, PetscViewer viewer)
{
  PetscBool isascii;

  PetscFunctionBegin;
  PetscValidHeaderSpecific(gen, DEEPCD_DIRGEN_CLASSID, 1);
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(PetscObjectComm((PetscObject) gen), &viewer));
  PetscValidHeaderSpecific(viewer, PETSC_VIEWER_CLASSID, 2);
  PetscCall(PetscObjectTypeCompare((PetscObject) viewer, PETSCVIEWERASCII, &isascii));
  if (!isascii) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscViewerASCIIPrintf(viewer, "direction generator: %s\n", ((PetscObject) gen)->type_name ? ((PetscObject) gen)->type_name : "(no type)"));
  if (gen->ops->view) {
    PetscCall(PetscViewerASCIIPushTab(viewer));
    PetscUseTypeMethod(gen, view, viewer);
    PetscCall(PetscViewerASCIIPopTab(viewer));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  DeepCDDirGenReset - Drops what `DeepCDDirGenSetUp()` built, so that the next set-up rebuilds it (a new operator or model).

  Collective

  Level: developer
@*/
PetscErrorCode DeepCDDirGenReset(DeepCDDirGen gen)
{
  PetscFunctionBegin;
  PetscValidHeaderSpecific(gen, DEEPCD_DIRGEN_CLASSID, 1);
  PetscTryTypeMethod(gen, reset);
  gen->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@
  DeepCDDirGenDestroy - Destroys a direction generator.

  Collective

  Level: developer
@*/
PetscErrorCode DeepCDDirGenDestroy(DeepCDDirGen *gen)
{
  PetscFunctionBegin;
  if (!*gen) PetscFunctionReturn(PETSC_SUCCESS);
  PetscValidHeaderSpecific(*gen, DEEPCD_DIRGEN_CLASSID, 1);
  if (--((PetscObject) (*gen))->refct > 0) {
    *gen = NULL;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(DeepCDDirGenReset(*gen));
  PetscTryTypeMethod(*gen, destroy);
  PetscCall(PetscHeaderDestroy(gen));
  PetscFunctionReturn(PETSC_SUCCESS);
}
