/* Deterministic random numbers for training data and training (private):
   splitmix64 and Box-Muller, the same on every rank and platform. */
#ifndef DEEPCD_RNG_H
#define DEEPCD_RNG_H

#include <math.h>
#include <stdint.h>
#include <petscmath.h>

static inline uint64_t DeepCDSplitMix64(uint64_t *s)
{
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static inline double DeepCDUniform01(uint64_t *s) /* in (0, 1) */
{
  return ((double) (DeepCDSplitMix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static inline double DeepCDNormal01(uint64_t *s) /* Box-Muller, one value per call */
{
  double u = DeepCDUniform01(s), v = DeepCDUniform01(s);

  return sqrt(-2.0 * log(u)) * cos(2.0 * PETSC_PI * v);
}

#endif
