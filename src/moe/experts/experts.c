/* The mixture of experts: a uniform kx x kt split of the space-time grid,
   per-expert point draws, constraints, solves and backward passes, and the
   distribution of the experts over MPI ranks (see deepcd/moe_experts.h). */
#include <deepcd/private/moeimpl.h>
#include <deepcd/private/petsccompat.h>

const char *const DeepCDMoeConditionsTypes[] = { "global", "local", "DeepCDMoeConditions", "DEEPCD_MOE_CONDITIONS_", NULL };

/*@C
  DeepCDMoeExpertsCreate - Creates a mixture of kx x kt experts on a grid.

  Collective

  Input Parameters:
+ comm   - the ranks the experts are spread over (K = kx kt >= their number)
. pde    - the problem (referenced: keep it alive)
. grid   - the grid (copied)
. N      - number of basis functions
- kx, kt - subdomains along x and t (kx = kt = 1: the global hard constraint)

  Output Parameter:
. e - the experts; defaults: all eligible points, seed 0, global conditions, no coupling, ridge 1e-4, exact Hessian, DeepCDMoeLMOptionsDefault()

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsCreate(MPI_Comm comm, DeepCDMoePDE pde, const DeepCDMoeGrid *grid, PetscInt N, PetscInt kx, PetscInt kt, DeepCDMoeExperts *e)
{
  PetscFunctionBegin;
  PetscAssertPointer(e, 7);
  PetscCheck(kx >= 1 && kt >= 1 && kx <= grid->nx && kt <= grid->nt, comm, PETSC_ERR_ARG_OUTOFRANGE, "moe experts %" PetscInt_FMT ",%" PetscInt_FMT ": need 1 <= kx <= nx and 1 <= kt <= nt", kx, kt);
  PetscCall(DeepCDMoeExpertsCreate2D(comm, pde, grid, N, kx, 1, kt, e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsCreate2D - Creates a mixture of kx x ky x kt experts on a grid with two space dimensions (ky = 1: DeepCDMoeExpertsCreate()).

  Collective

  Notes:
  Expert k = (kt_index*ky + ky_index)*kx + kx_index owns [xs, xe) x [ys, ye) x [ts, te).

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsCreate2D(MPI_Comm comm, DeepCDMoePDE pde, const DeepCDMoeGrid *grid, PetscInt N, PetscInt kx, PetscInt ky, PetscInt kt, DeepCDMoeExperts *e)
{
  DeepCDMoeExperts ex;

  PetscFunctionBegin;
  PetscAssertPointer(e, 8);
  PetscCheck(kx >= 1 && ky >= 1 && kt >= 1 && kx <= grid->nx && ky <= grid->ny && kt <= grid->nt, comm, PETSC_ERR_ARG_OUTOFRANGE, "moe experts %" PetscInt_FMT ",%" PetscInt_FMT ",%" PetscInt_FMT ": need 1 <= kx <= nx, 1 <= ky <= ny and 1 <= kt <= nt", kx, ky, kt);
  PetscCheck(pde->nfields == DEEPCD_MOE_NFIELDS || grid->periodic, comm, PETSC_ERR_ARG_WRONG, "moe experts: problem '%s' needs a periodic 2-D grid", pde->type);
  PetscCheck(!pde->periodic || grid->periodic, comm, PETSC_ERR_ARG_WRONG, "moe experts: problem '%s' needs a periodic 2-D grid", pde->type);
  PetscCheck(N >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "moe experts: %" PetscInt_FMT " basis functions: need at least 1", N);
  PetscCall(PetscNew(&ex));
  ex->comm = comm;
  PetscCallMPI(MPI_Comm_rank(comm, &ex->rank));
  PetscCallMPI(MPI_Comm_size(comm, &ex->size));
  ex->pde   = pde;
  ex->grid  = *grid;
  ex->N     = N;
  ex->kx    = kx;
  ex->kt    = kt;
  ex->ky    = ky;
  ex->K     = kx * ky * kt;
  ex->ridge = 1e-4;
  ex->htype = DEEPCD_MOE_HESSIAN_EXACT;
  ex->cond  = DEEPCD_MOE_CONDITIONS_GLOBAL;
  PetscCall(DeepCDMoeLMOptionsDefault(&ex->lm));
  ex->coupling = DEEPCD_MOE_COUPLING_NONE;
  ex->cweight  = 1.0;
  *e           = ex;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode reset(DeepCDMoeExperts e)
{
  PetscFunctionBegin;
  if (e->con)
    for (PetscInt k = 0; k < e->K; k++) PetscCall(DeepCDMoeConstraintDestroy(&e->con[k]));
  PetscCall(PetscFree4(e->xs, e->xe, e->ts, e->te));
  PetscCall(PetscFree2(e->ys, e->ye));
  PetscCall(PetscFree4(e->con, e->w, e->info, e->solved));
  PetscCall(PetscFree(e->pts));
  PetscCall(PetscFree4(e->ifk, e->ifoff, e->ifpt, e->G));
  e->nif         = 0;
  e->npts        = 0;
  e->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsDestroy - Destroys the experts.

  Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsDestroy(DeepCDMoeExperts *e)
{
  PetscFunctionBegin;
  if (!*e) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(reset(*e));
  PetscCall(PetscFree(*e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsSetSampling - Sets the number of PDE rows per expert and the seed of their draw.

  Logically Collective

  Input Parameters:
+ e    - the experts
. m    - PDE points per expert (<= 0 or more than the expert has: all its eligible points)
- seed - the seed; expert k's draw depends only on (seed, k)

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsSetSampling(DeepCDMoeExperts e, PetscInt m, PetscInt seed)
{
  PetscFunctionBegin;
  e->m    = m;
  e->seed = seed;
  PetscCall(reset(e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsSetConditions - Global (every expert gets all initial and boundary rows; the reference) or local condition rows.

  Logically Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsSetConditions(DeepCDMoeExperts e, DeepCDMoeConditions cond)
{
  PetscFunctionBegin;
  e->cond = cond;
  PetscCall(reset(e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsSetCoupling - Independent experts (none, the reference) or interface rows between neighbours solved jointly.

  Logically Collective

  Input Parameters:
+ e      - the experts
. type   - DEEPCD_MOE_COUPLING_NONE or DEEPCD_MOE_COUPLING_INTERFACE
- weight - the weight of the interface rows (> 0)

  Notes:
  With interface coupling, each pair of experts that share an edge gets
  the rows weight * (B_p w_a - B_p w_b) at every point p of the grid lines
  on both sides of the edge (in x: the last column of the left expert and
  the first of the right one, at every time level of the pair; in t: the
  two time levels around the edge). Equal values on both lines make u and
  its one-sided difference across the edge continuous. All w_k are then
  solved together by one Levenberg-Marquardt (docs/moe.md).

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsSetCoupling(DeepCDMoeExperts e, DeepCDMoeCoupling type, PetscReal weight)
{
  char g[32];

  PetscFunctionBegin;
  PetscCheck(type == DEEPCD_MOE_COUPLING_NONE || type == DEEPCD_MOE_COUPLING_INTERFACE, e->comm, PETSC_ERR_ARG_OUTOFRANGE, "moe experts: unknown coupling %d", (int) type);
  PetscCheck(weight > 0.0 && !PetscIsInfOrNanReal(weight), e->comm, PETSC_ERR_ARG_OUTOFRANGE, "moe experts: coupling weight %s: must be finite and > 0", DeepCDFormatG(g, (double) weight));
  e->coupling = type;
  e->cweight  = weight;
  PetscCall(reset(e));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsSetRidge - Sets the weight of the ridge rows of every expert (default 1e-4).

  Logically Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsSetRidge(DeepCDMoeExperts e, PetscReal ridge)
{
  PetscFunctionBegin;
  PetscCheck(ridge >= 0.0, e->comm, PETSC_ERR_ARG_OUTOFRANGE, "moe experts: ridge %g: must be >= 0", (double) ridge);
  e->ridge = ridge;
  if (e->con)
    for (PetscInt k = e->kstart; k < e->kend; k++) PetscCall(DeepCDMoeConstraintSetRidge(e->con[k], ridge));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsSetHessian - The Hessian of the backward pass: exact (default, the reference) or Gauss-Newton.

  Logically Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsSetHessian(DeepCDMoeExperts e, DeepCDMoeHessianType type)
{
  PetscFunctionBegin;
  e->htype = type;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsSetLMOptions - The Levenberg-Marquardt settings of every expert.

  Logically Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsSetLMOptions(DeepCDMoeExperts e, const DeepCDMoeLMOptions *o)
{
  PetscFunctionBegin;
  e->lm = *o;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsSetFromOptions - Reads -moe_points, -moe_seed, -moe_conditions global|local, -moe_coupling none|interface, -moe_coupling_weight, -moe_ridge, -moe_hessian exact|gn and the -moe_lm_* options.

  Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsSetFromOptions(DeepCDMoeExperts e)
{
  PetscInt  m = e->m, seed = e->seed, cond = (PetscInt) e->cond, htype = (PetscInt) e->htype, coupling = (PetscInt) e->coupling;
  PetscReal ridge = e->ridge, cweight = e->cweight;

  PetscFunctionBegin;
  PetscOptionsBegin(e->comm, NULL, "moe experts options", NULL);
  PetscCall(PetscOptionsInt("-moe_points", "PDE points per expert (<= 0: all)", "DeepCDMoeExpertsSetSampling", m, &m, NULL));
  PetscCall(PetscOptionsInt("-moe_seed", "Seed of the point draw", "DeepCDMoeExpertsSetSampling", seed, &seed, NULL));
  PetscCall(PetscOptionsEList("-moe_conditions", "Initial and boundary rows of each expert", "DeepCDMoeExpertsSetConditions", DeepCDMoeConditionsTypes, 2, DeepCDMoeConditionsTypes[cond], &cond, NULL));
  PetscCall(PetscOptionsEList("-moe_coupling", "Coupling between neighbouring experts", "DeepCDMoeExpertsSetCoupling", DeepCDMoeCouplingTypes, 2, DeepCDMoeCouplingTypes[coupling], &coupling, NULL));
  PetscCall(PetscOptionsReal("-moe_coupling_weight", "Weight of the interface rows", "DeepCDMoeExpertsSetCoupling", cweight, &cweight, NULL));
  PetscCall(PetscOptionsReal("-moe_ridge", "Weight of the ridge rows", "DeepCDMoeExpertsSetRidge", ridge, &ridge, NULL));
  PetscCall(PetscOptionsEList("-moe_hessian", "Hessian of the backward pass", "DeepCDMoeExpertsSetHessian", DeepCDMoeHessianTypes, 2, DeepCDMoeHessianTypes[htype], &htype, NULL));
  PetscOptionsEnd();
  PetscCall(DeepCDMoeLMOptionsSetFromOptions(NULL, &e->lm));
  if (m != e->m || seed != e->seed) PetscCall(DeepCDMoeExpertsSetSampling(e, m, seed));
  if (cond != (PetscInt) e->cond) PetscCall(DeepCDMoeExpertsSetConditions(e, (DeepCDMoeConditions) cond));
  if (coupling != (PetscInt) e->coupling || cweight != e->cweight) PetscCall(DeepCDMoeExpertsSetCoupling(e, (DeepCDMoeCoupling) coupling, cweight));
  PetscCall(DeepCDMoeExpertsSetRidge(e, ridge));
  e->htype = (DeepCDMoeHessianType) htype;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Marks the stencil points of every field at point p (the velocity fields
   read the whole grid: every point). */
