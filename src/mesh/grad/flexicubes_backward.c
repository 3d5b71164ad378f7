/* FlexiCubes backward pass: dL/d(vertex positions) -> dL/d(field, alpha,
   beta, gamma, deformation) for the fixed topology of a forward pass.

   Per dual vertex v = sum_e beta'_e u_e / sum_e beta'_e over its group, with
   u_e = x_a + t (x_b - x_a), t = s_a / (s_a - s_b) and s = (field - iso)
   scaled by the cube's alpha'. In training mode each quad's centre
   c = (g02 m02 + g13 m13) / (g02 + g13) first passes its gradient to the
   four dual vertices and to their gamma'. The per-vertex work is recomputed
   from the inputs and the provenance in the surface (the forward keeps no
   other state), so the cost is about that of the forward pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/flexicubesgradimpl.h>

static size_t grid_vertex(const mesh_grid *g, int i, int j, int k)
{
  return ((size_t) k * (size_t) (g->dims[1] + 1) + (size_t) j) * (size_t) (g->dims[0] + 1) + (size_t) i;
}

mesh_err fc_check_surface(const char *what, const mesh_grid *grid, const double *field, const mesh_flexicubes_options *opt, const mesh_surface *s)
{
  const mesh_dmc_table *table;
  int                   pad;

  MESH_CHECK(grid && field && opt && s, MESH_ERR_ARG, "%s: NULL %s", what, !grid ? "grid" : !field ? "field"
                                                                                        : !opt     ? "options"
                                                                                                   : "surface");
  for (int a = 0; a < 3; a++) MESH_CHECK(grid->dims[a] >= 1 && grid->spacing[a] > 0, MESH_ERR_ARG, "%s: grid axis %d has %d cubes of size %g", what, a, grid->dims[a], grid->spacing[a]);
  MESH_CHECK(opt->weight_scale >= 0 && opt->weight_scale < 1, MESH_ERR_ARG, "%s: weight_scale %g (must be in [0, 1))", what, opt->weight_scale);
  MESH_CHECK(s->training == opt->training, MESH_ERR_ARG, "%s: the surface was extracted with training = %d, the options say %d", what, s->training, opt->training);
  MESH_CHECK(s->ndual >= 0 && s->nquads >= 0 && s->nverts == s->ndual + (s->training ? s->nquads : 0), MESH_ERR_ARG, "%s: surface counts do not match (%d vertices, %d dual, %d quads)", what, s->nverts, s->ndual, s->nquads);
  MESH_CHECK((!s->ndual || s->dual) && (!s->nquads || s->quads) && (!s->nverts || s->verts), MESH_ERR_ARG, "%s: surface arrays missing", what);
  MESH_CALL(mesh_dmc_table_get(&table));
  pad = opt->close ? 1 : 0;
  for (int32_t v = 0; v < s->ndual; v++) {
    const mesh_dual_vertex *dv = s->dual + v;
    for (int a = 0; a < 3; a++) MESH_CHECK(dv->cube[a] >= -pad && dv->cube[a] < grid->dims[a] + pad, MESH_ERR_ARG, "%s: dual vertex %d: cube index %d along axis %d is outside the grid", what, v, dv->cube[a], a);
    MESH_CHECK(dv->group < table->cases[dv->table_case].ngroups, MESH_ERR_ARG, "%s: dual vertex %d: group %d of case %d does not exist", what, v, dv->group, dv->table_case);
  }
  for (int32_t q = 0; q < s->nquads; q++)
    for (int r = 0; r < 4; r++) MESH_CHECK(s->quads[q].dual[r] >= 0 && s->quads[q].dual[r] < s->ndual, MESH_ERR_ARG, "%s: quad %d: dual vertex %d out of range", what, q, s->quads[q].dual[r]);
  return MESH_SUCCESS;
}

void fc_cube_corners(const mesh_grid *g, const double *field, const mesh_flexicubes_options *opt, const mesh_dual_vertex *dv, fc_corners *cc)
{
  cc->real = 1;
  for (int a = 0; a < 3; a++) cc->real = cc->real && dv->cube[a] >= 0 && dv->cube[a] < g->dims[a];
  cc->cube = cc->real ? ((size_t) dv->cube[2] * (size_t) g->dims[1] + (size_t) dv->cube[1]) * (size_t) g->dims[0] + (size_t) dv->cube[0] : 0;
  for (int c = 0; c < 8; c++) {
    int idx[3], cl[3], in = 1;
    for (int a = 0; a < 3; a++) {
      idx[a] = dv->cube[a] + ((c >> a) & 1);
      cl[a]  = idx[a] < 0 ? 0 : idx[a] > g->dims[a] ? g->dims[a]
                                                    : idx[a];
      in     = in && cl[a] == idx[a];
    }
    cc->vid[c] = grid_vertex(g, cl[0], cl[1], cl[2]);
    cc->in[c]  = in;
    cc->s[c]   = in ? field[cc->vid[c]] - opt->iso : opt->close_value;
    for (int a = 0; a < 3; a++) cc->x[c][a] = g->origin[a] + g->spacing[a] * (double) idx[a] + (opt->deform ? opt->deform[3 * cc->vid[c] + (size_t) a] : 0.0);
  }
}

double fc_crossing(double sa, double sb, double *dta, double *dtb)
{
  double d;

  *dta = *dtb = 0;
  if (isinf(sa)) return 1.0;
  if (isinf(sb)) return 0.0;
  d    = sa - sb;
  *dta = -sb / (d * d);
  *dtb = sa / (d * d);
  return sa / d;
}

void fc_add_position_grad(const mesh_flexicubes_grad *grad, const fc_corners *cc, int c, const double g[3])
{
  if (!grad->deform) return;
  for (int a = 0; a < 3; a++) grad->deform[3 * cc->vid[c] + (size_t) a] += g[a];
}

void fc_dual_backward(const mesh_flexicubes_options *opt, const mesh_dmc_case *dc, int group, const fc_corners *cc, const double gv[3], const mesh_flexicubes_grad *grad)
{
  const double w = opt->weight_scale;
  const int    n = dc->group_size[group], weighted_a = cc->real && opt->alpha, weighted_b = cc->real && opt->beta;
  double       ta[8], sw[8], tb[MESH_DMC_MAX_GROUP_EDGES], beta[MESH_DMC_MAX_GROUP_EDGES], u[MESH_DMC_MAX_GROUP_EDGES][3];
  double       t[MESH_DMC_MAX_GROUP_EDGES], dta[MESH_DMC_MAX_GROUP_EDGES], dtb[MESH_DMC_MAX_GROUP_EDGES];
  double       v[3] = { 0, 0, 0 }, bsum = 0, gs[8] = { 0 };
  unsigned     used = 0; /* corners on the group's edges */

  /* forward again: tanh of the raw weights (raw 0 when none), the crossings and the vertex */
  for (int m = 0; m < n; m++) used |= 1u << mesh_cube_edge_corners[dc->group_edges[group][m]][0] | 1u << mesh_cube_edge_corners[dc->group_edges[group][m]][1];
  for (int c = 0; c < 8; c++)
    if (used >> c & 1) {
      ta[c] = weighted_a ? tanh(opt->alpha[8 * cc->cube + (size_t) c]) : 0.0;
      sw[c] = cc->s[c] * (1.0 + w * ta[c]);
    }
  for (int m = 0; m < n; m++) {
    const int e = dc->group_edges[group][m], a = mesh_cube_edge_corners[e][0], b = mesh_cube_edge_corners[e][1];
    t[m]    = fc_crossing(sw[a], sw[b], &dta[m], &dtb[m]);
    tb[m]   = weighted_b ? tanh(opt->beta[12 * cc->cube + (size_t) e]) : 0.0;
    beta[m] = 1.0 + w * tb[m];
    for (int d = 0; d < 3; d++) {
      u[m][d] = cc->x[a][d] + t[m] * (cc->x[b][d] - cc->x[a][d]);
      v[d] += beta[m] * u[m][d];
    }
    bsum += beta[m];
  }
  for (int d = 0; d < 3; d++) v[d] /= bsum;
  /* backward; d(1 + w tanh(r))/dr = w (1 - tanh^2) */
  for (int m = 0; m < n; m++) {
    const int e = dc->group_edges[group][m], a = mesh_cube_edge_corners[e][0], b = mesh_cube_edge_corners[e][1];
    double    gu[3], gxa[3], gxb[3], gt = 0, gb = 0;
    for (int d = 0; d < 3; d++) {
      gu[d] = gv[d] * beta[m] / bsum;
      gb += gv[d] * (u[m][d] - v[d]) / bsum;
      gt += gu[d] * (cc->x[b][d] - cc->x[a][d]);
      gxa[d] = gu[d] * (1.0 - t[m]);
      gxb[d] = gu[d] * t[m];
    }
    if (cc->real && grad->beta) grad->beta[12 * cc->cube + (size_t) e] += gb * w * (1.0 - tb[m] * tb[m]);
    fc_add_position_grad(grad, cc, a, gxa);
    fc_add_position_grad(grad, cc, b, gxb);
    gs[a] += gt * dta[m]; /* d/d(scaled value) */
    gs[b] += gt * dtb[m];
  }
  for (int c = 0; c < 8; c++) {
    if (!(used >> c & 1) || gs[c] == 0.0) continue;
    if (cc->in[c] && grad->field) grad->field[cc->vid[c]] += gs[c] * (1.0 + w * ta[c]);
    if (cc->real && grad->alpha) grad->alpha[8 * cc->cube + (size_t) c] += gs[c] * cc->s[c] * w * (1.0 - ta[c] * ta[c]);
  }
}

