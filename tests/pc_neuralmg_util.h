// Helpers of the PCNEURALMG tests: a cell-centred operator -div(k grad u)
// with blocky coefficients, random solid cells and D/N walls, assembled on
// any 3-D DMDA (any ownership ranges) from global cell indices only, so that
// 1-rank and n-rank assemblies are the same matrix; and checks of a PC.
#ifndef DEEPCD_PC_NEURALMG_UTIL_H
#define DEEPCD_PC_NEURALMG_UTIL_H

#include <petscdmda.h>
#include <petscksp.h>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <deepcd/pc.h>
#include <deepcd.h>
#include <gtest/gtest.h>
#include "test_util.h"
#include <deepcd/private/petsccompat.h>

struct NMGOpSpec {
  PetscInt    M[3];
  const char *walls;    // 6 letters D/N: x-, x+, y-, y+, z-, z+
  double      contrast; // k is 1 or contrast on 3x3x3 blocks
  int         solid_pc; // percent of solid cells
};

static inline unsigned NMGHash(PetscInt i, PetscInt j, PetscInt k, unsigned salt)
{
  unsigned long long x = (unsigned long long) (i + 1000 * j + 1000000 * k) * 6364136223846793005ULL + salt * 1442695040888963407ULL;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 32;
  return (unsigned) x;
}

static inline bool NMGSolid(const NMGOpSpec &s, PetscInt i, PetscInt j, PetscInt k)
{
  return (int) (NMGHash(i, j, k, 7) % 100) < s.solid_pc;
}

static inline double NMGCoef(const NMGOpSpec &s, PetscInt i, PetscInt j, PetscInt k)
{
  return NMGHash(i / 3, j / 3, k / 3, 11) % 2 ? s.contrast : 1.0;
}

// DMDA with the given x ownership sizes (NULL: PETSc decides)
static inline DM NMGCreateDA(MPI_Comm comm, const NMGOpSpec &s, PetscInt px, const PetscInt *lx, DMDAStencilType st = DMDA_STENCIL_STAR, PetscInt dof = 1)
{
  DM da;
  DMDACreate3d(comm, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, st, s.M[0], s.M[1], s.M[2], px, PETSC_DECIDE, PETSC_DECIDE, dof, 1, lx, NULL, NULL, &da);
  DMSetUp(da);
  return da;
}

static inline Mat NMGAssemble(DM da, const NMGOpSpec &s)
{
  Mat      A;
  PetscInt xs, ys, zs, xm, ym, zm;
  DMCreateMatrix(da, &A);
  DMDAGetCorners(da, &xs, &ys, &zs, &xm, &ym, &zm);
  for (PetscInt k = zs; k < zs + zm; k++)
    for (PetscInt j = ys; j < ys + ym; j++)
      for (PetscInt i = xs; i < xs + xm; i++) {
        MatStencil  row = { k, j, i, 0 }, col[7];
        PetscScalar val[7], diag = 0;
        PetscInt    nc = 1;
        if (NMGSolid(s, i, j, k)) {
          val[0] = 1.0;
          MatSetValuesStencil(A, 1, &row, 1, &row, val, INSERT_VALUES);
          continue;
        }
        for (int d = 0; d < 3; d++)
          for (int side = -1; side <= 1; side += 2) {
            PetscInt c[3] = { i, j, k };
            double   ki   = NMGCoef(s, i, j, k);
            c[d] += side;
            if (c[d] < 0 || c[d] >= s.M[d]) {
              if (s.walls[2 * d + (side > 0)] == 'D') diag += 2 * ki;
              continue;
            }
            if (NMGSolid(s, c[0], c[1], c[2])) continue;
            double kj = NMGCoef(s, c[0], c[1], c[2]), kf = 2 * ki * kj / (ki + kj);
            col[nc].i = c[0];
            col[nc].j = c[1];
            col[nc].k = c[2];
            col[nc].c = 0;
            val[nc++] = -kf;
            diag += kf;
          }
        col[0] = row;
        val[0] = diag;
        MatSetValuesStencil(A, 1, &row, nc, col, val, INSERT_VALUES);
      }
  MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY);
  return A;
}

