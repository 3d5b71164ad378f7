/* Connected fluid regions of a problem (face neighbours) and whether each
   touches a Dirichlet wall; a region that touches none makes A singular.

   Each rank labels the fluid cells of its own box; the labels that meet
   across subdomain faces are then merged by a union-find on rank 0 over the
   local labels only (O(labels + interface pairs), not O(cells)). */
#include <deepcd/operator.h>
#include <deepcd/private/petsccompat.h>

/* Labels the fluid cells of the box [xs, xs+xm) x ... (x fastest); lab[c] = -1 on solids. */
static PetscErrorCode label_box(DeepCDProblem p, const PetscInt s[3], const PetscInt m[3], const PetscScalar solid[], PetscInt lab[], PetscInt *nlab, PetscInt **cnt, PetscBool **dir)
{
  const PetscInt n = m[0] * m[1] * m[2], N[3] = { p->nx, p->ny, p->nz }, stride[3] = { 1, m[0], m[0] * m[1] };
  PetscInt      *queue, cap = 16, nl = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(PetscMax(n, 1), &queue));
  PetscCall(PetscMalloc2(cap, cnt, cap, dir));
  for (PetscInt c = 0; c < n; c++) lab[c] = PetscRealPart(solid[c]) != 0 ? -1 : -2; /* -2: fluid, unlabelled */
  for (PetscInt seed = 0; seed < n; seed++) {
    PetscInt head = 0, tail = 0;

    if (lab[seed] != -2) continue;
    if (nl == cap) {
      PetscInt  *ncnt;
      PetscBool *ndir;

      PetscCall(PetscMalloc2(2 * cap, &ncnt, 2 * cap, &ndir));
      PetscCall(PetscArraycpy(ncnt, *cnt, cap));
      PetscCall(PetscArraycpy(ndir, *dir, cap));
      PetscCall(PetscFree2(*cnt, *dir));
      *cnt = ncnt;
      *dir = ndir;
      cap *= 2;
    }
    (*cnt)[nl]    = 0;
    (*dir)[nl]    = PETSC_FALSE;
    lab[seed]     = nl;
    queue[tail++] = seed;
    while (head < tail) {
      PetscInt c = queue[head++], ijk[3] = { c % m[0], (c / m[0]) % m[1], c / (m[0] * m[1]) };

      (*cnt)[nl]++;
      for (int d = 0; d < 3; d++) {
        for (int side = -1; side <= 1; side += 2) {
          PetscInt q = ijk[d] + side, g = s[d] + q, nb;

          if (g < 0 || g >= N[d]) { /* a wall of the domain */
            if (p->boundary[2 * d + (side > 0)] == 'D') (*dir)[nl] = PETSC_TRUE;
            continue;
          }
          if (q < 0 || q >= m[d]) continue; /* another rank's cell: merged later */
          nb = c + side * stride[d];
          if (lab[nb] == -2) {
            lab[nb]       = nl;
            queue[tail++] = nb;
          }
        }
      }
    }
    nl++;
  }
  PetscCall(PetscFree(queue));
  *nlab = nl;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscInt uf_find(PetscInt parent[], PetscInt a)
{
  while (parent[a] != a) {
    parent[a] = parent[parent[a]];
    a         = parent[a];
  }
  return a;
}

static int cmp_pair(const void *a, const void *b)
{
  const PetscInt *x = (const PetscInt *) a, *y = (const PetscInt *) b;

  if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
  return x[1] < y[1] ? -1 : (x[1] > y[1]);
}

