/* The direction-generator registry and dispatch (see deepcd/dirgen.h). */
#include <deepcd/dirgen.h>

static PetscFunctionList DeepCDDirGenList = NULL;

/*@C
  DeepCDDirGenRegister - Adds a kind of direction generator for KSPDEEPCD.

  Not Collective

  Input Parameters:
+ name   - the kind's name, as given to -ksp_deepcd_generator
- create - fills a DeepCDDirGen's ops and data

  Level: advanced
@*/
PetscErrorCode DeepCDDirGenRegister(const char name[], PetscErrorCode (*create)(DeepCDDirGen))
{
  PetscFunctionBegin;
  PetscCall(PetscFunctionListAdd(&DeepCDDirGenList, name, create));
  PetscFunctionReturn(0);
}

/*@C
  DeepCDDirGenRegistered - Tells whether a kind of direction generator exists in this build.

  Not Collective

  Level: advanced
@*/
PetscErrorCode DeepCDDirGenRegistered(const char name[], PetscBool *has)
{
  PetscErrorCode (*create)(DeepCDDirGen) = NULL;

  PetscFunctionBegin;
  PetscCall(PetscFunctionListFind(DeepCDDirGenList, name, &create));
  *has = create ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}

/* Frees the registry; called from DeepCDFinalizePackage(). */
PETSC_INTERN PetscErrorCode DeepCDDirGenRegisterDestroy(void)
{
  PetscFunctionBegin;
  PetscCall(PetscFunctionListDestroy(&DeepCDDirGenList));
  PetscFunctionReturn(0);
}

/*@C
  DeepCDDirGenCreate - Creates a direction generator of a registered kind for a KSP.

  Collective

  Input Parameters:
+ ksp  - the owning KSP
- type - the kind

  Output Parameter:
. gen - the generator

  Level: advanced
@*/
PetscErrorCode DeepCDDirGenCreate(KSP ksp, const char type[], DeepCDDirGen *gen)
{
  PetscErrorCode (*create)(DeepCDDirGen) = NULL;
  DeepCDDirGen g;

  PetscFunctionBegin;
  PetscCall(PetscFunctionListFind(DeepCDDirGenList, type, &create));
  PetscCheck(create, PetscObjectComm((PetscObject) ksp), PETSC_ERR_ARG_UNKNOWN_TYPE, "unknown deepcd direction generator '%s'", type);
  PetscCall(PetscNew(&g));
  g->ksp = ksp;
  PetscCall(PetscStrncpy(g->type, type, sizeof(g->type)));
  PetscCall((*create)(g));
  *gen = g;
  PetscFunctionReturn(0);
}

PetscErrorCode DeepCDDirGenSetFromOptions(DeepCDDirGen gen, PetscOptionItems *PetscOptionsObject)
{
  PetscFunctionBegin;
  if (gen->ops.setfromoptions) PetscCall((*gen->ops.setfromoptions)(gen, PetscOptionsObject));
  PetscFunctionReturn(0);
}

PetscErrorCode DeepCDDirGenSetUp(DeepCDDirGen gen)
{
  PetscFunctionBegin;
  if (gen->setupcalled) PetscFunctionReturn(0);
  if (gen->ops.setup) PetscCall((*gen->ops.setup)(gen));
  gen->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/*@C
  DeepCDDirGenApply - Computes a search direction z from a residual r.

  Collective

  Input Parameters:
+ gen - the generator
- r   - the residual (for a nonlinear generator scaled to unit 2-norm unless the KSP's normalisation is off)

  Output Parameter:
. z - the direction (any scale)

  Level: advanced
@*/
PetscErrorCode DeepCDDirGenApply(DeepCDDirGen gen, Vec r, Vec z)
{
  PetscFunctionBegin;
  PetscCall(DeepCDDirGenSetUp(gen));
  PetscCall((*gen->ops.apply)(gen, r, z));
  PetscFunctionReturn(0);
}

PetscErrorCode DeepCDDirGenView(DeepCDDirGen gen, PetscViewer viewer)
{
  PetscBool isascii;

  PetscFunctionBegin;
  PetscCall(PetscObjectTypeCompare((PetscObject) viewer, PETSCVIEWERASCII, &isascii));
  if (isascii) PetscCall(PetscViewerASCIIPrintf(viewer, "direction generator: %s\n", gen->type));
  if (gen->ops.view) {
    PetscCall(PetscViewerASCIIPushTab(viewer));
    PetscCall((*gen->ops.view)(gen, viewer));
    PetscCall(PetscViewerASCIIPopTab(viewer));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode DeepCDDirGenReset(DeepCDDirGen gen)
{
  PetscFunctionBegin;
  if (gen->ops.reset) PetscCall((*gen->ops.reset)(gen));
  gen->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode DeepCDDirGenDestroy(DeepCDDirGen *gen)
{
  PetscFunctionBegin;
  if (!*gen) PetscFunctionReturn(0);
  PetscCall(DeepCDDirGenReset(*gen));
  if ((*gen)->ops.destroy) PetscCall((*(*gen)->ops.destroy)(*gen));
  PetscCall(PetscFree(*gen));
  PetscFunctionReturn(0);
}
