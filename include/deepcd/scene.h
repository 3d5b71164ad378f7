/* Synthetic problem scenes for `deepcd gen` (docs/formats.md, "Scenes"). */
#ifndef DEEPCD_SCENE_H
#define DEEPCD_SCENE_H

#include <deepcd/problem.h>

typedef enum { DEEPCD_SCENE_EMPTY,
               DEEPCD_SCENE_SPHERES,
               DEEPCD_SCENE_PLUME,
               DEEPCD_SCENE_RANDOM,
               DEEPCD_SCENE_PLATES } DeepCDSceneType;

PETSC_EXTERN const char *const DeepCDSceneTypes[];
PETSC_EXTERN PetscErrorCode    DeepCDSceneTypeFromString(const char[], DeepCDSceneType *);
PETSC_EXTERN PetscErrorCode    DeepCDSceneGenerate(DeepCDSceneType, PetscInt, PetscInt, PetscInt, unsigned long, DeepCDProblemData **);

#endif
