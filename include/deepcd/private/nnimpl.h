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

  /* ---- training (backward.c). Optional: a backend whose conv_backward is
     NULL has no backward pass, and nn_net_create_train() refuses it. setup()
     sees net->training and then also prepares the backward. */
  /* as conv, and writes the ReLU mask (bytes, dims x cout: 1 where the
     pre-activation is > 0) when the layer has a ReLU (mask NULL otherwise) */
  nn_err (*conv_train)(nn_net *net, int l, const void *in, const void *in2, void *out, void *mask, const int dims[3]);
  /* layer l (a CONV), dims of its output: from dout (dims, cout), the
     gradient of the pre-activation (already gated by the ReLU mask), and
     `in`, the layer's forward input (dims, cin; plain, NOT padded: the
     backend pads if it needs to, the executor's `padded` scratch is free):
     dw, db (host, the layer's slices of dparams) += weight and bias
     gradients; din (dims, cin; may be NULL) = (accumulate 0) or += the
     data gradient (the transposed convolution with zero padding) */
  nn_err (*conv_backward)(nn_net *net, int l, const void *in, const void *dout, void *din, int accumulate, float *dw, float *db, const int dims[3]);
  /* d = 0 where mask is 0 (n elements, in place) */
  nn_err (*relu_backward)(nn_net *net, void *d, const void *mask, size_t n);
  /* dst = src (accumulate 0) or dst += src */
  nn_err (*grad_acc)(nn_net *net, void *dst, const void *src, size_t n, int accumulate);
  /* din (dims, c) (+)= dout (dims/2) / 8 */
  nn_err (*avgpool2_backward)(nn_net *net, const void *dout, void *din, const int dims[3], int c, int accumulate);
  /* din (dims/2, c) (+)= sum of dout (dims) over the 8 children */
  nn_err (*upsample2_backward)(nn_net *net, const void *dout, void *din, const int dims[3], int c, int accumulate);
  /* optional: model->params changed, re-read them (weights copied or
     reordered in setup); NULL: the executor runs teardown + setup */
  nn_err (*params_changed)(nn_net *net);

  /* ---- the device-pointer path (nn_net_forward_device). Optional: NULL on
     host-memory backends. Dims: (D, H, W) of the network's input (dims) and
     padded to a multiple of 2^levels (pdims); both tensors have 1 channel. */
  /* dst (pdims, the element type) = (float) (scale * src) (dims, double,
     device memory) at the origin, zero in the padding */
  nn_err (*import_f64)(nn_net *net, void *dst, const double *src, double scale, const int dims[3], const int pdims[3]);
  /* dst (dims, double, device memory) = src (pdims) cropped, 0 where
     mask (dims bytes, backend memory; may be NULL) is non-zero; complete
     (synchronised) on return */
  nn_err (*export_f64)(nn_net *net, double *dst, const void *src, const void *mask, const int dims[3], const int pdims[3]);
  /* n bytes of backend memory at *dst (allocated when *dst is NULL, freed
     with release) = src (n host bytes) */
  nn_err (*upload_bytes)(nn_net *net, void **dst, const unsigned char *src, size_t n);
} nn_backend_ops;

extern const nn_backend_ops nn_backend_ref;
#if defined(DEEPCD_NN_HAVE_DNNL)
extern const nn_backend_ops nn_backend_cpu;
#endif
#if defined(DEEPCD_NN_CUDA_MODULE)
extern const nn_backend_ops nn_backend_cuda; /* inside the module only */
#endif

/* The cuda backend is a module loaded on demand (dlopen) the first time the
   backend "cuda" is asked for, so that the nn library, and libdeepcd.so with
   it, loads on machines without CUDA. The module reports errors through the
   host's nn_error_set: the host hands it this table. */