// A PC of type neuralmg on A with the DMDA da (options: PETSc option string, prefix "t_")
static inline PC NMGCreatePC(DM da, Mat A, const char *options = "")
{
  PC pc;
  PCCreate(PetscObjectComm((PetscObject) A), &pc);
  PCSetOptionsPrefix(pc, "t_");
  PCSetOperators(pc, A, A);
  if (da) PCSetDM(pc, da);
  PCSetType(pc, PCNEURALMG);
  PetscOptionsPrefixPush(NULL, "t_");
  PetscOptionsInsertString(NULL, options);
  PetscOptionsPrefixPop(NULL);
  PCSetFromOptions(pc);
  PetscOptionsClear(NULL);
  return pc;
}

// worst |x.My - y.Mx| / sqrt(x.Mx y.My) and least x.Mx / x.x over n random pairs
static inline void NMGSymmetryPositivity(PC pc, Mat A, int n, double *asym, double *minpos)
{
  Vec         x, y, Mx, My;
  PetscRandom rnd;
  MatCreateVecs(A, &x, NULL);
  VecDuplicate(x, &y);
  VecDuplicate(x, &Mx);
  VecDuplicate(x, &My);
  PetscRandomCreate(PetscObjectComm((PetscObject) A), &rnd);
  PetscRandomSetInterval(rnd, -1.0, 1.0);
  *asym   = 0;
  *minpos = 1e300;
  for (int t = 0; t < n; t++) {
    PetscScalar xMy, yMx, xMx, yMy, xx;
    VecSetRandom(x, rnd);
    VecSetRandom(y, rnd);
    PCApply(pc, x, Mx);
    PCApply(pc, y, My);
    VecDot(x, My, &xMy);
    VecDot(y, Mx, &yMx);
    VecDot(x, Mx, &xMx);
    VecDot(y, My, &yMy);
    VecDot(x, x, &xx);
    *asym   = std::fmax(*asym, std::fabs(xMy - yMx) / std::sqrt(std::fabs(xMx * yMy)));
    *minpos = std::fmin(*minpos, xMx / xx);
  }
  PetscRandomDestroy(&rnd);
  VecDestroy(&x);
  VecDestroy(&y);
  VecDestroy(&Mx);
  VecDestroy(&My);
}

// a PC with these options is symmetric (to 1e-5) and positive on n random pairs
static inline void NMGExpectSPD(DM da, Mat A, const char *options, int n)
{
  PC     pc = NMGCreatePC(da, A, options);
  double asym, minpos;
  ASSERT_EQ(PCSetUp(pc), 0) << options;
  NMGSymmetryPositivity(pc, A, n, &asym, &minpos);
  EXPECT_LT(asym, 1e-5) << options;
  EXPECT_GT(minpos, 0) << options;
  PCDestroy(&pc);
}

// CG + neuralmg on A x = A*ones-ish right-hand side; returns iterations (negative: diverged)
static inline PetscInt NMGSolveCG(DM da, Mat A, const char *options, double rtol, double *relres = nullptr)
{
  KSP                ksp;
  Vec                x, b, r;
  PetscInt           its;
  KSPConvergedReason reason;
  MatCreateVecs(A, &x, &b);
  VecDuplicate(b, &r);
  VecSet(x, 1.0);
  MatMult(A, x, b);
  VecSet(x, 0.0);
  KSPCreate(PetscObjectComm((PetscObject) A), &ksp);
  KSPSetOptionsPrefix(ksp, "t_");
  KSPSetOperators(ksp, A, A);
  KSPSetDM(ksp, da);
  KSPSetDMActive(ksp, PETSC_FALSE);
  KSPSetType(ksp, KSPCG);
  KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED);
  KSPSetTolerances(ksp, rtol, 1e-300, PETSC_DEFAULT, 500);
  PetscOptionsPrefixPush(NULL, "t_");
  PetscOptionsInsertString(NULL, "-pc_type neuralmg");
  PetscOptionsInsertString(NULL, options);
  PetscOptionsPrefixPop(NULL);
  KSPSetFromOptions(ksp);
  KSPSolve(ksp, b, x);
  PetscOptionsClear(NULL);
  KSPGetIterationNumber(ksp, &its);
  KSPGetConvergedReason(ksp, &reason);
  if (relres) {
    PetscReal nr, nb;
    MatMult(A, x, r);
    VecAYPX(r, -1.0, b);
    VecNorm(r, NORM_2, &nr);
    VecNorm(b, NORM_2, &nb);
    *relres = nr / nb;
  }
  KSPDestroy(&ksp);
  VecDestroy(&x);
  VecDestroy(&b);
  VecDestroy(&r);
  return reason > 0 ? its : -its - 1;
}

