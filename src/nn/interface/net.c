/* The network executor: plans buffers once (liveness-based reuse), then runs
   the layers through a backend. Training mode (the backward pass) is in
   backward.c; here it changes the plan (the inputs of convolutions are kept)
   and the forward (ReLU masks are recorded). */
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/nnimpl.h>

static size_t tensor_size(const nn_net *net, int t)
{
  const nn_tensor *T = &net->model->tensors[t];
  const int       *d = net->ldims[T->level];

  return (size_t) d[0] * (size_t) d[1] * (size_t) d[2] * (size_t) T->channels;
}

size_t nn_net_tensor_size(const nn_net *net, int t)
{
  return tensor_size(net, t);
}

static nn_err zero_halo(void *ctx, int level, int channels, float *buf)
{
  return NN_SUCCESS; /* the backend's pad already zeroed the border */
}

nn_err nn_net_destroy(nn_net **pnet)
{
  nn_net *net;

  if (!pnet || !*pnet) return NN_SUCCESS;
  net = *pnet;
  nn_train_free(net);
  if (net->ops) {
    for (int b = 0; b < net->nbuf; b++)
      if (net->buf[b]) net->ops->release(net, net->buf[b]);
    if (net->padded) net->ops->release(net, net->padded);
    if (net->devmask) net->ops->release(net, net->devmask);
    net->ops->teardown(net);
  }
  if (net->host) {
    if (net->ops && net->ops->host_free)
      net->ops->host_free(net, net->host);
    else
      free(net->host);
  }
  free(net->buf);
  free(net->bufsize);
  free(net->tbuf);
  free(net->ldims);
  free(net);
  *pnet = NULL;
  return NN_SUCCESS;
}

/* Assigns a buffer to every tensor: a tensor's buffer is free again after its
   last reader; the input and output tensors keep theirs. In training mode the
   input of every convolution is kept too (its weight gradient needs it);
   tensors read only by add, pooling and upsampling (linear: their backward
   needs no values) or only as a residual are still reused. */
static nn_err plan(nn_net *net)
{
  const nn_model *m = net->model;
  int            *last, *busy;
  nn_err          err = NN_SUCCESS;

  last         = calloc((size_t) m->ntensors, sizeof(int));
  busy         = calloc((size_t) m->ntensors + 1, sizeof(int));
  net->tbuf    = malloc((size_t) m->ntensors * sizeof(int));
  net->buf     = calloc((size_t) m->ntensors, sizeof(void *));
  net->bufsize = calloc((size_t) m->ntensors, sizeof(size_t));
  if (!last || !busy || !net->tbuf || !net->buf || !net->bufsize) {
    free(last);
    free(busy);
    return nn_error_set(NN_ERR_MEM, "nn_net_create: out of memory");
  }
  for (int t = 0; t < m->ntensors; t++) {
    last[t]      = -1;
    net->tbuf[t] = -1;
  }
  for (int l = 0; l < m->nlayers; l++) {
    last[m->layers[l].in] = l;
    if (m->layers[l].in2 >= 0) last[m->layers[l].in2] = l;
  }
  if (net->training)
    for (int l = 0; l < m->nlayers; l++)
      if (m->layers[l].op == NN_OP_CONV) last[m->layers[l].in] = m->nlayers;
  last[m->output] = m->nlayers; /* kept to the end */
  last[m->input]  = m->nlayers; /* the input is uploaded once, kept */
  net->nbuf       = 0;
  /* the input */
  net->tbuf[m->input]     = net->nbuf;
  net->bufsize[net->nbuf] = tensor_size(net, m->input);
  busy[net->nbuf++]       = 1;
  for (int l = 0; l < m->nlayers; l++) {
    int    t = m->layers[l].out, best = -1;
    size_t need = tensor_size(net, t);

    for (int b = 0; b < net->nbuf; b++) /* the smallest free buffer that fits */
      if (!busy[b] && net->bufsize[b] >= need && (best < 0 || net->bufsize[b] < net->bufsize[best])) best = b;
    if (best < 0) {
      best               = net->nbuf++;
      net->bufsize[best] = need;
    }
    busy[best]   = 1;
    net->tbuf[t] = best;
    /* release what this layer read for the last time */
    for (int q = 0; q < 2; q++) {
      int r = q ? m->layers[l].in2 : m->layers[l].in;

      if (r >= 0 && last[r] == l && net->tbuf[r] != best) busy[net->tbuf[r]] = 0;
    }
  }
  free(last);
  free(busy);
  return err;
}

