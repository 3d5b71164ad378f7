/* The backward pass of the executor (training mode).

   Memory plan of a training net (nn_net_create_train), all made once:
   - activations: the forward plan of net.c, except that the input of every
     convolution is kept to the end (its weight gradient needs it); tensors
     read only by add, pooling, upsampling or as a residual are still reused
     (their backward needs no values);
   - one byte per element of the output of every ReLU convolution: the ReLU
     mask (pre-activation > 0), written by the forward. The output itself
     (relu(a) + residual) does not tell where a was positive once the
     residual is added, and keeping the pre-activations would cost 4x more;
   - gradient buffers, planned like the activations but in reverse order: the
     gradient of a tensor is born at the backward of its last reader and dies
     after the backward of its producer (from64: 19 tensors, 4 gradient
     buffers); the gradient of the input tensor is kept;
   - the padded scratch of the forward is reused by backends that pad the
     input of the weight gradient.

   The walk: layers in reverse order; the first contribution to a tensor's
   gradient overwrites its buffer, later ones add (a tensor read by several
   layers, e.g. a residual source that is also a convolution input, sums its
   gradients). A layer whose output gradient was never written (its output
   reaches nothing) is skipped. For a convolution with ReLU and residual,
   out = relu(a) + in2: the gradient passes straight to in2, then is gated by
   the mask in place (it is dead after this layer) and goes through the
   convolution's transposes. The gradient of the model input is computed only
   when asked for (din). */
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/nnimpl.h>

static nn_err plan_grad(nn_net *net)
{
  const nn_model *m = net->model;
  int            *busy;

  busy          = calloc((size_t) m->ntensors + 1, sizeof(int));
  net->tgbuf    = malloc((size_t) m->ntensors * sizeof(int));
  net->gbuf     = calloc((size_t) m->ntensors, sizeof(void *));
  net->gbufsize = calloc((size_t) m->ntensors, sizeof(size_t));
  net->gwritten = calloc((size_t) m->ntensors, sizeof(int));
  if (!busy || !net->tgbuf || !net->gbuf || !net->gbufsize || !net->gwritten) {
    free(busy);
    return nn_error_set(NN_ERR_MEM, "nn_net_create_train: out of memory");
  }
  for (int t = 0; t < m->ntensors; t++) net->tgbuf[t] = -1;
  net->ngbuf = 0;
#define TAKE(t)                                                                                                           \
  do {                                                                                                                    \
    int    best_ = -1;                                                                                                    \
    size_t need_ = nn_net_tensor_size(net, (t));                                                                          \
    for (int b_ = 0; b_ < net->ngbuf; b_++) /* the smallest free buffer that fits */                                      \
      if (!busy[b_] && net->gbufsize[b_] >= need_ && (best_ < 0 || net->gbufsize[b_] < net->gbufsize[best_])) best_ = b_; \
    if (best_ < 0) {                                                                                                      \
      best_                = net->ngbuf++;                                                                                \
      net->gbufsize[best_] = need_;                                                                                       \
    }                                                                                                                     \
    busy[best_]     = 1;                                                                                                  \
    net->tgbuf[(t)] = best_;                                                                                              \
  } while (0)
  TAKE(m->output);
  for (int l = m->nlayers - 1; l >= 0; l--) {
    const nn_layer *L = &m->layers[l];

    if (net->tgbuf[L->out] < 0) continue; /* nothing flows back through this layer */
    if (net->tgbuf[L->in] < 0) TAKE(L->in);
    if (L->in2 >= 0 && net->tgbuf[L->in2] < 0) TAKE(L->in2);
    busy[net->tgbuf[L->out]] = 0; /* consumed: the producer's backward was its last use */
  }
#undef TAKE
  if (net->tgbuf[m->input] < 0) { /* the output does not depend on the input */
    net->tgbuf[m->input]        = net->ngbuf;
    net->gbufsize[net->ngbuf++] = nn_net_tensor_size(net, m->input);
  }
  free(busy);
  return NN_SUCCESS;
}

nn_err nn_train_alloc(nn_net *net)
{
  const nn_model *m = net->model;
  const size_t    n = (size_t) net->dims[0] * net->dims[1] * net->dims[2];

  net->relumask = calloc((size_t) m->nlayers, sizeof(void *));
  net->outmask  = malloc(n);
  NN_CHECK(net->relumask && net->outmask, NN_ERR_MEM, "nn_net_create_train: out of memory");
  for (int l = 0; l < m->nlayers; l++)
    if (m->layers[l].op == NN_OP_CONV && m->layers[l].act == NN_ACT_RELU) NN_CALL(net->ops->alloc(net, (nn_net_tensor_size(net, m->layers[l].out) + 3) / 4, &net->relumask[l]));
  NN_CALL(plan_grad(net));
  for (int b = 0; b < net->ngbuf; b++) NN_CALL(net->ops->alloc(net, net->gbufsize[b], &net->gbuf[b]));
  return NN_SUCCESS;
}

