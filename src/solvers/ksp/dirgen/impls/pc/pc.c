/* The "pc" direction generator: z = PC(r). The PC is set up by KSPSetUp().
   With it KSPDEEPCD is a flexible
   conjugate-direction method truncated to the kept directions (Notay's FCG). */
#include <deepcd/private/dirgenimpl.h>
#include <deepcd/private/petsccompat.h>

static PetscErrorCode DeepCDDirGenApply_PC(DeepCDDirGen gen, Vec r, Vec z)
{
  PC pc;

  PetscFunctionBegin;
  PetscCall(KSPGetPC(gen->ksp, &pc));
  PetscCall(PCApply(pc, r, z));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDDirGenCreate_PC - The direction generator that applies the KSP's preconditioner.

  Level: developer
@*/
PetscErrorCode DeepCDDirGenCreate_PC(DeepCDDirGen gen)
{
  PetscFunctionBegin;
  gen->ops->apply = DeepCDDirGenApply_PC;
  gen->linear     = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}
