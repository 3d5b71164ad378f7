/* Registration of the direction-generator types and the class. */
#include <deepcd/private/dirgenimpl.h>
#include <deepcd/private/petsccompat.h>

static PetscBool DeepCDDirGenRegisterAllCalled = PETSC_FALSE;

/*@C
  DeepCDDirGenRegisterAll - Registers the class and the generator types of deepcd ("pc", "cnn").
  Called by `DeepCDInitializePackage()`.

  Not Collective

  Level: developer

.seealso: `DeepCDDirGenRegister()`
@*/
PetscErrorCode DeepCDDirGenRegisterAll(void)
{
  PetscFunctionBegin;
  if (DeepCDDirGenRegisterAllCalled) PetscFunctionReturn(PETSC_SUCCESS);
  DeepCDDirGenRegisterAllCalled = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("DeepCD direction generator", &DEEPCD_DIRGEN_CLASSID));
  PetscCall(DeepCDDirGenRegister(DEEPCD_DIRGEN_PC, DeepCDDirGenCreate_PC));
  PetscCall(DeepCDDirGenRegister(DEEPCD_DIRGEN_CNN, DeepCDDirGenCreate_CNN));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Frees the registry; called from DeepCDFinalizePackage(). */
PetscErrorCode DeepCDDirGenFinalizePackage(void)
{
  PetscFunctionBegin;
  PetscCall(PetscFunctionListDestroy(&DeepCDDirGenList));
  DeepCDDirGenRegisterAllCalled = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}