/* gamma' of the cube of dual vertex dv and d(gamma')/d(raw) (0 for a padding
   cube); NULL gamma is differentiated at raw 0 */
static double gamma_weight(const mesh_grid *g, const mesh_flexicubes_options *opt, const mesh_dual_vertex *dv, double *slope)
{
  const double w    = opt->weight_scale;
  const int    real = dv->cube[0] >= 0 && dv->cube[0] < g->dims[0] && dv->cube[1] >= 0 && dv->cube[1] < g->dims[1] && dv->cube[2] >= 0 && dv->cube[2] < g->dims[2];
  const size_t cube = real ? ((size_t) dv->cube[2] * (size_t) g->dims[1] + (size_t) dv->cube[1]) * (size_t) g->dims[0] + (size_t) dv->cube[0] : 0;
  double       r, sg;

  r      = real && opt->gamma ? opt->gamma[cube] : 0.0;
  sg     = 1.0 / (1.0 + exp(-r));
  *slope = real ? w * sg * (1.0 - sg) : 0.0;
  return w * sg + 0.5 * (1.0 - w);
}

/*@
  flexicubes_backward - adds dL/d(field, alpha, beta, gamma, deform) for a
  loss L whose gradient with respect to the vertex positions is `dverts`.
  See include/deepcd/mesh.h.
@*/
mesh_err flexicubes_backward(const mesh_grid *grid, const double *field, const mesh_flexicubes_options *opt, const mesh_surface *s, const double *dverts, const mesh_flexicubes_grad *grad)
{
  const mesh_dmc_table *table;
  double               *gv = NULL, *gg = NULL, *gam = NULL, *slope = NULL;
  fc_corners            cc;

  MESH_CALL(fc_check_surface("flexicubes_backward", grid, field, opt, s));
  MESH_CHECK(grad, MESH_ERR_ARG, "flexicubes_backward: NULL gradient");
  MESH_CHECK(dverts || !s->nverts, MESH_ERR_ARG, "flexicubes_backward: NULL vertex gradient");
  if (!s->ndual) return MESH_SUCCESS;
  MESH_CALL(mesh_dmc_table_get(&table));
  gv = malloc(3 * (size_t) s->ndual * sizeof(double));
  if (s->training) {
    gg    = calloc((size_t) s->ndual, sizeof(double));
    gam   = malloc((size_t) s->ndual * sizeof(double));
    slope = malloc((size_t) s->ndual * sizeof(double));
  }
  if (!gv || (s->training && (!gg || !gam || !slope))) {
    free(gv);
    free(gg);
    free(gam);
    free(slope);
    return mesh_error_set(MESH_ERR_MEM, "flexicubes_backward: out of memory (%d dual vertices)", s->ndual);
  }
  memcpy(gv, dverts, 3 * (size_t) s->ndual * sizeof(double));
  if (s->training) {
    for (int32_t v = 0; v < s->ndual; v++) gam[v] = gamma_weight(grid, opt, s->dual + v, &slope[v]);
    /* the centres: c = (g02 m02 + g13 m13) / G, G = g02 + g13 */
    for (int32_t q = 0; q < s->nquads; q++) {
      const int32_t *d   = s->quads[q].dual;
      const double  *gc  = dverts + 3 * ((size_t) s->ndual + (size_t) q);
      const double   g02 = gam[d[0]] * gam[d[2]], g13 = gam[d[1]] * gam[d[3]], G = g02 + g13;
      double         gg02 = 0, gg13 = 0;
      for (int k = 0; k < 3; k++) {
        const double m02 = 0.5 * (s->verts[3 * d[0] + k] + s->verts[3 * d[2] + k]), m13 = 0.5 * (s->verts[3 * d[1] + k] + s->verts[3 * d[3] + k]);
        const double c = (g02 * m02 + g13 * m13) / G;
        gg02 += gc[k] * (m02 - c) / G;
        gg13 += gc[k] * (m13 - c) / G;
        gv[3 * d[0] + k] += 0.5 * gc[k] * g02 / G;
        gv[3 * d[2] + k] += 0.5 * gc[k] * g02 / G;
        gv[3 * d[1] + k] += 0.5 * gc[k] * g13 / G;
        gv[3 * d[3] + k] += 0.5 * gc[k] * g13 / G;
      }
      gg[d[0]] += gg02 * gam[d[2]];
      gg[d[2]] += gg02 * gam[d[0]];
      gg[d[1]] += gg13 * gam[d[3]];
      gg[d[3]] += gg13 * gam[d[1]];
    }
  }
  for (int32_t v = 0; v < s->ndual; v++) {
    const mesh_dual_vertex *dv = s->dual + v;
    fc_cube_corners(grid, field, opt, dv, &cc);
    fc_dual_backward(opt, &table->cases[dv->table_case], dv->group, &cc, gv + 3 * (size_t) v, grad);
    if (s->training && grad->gamma && cc.real) grad->gamma[cc.cube] += gg[v] * slope[v];
  }
  free(gv);
  free(gg);
  free(gam);
  free(slope);
  return MESH_SUCCESS;
}
