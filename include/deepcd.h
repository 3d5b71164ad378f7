/* deepcd: the Deep Conjugate Direction method and its tools for PETSc.
   Umbrella header: include this one. */
#ifndef DEEPCD_H
#define DEEPCD_H

#include <deepcd/config.h>
#include <deepcd/problem.h>
#include <deepcd/scene.h>
#include <deepcd/operator.h>
#include <deepcd/solution.h>
#include <deepcd/dirgen.h>
#include <deepcd/ksp.h>
#include <deepcd/pc.h>
#include <deepcd/model_io.h>

#endif
