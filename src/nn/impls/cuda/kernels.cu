/* Elementwise CUDA kernels of the "cuda" nn backend: pad, add, pooling,
   upsampling, the convolution epilogue, a direct convolution for the 1-channel
   lift, and type conversion. Memory-bound; arithmetic in fp32 whatever the
   element type (float, __half, __nv_bfloat16).

   Tensor kernels walk rows: a row is the W*C contiguous elements of one
   (z, y), so only one integer division per element remains (x = e / C); the
   grid's y dimension loops over rows. Flat kernels use 32-bit indices where
   the count allows. */
#include <climits>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <deepcd/private/nncudakernels.h>

namespace {

template <typename T>
struct cvt;
template <>
struct cvt<float> {
  static __device__ __forceinline__ float ld(float v)
  {
    return v;
  }
  static __device__ __forceinline__ float st(float v)
  {
    return v;
  }
};
template <>
struct cvt<__half> {
  static __device__ __forceinline__ float ld(__half v)
  {
    return __half2float(v);
  }
  static __device__ __forceinline__ __half st(float v)
  {
    return __float2half_rn(v);
  }
};
template <>
struct cvt<__nv_bfloat16> {
  static __device__ __forceinline__ float ld(__nv_bfloat16 v)
  {
    return __bfloat162float(v);
  }
  static __device__ __forceinline__ __nv_bfloat16 st(float v)
  {
    return __float2bfloat16_rn(v);
  }
};

const int kBlock    = 256;
const int kMaxGridY = 65535;
const int kMaxFlat  = 1 << 20; /* blocks of a flat grid-stride kernel */

/* A grid over R rows of L elements. */
struct rowgrid {
  dim3 grid, block;
};
rowgrid make_rowgrid(long long R, long long L)
{
  rowgrid g;
  int     b = L >= kBlock ? kBlock : (int) ((L + 31) / 32 * 32);

  g.block = dim3(b);
  g.grid  = dim3((unsigned) ((L + b - 1) / b), (unsigned) (R < kMaxGridY ? R : kMaxGridY));
  return g;
}

unsigned flat_blocks(size_t n)
{
  size_t b = (n + kBlock - 1) / kBlock;
  return (unsigned) (b < (size_t) kMaxFlat ? b : (size_t) kMaxFlat);
}

/* ---- kernels ------------------------------------------------------------------ */

template <typename T>
__global__ void k_pad(const T *__restrict__ in, T *__restrict__ p, int D, int H, int W, int C)
{
  const int PH = H + 2, R = (D + 2) * PH, L = (W + 2) * C;
  const int e = blockIdx.x * blockDim.x + threadIdx.x;

  if (e >= L) return;
  for (int r = blockIdx.y; r < R; r += gridDim.y) {
    const int z = r / PH, y = r - z * PH;
    T         v = cvt<T>::st(0.0f);

    if (z >= 1 && z <= D && y >= 1 && y <= H && e >= C && e < (W + 1) * C) v = in[((size_t) (z - 1) * H + (y - 1)) * (size_t) W * C + (e - C)];
    p[(size_t) r * L + e] = v;
  }
}

/* out = scale * (sum over the 2x2x2 children) [+ out]: the average pooling
   (scale 1/8), and the backward of upsampling (scale 1, accumulate). */
template <typename T>
__global__ void k_avgpool2(const T *__restrict__ in, T *__restrict__ out, int D, int H, int W, int C, float scale, int accumulate)
{
  const int Ho = H / 2, R = (D / 2) * Ho, L = (W / 2) * C;
  const int e = blockIdx.x * blockDim.x + threadIdx.x;

  if (e >= L) return;
  for (int r = blockIdx.y; r < R; r += gridDim.y) {
    const int    z = r / Ho, y = r - z * Ho, x = e / C, c = e - x * C;
    const size_t base = (((size_t) 2 * z * H + 2 * y) * W + 2 * x) * C + c;
    float        s    = 0.0f;

    /* the order of the ref backend: q = (dz, dy, dx) */
    for (int q = 0; q < 8; q++) s += cvt<T>::ld(in[base + (((size_t) (q >> 2) * H + ((q >> 1) & 1)) * W + (q & 1)) * C]);
    s *= scale;
    if (accumulate) s += cvt<T>::ld(out[(size_t) r * L + e]);
    out[(size_t) r * L + e] = cvt<T>::st(s);
  }
}

/* out = scale * (the parent) [+ skip] [+ out]: nearest upsampling (scale 1),
   and the backward of average pooling (scale 1/8, accumulate). */
template <typename T>
__global__ void k_upsample2(const T *__restrict__ in, const T *__restrict__ skip, T *__restrict__ out, int D, int H, int W, int C, float scale, int accumulate)
{
  const int R = D * H, L = W * C, cH = H / 2, cW = W / 2;
  const int e = blockIdx.x * blockDim.x + threadIdx.x;

  if (e >= L) return;
  for (int r = blockIdx.y; r < R; r += gridDim.y) {
    const int    z = r / H, y = r - z * H, x = e / C, c = e - x * C;
    const size_t o = (size_t) r * L + e;
    float        v = scale * cvt<T>::ld(in[(((size_t) (z / 2) * cH + y / 2) * cW + x / 2) * C + c]);

    if (skip) v += cvt<T>::ld(skip[o]);
    if (accumulate) v += cvt<T>::ld(out[o]);
    out[o] = cvt<T>::st(v);
  }
}

template <typename T>
__global__ void k_conv3_direct(const T *__restrict__ p, const float *__restrict__ w, const float *__restrict__ b, const T *__restrict__ in2, T *__restrict__ out, int D, int H, int W, int cin, int cout, int relu)
{
  const int R = D * H, L = W * cout, PH = H + 2, PW = W + 2;
  const int e = blockIdx.x * blockDim.x + threadIdx.x;

  if (e >= L) return;
  for (int r = blockIdx.y; r < R; r += gridDim.y) {
    const int    z = r / H, y = r - z * H, x = e / cout, o = e - x * cout;
    const size_t oi  = (size_t) r * L + e;
    float        acc = b[o];

    for (int dz = 0; dz < 3; dz++)
      for (int dy = 0; dy < 3; dy++)
        for (int dx = 0; dx < 3; dx++) {
          const T     *src = p + (((size_t) (z + dz) * PH + y + dy) * PW + x + dx) * cin;
          const float *wk  = w + (size_t) o * cin * 27 + dz * 9 + dy * 3 + dx;

          for (int i = 0; i < cin; i++) acc = fmaf(wk[i * 27], cvt<T>::ld(src[i]), acc);
        }
    if (relu && acc < 0.0f) acc = 0.0f;
    if (in2) acc += cvt<T>::ld(in2[oi]);
    out[oi] = cvt<T>::st(acc);
  }
}

template <typename T, typename I>
__global__ void k_add(const T *__restrict__ a, const T *__restrict__ b, T *__restrict__ out, I n)
{
  for (I i = (I) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I) gridDim.x * blockDim.x) out[i] = cvt<T>::st(cvt<T>::ld(a[i]) + cvt<T>::ld(b[i]));
}

