/* Mesh writers: Wavefront OBJ and binary little-endian PLY. Each file is
   written under PATH.tmp.HOST.PID and renamed, so PATH never holds a partial mesh. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/meshimpl.h>
#include <deepcd/private/tmpfile.h>

static mesh_err check_mesh(const char *who, const char *path, int32_t nverts, const double *verts, int32_t ntris, const int32_t *tris)
{
  MESH_CHECK(path && *path, MESH_ERR_ARG, "%s: no file name", who);
  MESH_CHECK(nverts >= 0 && ntris >= 0, MESH_ERR_ARG, "%s: %d vertices, %d triangles", who, nverts, ntris);
  MESH_CHECK((verts || !nverts) && (tris || !ntris), MESH_ERR_ARG, "%s: NULL arrays", who);
  for (int64_t i = 0; i < 3 * (int64_t) ntris; i++) MESH_CHECK(tris[i] >= 0 && tris[i] < nverts, MESH_ERR_ARG, "%s: triangle %lld has vertex %d (of %d)", who, (long long) (i / 3), tris[i], nverts);
  return MESH_SUCCESS;
}

/* Opens PATH.tmp.HOST.PID for writing (removing those of dead writers); *tmp is malloc'ed. */
static mesh_err open_tmp(const char *who, const char *path, const char *mode, char **tmp, FILE **f)
{
  size_t n = strlen(path) + 96;

  *f   = NULL;
  *tmp = malloc(n);
  MESH_CHECK(*tmp, MESH_ERR_MEM, "%s: out of memory", who);
  if (deepcd_tmp_name(*tmp, n, path)) {
    free(*tmp);
    *tmp = NULL;
    return mesh_error_set(MESH_ERR_ARG, "%s: file name '%s' is too long", who, path);
  }
  (void) deepcd_tmp_remove_stale(path);
  *f = fopen(*tmp, mode);
  if (!*f) {
    free(*tmp);
    *tmp = NULL;
    return mesh_error_set(MESH_ERR_IO, "%s: cannot open '%s' for writing", who, path);
  }
  return MESH_SUCCESS;
}

/* Closes the file and renames it into place; removes it on any failure. */
static mesh_err finish_tmp(const char *who, const char *path, char *tmp, FILE *f, int failed)
{
  failed |= ferror(f) != 0;
  failed |= fclose(f) != 0;
  if (!failed && rename(tmp, path) != 0) failed = 1;
  if (failed) remove(tmp);
  free(tmp);
  MESH_CHECK(!failed, MESH_ERR_IO, "%s: writing '%s' failed", who, path);
  return MESH_SUCCESS;
}

mesh_err mesh_write_obj(const char *path, int32_t nverts, const double *verts, int32_t ntris, const int32_t *tris)
{
  char *tmp;
  FILE *f;
  int   failed = 0;

  MESH_CALL(check_mesh("mesh_write_obj", path, nverts, verts, ntris, tris));
  MESH_CALL(open_tmp("mesh_write_obj", path, "w", &tmp, &f));
  failed |= fprintf(f, "# deepcd mesh: %d vertices, %d triangles\n", nverts, ntris) < 0;
  for (int32_t v = 0; v < nverts && !failed; v++) failed |= fprintf(f, "v %.9g %.9g %.9g\n", verts[3 * v], verts[3 * v + 1], verts[3 * v + 2]) < 0;
  for (int32_t t = 0; t < ntris && !failed; t++) failed |= fprintf(f, "f %d %d %d\n", tris[3 * t] + 1, tris[3 * t + 1] + 1, tris[3 * t + 2] + 1) < 0;
  return finish_tmp("mesh_write_obj", path, tmp, f, failed);
}

static unsigned char *put_u32le(unsigned char *p, uint32_t u)
{
  p[0] = (unsigned char) (u & 0xff);
  p[1] = (unsigned char) (u >> 8 & 0xff);
  p[2] = (unsigned char) (u >> 16 & 0xff);
  p[3] = (unsigned char) (u >> 24 & 0xff);
  return p + 4;
}

static unsigned char *put_f32le(unsigned char *p, double x)
{
  float    f = (float) x;
  uint32_t u;

  memcpy(&u, &f, sizeof(u));
  return put_u32le(p, u);
}

mesh_err mesh_write_ply(const char *path, int32_t nverts, const double *verts, int32_t ntris, const int32_t *tris)
{
  enum { CHUNK = 4096 };
  unsigned char buf[CHUNK * 13], *p;
  char         *tmp;
  FILE         *f;
  int           failed = 0;

  MESH_CALL(check_mesh("mesh_write_ply", path, nverts, verts, ntris, tris));
  MESH_CALL(open_tmp("mesh_write_ply", path, "wb", &tmp, &f));
  failed |= fprintf(f,
                    "ply\nformat binary_little_endian 1.0\ncomment deepcd mesh\n"
                    "element vertex %d\nproperty float x\nproperty float y\nproperty float z\n"
                    "element face %d\nproperty list uchar int vertex_indices\nend_header\n",
                    nverts, ntris) < 0;
  for (int32_t v0 = 0; v0 < nverts && !failed; v0 += CHUNK) {
    const int32_t n = nverts - v0 < CHUNK ? nverts - v0 : CHUNK;
    p               = buf;
    for (int32_t v = v0; v < v0 + n; v++)
      for (int d = 0; d < 3; d++) p = put_f32le(p, verts[3 * v + d]);
    failed |= fwrite(buf, 1, (size_t) (p - buf), f) != (size_t) (p - buf);
  }
  for (int32_t t0 = 0; t0 < ntris && !failed; t0 += CHUNK) {
    const int32_t n = ntris - t0 < CHUNK ? ntris - t0 : CHUNK;
    p               = buf;
    for (int32_t t = t0; t < t0 + n; t++) {
      *p++ = 3;
      for (int d = 0; d < 3; d++) p = put_u32le(p, (uint32_t) tris[3 * t + d]);
    }
    failed |= fwrite(buf, 1, (size_t) (p - buf), f) != (size_t) (p - buf);
  }
  return finish_tmp("mesh_write_ply", path, tmp, f, failed);
}

mesh_err mesh_surface_write(const mesh_surface *s, const char *path)
{
  const char *dot    = path ? strrchr(path, '.') : NULL;
  char        ext[5] = { 0 };

  MESH_CHECK(s && path, MESH_ERR_ARG, "mesh_surface_write: NULL %s", s ? "path" : "surface");
  for (int i = 0; dot && i < 4 && dot[i + 1]; i++) ext[i] = (char) tolower((unsigned char) dot[i + 1]);
  if (dot && !strcmp(ext, "obj") && !dot[4]) return mesh_write_obj(path, s->nverts, s->verts, s->ntris, s->tris);
  if (dot && !strcmp(ext, "ply") && !dot[4]) return mesh_write_ply(path, s->nverts, s->verts, s->ntris, s->tris);
  return mesh_error_set(MESH_ERR_ARG, "mesh_surface_write: '%s': unknown extension (.obj or .ply)", path);
}
