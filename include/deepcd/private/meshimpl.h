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

/* Vertices and tets being built (tets.c, tets_repair.c). */
typedef struct {
  double  *verts; /* 3 per vertex */
  size_t   nverts, cverts;
  int32_t *tets; /* 4 per tet */
  size_t   ntets, ctets;
} mesh_tet_arrays;
mesh_err mesh_tet_arrays_add_vertex(mesh_tet_arrays *m, const double x[3], int32_t *index);
mesh_err mesh_tet_arrays_add_tet(mesh_tet_arrays *m, int32_t v0, int32_t v1, int32_t v2, int32_t v3);
/* Signed volume det(b - a, c - a, d - a) / 6 of tet t; the smallest of n. */
double mesh_tet_volume(const double *x, const int32_t *t);
double mesh_min_tet_volume(const double *x, const int32_t (*t)[4], int n);
/* Apex and outward face of each face of a tet (t0, t1, t2, t3). */
extern const int mesh_tet_faces[4][4];
/* Repairs inverted tets in place (tets_repair.c): 2-3 flips, then edges
   removed with a Steiner point (appended to the vertices). */
mesh_err mesh_tets_repair(mesh_tet_arrays *m, int32_t *nflips, int32_t *nsteiner);

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
