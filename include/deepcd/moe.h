/* Mixture-of-experts hard constraints (docs/moe.md): umbrella header of
   libdeepcd_moe. */
#ifndef DEEPCD_MOE_H
#define DEEPCD_MOE_H

#include <deepcd/moe_grid.h>
#include <deepcd/moe_mlp.h>
#include <deepcd/moe_backbone.h>
#include <deepcd/moe_pde.h>
#include <deepcd/moe_constraint.h>
#include <deepcd/moe_experts.h>
#include <deepcd/moe_train.h>

#endif