#include <stdarg.h>
#define NN_CUDA_MODULE_FILE  "libdeepcd_nn_cuda.so"
#define NN_CUDA_MODULE_ENTRY "nn_cuda_module_load"
#define NN_MODULE_ABI        1
typedef struct {
  int abi; /* NN_MODULE_ABI */
  nn_err (*verror_set)(nn_err code, const char *fmt, va_list ap);
  const char *(*error_message)(void);
} nn_module_host;
typedef nn_err (*nn_module_load_fn)(const nn_module_host *host, const nn_backend_ops **ops);
nn_err nn_error_vset(nn_err code, const char *fmt, va_list ap);

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
  /* training mode (nn_net_create_train; backward.c) */
  int            training;
  void         **relumask; /* per layer: ReLU mask bytes (backend memory), CONV layers with ReLU only */
  int            ngbuf;    /* gradient buffers: the gradient of tensor t lives in gbuf[tgbuf[t]] */
  void         **gbuf;
  size_t        *gbufsize;
  int           *tgbuf;
  unsigned char *outmask;   /* host copy of the last forward's mask (D*H*W bytes) */
  int            outmasked; /* the last forward had a mask */
  int            forwarded; /* a forward ran: its activations are in the buffers */
  int           *gwritten;  /* per tensor, during a backward: its gradient buffer holds a value */
  /* the device-pointer path (nn_net_set_mask, nn_net_forward_device) */
  void *devmask;   /* D*H*W bytes of backend memory (upload_bytes), NULL until a mask was set */
  int   devmasked; /* devmask holds the current mask (nn_net_set_mask(NULL) clears this only) */
};

/* The executor's layer loop on the backend's buffers: nn_net_forward()
   without the input upload, the output download and the host-side
   embedding/cropping/masking (the input tensor's buffer must hold a valid
   input: a previous forward's). Asynchronous on a device backend. For the
   device-only timings of tests/gpu/test_nn_cuda and bench/infer_bench. */
nn_err nn_net_run_layers(nn_net *net);

/* A halo callback other than the default zero padding is set (distributed). */
int nn_net_has_halo(const nn_net *net);

/* backward.c: the training-mode buffers (called by nn_net_create after the
   forward buffers when net->training), and their release. */
nn_err nn_train_alloc(nn_net *net);
void   nn_train_free(nn_net *net);
size_t nn_net_tensor_size(const nn_net *net, int t);

/* Plain-loop kernels on host memory (the ref backend; others reuse some).
   One source, ref_kernels.inc, built for float (nn_ref_*) and for double
   (nn_ref64_*, for the float64 gradient tests); see there for the
   semantics. */
#define NN_REF_DECLARE(R, P)                                                                                                                 \
  nn_err P##pad(const R *in, R *padded, const int dims[3], int c);                                                                           \
  nn_err P##conv(const nn_layer *L, const R *w, const R *b, const R *in, const R *in2, R *out, const int dims[3]);                           \
  nn_err P##conv_mask(const nn_layer *L, const R *w, const R *b, const R *in, const R *in2, R *out, unsigned char *mask, const int dims[3]); \
  nn_err P##add(const R *a, const R *b, R *out, size_t n);                                                                                   \
  nn_err P##avgpool2(const R *in, R *out, const int dims[3], int c);                                                                         \
  nn_err P##upsample2(const R *in, const R *skip, R *out, const int dims[3], int c);                                                         \
  nn_err P##grad_acc(R *dst, const R *src, size_t n, int accumulate);                                                                        \
  nn_err P##relu_backward(R *d, const unsigned char *mask, size_t n);                                                                        \
  nn_err P##conv_backward_data(const nn_layer *L, const R *w, const R *dout, R *din, int accumulate, const int dims[3]);                     \
  nn_err P##conv_backward_weights(const nn_layer *L, const R *in, const R *dout, R *dw, R *db, double *work, const int dims[3]);             \
  nn_err P##avgpool2_backward(const R *dout, R *din, const int dims[3], int c, int accumulate);                                              \
  nn_err P##upsample2_backward(const R *dout, R *din, const int dims[3], int c, int accumulate);
NN_REF_DECLARE(float, nn_ref_)
NN_REF_DECLARE(double, nn_ref64_)

/* Test oracle (ref64_net.c): the whole model in double on the nn_ref64_
   kernels, with its own graph walk (every tensor and gradient in its own
   zero-initialised buffer, no reuse, no odd-grid padding, no mask; dims
   divisible by 2^levels). out = f(in) with `params` (model->nparams
   doubles); masks (may be NULL): the ReLU masks of the ReLU convolutions,
   concatenated in layer order; when dout is given: din (may be NULL) =
   dL/din and dparams (may be NULL) += dL/dparams for L = <dout, out>. */
nn_err nn_ref64_net(const nn_model *m, const double *params, const int dims[3], const double *in, double *out, unsigned char *masks, const double *dout, double *din, double *dparams);

#endif
