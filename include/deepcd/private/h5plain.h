/* Plain HDF5 writers for serial files (h5_plain.c): no PETSc, shared by
   libdeepcd (through hdf5_util.h) and examples/mesh-fit. 0 on success, 1 on
   failure (the caller names the item). */
#ifndef DEEPCD_H5_PLAIN_H
#define DEEPCD_H5_PLAIN_H

#include <hdf5.h>

#if defined(__GNUC__)
#define DEEPCD_H5_PLAIN_INTERN __attribute__((visibility("hidden")))
#else
#define DEEPCD_H5_PLAIN_INTERN
#endif

DEEPCD_H5_PLAIN_INTERN int DeepCDH5WriteAttrString(hid_t, const char[], const char[]);
DEEPCD_H5_PLAIN_INTERN int DeepCDH5WriteAttr(hid_t, const char[], hid_t, hid_t, const void *);
DEEPCD_H5_PLAIN_INTERN int DeepCDH5WriteAttrInt(hid_t, const char[], long long);
DEEPCD_H5_PLAIN_INTERN int DeepCDH5WriteAttrReal(hid_t, const char[], double);
/* A dataset without time stamps; chunked one (1, dims[1..]) slice per chunk when rank 4. */
DEEPCD_H5_PLAIN_INTERN hid_t DeepCDH5CreateDataset(hid_t, const char[], hid_t, int, const hsize_t[]);
DEEPCD_H5_PLAIN_INTERN int   DeepCDH5WriteWhole(hid_t, const char[], hid_t, hid_t, int, const hsize_t[], const void *);

#endif
