// Helpers shared by the GoogleTest files.
#ifndef DEEPCD_TEST_UTIL_H
#define DEEPCD_TEST_UTIL_H

#include <string>
#include <vector>
#include <deepcd.h>
#include <deepcd/private/petsccompat.h>

// A fresh directory under /tmp, the same on every rank (kept for inspection).
std::string TestTempDir(const std::string &tag);

// Runs a shell command; returns its exit status, stdout and stderr.
struct CommandResult {
  int         status;
  std::string out, err;
};
CommandResult RunCommand(const std::string &cmd);

// Path of the deepcd CLI under test.
std::string CliPath();

// Writes scene `scene` at nx x ny x nz with `seed` to `path` (rank 0 writes).
void WriteScene(const std::string &scene, int nx, int ny, int nz, unsigned long seed, const std::string &path);

// Reads a float64 dataset of a file into a vector (serial, whole dataset).
std::vector<double> ReadDataset(const std::string &path, const std::string &name);

bool FileExists(const std::string &path);

// n deterministic pseudo-random numbers in [-1, 1) for a seed (an LCG: the same on every machine).
std::vector<double> RandomVector(size_t n, unsigned seed);

// What KSPView prints for ksp (ASCII), as a string.
std::string KSPViewString(KSP ksp);

// A problem file loaded on one rank, its operator A, right-hand side b, a
// solution vector x, and a KSP of type deepcd on the problem's DMDA with the
// DM inactive (the operator is deepcd's own), as `deepcd solve` sets it up.
// NewKSP() replaces the KSP with a fresh one; everything is freed at the end.
struct ProblemKSP {
  DeepCDProblem p = nullptr;
  Mat           A = nullptr;
  Vec           b = nullptr, x = nullptr;
  KSP           ksp = nullptr;
  explicit ProblemKSP(const std::string &path);
  ~ProblemKSP();
  KSP NewKSP();
};

// A global vector of a DMDA in natural (x fastest) ordering, gathered on
// rank 0 of its communicator (empty on the other ranks).
std::vector<double> GatherNatural(DM da, Vec v);

#endif
