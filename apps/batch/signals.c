/* SIGTERM and SIGINT during a batch (Slurm sends SIGTERM before SIGKILL):
   the handler only counts; the batch loop reads the count between problems
   (the first signal: take no more problems) and the solve's monitor reads it
   every iteration (the second signal: abandon the solves under way). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <string.h>
#include "batch.h"

static volatile sig_atomic_t nsignals = 0;

static void on_signal(int sig)
{
  (void) sig;
  if (nsignals < 1000) nsignals++;
}

PetscErrorCode DeepCDBatchSignalsInstall(void)
{
  struct sigaction sa;

  PetscFunctionBegin;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  PetscCheck(!sigaction(SIGTERM, &sa, NULL) && !sigaction(SIGINT, &sa, NULL), PETSC_COMM_SELF, PETSC_ERR_SYS, "cannot install the SIGTERM/SIGINT handler");
  PetscFunctionReturn(PETSC_SUCCESS);
}

int DeepCDBatchSignalsCount(void)
{
  return (int) nsignals;
}
