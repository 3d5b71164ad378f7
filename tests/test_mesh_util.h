// Helpers shared by the mesh library's GoogleTest files (no PETSc).
#ifndef DEEPCD_TEST_MESH_UTIL_H
#define DEEPCD_TEST_MESH_UTIL_H

#include <array>
#include <functional>
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

} // namespace mesh_test

#endif
