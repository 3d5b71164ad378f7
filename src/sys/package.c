/* Registration of deepcd with PETSc: by a linked program through
   DeepCDInitializePackage(), or by `-dll_append libdeepcd.so` through
   PetscDLLibraryRegister_deepcd(). */
#include <deepcd/ksp.h>
#include <deepcd/private/dirgenimpl.h>
#include <deepcd/private/petsccompat.h>
#include <deepcd/pc.h>
#include <deepcd/private/modelioimpl.h>

static PetscBool DeepCDPackageInitialized = PETSC_FALSE;

/*@C
  DeepCDFinalizePackage - Frees deepcd's registries; called by PetscFinalize().

  Level: developer
@*/
PetscErrorCode DeepCDFinalizePackage(void)
{
  PetscFunctionBegin;
  PetscCall(DeepCDDirGenFinalizePackage());
  PetscCall(DeepCDModelCacheClear());
  DeepCDPackageInitialized = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDInitializePackage - Registers KSPDEEPCD, its direction generators and
  its log events. Safe to call more than once.

  Not Collective

  Level: beginner

.seealso: `KSPDEEPCD`
@*/
PetscErrorCode DeepCDInitializePackage(void)
{
  PetscFunctionBegin;
  if (DeepCDPackageInitialized) PetscFunctionReturn(PETSC_SUCCESS);
  DeepCDPackageInitialized = PETSC_TRUE;
  PetscCall(KSPInitializePackage());
  PetscCall(KSPRegister(KSPDEEPCD, KSPCreate_DeepCD));
  PetscCall(PCRegister(PCNEURALMG, PCCreate_NeuralMG));
  PetscCall(DeepCDDirGenRegisterAll());
  PetscCall(PetscLogEventRegister("DeepCDGenerate", KSP_CLASSID, &KSPDEEPCD_Generator));
  PetscCall(PetscLogEventRegister("DeepCDOrthog", KSP_CLASSID, &KSPDEEPCD_Orthogonalize));
  PetscCall(PetscLogEventRegister("DeepCDSmooth", KSP_CLASSID, &KSPDEEPCD_Smooth));
  PetscCall(PetscLogEventRegister("DeepCDInference", KSP_CLASSID, &DEEPCD_Inference));
  PetscCall(PetscLogEventRegister("DeepCDHalo", KSP_CLASSID, &DEEPCD_Halo));
  PetscCall(PetscLogEventRegister("NeuralMGSetUp", PC_CLASSID, &PC_NEURALMG_SetUp));
  PetscCall(PetscLogEventRegister("NeuralMGApply", PC_CLASSID, &PC_NEURALMG_Apply));
  PetscCall(PetscRegisterFinalize(DeepCDFinalizePackage));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Entry point PETSc looks up when libdeepcd.so is loaded with -dll_append. */
PETSC_EXTERN PetscErrorCode PetscDLLibraryRegister_deepcd(void)
{
  PetscFunctionBegin;
  PetscCall(DeepCDInitializePackage());
  PetscFunctionReturn(PETSC_SUCCESS);
}
