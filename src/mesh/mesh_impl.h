/* Internals of the mesh library: error raising and growable arrays. */
#ifndef DEEPCD_MESH_IMPL_H
#define DEEPCD_MESH_IMPL_H

#include <deepcd/mesh.h>

/* Raises an error: records the message and returns the code from the caller. */
mesh_err mesh_error_set(mesh_err code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
#define MESH_CHECK(cond, code, ...)                          \
  do {                                                       \
    if (!(cond)) return mesh_error_set((code), __VA_ARGS__); \
  } while (0)
#define MESH_CALL(expr)                        \
  do {                                         \
    mesh_err mesh_call_err_ = (expr);          \
    if (mesh_call_err_) return mesh_call_err_; \
  } while (0)

/* Makes room for `need` elements of `size` bytes in *p (capacity *cap),
   growing geometrically. */
mesh_err mesh_reserve(void **p, size_t *cap, size_t need, size_t size);
/* The same for a typed array `arr` (returns from the caller on failure). */
#define MESH_RESERVE(arr, cap, need)                                           \
  do {                                                                         \
    void    *mesh_p_ = (arr);                                                  \
    mesh_err mesh_e_ = mesh_reserve(&mesh_p_, &(cap), (need), sizeof(*(arr))); \
    (arr)            = mesh_p_;                                                \
    if (mesh_e_) return mesh_e_;                                               \
  } while (0)

/* Marks a hot, vectorisable loop kernel: on x86-64 with GCC or clang it is
   compiled twice, for AVX2 and for the baseline, and the loader picks the
   one the CPU runs (no -march flag needed). Needs glibc's ifunc. */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define MESH_VECTOR_KERNEL __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef MESH_VECTOR_KERNEL
#define MESH_VECTOR_KERNEL
#endif

#endif
