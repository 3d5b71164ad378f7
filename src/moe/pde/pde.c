/* The registry of PDE problems, their named constants and parameters (see
   deepcd/moe_pde.h). */
#include <stdio.h>
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

static PetscFunctionList DeepCDMoePDEList        = NULL;
static PetscBool         DeepCDMoePackageStarted = PETSC_FALSE;

static PetscErrorCode DeepCDMoeFinalizePackage(void)
{
  PetscFunctionBegin;
  PetscCall(PetscFunctionListDestroy(&DeepCDMoePDEList));
  DeepCDMoePackageStarted = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeInitializePackage - Registers the built-in PDE problems (heat, burgers, diffsorp, ns). Idempotent; called by DeepCDMoePDECreate() and DeepCDMoePDERegister().

  Not Collective

  Level: developer
@*/
PetscErrorCode DeepCDMoeInitializePackage(void)
{
  PetscFunctionBegin;
  if (DeepCDMoePackageStarted) PetscFunctionReturn(PETSC_SUCCESS);
  DeepCDMoePackageStarted = PETSC_TRUE;
  PetscCall(PetscFunctionListAdd(&DeepCDMoePDEList, DEEPCD_MOE_PDE_HEAT, DeepCDMoePDECreate_Heat));
  PetscCall(PetscFunctionListAdd(&DeepCDMoePDEList, DEEPCD_MOE_PDE_BURGERS, DeepCDMoePDECreate_Burgers));
  PetscCall(PetscFunctionListAdd(&DeepCDMoePDEList, DEEPCD_MOE_PDE_DIFFSORP, DeepCDMoePDECreate_DiffSorp));
  PetscCall(PetscFunctionListAdd(&DeepCDMoePDEList, DEEPCD_MOE_PDE_NS, DeepCDMoePDECreate_NS));
  PetscCall(PetscRegisterFinalize(DeepCDMoeFinalizePackage));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDERegister - Adds a PDE problem.

  Not Collective

  Input Parameters:
+ name   - the problem's name
- create - fills the ops, the domain, the constants and parameters (with their defaults) and linear

  Level: advanced
@*/
PetscErrorCode DeepCDMoePDERegister(const char name[], PetscErrorCode (*create)(DeepCDMoePDE))
{
  PetscFunctionBegin;
  PetscCall(DeepCDMoeInitializePackage());
  PetscCall(PetscFunctionListAdd(&DeepCDMoePDEList, name, create));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDECreate - Creates a PDE problem of a registered kind, with its default constants and parameters.

  Not Collective

  Input Parameter:
. type - "heat", "burgers", "diffsorp", "ns" or a registered name

  Output Parameter:
. pde - the problem

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDECreate(const char type[], DeepCDMoePDE *pde)
{
  PetscErrorCode (*create)(DeepCDMoePDE) = NULL;
  DeepCDMoePDE p;

  PetscFunctionBegin;
  PetscAssertPointer(pde, 2);
  PetscCall(DeepCDMoeInitializePackage());
  PetscCall(PetscFunctionListFind(DeepCDMoePDEList, type, &create));
  PetscCheck(create, PETSC_COMM_SELF, PETSC_ERR_ARG_UNKNOWN_TYPE, "unknown moe PDE '%s'", type);
  PetscCall(PetscNew(&p));
  PetscCall(PetscStrncpy(p->type, type, sizeof(p->type)));
  p->xlo = 0.0, p->xhi = 1.0, p->t0 = 0.0, p->t1 = 1.0;
  p->nfields = DEEPCD_MOE_NFIELDS;
  PetscCall((*create)(p));
  PetscCheck(p->nfields == DEEPCD_MOE_NFIELDS || p->nfields == DEEPCD_MOE_MAX_FIELDS, PETSC_COMM_SELF, PETSC_ERR_PLIB, "moe PDE '%s': %" PetscInt_FMT " fields", type, p->nfields);
  PetscCheck(p->ops.residual && p->ops.initial && p->ops.boundary, PETSC_COMM_SELF, PETSC_ERR_PLIB, "moe PDE '%s' lacks residual, initial or boundary", type);
  *pde = p;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDEGridSetUp - The problem's grid: nx x nt points on its interval, or for a periodic 2-D problem nx x ny x nt points on its square (DeepCDMoeGridSetUpPeriodic2D()).

  Not Collective

  Input Parameters:
+ pde        - the problem
- nx, ny, nt - points (ny: 2-D problems only; 1-D problems need 1)

  Output Parameter:
. g - the grid

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDEGridSetUp(DeepCDMoePDE pde, PetscInt nx, PetscInt ny, PetscInt nt, DeepCDMoeGrid *g)
{
  PetscFunctionBegin;
  if (pde->periodic)
    PetscCall(DeepCDMoeGridSetUpPeriodic2D(g, nx, ny, nt, pde->xlo, pde->xhi, pde->ylo, pde->yhi, pde->t0, pde->t1));
  else {
    PetscCheck(ny == 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe PDE '%s' is 1-D: ny %" PetscInt_FMT " must be 1", pde->type, ny);
    PetscCall(DeepCDMoeGridSetUp(g, nx, nt, pde->xlo, pde->xhi, pde->t0, pde->t1));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDEDestroy - Destroys a PDE problem.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDEDestroy(DeepCDMoePDE *pde)
{
  PetscFunctionBegin;
  if (!*pde) PetscFunctionReturn(PETSC_SUCCESS);
  if ((*pde)->ops.destroy) PetscCall((*(*pde)->ops.destroy)(*pde));
  PetscCall(PetscFree(*pde));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode add_named(PetscInt *n, char names[][32], PetscReal values[], const char name[], PetscReal v, const char what[])
{
  PetscFunctionBegin;
  PetscCheck(*n < DEEPCD_MOE_PDE_MAX_NAMED, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe PDE: more than %d %ss", DEEPCD_MOE_PDE_MAX_NAMED, what);
  PetscCall(PetscStrncpy(names[*n], name, 32));
  values[*n] = v;
  (*n)++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDEAddConstant - Declares a named constant with its default value; for a problem's create function. Constants are numbered in the order they are added.

  Not Collective

  Level: developer
@*/
PetscErrorCode DeepCDMoePDEAddConstant(DeepCDMoePDE pde, const char name[], PetscReal v)
{
  PetscFunctionBegin;
  PetscCall(add_named(&pde->nconst, pde->constname, pde->constant, name, v, "constant"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDEAddParameter - Declares a named instance parameter with its default value; for a problem's create function. Parameters are numbered in the order they are added.

  Not Collective

  Level: developer
@*/
PetscErrorCode DeepCDMoePDEAddParameter(DeepCDMoePDE pde, const char name[], PetscReal v)
{
  PetscFunctionBegin;
  PetscCall(add_named(&pde->nparam, pde->paramname, pde->param, name, v, "parameter"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode find_constant(DeepCDMoePDE pde, const char name[], PetscInt *k)
{
  PetscFunctionBegin;
  *k = -1;
  for (PetscInt l = 0; l < pde->nconst; l++) {
    PetscBool same;
    PetscCall(PetscStrcmp(pde->constname[l], name, &same));
    if (same) *k = l;
  }
  PetscCheck(*k >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "moe PDE '%s' has no constant '%s'", pde->type, name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDESetConstant - Sets a named constant (for example "kappa" of heat).

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDESetConstant(DeepCDMoePDE pde, const char name[], PetscReal v)
{
  PetscInt k;

  PetscFunctionBegin;
  PetscCall(find_constant(pde, name, &k));
  pde->constant[k] = v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDEGetConstant - Gets a named constant.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDEGetConstant(DeepCDMoePDE pde, const char name[], PetscReal *v)
{
  PetscInt k;

  PetscFunctionBegin;
  PetscCall(find_constant(pde, name, &k));
  *v = pde->constant[k];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDESetParameters - Sets the instance parameters, all of them, in declaration order.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDESetParameters(DeepCDMoePDE pde, PetscInt n, const PetscReal v[])
{
  PetscFunctionBegin;
  PetscCheck(n == pde->nparam, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "moe PDE '%s' has %" PetscInt_FMT " parameters, got %" PetscInt_FMT, pde->type, pde->nparam, n);
  for (PetscInt k = 0; k < n; k++) pde->param[k] = v[k];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDEGetParameters - Gets the instance parameters (the basis network appends them to (x, t)).

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDEGetParameters(DeepCDMoePDE pde, PetscInt *n, const PetscReal **v)
{
  PetscFunctionBegin;
  if (n) *n = pde->nparam;
  if (v) *v = pde->param;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDESetFromOptions - Reads -moe_<type>_<constant> and -moe_<type>_<parameter> for every named constant and parameter.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDESetFromOptions(DeepCDMoePDE pde)
{
  char opt[128], g[32];

  PetscFunctionBegin;
  PetscOptionsBegin(PETSC_COMM_SELF, NULL, "moe PDE options", NULL);
  for (PetscInt k = 0; k < pde->nconst; k++) {
    PetscCall(PetscSNPrintf(opt, sizeof(opt), "-moe_%s_%s", pde->type, pde->constname[k]));
    PetscCall(PetscOptionsReal(opt, "PDE constant", "DeepCDMoePDESetConstant", pde->constant[k], &pde->constant[k], NULL));
  }
  for (PetscInt k = 0; k < pde->nparam; k++) {
    PetscCall(PetscSNPrintf(opt, sizeof(opt), "-moe_%s_%s", pde->type, pde->paramname[k]));
    PetscCall(PetscOptionsReal(opt, "PDE instance parameter", "DeepCDMoePDESetParameters", pde->param[k], &pde->param[k], NULL));
  }
  PetscOptionsEnd();
  /* checked after PetscOptionsEnd(): an error inside the block would leak it */
  for (PetscInt k = 0; k < pde->nconst; k++) {
    PetscCall(PetscSNPrintf(opt, sizeof(opt), "-moe_%s_%s", pde->type, pde->constname[k]));
    /* every constant is a physical coefficient (diffusivity, viscosity, porosity, ...) */
    PetscCheck(!PetscIsInfOrNanReal(pde->constant[k]) && pde->constant[k] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s %s: the constant must be a finite positive number", opt, DeepCDFormatG(g, (double) pde->constant[k]));
  }
  for (PetscInt k = 0; k < pde->nparam; k++) {
    PetscCall(PetscSNPrintf(opt, sizeof(opt), "-moe_%s_%s", pde->type, pde->paramname[k]));
    PetscCheck(!PetscIsInfOrNanReal(pde->param[k]), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s %s: the parameter must be a finite number", opt, DeepCDFormatG(g, (double) pde->param[k]));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDEView - Prints the problem's name, domain, constants and parameters (ASCII viewers; others are ignored).

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDEView(DeepCDMoePDE pde, PetscViewer viewer)
{
  PetscBool ascii;

  PetscFunctionBegin;
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(PETSC_COMM_SELF, &viewer));
  PetscCall(PetscObjectTypeCompare((PetscObject) viewer, PETSCVIEWERASCII, &ascii));
  if (!ascii) PetscFunctionReturn(PETSC_SUCCESS);
  if (pde->periodic)
    PetscCall(PetscViewerASCIIPrintf(viewer, "moe PDE %s on [%g, %g) x [%g, %g) (periodic) x [%g, %g]%s\n", pde->type, (double) pde->xlo, (double) pde->xhi, (double) pde->ylo, (double) pde->yhi, (double) pde->t0, (double) pde->t1, pde->linear ? " (linear)" : ""));
  else
    PetscCall(PetscViewerASCIIPrintf(viewer, "moe PDE %s on [%g, %g] x [%g, %g]%s\n", pde->type, (double) pde->xlo, (double) pde->xhi, (double) pde->t0, (double) pde->t1, pde->linear ? " (linear)" : ""));
  for (PetscInt k = 0; k < pde->nconst; k++) PetscCall(PetscViewerASCIIPrintf(viewer, "  constant %s = %g\n", pde->constname[k], (double) pde->constant[k]));
  for (PetscInt k = 0; k < pde->nparam; k++) PetscCall(PetscViewerASCIIPrintf(viewer, "  parameter %s = %g\n", pde->paramname[k], (double) pde->param[k]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDEExact - The closed-form solution at (x, t), for problems that have one.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDEExact(DeepCDMoePDE pde, PetscReal x, PetscReal t, PetscReal *u)
{
  PetscFunctionBegin;
  PetscCheck(pde->ops.exact, PETSC_COMM_SELF, PETSC_ERR_SUP, "moe PDE '%s' has no closed-form solution", pde->type);
  PetscCall((*pde->ops.exact)(pde, x, t, u));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDEGetRowScale - The constant factor the problem's residual F carries only to condition the LM rows (diffusion-sorption: tscale), 1 for problems without one.

  Not Collective

  Input Parameter:
. pde - the problem

  Output Parameter:
. s - the factor (> 0)

  Notes:
  The outer training loss divides it out by default, so that its PDE term is in the equation's own units, as in the reference.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDEGetRowScale(DeepCDMoePDE pde, PetscReal *s)
{
  PetscFunctionBegin;
  PetscAssertPointer(pde, 1);
  PetscAssertPointer(s, 2);
  *s = 1.0;
  if (pde->ops.rowscale) PetscCall((*pde->ops.rowscale)(pde, s));
  PetscCheck(*s > 0.0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe PDE '%s': row scale %g must be > 0", pde->type, (double) *s);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDEGetLengthScale - The smallest length scale of the problem's solution in x (Burgers: the front's width 4 nu), half the domain for problems without one.

  Not Collective

  Input Parameter:
. pde - the problem, with its constants set

  Output Parameter:
. L - the length (> 0)

  Notes:
  The mlp backbone measures its inputs in this unit (DeepCDMoeBackboneSetInputScaling()): a front of this width is then a
  feature of slope O(1) for the first layer, which Adam's steps of size lr can reach.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDEGetLengthScale(DeepCDMoePDE pde, PetscReal *L)
{
  PetscFunctionBegin;
  PetscAssertPointer(pde, 1);
  PetscAssertPointer(L, 2);
  *L = 0.5 * (pde->xhi - pde->xlo);
  if (pde->ops.lengthscale) PetscCall((*pde->ops.lengthscale)(pde, L));
  PetscCheck(*L > 0.0 && !PetscIsInfOrNanReal(*L), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe PDE '%s': length scale %g must be finite and > 0", pde->type, (double) *L);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDESample - Parameters of an instance of the problem's family from uniform numbers.

  Not Collective

  Input Parameters:
+ pde - the problem
- r   - nparam numbers in [0, 1)

  Output Parameter:
. param - nparam parameters (not set on the problem: use DeepCDMoePDESetParameters())

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDESample(DeepCDMoePDE pde, const PetscReal r[], PetscReal param[])
{
  PetscFunctionBegin;
  PetscCheck(pde->ops.sample, PETSC_COMM_SELF, PETSC_ERR_SUP, "moe PDE '%s' has no instance family", pde->type);
  PetscCall((*pde->ops.sample)(pde, r, param));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoePDEReference - The reference solution of the current instance on a grid: the closed form where there is one, else the problem's numerical reference.

  Collective on PETSC_COMM_SELF

  Input Parameters:
+ pde  - the problem
- grid - the grid

  Output Parameter:
. u - nx*ny*nt values, x fastest

  Level: intermediate
@*/
PetscErrorCode DeepCDMoePDEReference(DeepCDMoePDE pde, const DeepCDMoeGrid *grid, PetscReal u[])
{
  PetscFunctionBegin;
  if (pde->ops.exact) {
    for (PetscInt p = 0; p < DeepCDMoeGridSize(grid); p++) {
      DeepCDMoePoint pt;

      PetscCall(DeepCDMoeGridPoint(grid, p, &pt));
      PetscCall((*pde->ops.exact)(pde, pt.x, pt.t, &u[p]));
    }
  } else {
    PetscCheck(pde->ops.reference, PETSC_COMM_SELF, PETSC_ERR_SUP, "moe PDE '%s' has neither a closed form nor a reference solver", pde->type);
    PetscCall((*pde->ops.reference)(pde, grid, u));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