template <typename T, typename I>
__global__ void k_epilogue(T *__restrict__ y, const float *__restrict__ bias, const T *__restrict__ in2, I n, int C, int relu)
{
  for (I i = (I) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I) gridDim.x * blockDim.x) {
    float v = cvt<T>::ld(y[i]) + bias[i % (I) C];

    if (relu && v < 0.0f) v = 0.0f;
    if (in2) v += cvt<T>::ld(in2[i]);
    y[i] = cvt<T>::st(v);
  }
}

template <typename TD, typename TS, typename I>
__global__ void k_convert(TD *__restrict__ dst, const TS *__restrict__ src, I n)
{
  for (I i = (I) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I) gridDim.x * blockDim.x) dst[i] = cvt<TD>::st(cvt<TS>::ld(src[i]));
}

/* ---- backward (training, fp32) ---------------------------------------------------- */

template <typename I>
__global__ void k_mask_add(float *__restrict__ y, const float *__restrict__ in2, unsigned char *__restrict__ mask, I n)
{
  for (I i = (I) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I) gridDim.x * blockDim.x) {
    if (mask) mask[i] = y[i] > 0.0f;
    if (in2) y[i] += in2[i];
  }
}

template <typename I>
__global__ void k_relu_backward(float *__restrict__ d, const unsigned char *__restrict__ mask, I n)
{
  for (I i = (I) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I) gridDim.x * blockDim.x)
    if (!mask[i]) d[i] = 0.0f;
}

template <typename I>
__global__ void k_grad_acc(float *__restrict__ dst, const float *__restrict__ src, int accumulate, I n)
{
  for (I i = (I) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I) gridDim.x * blockDim.x) dst[i] = accumulate ? dst[i] + src[i] : src[i];
}

