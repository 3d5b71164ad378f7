/* The "ref" backend: plain loops in fp32 on host memory (double accumulation
   in convolutions and gradient sums), forward and backward. It is the test
   oracle for the other backends, not a speed path. */
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/nnimpl.h>

/* the kernels: float (the backend) and double (the float64 gradient tests) */
#define REAL      float
#define NN_REF(x) nn_ref_##x
#include "ref_kernels.inc"
#undef REAL
#undef NN_REF
#define REAL      double
#define NN_REF(x) nn_ref64_##x
#include "ref_kernels.inc"
#undef REAL
#undef NN_REF

static nn_err ref_check(nn_precision precision)
{
  NN_CHECK(precision == NN_FP32, NN_ERR_UNSUPPORTED, "backend 'ref' runs in fp32 only (asked for %s)", nn_precision_names[precision]);
  return NN_SUCCESS;
}

/* Training: the double accumulators of the weight gradient, sized for the
   largest convolution. */
static nn_err ref_setup(nn_net *net)
{
  size_t work = 0;

  if (!net->training) return NN_SUCCESS;
  for (int l = 0; l < net->model->nlayers; l++) {
    const nn_layer *L = &net->model->layers[l];
    size_t          n = (size_t) L->cout * (size_t) L->cin * (size_t) (L->k * L->k * L->k) + (size_t) L->cout;

    if (L->op == NN_OP_CONV && n > work) work = n;
  }
  net->bdata = malloc(work * sizeof(double));
  NN_CHECK(net->bdata, NN_ERR_MEM, "backend 'ref': out of memory");
  return NN_SUCCESS;
}

static nn_err ref_teardown(nn_net *net)
{
  free(net->bdata);
  net->bdata = NULL;
  return NN_SUCCESS;
}

static nn_err ref_alloc(nn_net *net, size_t n, void **p)
{
  *p = malloc(n * sizeof(float));
  NN_CHECK(*p || !n, NN_ERR_MEM, "backend 'ref': cannot allocate %zu floats", n);
  return NN_SUCCESS;
}

static nn_err ref_release(nn_net *net, void *p)
{
  free(p);
  return NN_SUCCESS;
}

static nn_err ref_copy(nn_net *net, float *dst, const void *src, size_t n)
{
  memcpy(dst, src, n * sizeof(float));
  return NN_SUCCESS;
}

static nn_err ref_upload(nn_net *net, void *dst, const float *src, size_t n)
{
  memcpy(dst, src, n * sizeof(float));
  return NN_SUCCESS;
}

static nn_err ref_pad(nn_net *net, const void *in, void *padded, const int dims[3], int c)
{
  return nn_ref_pad(in, padded, dims, c);
}

static nn_err ref_conv(nn_net *net, int l, const void *in, const void *in2, void *out, const int dims[3])
{
  const nn_layer *L = &net->model->layers[l];

  return nn_ref_conv(L, net->model->params + L->weight, net->model->params + L->bias, in, in2, out, dims);
}

static nn_err ref_conv_train(nn_net *net, int l, const void *in, const void *in2, void *out, void *mask, const int dims[3])
{
  const nn_layer *L = &net->model->layers[l];

  return nn_ref_conv_mask(L, net->model->params + L->weight, net->model->params + L->bias, in, in2, out, mask, dims);
}

static nn_err ref_conv_backward(nn_net *net, int l, const void *in, const void *dout, void *din, int accumulate, float *dw, float *db, const int dims[3])
{
  const nn_layer *L = &net->model->layers[l];

  if (din) NN_CALL(nn_ref_conv_backward_data(L, net->model->params + L->weight, dout, din, accumulate, dims));
  if (L->k == 3) { /* the weight gradient reads the input padded, as the forward */
    NN_CALL(nn_ref_pad(in, net->padded, dims, L->cin));
    in = net->padded;
  }
  return nn_ref_conv_backward_weights(L, in, dout, dw, db, net->bdata, dims);
}

static nn_err ref_relu_backward(nn_net *net, void *d, const void *mask, size_t n)
{
  return nn_ref_relu_backward(d, mask, n);
}

static nn_err ref_grad_acc(nn_net *net, void *dst, const void *src, size_t n, int accumulate)
{
  return nn_ref_grad_acc(dst, src, n, accumulate);
}

static nn_err ref_avgpool2_backward(nn_net *net, const void *dout, void *din, const int dims[3], int c, int accumulate)
{
  return nn_ref_avgpool2_backward(dout, din, dims, c, accumulate);
}

static nn_err ref_upsample2_backward(nn_net *net, const void *dout, void *din, const int dims[3], int c, int accumulate)
{
  return nn_ref_upsample2_backward(dout, din, dims, c, accumulate);
}

static nn_err ref_params_changed(nn_net *net)
{
  return NN_SUCCESS; /* the kernels read model->params directly */
}

static nn_err ref_addop(nn_net *net, const void *a, const void *b, void *out, size_t n)
{
  return nn_ref_add(a, b, out, n);
}

static nn_err ref_avgpool2(nn_net *net, const void *in, void *out, const int dims[3], int c)
{
  return nn_ref_avgpool2(in, out, dims, c);
}

static nn_err ref_upsample2(nn_net *net, const void *in, const void *skip, void *out, const int dims[3], int c)
{
  return nn_ref_upsample2(in, skip, out, dims, c);
}

const nn_backend_ops nn_backend_ref = {
  .name        = "ref",
  .host_memory = 1,
  .check       = ref_check,
  .setup       = ref_setup,
  .teardown    = ref_teardown,
  .alloc       = ref_alloc,
  .release     = ref_release,
  .upload      = ref_upload,
  .download    = ref_copy,
  .pad         = ref_pad,
  .conv        = ref_conv,
  .add         = ref_addop,
  .avgpool2    = ref_avgpool2,
  .upsample2   = ref_upsample2,

  .conv_train         = ref_conv_train,
  .conv_backward      = ref_conv_backward,
  .relu_backward      = ref_relu_backward,
  .grad_acc           = ref_grad_acc,
  .avgpool2_backward  = ref_avgpool2_backward,
  .upsample2_backward = ref_upsample2_backward,
  .params_changed     = ref_params_changed,
};
