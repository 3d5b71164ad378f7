/* Plain HDF5 writers for serial files (one process), without PETSc, so that
   examples/mesh-fit can use them too. 0 on success, 1 on failure: the caller
   names the item. */
#include <string.h>
#include <deepcd/private/h5plain.h>

int DeepCDH5WriteAttrString(hid_t loc, const char name[], const char val[])
{
  hid_t t = H5Tcopy(H5T_C_S1), sp = -1, a = -1;
  int   err = 1;

  if (t < 0) return 1;
  if (H5Tset_size(t, strlen(val) + 1) >= 0 && (sp = H5Screate(H5S_SCALAR)) >= 0 && (a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 && H5Awrite(a, t, val) >= 0) err = 0;
  if (a >= 0) H5Aclose(a);
  if (sp >= 0) H5Sclose(sp);
  H5Tclose(t);
  return err;
}

int DeepCDH5WriteAttr(hid_t loc, const char name[], hid_t ftype, hid_t mtype, const void *val)
{
  hid_t sp = H5Screate(H5S_SCALAR), a = -1;
  int   err = 1;

  if (sp < 0) return 1;
  if ((a = H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 && H5Awrite(a, mtype, val) >= 0) err = 0;
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  return err;
}

int DeepCDH5WriteAttrInt(hid_t loc, const char name[], long long v)
{
  return DeepCDH5WriteAttr(loc, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &v);
}

int DeepCDH5WriteAttrReal(hid_t loc, const char name[], double v)
{
  return DeepCDH5WriteAttr(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

/* A dataset without time stamps; chunked one (1, dims[1..]) slice per chunk when rank 4. */
hid_t DeepCDH5CreateDataset(hid_t loc, const char name[], hid_t ftype, int rank, const hsize_t dims[])
{
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), sp = -1, d = -1;

  if (dcpl < 0) return -1;
  if (H5Pset_obj_track_times(dcpl, 0) >= 0) {
    if (rank == 4) {
      hsize_t chunk[4] = { 1, dims[1], dims[2], dims[3] };

      if (H5Pset_chunk(dcpl, 4, chunk) < 0) goto done;
    }
    if ((sp = H5Screate_simple(rank, dims, NULL)) >= 0) d = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  }
done:
  if (sp >= 0) H5Sclose(sp);
  H5Pclose(dcpl);
  return d;
}

int DeepCDH5WriteWhole(hid_t loc, const char name[], hid_t ftype, hid_t mtype, int rank, const hsize_t dims[], const void *buf)
{
  hid_t d = DeepCDH5CreateDataset(loc, name, ftype, rank, dims);
  int   err;

  if (d < 0) return 1;
  err = H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0;
  H5Dclose(d);
  return err;
}
