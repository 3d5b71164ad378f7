/* deepcd nn: a small 3-D convolutional network library in plain C11.

   No PETSc, MPI or HDF5 here, so that it builds and is tested alone (also on
   GPU machines). Every function returns an nn_err (0 on success); on failure
   nn_error_message() gives a one-line description.

   Tensors are single-sample, channels-last: element (z, y, x, c) of a tensor
   with dims (D, H, W) and C channels is at ((z*H + y)*W + x)*C + c. This is
   the interlaced layout of a PETSc DMDA with C degrees of freedom, so a
   DMDA's local (ghosted) array is directly a padded tensor. */
#ifndef DEEPCD_NN_H
#define DEEPCD_NN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int nn_err;
enum {
  NN_SUCCESS         = 0,
  NN_ERR_ARG         = 1, /* bad argument */
  NN_ERR_MEM         = 2, /* out of memory */
  NN_ERR_UNSUPPORTED = 3, /* backend not compiled in, no device, unsupported precision */
  NN_ERR_BACKEND     = 4, /* a backend library call failed */
  NN_ERR_MODEL       = 5  /* inconsistent model (graph, shapes, parameters) */
};

/* The message of the last error raised in this thread (empty if none). */
const char *nn_error_message(void);

/* ---- the layer graph -------------------------------------------------------- */

typedef enum {
  NN_OP_CONV      = 0, /* out = act(conv(in) + bias) [+ in2]; k = 1 or 3, zero padding "same" */
  NN_OP_ADD       = 1, /* out = in + in2 */
  NN_OP_AVGPOOL2  = 2, /* out = 2x2x2 average of in (one level down) */
  NN_OP_UPSAMPLE2 = 3  /* out = nearest 2x upsampling of in (one level up) [+ in2] */
} nn_op;

typedef enum { NN_ACT_NONE = 0,
               NN_ACT_RELU = 1 } nn_act;

typedef struct {
  nn_op  op;
  int    in, in2, out; /* tensor indices; in2 = -1 when unused */
  int    cin, cout;    /* channels (CONV) */
  int    k;            /* kernel size 1 or 3 (CONV) */
  nn_act act;          /* activation before the optional add of in2 (CONV) */
  size_t weight;       /* offset of the (cout, cin, k, k, k) kernel in params (CONV) */
  size_t bias;         /* offset of the cout biases in params (CONV) */
} nn_layer;

typedef struct {
  int channels;
  int level; /* 0 = input resolution, l = downsampled by 2^l */
} nn_tensor;

/* Training record kept with a model (informational). */
typedef struct {
  int      grid[3];   /* nx, ny, nz trained on; 0 when untrained */
  char     data[256]; /* training data description */
  char     loss[64];  /* loss name */
  double   loss_value;
  long     steps;
  char     date[32]; /* ISO 8601 */
  uint64_t seed;
} nn_training;

typedef struct {
  char        arch[32]; /* informational name, e.g. "from64" */
  int         nlayers, ntensors;
  nn_layer   *layers; /* in execution order */
  nn_tensor  *tensors;
  int         input, output; /* tensor indices, 1 channel each */
  size_t      nparams;
  float      *params; /* all kernels and biases, float32 */
  nn_training training;
} nn_model;

/* An empty model to fill layer by layer (nn_model_add_*), or the named DCDM
   topology ("from64", "from128") with zero parameters. */
nn_err nn_model_create(nn_model **model);
nn_err nn_model_create_arch(const char *arch, nn_model **model);
/* Appends a tensor; returns its index in *t. */
nn_err nn_model_add_tensor(nn_model *m, int channels, int level, int *t);
nn_err nn_model_add_conv(nn_model *m, int in, int in2, int cout, int k, nn_act act, int *out);
nn_err nn_model_add_add(nn_model *m, int a, int b, int *out);
nn_err nn_model_add_avgpool2(nn_model *m, int in, int *out);
nn_err nn_model_add_upsample2(nn_model *m, int in, int skip, int *out);
/* Checks the graph: indices, channels, levels, execution order, parameter offsets. */
nn_err nn_model_validate(const nn_model *m);
/* He (Kaiming) normal initialisation of kernels, zero biases; deterministic per seed. */
nn_err nn_model_init_he(nn_model *m, uint64_t seed);
/* The number of pooling levels (grids must be divisible by 2^levels). */
int nn_model_levels(const nn_model *m);
/* Multiply-adds x 2 per input voxel of one forward pass. */
double      nn_model_flops_per_voxel(const nn_model *m);
nn_err      nn_model_destroy(nn_model **model);
const char *nn_op_name(nn_op op);

/* ---- running a model -------------------------------------------------------- */

typedef enum { NN_FP32 = 0,
               NN_TF32 = 1,
               NN_BF16 = 2,
               NN_FP16 = 3 } nn_precision;
#define NN_PRECISION_COUNT 4
#define NN_PRECISION_NAMES_INIT    \
  {                                \
    "fp32", "tf32", "bf16", "fp16" \
  }                                            /* nn_precision_names' initialiser */
extern const char *const nn_precision_names[]; /* "fp32", "tf32", "bf16", "fp16" */

/* Names of the compiled-in backends: "ref" always, "cpu" (oneDNN), "cuda" (cuDNN). */
int         nn_backend_count(void);
const char *nn_backend_name(int i);
/* NN_SUCCESS when the backend is compiled in and usable here (device present,
   precision supported); otherwise the reason is in nn_error_message(). */
nn_err nn_backend_check(const char *name, nn_precision precision);