template <typename I>
__global__ void k_fill(float *__restrict__ x, float v, I n)
{
  for (I i = (I) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I) gridDim.x * blockDim.x) x[i] = v;
}

/* ---- launchers ---------------------------------------------------------------- */

cudaError_t launched()
{
  return cudaGetLastError();
}

template <typename T>
cudaError_t pad(const void *in, void *p, int D, int H, int W, int C, cudaStream_t s)
{
  long long R = (long long) (D + 2) * (H + 2), L = (long long) (W + 2) * C;
  rowgrid   g = make_rowgrid(R, L);

  k_pad<T><<<g.grid, g.block, 0, s>>>((const T *) in, (T *) p, D, H, W, C);
  return launched();
}

template <typename T>
cudaError_t avgpool2(const void *in, void *out, int D, int H, int W, int C, float scale, int accumulate, cudaStream_t s)
{
  rowgrid g = make_rowgrid((long long) (D / 2) * (H / 2), (long long) (W / 2) * C);

  k_avgpool2<T><<<g.grid, g.block, 0, s>>>((const T *) in, (T *) out, D, H, W, C, scale, accumulate);
  return launched();
}

template <typename T>
cudaError_t upsample2(const void *in, const void *skip, void *out, int D, int H, int W, int C, float scale, int accumulate, cudaStream_t s)
{
  rowgrid g = make_rowgrid((long long) D * H, (long long) W * C);

  k_upsample2<T><<<g.grid, g.block, 0, s>>>((const T *) in, (const T *) skip, (T *) out, D, H, W, C, scale, accumulate);
  return launched();
}

template <typename T>
cudaError_t conv3_direct(const void *p, const float *w, const float *b, const void *in2, void *out, int D, int H, int W, int cin, int cout, int relu, cudaStream_t s)
{
  rowgrid g = make_rowgrid((long long) D * H, (long long) W * cout);

  k_conv3_direct<T><<<g.grid, g.block, 0, s>>>((const T *) p, w, b, (const T *) in2, (T *) out, D, H, W, cin, cout, relu);
  return launched();
}

template <typename T>
cudaError_t add(const void *a, const void *b, void *out, size_t n, cudaStream_t s)
{
  if (n <= UINT_MAX)
    k_add<T, unsigned><<<flat_blocks(n), kBlock, 0, s>>>((const T *) a, (const T *) b, (T *) out, (unsigned) n);
  else
    k_add<T, size_t><<<flat_blocks(n), kBlock, 0, s>>>((const T *) a, (const T *) b, (T *) out, n);
  return launched();
}

template <typename T>
cudaError_t epilogue(void *y, const float *bias, const void *in2, size_t n, int C, int relu, cudaStream_t s)
{
  if (n <= UINT_MAX)
    k_epilogue<T, unsigned><<<flat_blocks(n), kBlock, 0, s>>>((T *) y, bias, (const T *) in2, (unsigned) n, C, relu);
  else
    k_epilogue<T, size_t><<<flat_blocks(n), kBlock, 0, s>>>((T *) y, bias, (const T *) in2, n, C, relu);
  return launched();
}

template <typename TD, typename TS>
cudaError_t convert(void *dst, const void *src, size_t n, cudaStream_t s)
{
  if (n <= UINT_MAX)
    k_convert<TD, TS, unsigned><<<flat_blocks(n), kBlock, 0, s>>>((TD *) dst, (const TS *) src, (unsigned) n);
  else
    k_convert<TD, TS, size_t><<<flat_blocks(n), kBlock, 0, s>>>((TD *) dst, (const TS *) src, n);
  return launched();
}

template <typename TD>
cudaError_t convert_from(nnk_dtype ts, void *dst, const void *src, size_t n, cudaStream_t s)
{
  switch (ts) {
  case NNK_F32: return convert<TD, float>(dst, src, n, s);
  case NNK_F16: return convert<TD, __half>(dst, src, n, s);
  case NNK_BF16: return convert<TD, __nv_bfloat16>(dst, src, n, s);
  }
  return cudaErrorInvalidValue;
}

} // namespace

/* Dispatches on the element type; clears a stale non-sticky error first so
   that the status returned is this launch's. Nothing to do is success. */