// deepcd problem file -> operator (with null space) and CG iterations
struct SceneSolve {
  PetscInt           its;
  KSPConvergedReason reason;
  double             relres;
};

static inline SceneSolve SolveProblem(DeepCDProblem p, const char *ksptype, const char *options, double rtol)
{
  SceneSolve s;
  Mat        A;
  Vec        b, x, r;
  KSP        ksp;
  PetscReal  nr, nb;
  EXPECT_EQ(DeepCDOperatorSetUp(p, &A, &b), 0);
  VecDuplicate(b, &x);
  VecDuplicate(b, &r);
  KSPCreate(PETSC_COMM_SELF, &ksp);
  KSPSetOptionsPrefix(ksp, "t_");
  KSPSetOperators(ksp, A, A);
  KSPSetDM(ksp, p->da);
  DeepCDKSPSetDMActive(ksp, PETSC_FALSE);
  KSPSetType(ksp, ksptype);
  KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED);
  KSPSetTolerances(ksp, rtol, 1e-300, PETSC_DEFAULT, 300);
  PetscOptionsPrefixPush(NULL, "t_");
  PetscOptionsInsertString(NULL, "-pc_type neuralmg");
  PetscOptionsInsertString(NULL, options);
  PetscOptionsPrefixPop(NULL);
  EXPECT_EQ(KSPSetFromOptions(ksp), 0);
  EXPECT_EQ(KSPSolve(ksp, b, x), 0);
  PetscOptionsClear(NULL);
  KSPGetIterationNumber(ksp, &s.its);
  KSPGetConvergedReason(ksp, &s.reason);
  MatMult(A, x, r);
  VecAYPX(r, -1.0, b);
  VecNorm(r, NORM_2, &nr);
  VecNorm(b, NORM_2, &nb);
  s.relres = nr / nb;
  KSPDestroy(&ksp);
  VecDestroy(&x);
  VecDestroy(&b);
  VecDestroy(&r);
  MatDestroy(&A);
  return s;
}

static inline SceneSolve SolveScene(const std::string &scene, int n, const char *ksptype, const char *options, double rtol)
{
  std::string path = TestTempDir("pc_neuralmg") + "/" + scene + "_" + std::to_string(n) + ".h5";
  if (!FileExists(path)) WriteScene(scene, n, n, n, 2026, path);
  DeepCDProblem p;
  EXPECT_EQ(DeepCDProblemLoad(PETSC_COMM_SELF, path.c_str(), &p), 0);
  SceneSolve s = SolveProblem(p, ksptype, options, rtol);
  DeepCDProblemDestroy(&p);
  return s;
}

// the first error message of a failing call (a PETSc error handler)
struct Captured {
  std::string msg;
};
static inline PetscErrorCode CaptureError(MPI_Comm, int, const char *, const char *, PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx)
{
  Captured *c = (Captured *) ctx;
  if (p == PETSC_ERROR_INITIAL && c->msg.empty()) c->msg = mess ? mess : "";
  return n;
}

// what PCView() prints
static inline std::string NMGViewOf(PC pc)
{
  std::string path = TestTempDir("pc_neuralmg_view") + "/view.txt";
  PetscViewer v;
  PetscViewerASCIIOpen(PetscObjectComm((PetscObject) pc), path.c_str(), &v);
  PCView(pc, v);
  PetscViewerDestroy(&v);
  std::ifstream     f(path);
  std::stringstream buf;
  buf << f.rdbuf();
  return buf.str();
}

#endif
