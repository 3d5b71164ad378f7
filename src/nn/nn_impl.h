/* Internals of the nn library: the backend table and the network executor. */
#ifndef DEEPCD_NN_IMPL_H
#define DEEPCD_NN_IMPL_H

#include <deepcd/nn.h>

/* Raises an error: records the message and returns the code from the caller. */
nn_err nn_error_set(nn_err code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
#define NN_CHECK(cond, code, ...)                          \
  do {                                                     \
    if (!(cond)) return nn_error_set((code), __VA_ARGS__); \
  } while (0)
#define NN_CALL(expr)                      \
  do {                                     \
    nn_err nn_call_err_ = (expr);          \
    if (nn_call_err_) return nn_call_err_; \
  } while (0)

/* A backend: a table of kernels on its own memory ("device" pointers). The
   executor (net.c) owns the schedule; a backend only computes. Dims are
   (D, H, W) of the tensor named in each comment. */
typedef struct {
  const char *name;
  int         host_memory; /* buffers are host memory: halos need no staging */
  /* optional: host staging memory (pinned for DMA); malloc/free when NULL */
  nn_err (*host_alloc)(nn_net *net, size_t nfloats, float **p);
  nn_err (*host_free)(nn_net *net, float *p);
  nn_err (*check)(nn_precision precision);
  nn_err (*setup)(nn_net *net);    /* per-layer preparation (primitives, weights on device) */
  nn_err (*teardown)(nn_net *net); /* frees what setup made */
  nn_err (*alloc)(nn_net *net, size_t nfloats, void **p);
  nn_err (*release)(nn_net *net, void *p);
  nn_err (*upload)(nn_net *net, void *dst, const float *src, size_t n);
  nn_err (*download)(nn_net *net, float *dst, const void *src, size_t n);
  /* padded (D+2)(H+2)(W+2)c <- interior `in` (dims D,H,W), zero border */
  nn_err (*pad)(nn_net *net, const void *in, void *padded, const int dims[3], int c);
  /* layer `l` (a CONV): out (dims) = act(conv(in) + b) [+ in2]; `in` is padded for k = 3, plain for k = 1 */
  nn_err (*conv)(nn_net *net, int l, const void *in, const void *in2, void *out, const int dims[3]);
  nn_err (*add)(nn_net *net, const void *a, const void *b, void *out, size_t n);
  /* out (dims/2) = average of in (dims) */
  nn_err (*avgpool2)(nn_net *net, const void *in, void *out, const int dims[3], int c);
  /* out (dims) = nearest upsampling of in (dims/2) [+ skip] */
  nn_err (*upsample2)(nn_net *net, const void *in, const void *skip, void *out, const int dims[3], int c);
} nn_backend_ops;

extern const nn_backend_ops nn_backend_ref;
#if defined(DEEPCD_NN_HAVE_DNNL)
extern const nn_backend_ops nn_backend_cpu;
#endif
#if defined(DEEPCD_NN_HAVE_CUDA)
extern const nn_backend_ops nn_backend_cuda;
#endif

const nn_backend_ops *nn_backend_find(const char *name);

struct nn_net {
  const nn_model       *model;
  const nn_backend_ops *ops;
  nn_precision          precision;
  void                 *bdata;    /* the backend's */
  int                   dims[3];  /* requested input dims */
  int                   pdims[3]; /* padded to a multiple of 2^levels */
  int                   levels;
  int (*ldims)[3]; /* dims per level */
  /* buffers: tensor t lives in buf[tbuf[t]] */
  int        nbuf;
  void     **buf;
  size_t    *bufsize;
  int       *tbuf;
  void      *padded; /* scratch for 3x3x3 inputs, largest level and channels */
  size_t     paddedsize;
  float     *host; /* host staging: padded input/output, and halo exchange */
  size_t     hostsize;
  nn_halo_fn halo;
  void      *haloctx;
};

/* Plain-loop kernels on host memory (the ref backend; others reuse some). */
nn_err nn_ref_pad(const float *in, float *padded, const int dims[3], int c);
nn_err nn_ref_conv(const nn_layer *L, const float *w, const float *b, const float *in, const float *in2, float *out, const int dims[3]);
nn_err nn_ref_add(const float *a, const float *b, float *out, size_t n);
nn_err nn_ref_avgpool2(const float *in, float *out, const int dims[3], int c);
nn_err nn_ref_upsample2(const float *in, const float *skip, float *out, const int dims[3], int c);

#endif
