// Timing of one expert's Levenberg-Marquardt solve and backward pass at
// typical sizes (N = 32..128 basis functions, a few thousand rows), and of
// PETSc TAO's BRGN with the lm regulariser on the same least-squares
// problems. Not a test: run build/bin/test_moe_timing [-reps R]
// [-tao_brgn_... options]; docs/moe.md records its output. It stops with an
// error when TAO and the hand-written LM reach different solutions.
#include <petscsys.h>
#include <petsctime.h>
#include <petscmat.h>
#include <petsctao.h>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>
#include <deepcd/moe.h>
#include <deepcd/private/petsccompat.h>

static double Now()
{
  PetscLogDouble t;
  PetscTime(&t);
  return t;
}

// One expert's stacked residual r(w) (m + N rows, ridge rows included) and
// its Jacobian, for TAO. The constraint gives J row-major; the MATSEQDENSE
// is column-major, so J is copied across.
struct TaoLSQ {
  DeepCDMoeConstraint c;
  PetscInt            mall, N;
  std::vector<double> Jrow; // (m + N) x N, row-major
};

static PetscErrorCode TaoLSQResidual(Tao, Vec w, Vec r, void *ctx)
{
  TaoLSQ            *p = (TaoLSQ *) ctx;
  const PetscScalar *wa;
  PetscScalar       *ra;

  PetscFunctionBegin;
  PetscCall(VecGetArrayRead(w, &wa));
  PetscCall(VecGetArrayWrite(r, &ra));
  PetscCall(DeepCDMoeConstraintResidual(p->c, wa, ra));
  PetscCall(VecRestoreArrayWrite(r, &ra));
  PetscCall(VecRestoreArrayRead(w, &wa));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TaoLSQJacobian(Tao, Vec w, Mat J, Mat, void *ctx)
{
  TaoLSQ            *p = (TaoLSQ *) ctx;
  const PetscScalar *wa;
  PetscScalar       *Ja;
  PetscInt           lda;

  PetscFunctionBegin;
  PetscCall(VecGetArrayRead(w, &wa));
  PetscCall(DeepCDMoeConstraintJacobian(p->c, wa, p->Jrow.data()));
  PetscCall(VecRestoreArrayRead(w, &wa));
  PetscCall(MatDenseGetLDA(J, &lda));
  PetscCall(MatDenseGetArrayWrite(J, &Ja));
  for (PetscInt l = 0; l < p->N; l++)
    for (PetscInt k = 0; k < p->mall; k++) Ja[k + l * lda] = p->Jrow[k * p->N + l];
  PetscCall(MatDenseRestoreArrayWrite(J, &Ja));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static double Norm2(const std::vector<double> &x)
{
  double s = 0.0;
  for (double v : x) s += v * v;
  return std::sqrt(s);
}

static double NormInf(const std::vector<double> &x)
{
  double s = 0.0;
  for (double v : x) s = std::max(s, std::fabs(v));
  return s;
}

// The same problem, start, step cap and (as near as TAO allows) stopping
// rule as DeepCDMoeLMSolve() with o: TAOBRGN, -tao_brgn_regularization_type lm
// unless the options say otherwise. TAO stops on the 2-norm of the gradient;
// gatol = grtol_LM ||J^T r(w0)||_inf on ||J^T r||_2 is at least as strict as
// the LM's ||J^T r||_inf test (by up to sqrt(N)). Times TaoSolve() alone, the
// best of reps, against DeepCDMoeLMSolve() alone on the same basis, and
// appends one table row to row. differ: the LM converged but TAO did not, or
// not to the same minimiser. The problems are ill-conditioned (ridge 1e-4),
// so at this tolerance w is pinned down to about 1e-2 only: the same
// minimiser means w within 5e-2 and ||r|| within 1e-3, relative; local
// minima differ by far more.
static PetscErrorCode CompareTao(const char *type, DeepCDMoeConstraint c, const DeepCDMoeLMOptions *o, PetscInt reps, std::string *row, PetscBool *differ)
{
  TaoLSQ             p;
  PetscInt           mall, N, its = 0, kspits = 0;
  TaoConvergedReason reason = TAO_CONTINUE_ITERATING;
  DeepCDMoeLMInfo    info;
  double             tlm = 1e30, ttao = 1e30;
  Vec                w, r;
  Mat                J;
  const PetscScalar *wa;

  PetscFunctionBegin;
  PetscCall(DeepCDMoeConstraintGetSizes(c, nullptr, &mall, &N));
  p.c    = c;
  p.mall = mall;
  p.N    = N;
  p.Jrow.resize(mall * N);
  std::vector<double> w0(N, o->w0), wlm(N), wtao(N), g(N), rlm(mall), rtao(mall);
  PetscCall(DeepCDMoeConstraintNormal(c, w0.data(), DEEPCD_MOE_HESSIAN_GN, nullptr, g.data(), nullptr));
  const double gatol = o->gatol + o->grtol * NormInf(g);
  PetscCall(VecCreateSeq(PETSC_COMM_SELF, N, &w));
  PetscCall(VecCreateSeq(PETSC_COMM_SELF, mall, &r));
  PetscCall(MatCreateSeqDense(PETSC_COMM_SELF, mall, N, nullptr, &J));
  for (PetscInt rep = 0; rep < reps; rep++) {
    Tao tao; // a fresh solver per repetition: BRGN keeps its damping between solves

    double t0 = Now();
    PetscCall(DeepCDMoeLMSolve(c, o, wlm.data(), &info));
    tlm = std::min(tlm, Now() - t0);
    PetscCall(TaoCreate(PETSC_COMM_SELF, &tao));
    PetscCall(TaoSetType(tao, TAOBRGN));
    PetscCall(TaoSetResidualRoutine(tao, r, TaoLSQResidual, &p));
    PetscCall(TaoSetJacobianResidualRoutine(tao, J, J, TaoLSQJacobian, &p));
    PetscCall(TaoSetTolerances(tao, gatol, 0.0, 0.0));
    PetscCall(TaoSetMaximumIterations(tao, o->max_it));
    PetscCall(VecSet(w, o->w0));
    PetscCall(TaoSetSolution(tao, w));
    PetscCall(TaoSetFromOptions(tao));
    PetscCall(TaoSetUp(tao));
    t0 = Now();
    PetscCall(TaoSolve(tao));
    ttao = std::min(ttao, Now() - t0);
    PetscCall(TaoGetIterationNumber(tao, &its));
    PetscCall(TaoGetLinearSolveIterations(tao, &kspits));
    PetscCall(TaoGetConvergedReason(tao, &reason));
    PetscCall(TaoDestroy(&tao));
  }
  PetscCall(VecGetArrayRead(w, &wa));
  std::copy(wa, wa + N, wtao.begin());
  PetscCall(VecRestoreArrayRead(w, &wa));
  PetscCall(DeepCDMoeConstraintResidual(c, wlm.data(), rlm.data()));
  PetscCall(DeepCDMoeConstraintResidual(c, wtao.data(), rtao.data()));
  PetscCall(DeepCDMoeConstraintNormal(c, wtao.data(), DEEPCD_MOE_HESSIAN_GN, nullptr, g.data(), nullptr));
  std::vector<double> dw(N);
  for (PetscInt l = 0; l < N; l++) dw[l] = wtao[l] - wlm[l];
  const double relw = Norm2(dw) / Norm2(wlm), relr = std::fabs(Norm2(rtao) - Norm2(rlm)) / Norm2(rlm);
  const bool   lmok = info.reason > 0, same = reason > 0 && relw <= 5e-2 && relr <= 1e-3;
  char         line[512];
  PetscCall(PetscSNPrintf(line, sizeof(line), "| %s | %d | %d | %d (%d) | %.1f | %.2f | %d (%d) %s | %.1f | %.2f | %.1f | %.1e | %.1e | %.1e | %.1e | %s |\n", type, (int) N, (int) mall, (int) info.its, (int) info.accepted, 1e3 * tlm, 1e3 * tlm / PetscMax(info.its, 1), (int) its, (int) kspits, TaoConvergedReasons[reason], 1e3 * ttao, 1e3 * ttao / PetscMax(its, 1), ttao / tlm, (double) info.gnorm, NormInf(g), relw, relr, !lmok ? "LM not converged" : same ? "yes"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                         : "**no**"));
  *row += line;
  *differ = (PetscBool) (lmok && !same);
  PetscCall(MatDestroy(&J));
  PetscCall(VecDestroy(&r));
  PetscCall(VecDestroy(&w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscCall(PetscInitialize(&argc, &argv, nullptr, nullptr));
  PetscInt    reps = 3, ndiffer = 0;
  PetscBool   set, taoonly      = PETSC_FALSE;
  char        only[32] = "";
  std::string taorows;
  PetscCall(PetscOptionsGetInt(nullptr, nullptr, "-reps", &reps, nullptr));
  PetscCall(PetscOptionsGetBool(nullptr, nullptr, "-tao_only", &taoonly, nullptr));        // the TAO table alone
  PetscCall(PetscOptionsGetString(nullptr, nullptr, "-pde", only, sizeof(only), nullptr)); // one PDE alone
  PetscCall(PetscOptionsHasName(nullptr, nullptr, "-tao_brgn_regularization_type", &set));
  if (!set) PetscCall(PetscOptionsSetValue(nullptr, "-tao_brgn_regularization_type", "lm"));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "LM to ||J^T r||_inf <= 1e-8 ||J^T r(w0)||_inf, cap 200 steps; times are the best of %d\n\n", (int) reps));
  if (!taoonly) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "| PDE | N | PDE rows | all rows | LM (Gauss-Newton steps): steps (accepted), reason | time (ms) | LM (exact-Hessian steps): steps (accepted), reason | time (ms) | one J^T J (ms) | one Cholesky (ms) | backward, exact Hessian (ms) |\n|---|---|---|---|---|---|---|---|---|---|---|\n"));
  const char *types[] = { DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_PDE_BURGERS, DEEPCD_MOE_PDE_DIFFSORP };
  for (const char *type : types) {
    if (only[0] && strcmp(only, type)) continue;
    for (PetscInt N : { 32, 64, 128 }) {
      for (PetscInt m : { 1000, 4000 }) {
        DeepCDMoePDE  pde;
        DeepCDMoeGrid g;
        PetscCall(DeepCDMoePDECreate(type, &pde));
        PetscCall(DeepCDMoeGridSetUp(&g, 128, 65, pde->xlo, pde->xhi, pde->t0, pde->t1));
        const PetscInt    P = g.nx * g.nt;
        DeepCDMoeMLP      mlp;
        DeepCDMoeBackbone net;
        PetscInt          width[] = { 2 + pde->nparam, 64, 64, N }, nth;
        PetscCall(DeepCDMoeMLPCreate(3, width, DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_GELU, &mlp));
        PetscCall(DeepCDMoeBackboneCreateMLP(mlp, &net));
        PetscCall(DeepCDMoeBackboneGetSizes(net, nullptr, nullptr, &nth));
        std::vector<double> th(nth), B(P * N, 0.0), u(P), ubar(P, 1.0 / P), Bbar(P * N);
        PetscCall(DeepCDMoeBackboneInitialize(net, 1, th.data()));
        DeepCDMoeExperts ex;
        PetscCall(DeepCDMoeExpertsCreate(PETSC_COMM_SELF, pde, &g, N, 1, 1, &ex));
        PetscCall(DeepCDMoeExpertsSetSampling(ex, m, 1));
        DeepCDMoeLMOptions o;
        PetscCall(DeepCDMoeLMOptionsDefault(&o));
        o.w0     = strcmp(type, DEEPCD_MOE_PDE_DIFFSORP) ? 0.0 : 1.0;
        o.max_it = 200;
        o.gatol  = 0.0;
        o.grtol  = 1e-8;
        PetscCall(DeepCDMoeExpertsSetLMOptions(ex, &o));
        PetscCall(DeepCDMoeExpertsSetUp(ex));
        PetscCall(DeepCDMoeExpertsBasisForward(ex, net, th.data(), B.data()));
        DeepCDMoeConstraint c;
        PetscInt            mpde, mall;
        PetscCall(DeepCDMoeExpertsGetConstraint(ex, 0, &c));
        PetscCall(DeepCDMoeConstraintGetSizes(c, &mpde, &mall, nullptr));
        double          tlm = 1e30, tb = 1e30, th2 = 1e30, tch = 1e30, tnewton = 1e30;
        DeepCDMoeLMInfo ninfo;
        PetscCall(DeepCDMoeExpertsSolve(ex, B.data(), u.data())); // sets the basis of c
        for (PetscInt r = 0; r < (taoonly ? 0 : reps); r++) {     // exact-Hessian steps first, then the default
          DeepCDMoeLMOptions on = o;
          on.hessian            = DEEPCD_MOE_HESSIAN_EXACT;
          PetscCall(DeepCDMoeExpertsSetLMOptions(ex, &on));
          double tn = Now();
          PetscCall(DeepCDMoeExpertsSolve(ex, B.data(), u.data()));
          tnewton = std::min(tnewton, Now() - tn);
          PetscCall(DeepCDMoeExpertsGetLMInfo(ex, 0, &ninfo));
          PetscCall(DeepCDMoeExpertsSetLMOptions(ex, &o));
          double t0 = Now();
          PetscCall(DeepCDMoeExpertsSolve(ex, B.data(), u.data()));
          double t1 = Now();
          std::fill(Bbar.begin(), Bbar.end(), 0.0);
          PetscCall(DeepCDMoeExpertsBackward(ex, B.data(), ubar.data(), Bbar.data()));
          double t2 = Now();
          tlm       = std::min(tlm, t1 - t0);
          tb        = std::min(tb, t2 - t1);
          // the parts of one step: the Gauss-Newton matrix, one Cholesky
          const double       *w;
          std::vector<double> H(N * N), gr(N), A(N * N);
          PetscCall(DeepCDMoeExpertsGetWeights(ex, 0, &w));
          double t3 = Now();
          PetscCall(DeepCDMoeConstraintNormal(c, w, DEEPCD_MOE_HESSIAN_GN, nullptr, gr.data(), H.data()));
          double t4 = Now();
          th2       = std::min(th2, t4 - t3);
          Mat M; // PETSc's dense Cholesky is LAPACK potrf, as in the solver
          for (PetscInt k = 0; k < N * N; k++) A[k] = H[k] + (k % (N + 1) == 0 ? 1e-3 * H[0] : 0.0);
          PetscCall(MatCreateSeqDense(PETSC_COMM_SELF, N, N, A.data(), &M));
          double t5 = Now();
          PetscCall(MatCholeskyFactor(M, nullptr, nullptr));
          double t6 = Now();
          PetscCall(MatDestroy(&M));
          tch = std::min(tch, t6 - t5);
        }
        DeepCDMoeLMInfo info;
        PetscCall(DeepCDMoeExpertsGetLMInfo(ex, 0, &info));
        if (!taoonly) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "| %s | %d | %d | %d | %d (%d) %s | %.1f | %d (%d) %s | %.1f | %.2f | %.3f | %.1f |\n", type, (int) N, (int) mpde, (int) mall, (int) info.its, (int) info.accepted, DeepCDMoeLMReasonName(info.reason), 1e3 * tlm, (int) ninfo.its, (int) ninfo.accepted, DeepCDMoeLMReasonName(ninfo.reason), 1e3 * tnewton, 1e3 * th2, 1e3 * tch, 1e3 * tb));
        PetscBool differ;
        PetscCall(CompareTao(type, c, &o, reps, &taorows, &differ));
        if (differ) ndiffer++;
        PetscCall(DeepCDMoeExpertsDestroy(&ex));
        PetscCall(DeepCDMoeBackboneDestroy(&net));
        PetscCall(DeepCDMoePDEDestroy(&pde));
      }
    }
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "\nTAO BRGN against the hand-written LM (Gauss-Newton steps), the same basis, w0, cap and tolerance; TaoSolve() and DeepCDMoeLMSolve() alone, best of %d\n\n", (int) reps));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "| PDE | N | all rows | LM: steps (accepted) | time (ms) | ms/step | TAO BRGN: its (KSP its), reason | time (ms) | ms/it | time TAO / LM | LM ||J^T r||_inf | TAO ||J^T r||_inf | rel. diff. w | rel. diff. ||r|| | same minimiser |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s", taorows.c_str()));
  PetscCheck(!ndiffer, PETSC_COMM_WORLD, PETSC_ERR_NOT_CONVERGED, "%d TAO solves did not reach the converged LM's minimiser (table above): their times are not comparable", (int) ndiffer);
  PetscCall(PetscFinalize());
  return 0;
}
