// Helpers shared by the mesh library's GoogleTest files (no PETSc): grids,
// sampled fields, an owned surface.
#ifndef DEEPCD_TEST_MESH_UTIL_H
#define DEEPCD_TEST_MESH_UTIL_H

#include <array>
#include <functional>
#include <vector>
#include <deepcd/mesh.h>

namespace mesh_test {

using Vec   = std::array<double, 3>;
using Field = std::function<double(const Vec &)>;

// Owns one extracted surface.
struct Surface {
  mesh_surface *s          = nullptr;
  Surface()                = default;
  Surface(const Surface &) = delete;
  ~Surface()
  {
    mesh_surface_destroy(&s);
  }
};

// nx x ny x nz cubes spanning the box [lo, hi].
inline mesh_grid Grid(int nx, int ny, int nz, Vec lo, Vec hi)
{
  mesh_grid g;
  int       d[3] = { nx, ny, nz };
  for (int a = 0; a < 3; a++) {
    g.dims[a]    = d[a];
    g.origin[a]  = lo[a];
    g.spacing[a] = (hi[a] - lo[a]) / d[a];
  }
  return g;
}

// f at the grid's vertices, in vertex order (x fastest).
inline std::vector<double> Sample(const mesh_grid &g, const Field &f)
{
  std::vector<double> v((size_t) (g.dims[0] + 1) * (g.dims[1] + 1) * (g.dims[2] + 1));
  size_t              n = 0;
  for (int k = 0; k <= g.dims[2]; k++)
    for (int j = 0; j <= g.dims[1]; j++)
      for (int i = 0; i <= g.dims[0]; i++) v[n++] = f({ g.origin[0] + g.spacing[0] * i, g.origin[1] + g.spacing[1] * j, g.origin[2] + g.spacing[2] * k });
  return v;
}

} // namespace mesh_test

#endif