#define NNK_DISPATCH(t, empty, fn, args)          \
  do {                                            \
    if (empty) return cudaSuccess;                \
    (void) cudaGetLastError();                    \
    switch (t) {                                  \
    case NNK_F32: return fn<float> args;          \
    case NNK_F16: return fn<__half> args;         \
    case NNK_BF16: return fn<__nv_bfloat16> args; \
    }                                             \
    return cudaErrorInvalidValue;                 \
  } while (0)

extern "C" size_t nnk_size(nnk_dtype t)
{
  return t == NNK_F32 ? 4 : 2;
}

extern "C" cudaError_t nnk_pad(nnk_dtype t, const void *in, void *padded, int D, int H, int W, int C, cudaStream_t stream)
{
  NNK_DISPATCH(t, D <= 0 || H <= 0 || W <= 0 || C <= 0, pad, (in, padded, D, H, W, C, stream));
}

extern "C" cudaError_t nnk_add(nnk_dtype t, const void *a, const void *b, void *out, size_t n, cudaStream_t stream)
{
  NNK_DISPATCH(t, n == 0, add, (a, b, out, n, stream));
}

extern "C" cudaError_t nnk_avgpool2(nnk_dtype t, const void *in, void *out, int D, int H, int W, int C, cudaStream_t stream)
{
  NNK_DISPATCH(t, D < 2 || H < 2 || W < 2 || C <= 0, avgpool2, (in, out, D, H, W, C, 0.125f, 0, stream));
}

extern "C" cudaError_t nnk_upsample2(nnk_dtype t, const void *in, const void *skip, void *out, int D, int H, int W, int C, cudaStream_t stream)
{
  NNK_DISPATCH(t, D <= 0 || H <= 0 || W <= 0 || C <= 0, upsample2, (in, skip, out, D, H, W, C, 1.0f, 0, stream));
}

extern "C" cudaError_t nnk_epilogue(nnk_dtype t, void *y, const float *bias, const void *in2, size_t n, int C, int relu, cudaStream_t stream)
{
  NNK_DISPATCH(t, n == 0 || C <= 0, epilogue, (y, bias, in2, n, C, relu, stream));
}

extern "C" cudaError_t nnk_conv3_direct(nnk_dtype t, const void *padded, const float *w, const float *b, const void *in2, void *out, int D, int H, int W, int cin, int cout, int relu, cudaStream_t stream)
{
  NNK_DISPATCH(t, D <= 0 || H <= 0 || W <= 0 || cin <= 0 || cout <= 0, conv3_direct, (padded, w, b, in2, out, D, H, W, cin, cout, relu, stream));
}

extern "C" cudaError_t nnk_convert(nnk_dtype td, void *dst, nnk_dtype ts, const void *src, size_t n, cudaStream_t stream)
{
  NNK_DISPATCH(td, n == 0, convert_from, (ts, dst, src, n, stream));
}

/* ---- backward launchers (fp32) ------------------------------------------------------ */

/* Launches a flat kernel whose last parameter is the count n, with 32-bit
   indices where they suffice. */
#define NNK_FLAT(kernel, n, stream, ...)                                                      \
  do {                                                                                        \
    (void) cudaGetLastError();                                                                \
    if ((n) <= UINT_MAX)                                                                      \
      kernel<unsigned><<<flat_blocks(n), kBlock, 0, (stream)>>>(__VA_ARGS__, (unsigned) (n)); \
    else                                                                                      \
      kernel<size_t><<<flat_blocks(n), kBlock, 0, (stream)>>>(__VA_ARGS__, (size_t) (n));     \
    return launched();                                                                        \
  } while (0)

extern "C" cudaError_t nnk_mask_add(float *y, const float *in2, unsigned char *mask, size_t n, cudaStream_t stream)
{
  if (n == 0 || (!in2 && !mask)) return cudaSuccess;
  NNK_FLAT(k_mask_add, n, stream, y, in2, mask);
}

extern "C" cudaError_t nnk_relu_backward(float *d, const unsigned char *mask, size_t n, cudaStream_t stream)
{
  if (n == 0) return cudaSuccess;
  NNK_FLAT(k_relu_backward, n, stream, d, mask);
}

extern "C" cudaError_t nnk_grad_acc(float *dst, const float *src, size_t n, int accumulate, cudaStream_t stream)
{
  if (n == 0) return cudaSuccess;
  NNK_FLAT(k_grad_acc, n, stream, dst, src, accumulate);
}