static PetscErrorCode mark_stencils(const DeepCDMoeGrid *g, PetscInt nf, PetscInt p, PetscBool need[])
{
  PetscFunctionBegin;
  if (nf > DEEPCD_MOE_VX) {
    for (PetscInt q = 0; q < DeepCDMoeGridSize(g); q++) need[q] = PETSC_TRUE;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  for (PetscInt a = 0; a < nf; a++) {
    PetscInt  n, idx[DEEPCD_MOE_MAX_STENCIL];
    PetscReal coef[DEEPCD_MOE_MAX_STENCIL];

    PetscCall(DeepCDMoeGridStencilAt(g, (DeepCDMoeField) a, p, &n, idx, coef));
    for (PetscInt s = 0; s < n; s++) need[idx[s]] = PETSC_TRUE;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsSetUp - Splits the grid, assigns experts to ranks, draws each owned expert's PDE points and builds its constraint.

  Collective

  Notes:
  Builds the condition rows from the problem's current parameters: call it
  again (after DeepCDMoeExpertsSetSampling() or any setter that resets) when
  they change.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsSetUp(DeepCDMoeExperts e)
{
  const DeepCDMoeGrid *g  = &e->grid;
  const PetscInt       nx = g->nx, ny = g->ny, nt = g->nt, P = nx * ny * nt, K = e->K, nf = e->pde->nfields;
  PetscInt            *pdepts, *condpts, nelig, ncond;
  PetscBool           *need;

  PetscFunctionBegin;
  PetscCall(reset(e));
  PetscCheck(K >= e->size, e->comm, PETSC_ERR_ARG_OUTOFRANGE, "moe experts: %" PetscInt_FMT " experts on %d ranks: need at least one expert per rank", K, e->size);
  PetscCall(PetscMalloc4(K, &e->xs, K, &e->xe, K, &e->ts, K, &e->te));
  PetscCall(PetscMalloc2(K, &e->ys, K, &e->ye));
  PetscCall(PetscCalloc4(K, &e->con, K * e->N, &e->w, K, &e->info, K, &e->solved));
  for (PetscInt k = 0; k < K; k++) {
    const PetscInt a = k % e->kx, c = (k / e->kx) % e->ky, b = k / (e->kx * e->ky);

    e->xs[k] = a * nx / e->kx, e->xe[k] = (a + 1) * nx / e->kx;
    e->ys[k] = c * ny / e->ky, e->ye[k] = (c + 1) * ny / e->ky;
    e->ts[k] = b * nt / e->kt, e->te[k] = (b + 1) * nt / e->kt;
  }
  e->kstart = e->rank * (K / e->size) + PetscMin(e->rank, K % e->size);
  e->kend   = e->kstart + K / e->size + (e->rank < K % e->size ? 1 : 0);
  PetscCall(PetscMalloc2(P, &pdepts, nx * ny + 2 * nt, &condpts));
  PetscCall(PetscCalloc1(P, &need));
  for (PetscInt k = e->kstart; k < e->kend; k++) {
    const PetscInt xs = e->xs[k], xe = e->xe[k], ys = e->ys[k], ye = e->ye[k], ts = e->ts[k], te = e->te[k];
    PetscInt       npde;
    uint64_t       s = 0x853C49E6748FEA9BULL ^ ((uint64_t) e->seed * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t) (k + 1) * 0xC2B2AE3D27D4EB4FULL);

    /* eligible PDE points: interior in x (periodic: all), after the initial time */
    nelig = 0;
    if (g->periodic) {
      for (PetscInt j = PetscMax(ts, 1); j < te; j++)
        for (PetscInt kk = ys; kk < ye; kk++)
          for (PetscInt i = xs; i < xe; i++) pdepts[nelig++] = (j * ny + kk) * nx + i;
    } else
      for (PetscInt j = PetscMax(ts, 1); j < te; j++)
        for (PetscInt i = PetscMax(xs, 1); i < PetscMin(xe, nx - 1); i++) pdepts[nelig++] = j * nx + i;
    npde = (e->m <= 0 || e->m >= nelig) ? nelig : e->m;
    for (PetscInt l = 0; l < npde && npde < nelig; l++) { /* partial Fisher-Yates */
      PetscInt r = l + (PetscInt) (DeepCDMoeRngUniform(&s) * (double) (nelig - l)), t;

      if (r >= nelig) r = nelig - 1;
      t = pdepts[l], pdepts[l] = pdepts[r], pdepts[r] = t;
    }
    PetscCall(PetscSortInt(npde, pdepts));
    /* condition rows: initial time, then left and right walls (periodic: none) */
    ncond = 0;
    for (PetscInt kk = 0; kk < (e->pde->ops.builtin ? 0 : ny); kk++) /* built-in initial condition: no initial rows */
      for (PetscInt i = 0; i < nx; i++)
        if (e->cond == DEEPCD_MOE_CONDITIONS_GLOBAL || (ts == 0 && i >= xs && i < xe && kk >= ys && kk < ye)) condpts[ncond++] = kk * nx + i;
    for (PetscInt side = 0; side < (g->periodic ? 0 : 2); side++) {
      const PetscInt i = side ? nx - 1 : 0;
      for (PetscInt j = 1; j < nt; j++)
        if (e->cond == DEEPCD_MOE_CONDITIONS_GLOBAL || (i >= xs && i < xe && j >= ts && j < te)) condpts[ncond++] = j * nx + i;
    }
    PetscCall(DeepCDMoeConstraintCreate(e->pde, g, e->N, &e->con[k]));
    PetscCall(DeepCDMoeConstraintSetRidge(e->con[k], e->ridge));
    PetscCall(DeepCDMoeConstraintSetPoints(e->con[k], npde, pdepts, ncond, condpts));
    for (PetscInt l = 0; l < npde; l++) PetscCall(mark_stencils(g, nf, pdepts[l], need));
    for (PetscInt l = 0; l < ncond; l++) PetscCall(mark_stencils(g, nf, condpts[l], need));
    for (PetscInt j = ts; j < te; j++)
      for (PetscInt kk = ys; kk < ye; kk++)
        for (PetscInt i = xs; i < xe; i++) need[(j * ny + kk) * nx + i] = PETSC_TRUE;
  }
  /* the interfaces are the x and t edges of a kx x kt split (coupling.c) */
  PetscCheck(e->coupling == DEEPCD_MOE_COUPLING_NONE || (e->grid.ny == 1 && e->ky == 1), PETSC_COMM_SELF, PETSC_ERR_SUP, "moe experts: interface coupling is implemented for problems in one space dimension (ny = 1), not for '%s' on a %" PetscInt_FMT " x %" PetscInt_FMT " grid: use -moe_coupling none", e->pde->type, e->grid.nx, e->grid.ny);
  PetscCall(DeepCDMoeExpertsSetUpInterfaces(e, need));
  e->npts = 0;
  for (PetscInt p = 0; p < P; p++) e->npts += need[p] ? 1 : 0;
  PetscCall(PetscMalloc1(e->npts, &e->pts));
  e->npts = 0;
  for (PetscInt p = 0; p < P; p++)
    if (need[p]) e->pts[e->npts++] = p;
  PetscCall(PetscFree(need));
  PetscCall(PetscFree2(pdepts, condpts));
  e->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsUpdateConditions - Re-evaluates every owned expert's initial and boundary rows from the problem's current parameters: a new problem instance on the same points, without a new SetUp.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsUpdateConditions(DeepCDMoeExperts e)
{
  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  for (PetscInt k = e->kstart; k < e->kend; k++) PetscCall(DeepCDMoeConstraintUpdateConditions(e->con[k]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsGetOwnership - The experts of this rank: kstart <= k < kend.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsGetOwnership(DeepCDMoeExperts e, PetscInt *kstart, PetscInt *kend)
{
  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  if (kstart) *kstart = e->kstart;
  if (kend) *kend = e->kend;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsGetSubdomain - The points [xs, xe) x [ts, te) of expert k.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsGetSubdomain(DeepCDMoeExperts e, PetscInt k, PetscInt *xs, PetscInt *xe, PetscInt *ts, PetscInt *te)
{
  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  PetscCheck(k >= 0 && k < e->K, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe experts: expert %" PetscInt_FMT " outside [0, %" PetscInt_FMT ")", k, e->K);
  if (xs) *xs = e->xs[k];
  if (xe) *xe = e->xe[k];
  if (ts) *ts = e->ts[k];
  if (te) *te = e->te[k];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsGetSubdomainY - The y points [ys, ye) of expert k (0, 1 on a 1-D grid).

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsGetSubdomainY(DeepCDMoeExperts e, PetscInt k, PetscInt *ys, PetscInt *ye)
{
  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  PetscCheck(k >= 0 && k < e->K, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe experts: expert %" PetscInt_FMT " outside [0, %" PetscInt_FMT ")", k, e->K);
  if (ys) *ys = e->ys[k];
  if (ye) *ye = e->ye[k];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsGetPoints - The grid points (sorted) whose basis rows this rank's experts read: their subdomains, and every stencil point of their rows (halos, condition rows).

  Not Collective

  Notes:
  Evaluate the basis network only at these points (DeepCDMoeGridInputs()
  takes the list) and scatter its rows into the whole-grid basis array.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsGetPoints(DeepCDMoeExperts e, PetscInt *n, const PetscInt **pts)
{
  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  *n   = e->npts;
  *pts = e->pts;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode check_owned(DeepCDMoeExperts e, PetscInt k)
{
  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  PetscCheck(k >= e->kstart && k < e->kend, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe experts: expert %" PetscInt_FMT " is not on rank %d (it has [%" PetscInt_FMT ", %" PetscInt_FMT "))", k, e->rank, e->kstart, e->kend);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsGetConstraint - The constraint of an expert of this rank.

  Not Collective

  Level: advanced
@*/
PetscErrorCode DeepCDMoeExpertsGetConstraint(DeepCDMoeExperts e, PetscInt k, DeepCDMoeConstraint *c)
{
  PetscFunctionBegin;
  PetscCall(check_owned(e, k));
  *c = e->con[k];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsSolve - Solves every expert of this rank and assembles u = B w_k on its subdomain.

  Not Collective (Collective with interface coupling: one joint solve of all w_k, redundant on every rank)

  Input Parameter:
. B - the basis, row-major nx*nt x N (the rows of DeepCDMoeExpertsGetPoints() are read)

  Output Parameter:
. u - nx*nt values; those on this rank's subdomains are written, the others untouched

  Notes:
  A solve that stops without converging is reported by DeepCDMoeExpertsGetLMInfo(), not raised.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsSolve(DeepCDMoeExperts e, const PetscReal B[], PetscReal u[])
{
  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  if (e->coupling != DEEPCD_MOE_COUPLING_NONE && e->nif > 0) {
    PetscCall(DeepCDMoeExpertsCoupledSolve(e, B, u));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  for (PetscInt k = e->kstart; k < e->kend; k++) {
    PetscCall(DeepCDMoeConstraintSetBasis(e->con[k], B));
    PetscCall(DeepCDMoeLMSolve(e->con[k], &e->lm, e->w + k * e->N, &e->info[k]));
    e->solved[k] = PETSC_TRUE;
    PetscCall(DeepCDMoeExpertsAssemble(e, k, B, u));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* u = B w_k on the subdomain of expert k */
PetscErrorCode DeepCDMoeExpertsAssemble(DeepCDMoeExperts e, PetscInt k, const PetscReal B[], PetscReal u[])
{
  const PetscInt   N = e->N, nx = e->grid.nx, ny = e->grid.ny;
  const PetscReal *w = e->w + k * N;

  PetscFunctionBegin;
  for (PetscInt j = e->ts[k]; j < e->te[k]; j++) {
    for (PetscInt kk = e->ys[k]; kk < e->ye[k]; kk++) {
      for (PetscInt i = e->xs[k]; i < e->xe[k]; i++) {
        const PetscInt   p = (j * ny + kk) * nx + i;
        const PetscReal *b = B + p * N;
        PetscReal        s = 0.0;
        for (PetscInt l = 0; l < N; l++) s += b[l] * w[l];
        u[p] = e->con[k]->bs ? e->con[k]->uoff[p] + e->con[k]->bs[p] * s : s; /* built-in initial condition */
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsGetWeights - The solved weights w_k (N) of an expert of this rank.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsGetWeights(DeepCDMoeExperts e, PetscInt k, const PetscReal **w)
{
  PetscFunctionBegin;
  PetscCall(check_owned(e, k));
  *w = e->w + k * e->N;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsGetLMInfo - The Levenberg-Marquardt record of the last solve of an expert of this rank.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsGetLMInfo(DeepCDMoeExperts e, PetscInt k, DeepCDMoeLMInfo *info)
{
  PetscFunctionBegin;
  PetscCall(check_owned(e, k));
  *info = e->info[k];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsBackward - Pulls dL/du back to dL/dB for this rank's experts: directly through u = B w_k and through every w_k by implicit differentiation.

  Not Collective (Collective with interface coupling)

  Input Parameters:
+ e    - the experts, after DeepCDMoeExpertsSolve()
. B    - the basis of that solve
- ubar - dL/du on the grid (nx*nt; read on this rank's subdomains)

  Output Parameter:
. Bbar - dL/dB is ADDED to it (row-major nx*nt x N; only rows of DeepCDMoeExpertsGetPoints() change)

  Notes:
  Per expert: wbar = sum over its points of ubar_p B_p; Bbar_p += ubar_p w_k
  on its points; then DeepCDMoeConstraintBackward() with the Hessian type
  set. The network's gradient is this rank's MLP backward of Bbar, summed
  over ranks with DeepCDMoeExpertsAllreduce().

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsBackward(DeepCDMoeExperts e, const PetscReal B[], const PetscReal ubar[], PetscReal Bbar[])
{
  const PetscInt N = e->N;
  PetscReal     *wbar;

  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  for (PetscInt k = e->kstart; k < e->kend; k++) PetscCheck(e->solved[k], PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSolve() before the backward pass");
  if (e->coupling != DEEPCD_MOE_COUPLING_NONE && e->nif > 0) {
    PetscCall(DeepCDMoeExpertsCoupledBackward(e, B, ubar, Bbar));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscMalloc1(N, &wbar));
  for (PetscInt k = e->kstart; k < e->kend; k++) {
    PetscCall(DeepCDMoeExpertsDirectBackward(e, k, B, ubar, wbar, Bbar));
    PetscCall(DeepCDMoeConstraintBackward(e->con[k], e->w + k * N, e->htype, wbar, Bbar));
  }
  PetscCall(PetscFree(wbar));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The direct term of expert k: wbar = sum over its points of ubar_p B_p (overwritten), Bbar_p += ubar_p w_k */
PetscErrorCode DeepCDMoeExpertsDirectBackward(DeepCDMoeExperts e, PetscInt k, const PetscReal B[], const PetscReal ubar[], PetscReal wbar[], PetscReal Bbar[])
{
  const PetscInt   N = e->N, nx = e->grid.nx, ny = e->grid.ny;
  const PetscReal *w = e->w + k * N;

  PetscFunctionBegin;
  PetscCall(PetscArrayzero(wbar, N));
  for (PetscInt j = e->ts[k]; j < e->te[k]; j++) {
    for (PetscInt kk = e->ys[k]; kk < e->ye[k]; kk++) {
      for (PetscInt i = e->xs[k]; i < e->xe[k]; i++) {
        const PetscInt   p = (j * ny + kk) * nx + i;
        const PetscReal *b = B + p * N, ub = e->con[k]->bs ? e->con[k]->bs[p] * ubar[p] : ubar[p]; /* built-in initial condition */
        PetscReal       *bb = Bbar + p * N;

        if (ub == 0.0) continue;
        for (PetscInt l = 0; l < N; l++) {
          wbar[l] += ub * b[l];
          bb[l] += ub * w[l];
        }
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsGatherSolution - Gives every rank the whole solution: zeroes u outside this rank's subdomains and sums over ranks.

  Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsGatherSolution(DeepCDMoeExperts e, PetscReal u[])
{
  const PetscInt nx = e->grid.nx, ny = e->grid.ny, P = DeepCDMoeGridSize(&e->grid);
  PetscBool     *mine;

  PetscFunctionBegin;
  PetscCheck(e->setupcalled, PETSC_COMM_SELF, PETSC_ERR_ORDER, "moe experts: call DeepCDMoeExpertsSetUp() first");
  PetscCall(PetscCalloc1(P, &mine));
  for (PetscInt k = e->kstart; k < e->kend; k++)
    for (PetscInt j = e->ts[k]; j < e->te[k]; j++)
      for (PetscInt kk = e->ys[k]; kk < e->ye[k]; kk++)
        for (PetscInt i = e->xs[k]; i < e->xe[k]; i++) mine[(j * ny + kk) * nx + i] = PETSC_TRUE;
  for (PetscInt p = 0; p < P; p++)
    if (!mine[p]) u[p] = 0.0;
  PetscCall(PetscFree(mine));
  PetscCall(DeepCDMoeExpertsAllreduce(e, P, u));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeExpertsAllreduce - Sums an array over the experts' ranks, in place (the network gradient, loss terms).

  Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeExpertsAllreduce(DeepCDMoeExperts e, PetscInt n, PetscReal a[])
{
  PetscMPIInt nn;

  PetscFunctionBegin;
  if (e->size == 1) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMPIIntCast(n, &nn));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, a, nn, MPIU_REAL, MPIU_SUM, e->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}
