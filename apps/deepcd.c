/* deepcd: command-line front end (docs/options.md lists every command). */
#include <stdio.h>
#include <string.h>
#include <deepcd/config.h>
#include "cli.h"

static void usage(FILE *f)
{
  fprintf(f, "usage: deepcd COMMAND [ARGS]\n"
             "\n"
             "commands:\n"
             "  gen    --scene S --n N [--nx X --ny Y --nz Z] [--seed K] -o problem.h5\n"
             "         write a synthetic problem (scenes: empty, spheres, plume, random, plates)\n"
             "  solve  problem.h5 -o out.h5 [PETSc options]\n"
             "         solve a problem file (default -ksp_type deepcd), write the solution\n"
             "  batch  LIST -o DIR [-batch_group_size G] [-resume] [-batch_shard I/N] [PETSc options]\n"
             "         solve many problems under MPI (groups of G ranks), with a journal and a summary\n"
             "  model  init --arch from64|from128 [--seed K] -o model.h5 | info model.h5\n"
             "         write a freshly initialised CNN model file, or summarise one\n"
             "  train-data problem.h5 [...] -o data.h5 [-nev K] [-samples S] [-low L] [-seed N]\n"
             "         Ritz vectors (SLEPc) and weighted unit right-hand sides for training\n"
             "  train  data.h5 -o model.h5 [--steps N] [--batch N] [--lr X] [--checkpoint F] ...\n"
             "         train a CNN with the DCDM loss (Adam; --resume ckpt.h5 continues a run)\n"
             "  mesh   field.h5 [--dataset sdf|x] [--iso V] [--close] -o out.{obj,ply,xdmf}\n"
             "         extract the isosurface of a problem's sdf or of a solution (FlexiCubes)\n"
             "  moe    train --pde heat|burgers|diffsorp|ns [--model soft|hard] [--experts KX,KT] ... -o run.h5\n"
             "         | eval run.h5: physics-informed hard constraints with a mixture of experts\n"
             "\n"
             "  deepcd COMMAND -help   lists a command's options\n"
             "  deepcd --version       prints the version\n");
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "gen")) return DeepCDCmdGen(argc - 1, argv + 1);
  if (!strcmp(cmd, "solve")) return DeepCDCmdSolve(argc - 1, argv + 1);
  if (!strcmp(cmd, "batch")) return DeepCDCmdBatch(argc - 1, argv + 1);
  if (!strcmp(cmd, "model")) return DeepCDCmdModel(argc - 1, argv + 1);
  if (!strcmp(cmd, "train-data")) return DeepCDCmdTrainData(argc - 1, argv + 1);
  if (!strcmp(cmd, "train")) return DeepCDCmdTrain(argc - 1, argv + 1);
  if (!strcmp(cmd, "mesh")) return DeepCDCmdMesh(argc - 1, argv + 1);
  if (!strcmp(cmd, "moe")) return DeepCDCmdMoe(argc - 1, argv + 1);
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    printf("deepcd %s\n", DEEPCD_VERSION_STRING);
    return 0;
  }
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "-help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "deepcd: error: unknown command '%s' (try 'deepcd --help')\n", cmd);
  return 2;
}