extern "C" cudaError_t nnk_fill(float *x, float v, size_t n, cudaStream_t stream)
{
  if (n == 0) return cudaSuccess;
  NNK_FLAT(k_fill, n, stream, x, v);
}

extern "C" cudaError_t nnk_avgpool2_backward(const float *dout, float *din, int D, int H, int W, int C, int accumulate, cudaStream_t stream)
{
  NNK_DISPATCH(NNK_F32, D < 2 || H < 2 || W < 2 || C <= 0, upsample2, (dout, NULL, din, D, H, W, C, 0.125f, accumulate, stream));
}

extern "C" cudaError_t nnk_upsample2_backward(const float *dout, float *din, int D, int H, int W, int C, int accumulate, cudaStream_t stream)
{
  NNK_DISPATCH(NNK_F32, D < 2 || H < 2 || W < 2 || C <= 0, avgpool2, (dout, din, D, H, W, C, 1.0f, accumulate, stream));
}

/* ---- the device-pointer path (nn_net_forward_device): double vectors in and
   out, the network's element type inside ---------------------------------------- */

namespace {

/* dst (PD PH PW) = (float) (scale * src) (D H W doubles) at the origin, zero
   elsewhere: the host path's double -> float rounding, then the element
   type's (as the upload's conversion). Rows of PW. */
template <typename T>
__global__ void k_import_f64(const double *__restrict__ src, double scale, T *__restrict__ dst, int D, int H, int W, int PD, int PH, int PW)
{
  const int R = PD * PH;
  const int x = blockIdx.x * blockDim.x + threadIdx.x;

  if (x >= PW) return;
  for (int r = blockIdx.y; r < R; r += gridDim.y) {
    const int z = r / PH, y = r - z * PH;
    float     v = 0.0f;

    if (z < D && y < H && x < W) v = (float) (scale * src[((size_t) z * H + y) * W + x]);
    dst[(size_t) r * PW + x] = cvt<T>::st(v);
  }
}

/* dst (D H W doubles) = src (PD PH PW) cropped, 0 where mask is non-zero. Rows of W. */
template <typename T>
__global__ void k_export_f64(const T *__restrict__ src, const unsigned char *__restrict__ mask, double *__restrict__ dst, int D, int H, int W, int PH, int PW)
{
  const int R = D * H;
  const int x = blockIdx.x * blockDim.x + threadIdx.x;

  if (x >= W) return;
  for (int r = blockIdx.y; r < R; r += gridDim.y) {
    const int    z = r / H, y = r - z * H;
    const size_t o = (size_t) r * W + x;

    dst[o] = mask && mask[o] ? 0.0 : (double) cvt<T>::ld(src[((size_t) z * PH + y) * PW + x]);
  }
}

template <typename T>
cudaError_t import_f64(void *dst, const double *src, double scale, int D, int H, int W, int PD, int PH, int PW, cudaStream_t s)
{
  rowgrid g = make_rowgrid((long long) PD * PH, PW);

  k_import_f64<T><<<g.grid, g.block, 0, s>>>(src, scale, (T *) dst, D, H, W, PD, PH, PW);
  return launched();
}

template <typename T>
cudaError_t export_f64(double *dst, const void *src, const unsigned char *mask, int D, int H, int W, int PH, int PW, cudaStream_t s)
{
  rowgrid g = make_rowgrid((long long) D * H, W);

  k_export_f64<T><<<g.grid, g.block, 0, s>>>((const T *) src, mask, dst, D, H, W, PH, PW);
  return launched();
}

} // namespace

extern "C" cudaError_t nnk_import_f64(nnk_dtype t, void *dst, const double *src, double scale, int D, int H, int W, int PD, int PH, int PW, cudaStream_t stream)
{
  if (D > PD || H > PH || W > PW) return cudaErrorInvalidValue;
  NNK_DISPATCH(t, PD <= 0 || PH <= 0 || PW <= 0, import_f64, (dst, src, scale, D, H, W, PD, PH, PW, stream));
}

extern "C" cudaError_t nnk_export_f64(nnk_dtype t, double *dst, const void *src, const unsigned char *mask, int D, int H, int W, int PD, int PH, int PW, cudaStream_t stream)
{
  if (D > PD || H > PH || W > PW) return cudaErrorInvalidValue;
  NNK_DISPATCH(t, D <= 0 || H <= 0 || W <= 0, export_f64, (dst, src, mask, D, H, W, PH, PW, stream));
}
