#!/bin/sh
# The plugin exports only its API and loads without SLEPc or CUDA:
#   tests/check-exports.sh path/to/libdeepcd.so
# Fails listing every exported symbol outside the API (DeepCD*, KSP*/PC*
# registration and the KSPDEEPCD_/PCNEURALMG_/DEEPCD_ log events and class
# ids, PetscDLLibraryRegister_deepcd) and every SLEPc/CUDA library it needs.
set -eu
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' |
  grep -Ev '^(DeepCD[A-Za-z0-9_]*|KSP[A-Za-z0-9_]*|PC[A-Za-z0-9_]*|DEEPCD_[A-Za-z0-9_]*|PetscDLLibraryRegister_deepcd|_edata|_end|__bss_start|_init|_fini)$' |
  grep -Ev '^__odr_asan\.' || true) # the sanitizer build's ODR markers of exported globals
need=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -Ei 'slepc|cuda|cublas|cudnn' || true)
status=0
if [ -n "$bad" ]; then echo "$lib exports symbols outside its API:"; echo "$bad"; status=1; fi
if [ -n "$need" ]; then echo "$lib needs libraries the plugin must not need:"; echo "$need"; status=1; fi
[ $status -eq 0 ] && echo "$lib: $(nm -D --defined-only "$lib" | wc -l) exported symbols, all API; no SLEPc or CUDA library needed"
exit $status
