// Timing of one expert's Levenberg-Marquardt solve and backward pass at
// typical sizes (N = 32..128 basis functions, a few thousand rows). Not a
// test: run build/bin/test_moe_timing [-reps R]; docs/moe.md records its output.
#include <petscsys.h>
#include <petsctime.h>
#include <petscmat.h>
#include <cstring>
#include <vector>
#include <deepcd/moe.h>

static double Now()
{
  PetscLogDouble t;
  PetscTime(&t);
  return t;
}

int main(int argc, char **argv)
{
  PetscCall(PetscInitialize(&argc, &argv, nullptr, nullptr));
  PetscInt reps = 3;
  PetscCall(PetscOptionsGetInt(nullptr, nullptr, "-reps", &reps, nullptr));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "LM to ||J^T r||_inf <= 1e-8 ||J^T r(w0)||_inf, cap 200 steps; times are the best of %d\n\n", (int) reps));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "| PDE | N | PDE rows | all rows | LM (Gauss-Newton steps): steps (accepted), reason | time (ms) | LM (exact-Hessian steps): steps (accepted), reason | time (ms) | one J^T J (ms) | one Cholesky (ms) | backward, exact Hessian (ms) |\n|---|---|---|---|---|---|---|---|---|---|---|\n"));
  const char *types[] = { DEEPCD_MOE_PDE_HEAT, DEEPCD_MOE_PDE_BURGERS, DEEPCD_MOE_PDE_DIFFSORP };
  for (const char *type : types) {
    for (PetscInt N : { 32, 64, 128 }) {
      for (PetscInt m : { 1000, 4000 }) {
        DeepCDMoePDE  pde;
        DeepCDMoeGrid g;
        PetscCall(DeepCDMoePDECreate(type, &pde));
        PetscCall(DeepCDMoeGridSetUp(&g, 128, 65, pde->xlo, pde->xhi, pde->t0, pde->t1));
        const PetscInt P = g.nx * g.nt;
        DeepCDMoeMLP   mlp;
        PetscInt       width[] = { 2 + pde->nparam, 64, 64, N }, nth;
        PetscCall(DeepCDMoeMLPCreate(3, width, DEEPCD_MOE_ACT_TANH, DEEPCD_MOE_ACT_GELU, &mlp));
        PetscCall(DeepCDMoeMLPGetSizes(mlp, nullptr, nullptr, &nth));
        std::vector<double> th(nth), B(P * N, 0.0), u(P), ubar(P, 1.0 / P), Bbar(P * N);
        PetscCall(DeepCDMoeMLPInitialize(mlp, 1, th.data()));
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
        PetscCall(DeepCDMoeExpertsBasisForward(ex, mlp, th.data(), B.data()));
        DeepCDMoeConstraint c;
        PetscInt            mpde, mall;
        PetscCall(DeepCDMoeExpertsGetConstraint(ex, 0, &c));
        PetscCall(DeepCDMoeConstraintGetSizes(c, &mpde, &mall, nullptr));
        double          tlm = 1e30, tb = 1e30, th2 = 1e30, tch = 1e30, tnewton = 1e30;
        DeepCDMoeLMInfo ninfo;
        for (PetscInt r = 0; r < reps; r++) { // exact-Hessian steps first, then the default
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
        PetscCall(PetscPrintf(PETSC_COMM_WORLD, "| %s | %d | %d | %d | %d (%d) %s | %.1f | %d (%d) %s | %.1f | %.2f | %.3f | %.1f |\n", type, (int) N, (int) mpde, (int) mall, (int) info.its, (int) info.accepted, DeepCDMoeLMReasonName(info.reason), 1e3 * tlm, (int) ninfo.its, (int) ninfo.accepted, DeepCDMoeLMReasonName(ninfo.reason), 1e3 * tnewton, 1e3 * th2, 1e3 * tch, 1e3 * tb));
        PetscCall(DeepCDMoeExpertsDestroy(&ex));
        PetscCall(DeepCDMoeMLPDestroy(&mlp));
        PetscCall(DeepCDMoePDEDestroy(&pde));
      }
    }
  }
  PetscCall(PetscFinalize());
  return 0;
}