void nn_train_free(nn_net *net)
{
  if (net->ops) {
    if (net->relumask)
      for (int l = 0; l < net->model->nlayers; l++)
        if (net->relumask[l]) net->ops->release(net, net->relumask[l]);
    if (net->gbuf)
      for (int b = 0; b < net->ngbuf; b++)
        if (net->gbuf[b]) net->ops->release(net, net->gbuf[b]);
  }
  free(net->relumask);
  free(net->gbuf);
  free(net->gbufsize);
  free(net->tgbuf);
  free(net->gwritten);
  free(net->outmask);
  net->relumask = NULL;
  net->gbuf     = NULL;
  net->gbufsize = NULL;
  net->tgbuf    = NULL;
  net->gwritten = NULL;
  net->outmask  = NULL;
  net->ngbuf    = 0;
}

nn_err nn_net_backward(nn_net *net, const float *dout, float *din, float *dparams)
{
  const nn_model *m = net ? net->model : NULL;
  const int      *d, *p;
  int            *wr;

  NN_CHECK(net && dout && dparams, NN_ERR_ARG, "nn_net_backward: NULL argument");
  NN_CHECK(net->training, NN_ERR_ARG, "nn_net_backward: the net was made for inference (use nn_net_create_train)");
  NN_CHECK(net->forwarded, NN_ERR_ARG, "nn_net_backward: no forward pass to differentiate (run nn_net_forward first, again after nn_net_params_changed)");
  NN_CHECK(!nn_net_has_halo(net), NN_ERR_UNSUPPORTED, "nn_net_backward: distributed training (a halo callback) is not implemented: the backward runs on a single box only");
  d  = net->dims;
  p  = net->pdims;
  wr = net->gwritten;
  for (int t = 0; t < m->ntensors; t++) wr[t] = 0;

  /* dL/d(output): masked entries were constants, the padding was cropped */
  if (d[0] != p[0] || d[1] != p[1] || d[2] != p[2]) memset(net->host, 0, (size_t) p[0] * p[1] * p[2] * sizeof(float));
  for (int z = 0; z < d[0]; z++)
    for (int y = 0; y < d[1]; y++) {
      const size_t   src = ((size_t) z * d[1] + y) * d[2];
      float         *dst = net->host + ((size_t) z * p[1] + y) * p[2];
      const uint8_t *mk  = net->outmasked ? net->outmask + src : NULL;

      for (int x = 0; x < d[2]; x++) dst[x] = mk && mk[x] ? 0.0f : dout[src + x];
    }
  NN_CALL(net->ops->upload(net, net->gbuf[net->tgbuf[m->output]], net->host, nn_net_tensor_size(net, m->output)));
  wr[m->output] = 1;

  for (int l = m->nlayers - 1; l >= 0; l--) {
    const nn_layer *L   = &m->layers[l];
    const int       lin = m->tensors[L->in].level, lout = m->tensors[L->out].level;
    const size_t    nout = nn_net_tensor_size(net, L->out);
    const int       want = L->in != m->input || din != NULL; /* the gradient of `in` is needed */
    void           *g, *gin;

    if (!wr[L->out]) continue; /* its output reaches nothing: no gradient */
    g   = net->gbuf[net->tgbuf[L->out]];
    gin = net->gbuf[net->tgbuf[L->in]];
    if (L->in2 >= 0) { /* residual, add operand, skip: passes straight */
      NN_CALL(net->ops->grad_acc(net, net->gbuf[net->tgbuf[L->in2]], g, nout, wr[L->in2]));
      wr[L->in2] = 1;
    }
    switch (L->op) {
    case NN_OP_CONV:
      if (L->act == NN_ACT_RELU) NN_CALL(net->ops->relu_backward(net, g, net->relumask[l], nout));
      NN_CALL(net->ops->conv_backward(net, l, net->buf[net->tbuf[L->in]], g, want ? gin : NULL, wr[L->in], dparams + L->weight, dparams + L->bias, net->ldims[lout]));
      break;
    case NN_OP_ADD:
      if (want) NN_CALL(net->ops->grad_acc(net, gin, g, nout, wr[L->in]));
      break;
    case NN_OP_AVGPOOL2:
      if (want) NN_CALL(net->ops->avgpool2_backward(net, g, gin, net->ldims[lin], L->cin, wr[L->in]));
      break;
    case NN_OP_UPSAMPLE2:
      if (want) NN_CALL(net->ops->upsample2_backward(net, g, gin, net->ldims[lout], L->cout, wr[L->in]));
      break;
    }
    if (want) wr[L->in] = 1;
  }

  if (din) { /* crop: the gradient of the zero padding is dropped */
    if (!wr[m->input])
      memset(din, 0, (size_t) d[0] * d[1] * d[2] * sizeof(float));
    else {
      NN_CALL(net->ops->download(net, net->host, net->gbuf[net->tgbuf[m->input]], nn_net_tensor_size(net, m->input)));
      for (int z = 0; z < d[0]; z++)
        for (int y = 0; y < d[1]; y++) memcpy(din + ((size_t) z * d[1] + y) * d[2], net->host + ((size_t) z * p[1] + y) * p[2], (size_t) d[2] * sizeof(float));
    }
  }
  return NN_SUCCESS;
}