static nn_err net_create(const nn_model *m, const char *backend, nn_precision precision, const int dims[3], int training, nn_net **pnet)
{
  nn_net *net;
  nn_err  err;
  size_t  maxpad = 0;

  NN_CHECK(m && backend && dims && pnet, NN_ERR_ARG, "nn_net_create: NULL argument");
  NN_CHECK(dims[0] > 0 && dims[1] > 0 && dims[2] > 0, NN_ERR_ARG, "nn_net_create: empty grid %dx%dx%d", dims[0], dims[1], dims[2]);
  NN_CALL(nn_model_validate(m));
  if (training) { /* before the device check: say what is missing first */
    const nn_backend_ops *ops = nn_backend_find(backend);

    NN_CHECK(!ops || (ops->conv_train && ops->conv_backward && ops->relu_backward && ops->grad_acc && ops->avgpool2_backward && ops->upsample2_backward), NN_ERR_UNSUPPORTED, "backend '%s' has no backward pass (training runs on ref, cpu and cuda)", backend);
    NN_CHECK(precision == NN_FP32, NN_ERR_UNSUPPORTED, "training runs in fp32 only (asked for %s)", precision >= NN_FP32 && precision <= NN_FP16 ? nn_precision_names[precision] : "?");
  }
  NN_CALL(nn_backend_check(backend, precision));
  net = calloc(1, sizeof(*net));
  NN_CHECK(net, NN_ERR_MEM, "nn_net_create: out of memory");
  net->model     = m;
  net->ops       = NULL;
  net->training  = training;
  net->precision = precision;
  net->halo      = zero_halo;
  net->levels    = nn_model_levels(m);
  net->ldims     = malloc((size_t) (net->levels + 1) * sizeof(*net->ldims));
  if (!net->ldims) {
    free(net);
    return nn_error_set(NN_ERR_MEM, "nn_net_create: out of memory");
  }
  for (int d = 0; d < 3; d++) {
    int mult      = 1 << net->levels;
    net->dims[d]  = dims[d];
    net->pdims[d] = (dims[d] + mult - 1) / mult * mult; /* odd sizes: pad internally */
  }
  for (int l = 0; l <= net->levels; l++)
    for (int d = 0; d < 3; d++) net->ldims[l][d] = net->pdims[d] >> l;
  if ((err = plan(net))) {
    nn_net_destroy(&net);
    return err;
  }
  net->ops = nn_backend_find(backend);
  if ((err = net->ops->setup(net))) {
    net->ops = NULL;
    nn_net_destroy(&net);
    return err;
  }
  for (int b = 0; b < net->nbuf; b++)
    if ((err = net->ops->alloc(net, net->bufsize[b], &net->buf[b]))) {
      nn_net_destroy(&net);
      return err;
    }
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer *L = &m->layers[l];

    if (L->op == NN_OP_CONV && L->k == 3) {
      const int *d  = net->ldims[m->tensors[L->in].level];
      size_t     sz = (size_t) (d[0] + 2) * (size_t) (d[1] + 2) * (size_t) (d[2] + 2) * (size_t) L->cin;

      if (sz > maxpad) maxpad = sz;
    }
  }
  net->paddedsize = maxpad;
  if (maxpad && (err = net->ops->alloc(net, maxpad, &net->padded))) {
    nn_net_destroy(&net);
    return err;
  }
  net->hostsize = maxpad > tensor_size(net, m->input) ? maxpad : tensor_size(net, m->input);
  if (net->ops->host_alloc) { /* pinned staging: one DMA each way per forward */
    if ((err = net->ops->host_alloc(net, net->hostsize, &net->host))) {
      nn_net_destroy(&net);
      return err;
    }
  } else {
    net->host = malloc(net->hostsize * sizeof(float));
    if (!net->host) {
      nn_net_destroy(&net);
      return nn_error_set(NN_ERR_MEM, "nn_net_create: out of memory");
    }
  }
  if (training && (err = nn_train_alloc(net))) {
    nn_net_destroy(&net);
    return err;
  }
  *pnet = net;
  return NN_SUCCESS;
}

nn_err nn_net_create(const nn_model *m, const char *backend, nn_precision precision, const int dims[3], nn_net **pnet)
{
  return net_create(m, backend, precision, dims, 0, pnet);
}