/*@C
  DeepCDRegionsCompute - Labels the connected fluid regions (face neighbours)
  of a problem and finds those that touch no Dirichlet wall.

  Collective

  Input Parameter:
. p - the problem

  Output Parameter:
. r - the regions; free with DeepCDRegionsDestroy()

  Notes:
  Region indices are numbered in the order of the ranks' local labels; they
  are consistent across ranks but depend on the decomposition.

  Level: developer
@*/
PetscErrorCode DeepCDRegionsCompute(DeepCDProblem p, DeepCDRegions *r)
{
  MPI_Comm             comm = PetscObjectComm((PetscObject) p->da);
  PetscMPIInt          rank, size;
  PetscInt             s[3], m[3], n, nl, off = 0, total, *lab, *cnt, *pairs = NULL, npairs = 0, cap = 0, *final = NULL, *myfinal = NULL;
  PetscBool           *dir;
  const PetscScalar   *sol;
  PetscScalar         *a;
  Vec                  loc;
  const PetscScalar ***gl;
  PetscInt             nr = 0, *rcells = NULL;
  PetscBool           *rdir = NULL;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(r, sizeof(*r)));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(DMDAGetCorners(p->da, &s[0], &s[1], &s[2], &m[0], &m[1], &m[2]));
  n = m[0] * m[1] * m[2];
  PetscCall(PetscMalloc1(PetscMax(n, 1), &lab));
  PetscCall(VecGetArrayRead(p->solid, &sol));
  PetscCall(label_box(p, s, m, sol, lab, &nl, &cnt, &dir));
  PetscCall(VecRestoreArrayRead(p->solid, &sol));
  PetscCallMPI(MPI_Exscan(&nl, &off, 1, MPIU_INT, MPI_SUM, comm));
  if (!rank) off = 0;
  PetscCall(MPIU_Allreduce(&nl, &total, 1, MPIU_INT, MPI_SUM, comm));

  /* global label ids, then the pairs of ids that meet across subdomain faces */
  PetscCall(DMCreateGlobalVector(p->da, &r->label));
  PetscCall(VecGetArray(r->label, &a));
  for (PetscInt c = 0; c < n; c++) a[c] = lab[c] < 0 ? -1.0 : (PetscScalar) (off + lab[c]);
  PetscCall(VecRestoreArray(r->label, &a));
  PetscCall(DMGetLocalVector(p->da, &loc));
  PetscCall(DMGlobalToLocal(p->da, r->label, INSERT_VALUES, loc));
  PetscCall(DMDAVecGetArrayRead(p->da, loc, &gl));
  for (PetscInt c = 0; c < n; c++) {
    PetscInt ijk[3] = { c % m[0], (c / m[0]) % m[1], c / (m[0] * m[1]) };

    if (lab[c] < 0) continue;
    for (int d = 0; d < 3; d++) {
      for (int side = -1; side <= 1; side += 2) {
        PetscInt q = ijk[d] + side, g[3] = { s[0] + ijk[0], s[1] + ijk[1], s[2] + ijk[2] }, other;

        if (q >= 0 && q < m[d]) continue; /* inside the box */
        g[d] += side;
        if (g[d] < 0 || g[d] >= (d == 0 ? p->nx : d == 1 ? p->ny
                                                         : p->nz)) continue;
        other = (PetscInt) PetscRealPart(gl[g[2]][g[1]][g[0]]);
        if (other < 0 || other < off + lab[c]) continue; /* solid, or recorded by the other rank */
        if (npairs == cap) {
          PetscInt *np;

          cap = cap ? 2 * cap : 64;
          PetscCall(PetscMalloc1(2 * cap, &np));
          if (npairs) PetscCall(PetscArraycpy(np, pairs, 2 * npairs));
          PetscCall(PetscFree(pairs));
          pairs = np;
        }
        pairs[2 * npairs]     = off + lab[c];
        pairs[2 * npairs + 1] = other;
        npairs++;
      }
    }
  }
  PetscCall(DMDAVecRestoreArrayRead(p->da, loc, &gl));
  PetscCall(DMRestoreLocalVector(p->da, &loc));
  if (npairs) qsort(pairs, (size_t) npairs, 2 * sizeof(PetscInt), cmp_pair);
  {
    PetscInt u = 0;

    for (PetscInt i = 0; i < npairs; i++)
      if (!u || pairs[2 * i] != pairs[2 * (u - 1)] || pairs[2 * i + 1] != pairs[2 * (u - 1) + 1]) {
        pairs[2 * u]     = pairs[2 * i];
        pairs[2 * u + 1] = pairs[2 * i + 1];
        u++;
      }
    npairs = u;
  }

  /* merge on rank 0: union-find over the local labels of all ranks */
  {
    PetscMPIInt *nls = NULL, *lds = NULL, *nps = NULL, *pds = NULL, mynl = (PetscMPIInt) nl, mynp = (PetscMPIInt) (2 * npairs);
    PetscInt    *acnt = NULL, *apairs = NULL, *parent = NULL, *idx = NULL;
    int         *adir = NULL, *mydir;

    PetscCall(PetscMalloc1(PetscMax(nl, 1), &mydir));
    for (PetscInt i = 0; i < nl; i++) mydir[i] = dir[i] ? 1 : 0;
    if (!rank) PetscCall(PetscMalloc4(size, &nls, size, &lds, size, &nps, size, &pds));
    PetscCallMPI(MPI_Gather(&mynl, 1, MPI_INT, nls, 1, MPI_INT, 0, comm));
    PetscCallMPI(MPI_Gather(&mynp, 1, MPI_INT, nps, 1, MPI_INT, 0, comm));
    if (!rank) {
      PetscInt np = 0;

      lds[0] = pds[0] = 0;
      for (PetscMPIInt i = 1; i < size; i++) {
        lds[i] = lds[i - 1] + nls[i - 1];
        pds[i] = pds[i - 1] + nps[i - 1];
      }
      np = pds[size - 1] + nps[size - 1];
      PetscCall(PetscMalloc4(PetscMax(total, 1), &acnt, PetscMax(total, 1), &adir, PetscMax(np, 1), &apairs, PetscMax(total, 1), &parent));
    }
    PetscCallMPI(MPI_Gatherv(cnt, mynl, MPIU_INT, acnt, nls, lds, MPIU_INT, 0, comm));
    PetscCallMPI(MPI_Gatherv(mydir, mynl, MPI_INT, adir, nls, lds, MPI_INT, 0, comm));
    PetscCallMPI(MPI_Gatherv(pairs, mynp, MPIU_INT, apairs, nps, pds, MPIU_INT, 0, comm));
    PetscCall(PetscMalloc1(PetscMax(nl, 1), &myfinal));
    if (!rank) {
      PetscCall(PetscMalloc1(PetscMax(total, 1), &final));
      PetscInt np = (pds[size - 1] + nps[size - 1]) / 2;

      for (PetscInt i = 0; i < total; i++) parent[i] = i;
      for (PetscInt i = 0; i < np; i++) {
        PetscInt ra = uf_find(parent, apairs[2 * i]), rb = uf_find(parent, apairs[2 * i + 1]);

        if (ra != rb) parent[PetscMax(ra, rb)] = PetscMin(ra, rb); /* the smallest id is the root */
      }
      PetscCall(PetscMalloc1(PetscMax(total, 1), &idx));
      for (PetscInt i = 0; i < total; i++) idx[i] = -1;
      for (PetscInt i = 0; i < total; i++) {
        PetscInt root = uf_find(parent, i);

        if (idx[root] < 0) idx[root] = nr++;
        final[i] = idx[root];
      }
      PetscCall(PetscCalloc2(PetscMax(nr, 1), &rcells, PetscMax(nr, 1), &rdir));
      for (PetscInt i = 0; i < total; i++) {
        rcells[final[i]] += acnt[i];
        if (adir[i]) rdir[final[i]] = PETSC_TRUE;
      }
      PetscCall(PetscFree(idx));
      PetscCall(PetscFree4(acnt, adir, apairs, parent));
    }
    PetscCallMPI(MPI_Scatterv(final, nls, lds, MPIU_INT, myfinal, mynl, MPIU_INT, 0, comm));
    PetscCall(PetscFree(final));
    PetscCallMPI(MPI_Bcast(&nr, 1, MPIU_INT, 0, comm));
    if (rank) PetscCall(PetscMalloc2(PetscMax(nr, 1), &rcells, PetscMax(nr, 1), &rdir));
    PetscCallMPI(MPI_Bcast(rcells, (PetscMPIInt) nr, MPIU_INT, 0, comm));
    PetscCallMPI(MPI_Bcast(rdir, (PetscMPIInt) nr, DEEPCD_MPI_BOOL, 0, comm));
    if (!rank) PetscCall(PetscFree4(nls, lds, nps, pds));
    PetscCall(PetscFree(mydir));
  }

  PetscCall(VecGetArray(r->label, &a));
  for (PetscInt c = 0; c < n; c++) a[c] = lab[c] < 0 ? -1.0 : (PetscScalar) myfinal[lab[c]];
  PetscCall(VecRestoreArray(r->label, &a));
  r->nregions = nr;
  PetscCall(PetscMalloc1(PetscMax(nr, 1), &r->cells));
  PetscCall(PetscMalloc1(PetscMax(nr, 1), &r->floating));
  for (PetscInt i = 0; i < nr; i++) {
    r->cells[i] = rcells[i];
    if (!rdir[i]) r->floating[r->nfloating++] = i;
  }
  PetscCall(PetscFree2(rcells, rdir));
  PetscCall(PetscFree(myfinal));
  PetscCall(PetscFree(pairs));
  PetscCall(PetscFree2(cnt, dir));
  PetscCall(PetscFree(lab));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/*@C
  DeepCDRegionsDestroy - Frees what DeepCDRegionsCompute() made.

  Collective

  Level: developer
@*/
PetscErrorCode DeepCDRegionsDestroy(DeepCDRegions *r)
{
  PetscFunctionBegin;
  PetscCall(VecDestroy(&r->label));
  PetscCall(PetscFree(r->cells));
  PetscCall(PetscFree(r->floating));
  PetscCall(PetscMemzero(r, sizeof(*r)));
  PetscFunctionReturn(PETSC_SUCCESS);
}
