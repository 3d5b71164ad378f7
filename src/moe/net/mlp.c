/* The basis network: a float64 multilayer perceptron, forward and backward
   through PETSc's BLAS (see deepcd/moe_mlp.h). */
#include <deepcd/private/moeimpl.h>
#include <petscblaslapack.h>
#include <deepcd/private/petsccompat.h>

const char *const DeepCDMoeActivations[] = { "none", "tanh", "gelu", "DeepCDMoeActivation", "DEEPCD_MOE_ACT_", NULL };

struct _n_DeepCDMoeMLP {
  PetscInt            L;     /* weight layers */
  PetscInt           *width; /* L + 1 */
  PetscInt           *off;   /* offset of W_l in theta (l = 1..L); b_l follows W_l */
  PetscInt            n;     /* parameters */
  PetscInt            maxw;  /* largest width */
  DeepCDMoeActivation hidden, output;
  PetscInt            cap, P; /* batch capacity and the batch of the last forward */
  PetscReal         **Z;      /* pre-activations of layers 1..L (P x width[l]) */
  PetscReal         **A;      /* A[0] = inputs, A[l] = activations of layer l */
  PetscReal          *work0, *work1;
};

/*@C
  DeepCDMoeMLPCreate - Creates a multilayer perceptron.

  Not Collective

  Input Parameters:
+ L      - number of weight layers (at least 1)
. width  - L + 1 widths: inputs, hidden layers, outputs
. hidden - activation of the hidden layers
- output - activation of the output layer (DEEPCD_MOE_ACT_NONE for a linear head; the reference applies GELU to the basis)

  Output Parameter:
. mlp - the network (its parameters live outside it, in one flat array)

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeMLPCreate(PetscInt L, const PetscInt width[], DeepCDMoeActivation hidden, DeepCDMoeActivation output, DeepCDMoeMLP *mlp)
{
  DeepCDMoeMLP net;

  PetscFunctionBegin;
  PetscAssertPointer(mlp, 5);
  PetscCheck(L >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe mlp: %" PetscInt_FMT " layers: need at least 1", L);
  for (PetscInt l = 0; l <= L; l++) PetscCheck(width[l] >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe mlp: width %" PetscInt_FMT " of layer %" PetscInt_FMT ": must be >= 1", width[l], l);
  PetscCall(PetscNew(&net));
  net->L      = L;
  net->hidden = hidden;
  net->output = output;
  PetscCall(PetscMalloc2(L + 1, &net->width, L + 1, &net->off));
  PetscCall(PetscCalloc2(L + 1, &net->Z, L + 1, &net->A));
  for (PetscInt l = 0; l <= L; l++) {
    net->width[l] = width[l];
    net->maxw     = PetscMax(net->maxw, width[l]);
  }
  net->off[0] = 0;
  for (PetscInt l = 1; l <= L; l++) {
    net->off[l] = net->n;
    net->n += width[l] * width[l - 1] + width[l];
  }
  *mlp = net;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode free_tape(DeepCDMoeMLP net)
{
  PetscFunctionBegin;
  for (PetscInt l = 0; l <= net->L; l++) {
    PetscCall(PetscFree(net->Z[l]));
    PetscCall(PetscFree(net->A[l]));
  }
  PetscCall(PetscFree2(net->work0, net->work1));
  net->cap = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeMLPDestroy - Destroys a multilayer perceptron.

  Not Collective

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeMLPDestroy(DeepCDMoeMLP *mlp)
{
  PetscFunctionBegin;
  if (!*mlp) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(free_tape(*mlp));
  PetscCall(PetscFree2((*mlp)->width, (*mlp)->off));
  PetscCall(PetscFree2((*mlp)->Z, (*mlp)->A));
  PetscCall(PetscFree(*mlp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeMLPGetSizes - The number of inputs, outputs and parameters.

  Not Collective

  Output Parameters:
+ nin     - width[0] (may be NULL)
. nout    - width[L] (may be NULL)
- nparams - length of the flat parameter array (may be NULL)

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeMLPGetSizes(DeepCDMoeMLP mlp, PetscInt *nin, PetscInt *nout, PetscInt *nparams)
{
  PetscFunctionBegin;
  if (nin) *nin = mlp->width[0];
  if (nout) *nout = mlp->width[mlp->L];
  if (nparams) *nparams = mlp->n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeMLPInitialize - Deterministic initial parameters for a seed.

  Not Collective

  Input Parameters:
+ mlp  - the network
- seed - the seed: the same seed gives the same parameters on every machine

  Output Parameter:
. theta - the parameters: W_l uniform in +-sqrt(6 / (fan_in + fan_out)) (Glorot), b_l uniform in +-1/sqrt(fan_in)

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeMLPInitialize(DeepCDMoeMLP mlp, PetscInt seed, PetscReal theta[])
{
  uint64_t s = 0x5DEECE66DULL ^ ((uint64_t) seed * 0x2545F4914F6CDD1DULL);

  PetscFunctionBegin;
  for (PetscInt l = 1; l <= mlp->L; l++) {
    const PetscInt  in = mlp->width[l - 1], out = mlp->width[l];
    const PetscReal a = PetscSqrtReal(6.0 / (PetscReal) (in + out)), b = 1.0 / PetscSqrtReal((PetscReal) in);
    PetscReal      *W = theta + mlp->off[l], *bias = W + in * out;

    for (PetscInt k = 0; k < in * out; k++) W[k] = a * (2.0 * DeepCDMoeRngUniform(&s) - 1.0);
    for (PetscInt k = 0; k < out; k++) bias[k] = b * (2.0 * DeepCDMoeRngUniform(&s) - 1.0);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode reserve(DeepCDMoeMLP net, PetscInt P)
{
  PetscFunctionBegin;
  if (P <= net->cap) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(free_tape(net));
  for (PetscInt l = 0; l <= net->L; l++) {
    if (l) PetscCall(PetscMalloc1(P * net->width[l], &net->Z[l]));
    PetscCall(PetscMalloc1(P * net->width[l], &net->A[l]));
  }
  PetscCall(PetscMalloc2(P * net->maxw, &net->work0, P * net->maxw, &net->work1));
  net->cap = P;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeMLPForward - Evaluates the network on a batch and records what the backward pass needs.

  Not Collective

  Input Parameters:
+ mlp   - the network
. P     - batch size
. X     - inputs, row-major P x width[0]
- theta - the parameters

  Output Parameter:
. Y - outputs, row-major P x width[L]

  Notes:
  The network keeps its inputs and every layer's pre-activations and
  activations (memory P * sum of widths * 2 doubles) until the next forward.

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeMLPForward(DeepCDMoeMLP mlp, PetscInt P, const PetscReal X[], const PetscReal theta[], PetscReal Y[])
{
  const PetscReal one = 1.0;
  PetscBLASInt    bP;

  PetscFunctionBegin;
  PetscCheck(P >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe mlp: negative batch");
  PetscCall(reserve(mlp, P));
  mlp->P = P;
  if (!P) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscBLASIntCast(P, &bP));
  PetscCall(PetscArraycpy(mlp->A[0], X, P * mlp->width[0]));
  for (PetscInt l = 1; l <= mlp->L; l++) {
    const PetscInt            in = mlp->width[l - 1], out = mlp->width[l];
    const PetscReal          *W = theta + mlp->off[l], *b = W + in * out;
    const DeepCDMoeActivation a = l == mlp->L ? mlp->output : mlp->hidden;
    PetscReal                *Z = mlp->Z[l], *A = mlp->A[l];
    PetscBLASInt              bin, bout;

    PetscCall(PetscBLASIntCast(in, &bin));
    PetscCall(PetscBLASIntCast(out, &bout));
    for (PetscInt k = 0; k < P; k++) PetscCall(PetscArraycpy(Z + k * out, b, out));
    /* column-major: Z^T (out x P) += W (out x in; stored as in x out) ^T-op * A^T (in x P) */
    PetscCallBLAS("BLASgemm", BLASgemm_("T", "N", &bout, &bP, &bin, &one, W, &bin, mlp->A[l - 1], &bin, &one, Z, &bout));
    for (PetscInt k = 0; k < P * out; k++) A[k] = DeepCDMoeAct(a, Z[k]);
  }
  PetscCall(PetscArraycpy(Y, mlp->A[mlp->L], P * mlp->width[mlp->L]));
  PetscCall(PetscLogFlops(2.0 * P * (mlp->n)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeMLPBackward - Back-propagates output sensitivities through the last forward pass.

  Not Collective

  Input Parameters:
+ mlp   - the network, after DeepCDMoeMLPForward()
. theta - the parameters of that forward pass
- Ybar  - dL/dY, row-major P x width[L]

  Output Parameters:
+ thetabar - dL/dtheta is ADDED to it
- Xbar     - dL/dX (row-major P x width[0]), or NULL

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeMLPBackward(DeepCDMoeMLP mlp, const PetscReal theta[], const PetscReal Ybar[], PetscReal thetabar[], PetscReal Xbar[])
{
  const PetscReal one = 1.0, zero = 0.0;
  const PetscInt  P  = mlp->P;
  PetscReal      *dA = mlp->work0, *dZ = mlp->work1;
  PetscBLASInt    bP;

  PetscFunctionBegin;
  if (!P) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscBLASIntCast(P, &bP));
  PetscCall(PetscArraycpy(dA, Ybar, P * mlp->width[mlp->L]));
  for (PetscInt l = mlp->L; l >= 1; l--) {
    const PetscInt            in = mlp->width[l - 1], out = mlp->width[l];
    const PetscReal          *W  = theta + mlp->off[l];
    PetscReal                *dW = thetabar + mlp->off[l], *db = dW + in * out;
    const DeepCDMoeActivation a = l == mlp->L ? mlp->output : mlp->hidden;
    const PetscReal          *Z = mlp->Z[l], *A = mlp->A[l];
    PetscBLASInt              bin, bout;

    PetscCall(PetscBLASIntCast(in, &bin));
    PetscCall(PetscBLASIntCast(out, &bout));
    for (PetscInt k = 0; k < P * out; k++) dZ[k] = dA[k] * DeepCDMoeDAct(a, Z[k], A[k]);
    /* dW (stored as in x out, column-major) += A^T (in x P) * dZ (P x out) */
    PetscCallBLAS("BLASgemm", BLASgemm_("N", "T", &bin, &bout, &bP, &one, mlp->A[l - 1], &bin, dZ, &bout, &one, dW, &bin));
    for (PetscInt k = 0; k < P; k++)
      for (PetscInt o = 0; o < out; o++) db[o] += dZ[k * out + o];
    if (l > 1 || Xbar) {
      PetscReal *dprev = l > 1 ? dA : Xbar;
      /* dA^T (in x P) = W^T-stored (in x out) * dZ^T (out x P) */
      PetscCallBLAS("BLASgemm", BLASgemm_("N", "N", &bin, &bP, &bout, &one, W, &bin, dZ, &bout, &zero, dprev, &bin));
    }
  }
  PetscCall(PetscLogFlops(4.0 * P * (mlp->n)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the MLP as a backbone (deepcd/moe_backbone.h) ----------------------- */

typedef struct {
  DeepCDMoeMLP mlp;
  PetscReal   *X;             /* the inputs at the points of the last forward */
  PetscInt     cap;           /* rows allocated in X */
  PetscBool    scaled;        /* inputs in the problem's units (DeepCDMoeBackboneSetInputScaling()); else x, t in [-1, 1] and raw parameters */
  PetscReal   *centre, *half; /* per parameter: the centre and half-width of its range */
} BackboneMLP;

/* 1-D grids: (x, t, the problem's parameters). 2-D grids: (x, y, t) and
   the initial condition near the point, (u0, u0_x/2pi, u0_y/2pi, 2pi v0_x,
   2pi v0_y): its value, gradient (periodic central differences) and the
   velocity of its stream function (FFT), scaled to O(1) for unit-period
   fields. The reference's FNO gets u0 broadcast over time and sees its
   neighbourhood through its Fourier layers; a pointwise network needs the
   local gradient and velocity to represent advection, u0 - t v0 . grad u0
   to first order (the Navier-Stokes seed is meaningless as a number). */
static PetscErrorCode mlp_inputs(DeepCDMoeBackbone bb, const DeepCDMoeGrid *g, DeepCDMoePDE pde, PetscReal X[])
{
  BackboneMLP *b = (BackboneMLP *) bb->data;

  PetscFunctionBegin;
  if (g->ny > 1) {
    const PetscInt  nxy = g->nx * g->ny, P = DeepCDMoeGridSize(g), nin = DEEPCD_MOE_MLP_INPUTS_2D;
    const PetscReal tp = 2.0 * PETSC_PI;
    PetscReal      *f, *X3;
    DeepCDMoeGrid   g0 = *g; /* the initial time level alone */

    PetscCheck(bb->nin == nin, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "moe mlp backbone: %" PetscInt_FMT " inputs; a 2-D grid gives %d (x, y, t, u0, its gradient and velocity)", bb->nin, (int) nin);
    PetscCall(PetscMalloc2(5 * nxy, &f, 3 * P, &X3));
    for (PetscInt p = 0; p < nxy; p++) {
      DeepCDMoePoint pt;
      PetscReal      scale;

      PetscCall(DeepCDMoeGridPoint(g, p, &pt));
      PetscCall((*pde->ops.initial)(pde, &pt, &f[p], &scale));
    }
    g0.nt = 1;
    for (PetscInt a = 0; a < 2; a++) {
      for (PetscInt p = 0; p < nxy; p++) {
        PetscInt  n, idx[DEEPCD_MOE_MAX_STENCIL];
        PetscReal c[DEEPCD_MOE_MAX_STENCIL], d = 0.0;

        PetscCall(DeepCDMoeGridStencilAt(g, a ? DEEPCD_MOE_UY : DEEPCD_MOE_UX, p, &n, idx, c));
        for (PetscInt s = 0; s < n; s++) d += c[s] * f[idx[s]];
        f[(1 + a) * nxy + p] = d / tp;
      }
    }
    PetscCall(DeepCDMoeGridVelocity(&g0, 1, f, f + 3 * nxy, f + 4 * nxy));
    for (PetscInt p = 3 * nxy; p < 5 * nxy; p++) f[p] *= tp;
    PetscCall(DeepCDMoeGridInputs(g, P, NULL, 0, NULL, X3));
    for (PetscInt p = 0; p < P; p++) {
      for (PetscInt l = 0; l < 3; l++) X[nin * p + l] = X3[3 * p + l];
      for (PetscInt l = 0; l < 5; l++) X[nin * p + 3 + l] = f[l * nxy + p % nxy];
    }
    PetscCall(PetscFree2(f, X3));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCheck(bb->nin == 2 + pde->nparam, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "moe mlp backbone: %" PetscInt_FMT " inputs; problem '%s' gives %" PetscInt_FMT " (x, t and its parameters)", bb->nin, pde->type, 2 + pde->nparam);
  PetscCall(DeepCDMoeGridInputs(g, g->nx * g->nt, NULL, pde->nparam, pde->param, X));
  if (b->scaled) { /* the problem's units: (x, t) / L, parameters centred over their range, in the same unit */
    const PetscInt nin = bb->nin;
    PetscReal      L, sc;

    PetscCall(DeepCDMoePDEGetLengthScale(pde, &L));
    sc = 0.5 * (g->xhi - g->xlo) / L;
    for (PetscInt k = 0; k < g->nx * g->nt; k++) {
      PetscReal *x = X + k * nin;

      x[0] *= sc, x[1] *= sc;
      for (PetscInt l = 0; l < pde->nparam; l++) x[2 + l] = sc * (x[2 + l] - b->centre[l]) / b->half[l];
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode mlp_initialize(DeepCDMoeBackbone bb, PetscInt seed, PetscReal theta[])
{
  PetscFunctionBegin;
  PetscCall(DeepCDMoeMLPInitialize(((BackboneMLP *) bb->data)->mlp, seed, theta));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* pointwise: only the points asked for are evaluated */
static PetscErrorCode mlp_forward(DeepCDMoeBackbone bb, const PetscReal X[], const PetscReal theta[], PetscInt npts, const PetscInt pts[], PetscReal Y[])
{
  BackboneMLP   *b   = (BackboneMLP *) bb->data;
  const PetscInt nin = bb->nin;

  PetscFunctionBegin;
  if (!pts) {
    PetscCall(DeepCDMoeMLPForward(b->mlp, npts, X, theta, Y));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (npts > b->cap) {
    PetscCall(PetscFree(b->X));
    PetscCall(PetscMalloc1(npts * nin, &b->X));
    b->cap = npts;
  }
  for (PetscInt k = 0; k < npts; k++) PetscCall(PetscArraycpy(b->X + k * nin, X + pts[k] * nin, nin));
  PetscCall(DeepCDMoeMLPForward(b->mlp, npts, b->X, theta, Y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode mlp_backward(DeepCDMoeBackbone bb, const PetscReal theta[], const PetscReal Ybar[], PetscReal thetabar[])
{
  PetscFunctionBegin;
  PetscCall(DeepCDMoeMLPBackward(((BackboneMLP *) bb->data)->mlp, theta, Ybar, thetabar, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode mlp_destroy(DeepCDMoeBackbone bb)
{
  BackboneMLP *b = (BackboneMLP *) bb->data;

  PetscFunctionBegin;
  PetscCall(DeepCDMoeMLPDestroy(&b->mlp));
  PetscCall(PetscFree(b->X));
  PetscCall(PetscFree2(b->centre, b->half));
  PetscCall(PetscFree(bb->data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeBackboneCreateMLP - The multilayer perceptron as the basis network's backbone.

  Not Collective

  Input Parameter:
. mlp - the network (2 + number of problem parameters inputs); the backbone takes it over and destroys it

  Output Parameter:
. bb - the backbone

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeBackboneCreateMLP(DeepCDMoeMLP mlp, DeepCDMoeBackbone *bb)
{
  DeepCDMoeBackbone n;
  BackboneMLP      *b;

  PetscFunctionBegin;
  PetscAssertPointer(bb, 2);
  PetscCall(PetscNew(&n));
  PetscCall(PetscNew(&b));
  b->mlp  = mlp;
  n->type = DEEPCD_MOE_BACKBONE_MLP;
  n->data = b;
  PetscCall(DeepCDMoeMLPGetSizes(mlp, &n->nin, &n->nout, &n->nparams));
  n->ops = (DeepCDMoeBackboneOps){ mlp_inputs, mlp_initialize, mlp_forward, mlp_backward, mlp_destroy };
  *bb    = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDMoeBackboneSetInputScaling - Measures the mlp backbone's inputs in the problem's units.

  Not Collective

  Input Parameters:
+ bb     - an mlp backbone
. nparam - the problem's number of parameters
. lo, hi - per parameter, the range of its values (for example over the training instances)

  Notes:
  Without it the inputs are x and t mapped to [-1, 1] and the raw parameters (DeepCDMoeGridInputs()). With it, with
  s = (xhi - xlo) / (2 L) and L the problem's length scale (DeepCDMoePDEGetLengthScale(), read at every evaluation):
  s x and s t (x, t in [-1, 1]) and s (p - c) / h per parameter, c and h the centre and half-width of [lo, hi] (h = 1 when
  lo = hi). For a problem without a length scale s = 1 and only the parameters change. A Burgers front of width
  L = 4 nu then has slope O(1) in the first layer's units, where Glorot weights and Adam's steps of size lr can reach it;
  in [-1, 1] its slope is 1/(8 nu) = 12.5 at nu = 0.01 (docs/results.md, 2026-12-07 night).

  Level: intermediate
@*/
PetscErrorCode DeepCDMoeBackboneSetInputScaling(DeepCDMoeBackbone bb, PetscInt nparam, const PetscReal lo[], const PetscReal hi[])
{
  BackboneMLP *b;

  PetscFunctionBegin;
  PetscAssertPointer(bb, 1);
  PetscCheck(bb->type == DEEPCD_MOE_BACKBONE_MLP, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "moe backbone %s: input scaling is for the mlp backbone only", DeepCDMoeBackboneTypes[bb->type]);
  PetscCheck(bb->nin == 2 + nparam, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "moe mlp backbone: %" PetscInt_FMT " inputs, given ranges of %" PetscInt_FMT " parameters", bb->nin, nparam);
  b = (BackboneMLP *) bb->data;
  PetscCall(PetscFree2(b->centre, b->half));
  PetscCall(PetscMalloc2(nparam, &b->centre, nparam, &b->half));
  for (PetscInt l = 0; l < nparam; l++) {
    PetscCheck(hi[l] >= lo[l], PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moe mlp backbone: parameter %" PetscInt_FMT " range [%g, %g] is empty", l, (double) lo[l], (double) hi[l]);
    b->centre[l] = 0.5 * (lo[l] + hi[l]);
    b->half[l]   = hi[l] > lo[l] ? 0.5 * (hi[l] - lo[l]) : 1.0;
  }
  b->scaled = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}