nn_err nn_net_create_train(const nn_model *m, const char *backend, nn_precision precision, const int dims[3], nn_net **pnet)
{
  return net_create(m, backend, precision, dims, 1, pnet);
}

nn_err nn_net_params_changed(nn_net *net)
{
  NN_CHECK(net && net->ops, NN_ERR_ARG, "nn_net_params_changed: NULL net");
  NN_CALL(nn_model_validate(net->model));
  net->forwarded = 0; /* the kept activations belong to the old parameters */
  if (net->ops->params_changed) return net->ops->params_changed(net);
  /* generic: rebuild the backend's per-layer state (buffers are kept) */
  net->ops->teardown(net);
  return net->ops->setup(net);
}

size_t nn_net_memory(const nn_net *net)
{
  size_t floats = 0, bytes = 0;

  if (!net) return 0;
  for (int b = 0; b < net->nbuf; b++) floats += net->bufsize[b];
  for (int b = 0; b < net->ngbuf; b++) floats += net->gbufsize[b];
  floats += net->paddedsize;
  if (net->relumask)
    for (int l = 0; l < net->model->nlayers; l++)
      if (net->relumask[l]) bytes += (tensor_size(net, net->model->layers[l].out) + 3) / 4 * sizeof(float);
  if (net->devmask) bytes += (size_t) net->dims[0] * net->dims[1] * net->dims[2]; /* nn_net_set_mask's copy */
  return floats * sizeof(float) + bytes;
}

int nn_net_has_halo(const nn_net *net)
{
  return net->halo != zero_halo;
}

nn_err nn_net_set_halo(nn_net *net, nn_halo_fn fn, void *ctx)
{
  NN_CHECK(net, NN_ERR_ARG, "nn_net_set_halo: NULL net");
  net->halo    = fn ? fn : zero_halo;
  net->haloctx = ctx;
  return NN_SUCCESS;
}

const char *nn_net_backend(const nn_net *net)
{
  return net && net->ops ? net->ops->name : "";
}

/* Copies between a (D, H, W) host array and the padded (pdims) 1-channel tensor. */
static void embed(const nn_net *net, const float *src, float *dst)
{
  const int *d = net->dims, *p = net->pdims;

  if (d[0] == p[0] && d[1] == p[1] && d[2] == p[2]) {
    memcpy(dst, src, (size_t) d[0] * d[1] * d[2] * sizeof(float));
    return;
  }
  memset(dst, 0, (size_t) p[0] * p[1] * p[2] * sizeof(float));
  for (int z = 0; z < d[0]; z++)
    for (int y = 0; y < d[1]; y++) memcpy(dst + ((size_t) z * p[1] + y) * p[2], src + ((size_t) z * d[1] + y) * d[2], (size_t) d[2] * sizeof(float));
}

static void crop(const nn_net *net, const float *src, float *dst)
{
  const int *d = net->dims, *p = net->pdims;

  for (int z = 0; z < d[0]; z++)
    for (int y = 0; y < d[1]; y++) memcpy(dst + ((size_t) z * d[1] + y) * d[2], src + ((size_t) z * p[1] + y) * p[2], (size_t) d[2] * sizeof(float));
}

