/* The L_dev regulariser of FlexiCubes (Shen et al. 2023, Eq. 8) and its
   gradient.

   For dual vertex v with group edges e (n of them), d_e = |v - u_e| where
   u_e = x_a + t (x_b - x_a), t = s_a / (s_a - s_b) is the *plain* crossing
   (no alpha), and L_dev,e = |d_e - dbar|, dbar = sum_e d_e / n. The value
   is the mean of L_dev,e over all N incidences (the reference returns the
   per-incidence array and its example optimiser takes the mean). With
   sg_e = sign(d_e - dbar), d(mean)/d(d_j) = (sg_j - sum_e sg_e / n) / N;
   it reaches v directly (then through the weighted-vertex backward) and the
   plain crossings u_j (field and deformation). */
#include <math.h>
#include <stdlib.h>
#include <deepcd/private/flexicubesgradimpl.h>

/*@
  flexicubes_ldev - the mean of L_dev over all (dual vertex, edge)
  incidences, and weight times its gradient added to `grad`. See
  include/deepcd/mesh.h.
@*/
mesh_err flexicubes_ldev(const mesh_grid *grid, const double *field, const mesh_flexicubes_options *opt, const mesh_surface *s, double weight, double *ldev, const mesh_flexicubes_grad *grad)
{
  const mesh_dmc_table *table;
  size_t                nincidences = 0;
  double                sum         = 0;
  fc_corners            cc;

  MESH_CALL(fc_check_surface("flexicubes_ldev", grid, field, opt, s));
  MESH_CHECK(isfinite(weight), MESH_ERR_ARG, "flexicubes_ldev: weight %g", weight);
  MESH_CALL(mesh_dmc_table_get(&table));
  for (int32_t v = 0; v < s->ndual; v++) nincidences += table->cases[s->dual[v].table_case].group_size[s->dual[v].group];
  if (ldev) *ldev = 0;
  if (!nincidences) return MESH_SUCCESS;
  for (int32_t v = 0; v < s->ndual; v++) {
    const mesh_dual_vertex *dv = s->dual + v;
    const mesh_dmc_case    *dc = &table->cases[dv->table_case];
    const int               n  = dc->group_size[dv->group];
    const double           *p  = s->verts + 3 * (size_t) v;
    double                  dist[MESH_DMC_MAX_GROUP_EDGES], dir[MESH_DMC_MAX_GROUP_EDGES][3], t[MESH_DMC_MAX_GROUP_EDGES], dta[MESH_DMC_MAX_GROUP_EDGES], dtb[MESH_DMC_MAX_GROUP_EDGES];
    double                  mean = 0, sgsum = 0, sg[MESH_DMC_MAX_GROUP_EDGES], gv[3] = { 0, 0, 0 };

    fc_cube_corners(grid, field, opt, dv, &cc);
    for (int m = 0; m < n; m++) {
      const int e = dc->group_edges[dv->group][m], a = mesh_cube_edge_corners[e][0], b = mesh_cube_edge_corners[e][1];
      double    d2 = 0;
      t[m]         = fc_crossing(cc.s[a], cc.s[b], &dta[m], &dtb[m]);
      for (int d = 0; d < 3; d++) {
        dir[m][d] = p[d] - (cc.x[a][d] + t[m] * (cc.x[b][d] - cc.x[a][d]));
        d2 += dir[m][d] * dir[m][d];
      }
      dist[m] = sqrt(d2);
      mean += dist[m] / n;
    }
    for (int m = 0; m < n; m++) {
      const double dev = dist[m] - mean;
      sum += fabs(dev);
      sg[m] = dev > 0 ? 1.0 : dev < 0 ? -1.0
                                      : 0.0;
      sgsum += sg[m];
    }
    if (!grad) continue;
    for (int m = 0; m < n; m++) {
      const int e = dc->group_edges[dv->group][m], a = mesh_cube_edge_corners[e][0], b = mesh_cube_edge_corners[e][1];
      double    gd = weight * (sg[m] - sgsum / n) / (double) nincidences, gu[3], gxa[3], gxb[3], gt = 0;
      if (dist[m] == 0.0 || gd == 0.0) continue; /* |.| at 0: subgradient 0 */
      for (int d = 0; d < 3; d++) {
        const double g = gd * dir[m][d] / dist[m]; /* d|p - u|/dp */
        gv[d] += g;
        gu[d]  = -g;
        gxa[d] = gu[d] * (1.0 - t[m]);
        gxb[d] = gu[d] * t[m];
        gt += gu[d] * (cc.x[b][d] - cc.x[a][d]);
      }
      fc_add_position_grad(grad, &cc, a, gxa);
      fc_add_position_grad(grad, &cc, b, gxb);
      if (grad->field && cc.in[a]) grad->field[cc.vid[a]] += gt * dta[m];
      if (grad->field && cc.in[b]) grad->field[cc.vid[b]] += gt * dtb[m];
    }
    fc_dual_backward(opt, dc, dv->group, &cc, gv, grad);
  }
  if (ldev) *ldev = sum / (double) nincidences;
  return MESH_SUCCESS;
}
