/* Progress display for long work (training, data generation) and line plots
   of its history (loss curves) as PNG files through gnuplot.

   Only rank 0 of the communicator prints. On a terminal (stdout is a tty)
   one line is redrawn in place, at most ten times a second:
     PREFIX [#########...........] 120/1000  12% | FIELDS | 3.1 it/s | ETA 4m48s
   otherwise (a log file, a batch job) a plain line is printed at most every
   `interval` seconds (default 10; environment DEEPCD_PROGRESS_INTERVAL) and
   for the last step:
     PREFIX: 120/1000 (12%) FIELDS, 3.1 it/s, ETA 4m48s
   DEEPCD_PROGRESS=plain forces the plain lines on a terminal too. */
#ifndef DEEPCD_PROGRESS_H
#define DEEPCD_PROGRESS_H

#include <petscsys.h>

typedef struct _p_DeepCDProgress *DeepCDProgress;

PETSC_EXTERN PetscErrorCode DeepCDProgressCreate(MPI_Comm, const char prefix[], PetscInt total, DeepCDProgress *);
PETSC_EXTERN PetscErrorCode DeepCDProgressSetStart(DeepCDProgress, PetscInt start);
PETSC_EXTERN PetscErrorCode DeepCDProgressSetRateUnit(DeepCDProgress, const char unit[], double seconds);
PETSC_EXTERN PetscErrorCode DeepCDProgressUpdate(DeepCDProgress, PetscInt done, const char fields[]);
PETSC_EXTERN PetscErrorCode DeepCDProgressEnd(DeepCDProgress *, const char summary[]);
/* Frees without a summary (after a failure); a line drawn in place is cleared. */
PETSC_EXTERN PetscErrorCode DeepCDProgressDestroy(DeepCDProgress *);
PETSC_EXTERN PetscErrorCode DeepCDProgressFormatSeconds(double seconds, char buf[], size_t len);

PETSC_EXTERN PetscErrorCode DeepCDPlotLines(MPI_Comm, const char png[], const char title[], const char xlabel[], const char ylabel[], PetscBool logy, PetscInt nseries, const char *const names[], PetscInt n, const PetscReal x[], const PetscReal *const y[]);

#endif
