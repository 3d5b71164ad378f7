/* The "ref" backend: plain loops in fp32 on host memory (double accumulation
   in convolutions). It is the test oracle for the other backends, not a
   speed path. */
#include <stdlib.h>
#include <string.h>
#include "nn_impl.h"

nn_err nn_ref_pad(const float *in, float *padded, const int dims[3], int c)
{
  const size_t D = (size_t) dims[0], H = (size_t) dims[1], W = (size_t) dims[2], C = (size_t) c;

  memset(padded, 0, (D + 2) * (H + 2) * (W + 2) * C * sizeof(float));
  for (size_t z = 0; z < D; z++)
    for (size_t y = 0; y < H; y++) memcpy(padded + (((z + 1) * (H + 2) + y + 1) * (W + 2) + 1) * C, in + ((z * H + y) * W) * C, W * C * sizeof(float));
  return NN_SUCCESS;
}

nn_err nn_ref_conv(const nn_layer *L, const float *w, const float *b, const float *in, const float *in2, float *out, const int dims[3])
{
  const long D = dims[0], H = dims[1], W = dims[2], k = L->k, p = k / 2, ci = L->cin, co = L->cout;
  const long PH = H + 2 * p, PW = W + 2 * p; /* the input is padded by p */

  for (long z = 0; z < D; z++)
    for (long y = 0; y < H; y++)
      for (long x = 0; x < W; x++)
        for (long o = 0; o < co; o++) {
          double acc = b[o];

          for (long dz = 0; dz < k; dz++)
            for (long dy = 0; dy < k; dy++)
              for (long dx = 0; dx < k; dx++) {
                const float *src = in + (((z + dz) * PH + y + dy) * PW + x + dx) * ci;
                const float *wk  = w + ((o * ci) * k + dz) * k * k + dy * k + dx; /* (o, i, dz, dy, dx) */

                for (long i = 0; i < ci; i++) acc += (double) wk[i * k * k * k] * src[i];
              }
          if (L->act == NN_ACT_RELU && acc < 0) acc = 0;
          if (in2) acc += in2[((z * H + y) * W + x) * co + o];
          out[((z * H + y) * W + x) * co + o] = (float) acc;
        }
  return NN_SUCCESS;
}

nn_err nn_ref_add(const float *a, const float *b, float *out, size_t n)
{
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
  return NN_SUCCESS;
}

nn_err nn_ref_avgpool2(const float *in, float *out, const int dims[3], int c)
{
  const size_t D = (size_t) dims[0] / 2, H = (size_t) dims[1] / 2, W = (size_t) dims[2] / 2, C = (size_t) c, iH = (size_t) dims[1], iW = (size_t) dims[2];

  for (size_t z = 0; z < D; z++)
    for (size_t y = 0; y < H; y++)
      for (size_t x = 0; x < W; x++)
        for (size_t ch = 0; ch < C; ch++) {
          float s = 0;

          for (size_t q = 0; q < 8; q++) s += in[(((2 * z + (q >> 2)) * iH + 2 * y + ((q >> 1) & 1)) * iW + 2 * x + (q & 1)) * C + ch];
          out[((z * H + y) * W + x) * C + ch] = 0.125f * s;
        }
  return NN_SUCCESS;
}

nn_err nn_ref_upsample2(const float *in, const float *skip, float *out, const int dims[3], int c)
{
  const size_t D = (size_t) dims[0], H = (size_t) dims[1], W = (size_t) dims[2], C = (size_t) c, cH = H / 2, cW = W / 2;

  for (size_t z = 0; z < D; z++)
    for (size_t y = 0; y < H; y++)
      for (size_t x = 0; x < W; x++)
        for (size_t ch = 0; ch < C; ch++) {
          size_t o = ((z * H + y) * W + x) * C + ch;

          out[o] = in[(((z / 2) * cH + y / 2) * cW + x / 2) * C + ch] + (skip ? skip[o] : 0.0f);
        }
  return NN_SUCCESS;
}

static nn_err ref_check(nn_precision precision)
{
  NN_CHECK(precision == NN_FP32, NN_ERR_UNSUPPORTED, "backend 'ref' runs in fp32 only (asked for %s)", nn_precision_names[precision]);
  return NN_SUCCESS;
}

static nn_err ref_setup(nn_net *net)
{
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
  .teardown    = ref_setup,
  .alloc       = ref_alloc,
  .release     = ref_release,
  .upload      = ref_upload,
  .download    = ref_copy,
  .pad         = ref_pad,
  .conv        = ref_conv,
  .add         = ref_addop,
  .avgpool2    = ref_avgpool2,
  .upsample2   = ref_upsample2,
};