/* Fills a padded tensor's border before a 3x3x3 convolution. `buf` holds the
   (D+2)(H+2)(W+2)C padded tensor of a tensor at `level` whose interior has
   been written; the callback must write the 1-cell border (zeros at the
   domain boundary, neighbours' values across subdomain faces). Host memory. */
typedef nn_err (*nn_halo_fn)(void *ctx, int level, int channels, float *buf);

typedef struct nn_net nn_net;

/* Prepares a model for input tensors of dims (D, H, W) (each divisible by
   2^levels) on a backend; all work buffers are allocated here, none in
   nn_net_forward(). */
nn_err nn_net_create(const nn_model *m, const char *backend, nn_precision precision, const int dims[3], nn_net **net);
/* Replaces the default zero-padding halo (for distributed inference). */
nn_err nn_net_set_halo(nn_net *net, nn_halo_fn fn, void *ctx);
/* out = f(in): host arrays of D*H*W floats. `mask` (optional, D*H*W bytes):
   the output is zero where mask is non-zero (solid cells). */
nn_err      nn_net_forward(nn_net *net, const float *in, const unsigned char *mask, float *out);
const char *nn_net_backend(const nn_net *net);
nn_err      nn_net_destroy(nn_net **net);
/* Bytes of backend memory in the executor's buffers (activations, their
   gradients and ReLU masks in training mode, the padding scratch, the mask
   kept by nn_net_set_mask on a device backend); backend
   workspaces (oneDNN scratchpads, cuDNN workspaces) not included. */
size_t nn_net_memory(const nn_net *net);

/* ---- the device-pointer path ---------------------------------------------------- */

/* 1 when the backend's buffers are device memory (cuda), 0 for host-memory
   backends (ref, cpu) and a NULL net. */
int nn_net_device_memory(const nn_net *net);
/* Keeps the output mask for nn_net_forward_device(): D*H*W host bytes, the
   output is zero where mask is non-zero (solid cells); NULL clears it. A
   device backend copies it into its memory here (allocated at the first
   call, reused, freed by nn_net_destroy); a host-memory backend has no
   device path and keeps nothing. nn_net_forward() does not use it (it takes
   its mask as an argument). */
nn_err nn_net_set_mask(nn_net *net, const unsigned char *mask);
/* out = f((float) (scale * in)) with in and out D*H*W doubles in the memory
   of the backend's device (for cuda: device pointers of the CUDA device that
   was current at nn_net_create), (z, y, x) order as in nn_net_forward(), and
   the mask of nn_net_set_mask() applied: the same result as nn_net_forward()
   on the host arrays (float) (scale * in) with that mask, converted to
   double. The scaling, conversion, padding of odd grids, cropping and
   masking run on the device; nothing is allocated. Work on `in` queued on
   other streams is waited for (the device is synchronised first); `out` is
   complete on return. Host-memory backends (ref, cpu) and nets made by
   nn_net_create_train() (training needs the host-side bookkeeping of
   nn_net_forward()) return NN_ERR_UNSUPPORTED. */
nn_err nn_net_forward_device(nn_net *net, const double *in, double scale, double *out);

/* ---- training ------------------------------------------------------------------ */

/* Like nn_net_create, for training: one sample (batch size 1; a mini-batch
   is a loop over samples with the parameter gradients accumulated), fp32
   only, backends "ref" and "cpu" (a backend without a backward pass says so
   in one line). Every activation the backward needs is kept (the input of
   every convolution, a byte mask per ReLU) and every gradient buffer is
   allocated here, none in nn_net_forward() or nn_net_backward(). The
   forward is nn_net_forward(), as in inference. Single box only: with a halo
   callback set (distributed) the backward refuses to run. */
nn_err nn_net_create_train(const nn_model *m, const char *backend, nn_precision precision, const int dims[3], nn_net **net);
/* The gradient of a scalar loss L, given dout = dL/d(out) (D*H*W floats)
   for the output of the last nn_net_forward(): dparams (model->nparams
   floats, the layout of model->params: kernels and biases) += dL/dparams,
   and, if din is not NULL, din (D*H*W floats) = dL/d(in). Masked outputs of
   that forward are constant zeros: their dout is ignored. Odd grids: the
   internal zero padding is transposed (din is the gradient of the cropped
   input). The net must have been made by nn_net_create_train(). */
nn_err nn_net_backward(nn_net *net, const float *dout, float *din, float *dparams);
/* Call after changing model->params (an optimizer step) and before the next
   forward: backends that keep their own copy of the weights (cpu: reordered
   into oneDNN's layout; cuda: on the device) re-read them. */
nn_err nn_net_params_changed(nn_net *net);

/* ---- optimizer ------------------------------------------------------------------ */

/* Adam with decoupled weight decay (AdamW when weight_decay > 0) on n float32
   parameters. The state (m, v, t) is public so that a checkpoint can save and
   restore it exactly; with the same gradients a restored optimizer takes the
   same steps bit for bit. */
typedef struct {
  size_t n;
  float *m, *v;                           /* first and second moments, n each */
  long   t;                               /* steps taken */
  double beta1, beta2, eps, weight_decay; /* defaults 0.9, 0.999, 1e-8, 0 */
} nn_adam;

nn_err nn_adam_create(size_t n, nn_adam **adam);
/* params -= lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * params); a
   non-finite gradient entry is refused (nothing is changed). */
nn_err nn_adam_step(nn_adam *adam, float *params, const float *grad, double lr);
nn_err nn_adam_destroy(nn_adam **adam);

#ifdef __cplusplus
}
#endif
#endif