nn_err nn_net_run_layers(nn_net *net)
{
  const nn_model *m = net ? net->model : NULL;

  NN_CHECK(net, NN_ERR_ARG, "nn_net_run_layers: NULL argument");
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer *L   = &m->layers[l];
    const void     *src = net->buf[net->tbuf[L->in]];
    const void     *s2  = L->in2 >= 0 ? net->buf[net->tbuf[L->in2]] : NULL;
    void           *dst = net->buf[net->tbuf[L->out]];
    int             lin = m->tensors[L->in].level, lout = m->tensors[L->out].level;

    switch (L->op) {
    case NN_OP_CONV:
      if (L->k == 3) {
        NN_CALL(net->ops->pad(net, src, net->padded, net->ldims[lin], L->cin));
        if (net->halo != zero_halo && net->ops->host_memory)
          NN_CALL(net->halo(net->haloctx, lin, L->cin, net->padded));
        else if (net->halo != zero_halo) {
          /* the halo callback works on host memory: stage through the host */
          const int *d  = net->ldims[lin];
          size_t     sz = (size_t) (d[0] + 2) * (d[1] + 2) * (d[2] + 2) * L->cin;

          NN_CALL(net->ops->download(net, net->host, net->padded, sz));
          NN_CALL(net->halo(net->haloctx, lin, L->cin, net->host));
          NN_CALL(net->ops->upload(net, net->padded, net->host, sz));
        }
        src = net->padded;
      }
      if (net->training)
        NN_CALL(net->ops->conv_train(net, l, src, s2, dst, net->relumask[l], net->ldims[lout]));
      else
        NN_CALL(net->ops->conv(net, l, src, s2, dst, net->ldims[lout]));
      break;
    case NN_OP_ADD: NN_CALL(net->ops->add(net, src, s2, dst, tensor_size(net, L->out))); break;
    case NN_OP_AVGPOOL2: NN_CALL(net->ops->avgpool2(net, src, dst, net->ldims[lin], L->cin)); break;
    case NN_OP_UPSAMPLE2: NN_CALL(net->ops->upsample2(net, src, s2, dst, net->ldims[lout], L->cout)); break;
    }
  }
  return NN_SUCCESS;
}

nn_err nn_net_forward(nn_net *net, const float *in, const unsigned char *mask, float *out)
{
  const nn_model *m = net ? net->model : NULL;
  const size_t    n = net ? (size_t) net->dims[0] * net->dims[1] * net->dims[2] : 0;

  NN_CHECK(net && in && out, NN_ERR_ARG, "nn_net_forward: NULL argument");
  net->forwarded = 0;
  embed(net, in, net->host);
  NN_CALL(net->ops->upload(net, net->buf[net->tbuf[m->input]], net->host, tensor_size(net, m->input)));
  NN_CALL(nn_net_run_layers(net));
  NN_CALL(net->ops->download(net, net->host, net->buf[net->tbuf[m->output]], tensor_size(net, m->output)));
  if (net->dims[0] == net->pdims[0] && net->dims[1] == net->pdims[1] && net->dims[2] == net->pdims[2])
    memcpy(out, net->host, n * sizeof(float));
  else
    crop(net, net->host, out);
  if (mask)
    for (size_t i = 0; i < n; i++)
      if (mask[i]) out[i] = 0.0f;
  if (net->training) { /* the backward needs this forward's mask */
    net->outmasked = mask != NULL;
    if (mask) memcpy(net->outmask, mask, n);
    net->forwarded = 1;
  }
  return NN_SUCCESS;
}

/* ---- the device-pointer path ---------------------------------------------------- */

int nn_net_device_memory(const nn_net *net)
{
  return net && net->ops && !net->ops->host_memory;
}

nn_err nn_net_set_mask(nn_net *net, const unsigned char *mask)
{
  NN_CHECK(net && net->ops, NN_ERR_ARG, "nn_net_set_mask: NULL net");
  if (!mask || !net->ops->upload_bytes) { /* cleared, or no device path: nothing to keep */
    net->devmasked = 0;
    return NN_SUCCESS;
  }
  net->devmasked = 0; /* until the copy succeeded */
  NN_CALL(net->ops->upload_bytes(net, &net->devmask, mask, (size_t) net->dims[0] * net->dims[1] * net->dims[2]));
  net->devmasked = 1;
  return NN_SUCCESS;
}

nn_err nn_net_forward_device(nn_net *net, const double *in, double scale, double *out)
{
  const nn_model *m = net ? net->model : NULL;

  NN_CHECK(net && net->ops && in && out, NN_ERR_ARG, "nn_net_forward_device: NULL argument");
  NN_CHECK(!net->ops->host_memory && net->ops->import_f64 && net->ops->export_f64, NN_ERR_UNSUPPORTED, "nn_net_forward_device: backend '%s' computes in host memory and takes no device pointers (use nn_net_forward)", net->ops->name);
  NN_CHECK(!net->training, NN_ERR_UNSUPPORTED, "nn_net_forward_device: not for a training net (nn_net_create_train): its forward is nn_net_forward");
  NN_CALL(net->ops->import_f64(net, net->buf[net->tbuf[m->input]], in, scale, net->dims, net->pdims));
  NN_CALL(nn_net_run_layers(net));
  return net->ops->export_f64(net, out, net->buf[net->tbuf[m->output]], net->devmasked ? net->devmask : NULL, net->dims, net->pdims);
}
