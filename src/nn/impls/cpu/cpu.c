/* The "cpu" backend: oneDNN (DNNL 2.x C API) convolutions on host memory.

   Every CONV layer gets its convolution primitive once, in setup, for the
   dims of its level: the source is the executor's padded channels-last
   buffer (k = 3) or the plain one (k = 1), so the primitive itself pads
   nothing; bias, ReLU and the residual add are fused (eltwise and binary_add
   post-ops, the residual read straight from its buffer). The weights are
   reordered once into the layout the primitive prefers. Memory objects are
   made once and pointed at the executor's buffers per call; one user
   scratchpad, sized for the largest primitive, serves all of them.

   bf16: the weights are stored in bf16, each convolution input is converted
   by a reorder into a bf16 scratch buffer made in setup, accumulation and
   output stay fp32. Offered only where oneDNN has an optimized (non-reference)
   bf16 convolution, i.e. AVX-512 CPUs.

   Pad, add, pooling and upsampling are memory-bound plain loops (those of
   the ref backend; a pad that only zeroes the border and a pooling with
   contiguous inner loops, both giving the ref results bit for bit).

   Training (fp32; net->training): the forward primitive is made for
   forward_training without the residual post-op (the residual is added
   after the ReLU mask is taken from the fused conv+bias+ReLU output), and
   every CONV layer also gets a convolution_backward_data and a
   convolution_backward_weights (with bias) primitive, made once here on the
   plain (unpadded) tensors with oneDNN's own zero padding, with a
   forward_training descriptor of the same shapes as their hint. The weights
   are reordered once into the layout of the data-gradient primitive too
   (again in params_changed); the weight gradient comes out in oneDNN's
   layout and is reordered to (cout, cin, k, k, k) and added to dparams. The
   ReLU gating, gradient sums, pooling and upsampling gradients are the ref
   kernels. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <deepcd/private/nnimpl.h>

#define CPU_ALIGN 64

/* Calls a oneDNN function; on failure records the error and jumps to `fail`. */
#define DN(expr, what)                                                                                     \
  do {                                                                                                     \
    dnnl_status_t dn_st_ = (expr);                                                                         \
    if (dn_st_ != dnnl_success) {                                                                          \
      err = nn_error_set(NN_ERR_BACKEND, "backend 'cpu': %s failed: %s", (what), dnnl_status2str(dn_st_)); \
      goto fail;                                                                                           \
    }                                                                                                      \
  } while (0)

typedef struct {
  dnnl_primitive_t prim;    /* the convolution */
  dnnl_primitive_t reorder; /* bf16: fp32 input -> bf16 scratch; NULL in fp32 */
  dnnl_memory_t    src;     /* the convolution's source (fp32 user buffer, or the bf16 scratch) */
  dnnl_memory_t    src32;   /* bf16: the user's fp32 input (reorder source) */
  dnnl_memory_t    wei;     /* reordered weights (owned by oneDNN) */
  dnnl_memory_t    bias;    /* fp32 biases (owned by oneDNN) */
  dnnl_memory_t    dst;
  dnnl_memory_t    res;     /* the residual (binary post-op src1); NULL without in2 */
  dnnl_memory_t    scratch; /* view of the shared scratchpad with this primitive's descriptor */
  dnnl_memory_t    rscratch;
  int              respo;   /* post-op index of the residual add */
  int              dims[3]; /* output dims the primitive was made for */
  dnnl_memory_t    w32;     /* the model's fp32 oidhw weights (a view of model->params) */
  dnnl_primitive_t wre;     /* w32 -> wei (setup, params_changed) */
  /* training */
  dnnl_primitive_t bwd_data, bwd_wei;
  dnnl_primitive_t wre_bd; /* w32 -> bd_wei */
  dnnl_primitive_t dwre;   /* bw_dwei (oneDNN layout) -> bw_dwuser (oidhw) */
  dnnl_memory_t    bd_wei; /* weights in the data-gradient primitive's layout (owned) */
  dnnl_memory_t    bd_dsrc, bd_ddst, bd_scratch;
  dnnl_memory_t    bw_src, bw_ddst, bw_dwei /* owned */, bw_dbias /* owned */, bw_dwuser, bw_scratch;
} cpu_layer;

typedef struct {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  int           nlayers;
  cpu_layer    *conv; /* per layer; zero for non-CONV layers */
  void         *scratchpad;
  size_t        scratchsize;
  void         *lowp; /* bf16 copy of the current convolution input */
  size_t        lowpsize;
  float        *dtmp; /* training: a data gradient to be added to another */
  float        *wtmp; /* training: a weight gradient in oidhw layout */
} cpu_state;

static dnnl_exec_arg_t exec_arg(int arg, dnnl_memory_t mem)
{
  dnnl_exec_arg_t a;

  a.arg    = arg;
  a.memory = mem;
  return a;
}

static void *cpu_malloc(size_t bytes)
{
  size_t sz = (bytes + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;

  return aligned_alloc(CPU_ALIGN, sz ? sz : CPU_ALIGN);
}

/* ---- precision check ---------------------------------------------------------- */

/* Whether oneDNN has an optimized bf16 3x3x3 channels-last convolution with
   fp32 output here. Probed once (a benign race at worst probes twice). */
static int bf16_probe(void)
{
  dnnl_engine_t           eng = NULL;
  dnnl_primitive_desc_t   pd  = NULL;
  dnnl_convolution_desc_t cd;
  dnnl_memory_desc_t      smd, wmd, bmd, dmd;
  const dnnl_dims_t       sd = { 1, 16, 10, 10, 10 }, wd = { 16, 16, 3, 3, 3 }, bd = { 16 }, dd = { 1, 16, 8, 8, 8 };
  const dnnl_dims_t       one = { 1, 1, 1 }, zero = { 0, 0, 0 };
  const char             *impl = NULL;
  int                     ok   = 0;

  if ((dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) != dnnl_cpu_isa_avx512_core) return 0;
  if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success) return 0;
  if (dnnl_memory_desc_init_by_tag(&smd, 5, sd, dnnl_bf16, dnnl_ndhwc) == dnnl_success && dnnl_memory_desc_init_by_tag(&wmd, 5, wd, dnnl_bf16, dnnl_format_tag_any) == dnnl_success && dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x) == dnnl_success && dnnl_memory_desc_init_by_tag(&dmd, 5, dd, dnnl_f32, dnnl_ndhwc) == dnnl_success &&
      dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &smd, &wmd, &bmd, &dmd, one, zero, zero) == dnnl_success && dnnl_primitive_desc_create(&pd, &cd, NULL, eng, NULL) == dnnl_success &&
      dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl && strncmp(impl, "ref", 3) != 0)
    ok = 1;
  if (pd) dnnl_primitive_desc_destroy(pd);
  dnnl_engine_destroy(eng);
  return ok;
}

static nn_err cpu_check(nn_precision precision)
{
  static atomic_int bf16 = -1; /* -1: not probed yet */

  if (precision == NN_FP32) return NN_SUCCESS;
  if (precision == NN_BF16) {
    if (bf16 < 0) bf16 = bf16_probe();
    NN_CHECK(bf16, NN_ERR_UNSUPPORTED, "backend 'cpu': bf16 needs an AVX-512 CPU with oneDNN's optimized bf16 convolutions (not available here)");
    return NN_SUCCESS;
  }
  return nn_error_set(NN_ERR_UNSUPPORTED, "backend 'cpu' supports fp32 and bf16 (asked for %s)", nn_precision_names[precision]);
}

/* ---- setup / teardown --------------------------------------------------------- */

static void destroy_mem(dnnl_memory_t *m)
{
  if (*m) dnnl_memory_destroy(*m);
  *m = NULL;
}

static void destroy_prim(dnnl_primitive_t *p)
{
  if (*p) dnnl_primitive_destroy(*p);
  *p = NULL;
}

static nn_err cpu_teardown(nn_net *net)
{
  cpu_state *S = net->bdata;

  if (!S) return NN_SUCCESS;
  if (S->conv)
    for (int l = 0; l < S->nlayers; l++) {
      cpu_layer *c = &S->conv[l];

      destroy_prim(&c->prim);
      destroy_prim(&c->reorder);
      destroy_mem(&c->src);
      destroy_mem(&c->src32);
      destroy_mem(&c->wei);
      destroy_mem(&c->bias);
      destroy_mem(&c->dst);
      destroy_mem(&c->res);
      destroy_mem(&c->scratch);
      destroy_mem(&c->rscratch);
      destroy_mem(&c->w32);
      destroy_prim(&c->wre);
      destroy_prim(&c->bwd_data);
      destroy_prim(&c->bwd_wei);
      destroy_prim(&c->wre_bd);
      destroy_prim(&c->dwre);
      destroy_mem(&c->bd_wei);
      destroy_mem(&c->bd_dsrc);
      destroy_mem(&c->bd_ddst);
      destroy_mem(&c->bd_scratch);
      destroy_mem(&c->bw_src);
      destroy_mem(&c->bw_ddst);
      destroy_mem(&c->bw_dwei);
      destroy_mem(&c->bw_dbias);
      destroy_mem(&c->bw_dwuser);
      destroy_mem(&c->bw_scratch);
    }
  free(S->conv);
  free(S->scratchpad);
  free(S->lowp);
  free(S->dtmp);
  free(S->wtmp);
  if (S->stream) dnnl_stream_destroy(S->stream);
  if (S->engine) dnnl_engine_destroy(S->engine);
  free(S);
  net->bdata = NULL;
  return NN_SUCCESS;
}

/* The scratchpad size a primitive descriptor asks for. */
static size_t pd_scratch(const_dnnl_primitive_desc_t pd)
{
  const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);

  return md ? dnnl_memory_desc_get_size(md) : 0;
}

/* Builds layer l's convolution (and, in bf16, its input reorder). */
static nn_err setup_conv(nn_net *net, cpu_state *S, int l, size_t *lowp)
{
  const nn_model           *m  = net->model;
  const nn_layer           *L  = &m->layers[l];
  cpu_layer                *c  = &S->conv[l];
  const int                *d  = net->ldims[m->tensors[L->out].level];
  const int                 p  = L->k == 3 ? 2 : 0; /* the executor pads k = 3 inputs */
  const dnnl_data_type_t    lt = net->precision == NN_BF16 ? dnnl_bf16 : dnnl_f32;
  const dnnl_dims_t         sd = { 1, L->cin, d[0] + p, d[1] + p, d[2] + p }, dd = { 1, L->cout, d[0], d[1], d[2] };
  const dnnl_dims_t         wd = { L->cout, L->cin, L->k, L->k, L->k }, bd = { L->cout };
  const dnnl_dims_t         one = { 1, 1, 1 }, zero = { 0, 0, 0 };
  dnnl_memory_desc_t        smd, s32md, wmd, w32md, bmd, dmd;
  const dnnl_memory_desc_t *q;
  dnnl_convolution_desc_t   cd;
  dnnl_primitive_attr_t     attr = NULL, rattr = NULL;
  dnnl_post_ops_t           po = NULL;
  dnnl_primitive_desc_t     pd = NULL, rpd = NULL, wpd = NULL;
  int                       npo = 0;
  nn_err                    err = NN_SUCCESS;

  for (int i = 0; i < 3; i++) c->dims[i] = d[i];
  DN(dnnl_memory_desc_init_by_tag(&smd, 5, sd, lt, dnnl_ndhwc), "source descriptor");
  DN(dnnl_memory_desc_init_by_tag(&s32md, 5, sd, dnnl_f32, dnnl_ndhwc), "source descriptor");
  DN(dnnl_memory_desc_init_by_tag(&wmd, 5, wd, lt, dnnl_format_tag_any), "weights descriptor");
  DN(dnnl_memory_desc_init_by_tag(&w32md, 5, wd, dnnl_f32, dnnl_oidhw), "weights descriptor");
  DN(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x), "bias descriptor");
  DN(dnnl_memory_desc_init_by_tag(&dmd, 5, dd, dnnl_f32, dnnl_ndhwc), "destination descriptor");
  DN(dnnl_convolution_forward_desc_init(&cd, net->training ? dnnl_forward_training : dnnl_forward_inference, dnnl_convolution_direct, &smd, &wmd, &bmd, &dmd, one, zero, zero), "convolution descriptor");
  DN(dnnl_primitive_attr_create(&attr), "attribute creation");
  DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
  DN(dnnl_post_ops_create(&po), "post-ops creation");
  if (L->act == NN_ACT_RELU) {
    DN(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f), "ReLU post-op");
    npo++;
  }
  if (L->in2 >= 0 && !net->training) { /* training: added by hand after the ReLU mask */
    DN(dnnl_post_ops_append_binary(po, dnnl_binary_add, &dmd), "residual post-op");
    c->respo = npo++;
  }
  DN(dnnl_primitive_attr_set_post_ops(attr, po), "post-ops");
  DN(dnnl_primitive_desc_create(&pd, &cd, attr, S->engine, NULL), "convolution primitive descriptor");
  DN(dnnl_primitive_create(&c->prim, pd), "convolution primitive");
  if (pd_scratch(pd) > S->scratchsize) S->scratchsize = pd_scratch(pd);
  DN(dnnl_memory_create(&c->scratch, dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0), S->engine, DNNL_MEMORY_NONE), "scratchpad memory");

  /* weights: the model's oidhw fp32 -> the primitive's layout and type, by
     a reorder kept for params_changed (run by load_params) */
  q = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  DN(q ? dnnl_success : dnnl_runtime_error, "weights layout query");
  DN(dnnl_memory_create(&c->wei, q, S->engine, DNNL_MEMORY_ALLOCATE), "weights memory");
  DN(dnnl_memory_create(&c->w32, &w32md, S->engine, m->params + L->weight), "weights memory");
  DN(dnnl_reorder_primitive_desc_create(&wpd, &w32md, S->engine, q, S->engine, NULL), "weights reorder descriptor");
  DN(dnnl_primitive_create(&c->wre, wpd), "weights reorder");
  DN(dnnl_memory_create(&c->bias, &bmd, S->engine, DNNL_MEMORY_ALLOCATE), "bias memory");
  DN(dnnl_memory_create(&c->src, &smd, S->engine, DNNL_MEMORY_NONE), "source memory");
  DN(dnnl_memory_create(&c->dst, &dmd, S->engine, DNNL_MEMORY_NONE), "destination memory");
  if (L->in2 >= 0 && !net->training) DN(dnnl_memory_create(&c->res, &dmd, S->engine, DNNL_MEMORY_NONE), "residual memory");

  if (net->precision == NN_BF16) { /* fp32 input -> bf16 scratch */
    size_t bytes = dnnl_memory_desc_get_size(&smd);

    DN(dnnl_primitive_attr_create(&rattr), "attribute creation");
    DN(dnnl_primitive_attr_set_scratchpad_mode(rattr, dnnl_scratchpad_mode_user), "scratchpad mode");
    DN(dnnl_reorder_primitive_desc_create(&rpd, &s32md, S->engine, &smd, S->engine, rattr), "input reorder descriptor");
    DN(dnnl_primitive_create(&c->reorder, rpd), "input reorder");
    if (pd_scratch(rpd) > S->scratchsize) S->scratchsize = pd_scratch(rpd);
    DN(dnnl_memory_create(&c->rscratch, dnnl_primitive_desc_query_md(rpd, dnnl_query_scratchpad_md, 0), S->engine, DNNL_MEMORY_NONE), "scratchpad memory");
    DN(dnnl_memory_create(&c->src32, &s32md, S->engine, DNNL_MEMORY_NONE), "source memory");
    if (bytes > *lowp) *lowp = bytes;
  }
fail:
  if (wpd) dnnl_primitive_desc_destroy(wpd);
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (po) dnnl_post_ops_destroy(po);
  if (rattr) dnnl_primitive_attr_destroy(rattr);
  if (attr) dnnl_primitive_attr_destroy(attr);
  return err;
}

/* Training: layer l's data- and weight-gradient primitives (fp32), on the
   plain tensors with oneDNN's zero padding. dtmp, wtmp: the largest data
   gradient (floats) and weight gradient (floats) seen so far. */
static nn_err setup_conv_train(nn_net *net, cpu_state *S, int l, size_t *dtmp, size_t *wtmp)
{
  const nn_model           *m  = net->model;
  const nn_layer           *L  = &m->layers[l];
  cpu_layer                *c  = &S->conv[l];
  const int                *d  = net->ldims[m->tensors[L->out].level];
  const long                pp = L->k / 2;
  const dnnl_dims_t         sd = { 1, L->cin, d[0], d[1], d[2] }, dd = { 1, L->cout, d[0], d[1], d[2] };
  const dnnl_dims_t         wd = { L->cout, L->cin, L->k, L->k, L->k }, bd = { L->cout };
  const dnnl_dims_t         one = { 1, 1, 1 }, pad = { pp, pp, pp };
  dnnl_memory_desc_t        smd, wmd, w32md, bmd, dmd;
  const dnnl_memory_desc_t *q, *qb;
  dnnl_convolution_desc_t   fd, bdd, bwd;
  dnnl_primitive_attr_t     attr = NULL;
  dnnl_primitive_desc_t     hint = NULL, pdd = NULL, pdw = NULL, rpd = NULL, rpd2 = NULL;
  size_t                    n;
  nn_err                    err = NN_SUCCESS;

  DN(dnnl_memory_desc_init_by_tag(&smd, 5, sd, dnnl_f32, dnnl_ndhwc), "source descriptor");
  DN(dnnl_memory_desc_init_by_tag(&wmd, 5, wd, dnnl_f32, dnnl_format_tag_any), "weights descriptor");
  DN(dnnl_memory_desc_init_by_tag(&w32md, 5, wd, dnnl_f32, dnnl_oidhw), "weights descriptor");
  DN(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x), "bias descriptor");
  DN(dnnl_memory_desc_init_by_tag(&dmd, 5, dd, dnnl_f32, dnnl_ndhwc), "destination descriptor");
  DN(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &smd, &wmd, &bmd, &dmd, one, pad, pad), "convolution descriptor (backward hint)");
  DN(dnnl_primitive_desc_create(&hint, &fd, NULL, S->engine, NULL), "convolution primitive descriptor (backward hint)");
  DN(dnnl_primitive_attr_create(&attr), "attribute creation");
  DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");

  /* data gradient: diff_src = conv^T(diff_dst) */
  DN(dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &smd, &wmd, &dmd, one, pad, pad), "backward-data descriptor");
  DN(dnnl_primitive_desc_create(&pdd, &bdd, attr, S->engine, hint), "backward-data primitive descriptor");
  DN(dnnl_primitive_create(&c->bwd_data, pdd), "backward-data primitive");
  if (pd_scratch(pdd) > S->scratchsize) S->scratchsize = pd_scratch(pdd);
  DN(dnnl_memory_create(&c->bd_scratch, dnnl_primitive_desc_query_md(pdd, dnnl_query_scratchpad_md, 0), S->engine, DNNL_MEMORY_NONE), "scratchpad memory");
  q = dnnl_primitive_desc_query_md(pdd, dnnl_query_weights_md, 0);
  DN(q ? dnnl_success : dnnl_runtime_error, "backward-data weights layout query");
  DN(dnnl_memory_create(&c->bd_wei, q, S->engine, DNNL_MEMORY_ALLOCATE), "backward-data weights memory");
  DN(dnnl_reorder_primitive_desc_create(&rpd, &w32md, S->engine, q, S->engine, NULL), "weights reorder descriptor");
  DN(dnnl_primitive_create(&c->wre_bd, rpd), "weights reorder");
  DN(dnnl_memory_create(&c->bd_dsrc, &smd, S->engine, DNNL_MEMORY_NONE), "diff_src memory");
  DN(dnnl_memory_create(&c->bd_ddst, &dmd, S->engine, DNNL_MEMORY_NONE), "diff_dst memory");

  /* weight and bias gradients */
  DN(dnnl_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &smd, &wmd, &bmd, &dmd, one, pad, pad), "backward-weights descriptor");
  DN(dnnl_primitive_desc_create(&pdw, &bwd, attr, S->engine, hint), "backward-weights primitive descriptor");
  DN(dnnl_primitive_create(&c->bwd_wei, pdw), "backward-weights primitive");
  if (pd_scratch(pdw) > S->scratchsize) S->scratchsize = pd_scratch(pdw);
  DN(dnnl_memory_create(&c->bw_scratch, dnnl_primitive_desc_query_md(pdw, dnnl_query_scratchpad_md, 0), S->engine, DNNL_MEMORY_NONE), "scratchpad memory");
  q  = dnnl_primitive_desc_query_md(pdw, dnnl_query_diff_weights_md, 0);
  qb = dnnl_primitive_desc_query_md(pdw, dnnl_query_diff_weights_md, 1);
  DN(q ? dnnl_success : dnnl_runtime_error, "backward-weights layout query");
  DN(dnnl_memory_create(&c->bw_dwei, q, S->engine, DNNL_MEMORY_ALLOCATE), "diff_weights memory");
  DN(dnnl_memory_create(&c->bw_dbias, qb ? qb : &bmd, S->engine, DNNL_MEMORY_ALLOCATE), "diff_bias memory");
  DN(dnnl_reorder_primitive_desc_create(&rpd2, q, S->engine, &w32md, S->engine, NULL), "weight-gradient reorder descriptor");
  DN(dnnl_primitive_create(&c->dwre, rpd2), "weight-gradient reorder");
  DN(dnnl_memory_create(&c->bw_dwuser, &w32md, S->engine, DNNL_MEMORY_NONE), "weight-gradient memory");
  DN(dnnl_memory_create(&c->bw_src, &smd, S->engine, DNNL_MEMORY_NONE), "source memory");
  DN(dnnl_memory_create(&c->bw_ddst, &dmd, S->engine, DNNL_MEMORY_NONE), "diff_dst memory");

  n = (size_t) d[0] * d[1] * d[2] * (size_t) L->cin;
  if (n > *dtmp) *dtmp = n;
  n = (size_t) L->cout * L->cin * L->k * L->k * L->k;
  if (n > *wtmp) *wtmp = n;
fail:
  if (rpd2) dnnl_primitive_desc_destroy(rpd2);
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  if (pdw) dnnl_primitive_desc_destroy(pdw);
  if (pdd) dnnl_primitive_desc_destroy(pdd);
  if (hint) dnnl_primitive_desc_destroy(hint);
  if (attr) dnnl_primitive_attr_destroy(attr);
  return err;
}

/* Layer l's weights (all their layouts) and biases from model->params. */
static nn_err load_params(nn_net *net, cpu_state *S, int l)
{
  const nn_layer *L = &net->model->layers[l];
  cpu_layer      *c = &S->conv[l];
  dnnl_exec_arg_t args[2];
  void           *h   = NULL;
  nn_err          err = NN_SUCCESS;

  DN(dnnl_memory_set_data_handle(c->w32, net->model->params + L->weight), "weights memory");
  args[0] = exec_arg(DNNL_ARG_FROM, c->w32);
  args[1] = exec_arg(DNNL_ARG_TO, c->wei);
  DN(dnnl_primitive_execute(c->wre, S->stream, 2, args), "weights reorder");
  if (c->wre_bd) {
    args[1] = exec_arg(DNNL_ARG_TO, c->bd_wei);
    DN(dnnl_primitive_execute(c->wre_bd, S->stream, 2, args), "weights reorder");
  }
  DN(dnnl_stream_wait(S->stream), "stream wait");
  DN(dnnl_memory_get_data_handle(c->bias, &h), "bias memory");
  memcpy(h, net->model->params + L->bias, (size_t) L->cout * sizeof(float));
fail:
  return err;
}

static nn_err cpu_params_changed(nn_net *net)
{
  cpu_state *S = net->bdata;

  NN_CHECK(S, NN_ERR_ARG, "backend 'cpu': not set up");
  for (int l = 0; l < net->model->nlayers; l++)
    if (S->conv[l].prim) NN_CALL(load_params(net, S, l));
  return NN_SUCCESS;
}

static nn_err cpu_setup(nn_net *net)
{
  const nn_model *m = net->model;
  cpu_state      *S;
  size_t          lowp = 0, dtmp = 0, wtmp = 0;
  nn_err          err = NN_SUCCESS;

  NN_CALL(cpu_check(net->precision));
  NN_CHECK(!net->training || net->precision == NN_FP32, NN_ERR_UNSUPPORTED, "backend 'cpu': training runs in fp32 only");
  S = calloc(1, sizeof(*S));
  NN_CHECK(S, NN_ERR_MEM, "backend 'cpu': out of memory");
  net->bdata = S;
  S->nlayers = m->nlayers;
  S->conv    = calloc((size_t) m->nlayers, sizeof(*S->conv));
  if (!S->conv) {
    err = nn_error_set(NN_ERR_MEM, "backend 'cpu': out of memory");
    goto fail;
  }
  DN(dnnl_engine_create(&S->engine, dnnl_cpu, 0), "engine creation");
  DN(dnnl_stream_create(&S->stream, S->engine, dnnl_stream_default_flags), "stream creation");
  for (int l = 0; l < m->nlayers; l++)
    if (m->layers[l].op == NN_OP_CONV && (err = setup_conv(net, S, l, &lowp))) goto fail;
  if (net->training)
    for (int l = 0; l < m->nlayers; l++)
      if (m->layers[l].op == NN_OP_CONV && (err = setup_conv_train(net, S, l, &dtmp, &wtmp))) goto fail;
  if ((dtmp && !(S->dtmp = cpu_malloc(dtmp * sizeof(float)))) || (wtmp && !(S->wtmp = cpu_malloc(wtmp * sizeof(float))))) {
    err = nn_error_set(NN_ERR_MEM, "backend 'cpu': out of memory for the gradient scratch");
    goto fail;
  }
  if (S->scratchsize && !(S->scratchpad = cpu_malloc(S->scratchsize))) {
    err = nn_error_set(NN_ERR_MEM, "backend 'cpu': cannot allocate a %zu-byte scratchpad", S->scratchsize);
    goto fail;
  }
  if (lowp && !(S->lowp = cpu_malloc(lowp))) {
    err = nn_error_set(NN_ERR_MEM, "backend 'cpu': cannot allocate %zu bytes for bf16 inputs", lowp);
    goto fail;
  }
  S->lowpsize = lowp;
  for (int l = 0; l < m->nlayers; l++) {
    cpu_layer *c = &S->conv[l];

    if (c->scratch) DN(dnnl_memory_set_data_handle(c->scratch, S->scratchpad), "scratchpad memory");
    if (c->rscratch) DN(dnnl_memory_set_data_handle(c->rscratch, S->scratchpad), "scratchpad memory");
    if (c->reorder) DN(dnnl_memory_set_data_handle(c->src, S->lowp), "source memory");
    if (c->bd_scratch) DN(dnnl_memory_set_data_handle(c->bd_scratch, S->scratchpad), "scratchpad memory");
    if (c->bw_scratch) DN(dnnl_memory_set_data_handle(c->bw_scratch, S->scratchpad), "scratchpad memory");
    if (c->bw_dwuser) DN(dnnl_memory_set_data_handle(c->bw_dwuser, S->wtmp), "weight-gradient memory");
    if (c->prim && (err = load_params(net, S, l))) goto fail;
  }
  return NN_SUCCESS;
fail:
  cpu_teardown(net);
  return err;
}

/* ---- memory ------------------------------------------------------------------- */

static nn_err cpu_alloc(nn_net *net, size_t n, void **p)
{
  *p = cpu_malloc(n * sizeof(float));
  NN_CHECK(*p, NN_ERR_MEM, "backend 'cpu': cannot allocate %zu floats", n);
  return NN_SUCCESS;
}

static nn_err cpu_release(nn_net *net, void *p)
{
  free(p);
  return NN_SUCCESS;
}

static nn_err cpu_upload(nn_net *net, void *dst, const float *src, size_t n)
{
  memcpy(dst, src, n * sizeof(float));
  return NN_SUCCESS;
}

static nn_err cpu_download(nn_net *net, float *dst, const void *src, size_t n)
{
  memcpy(dst, src, n * sizeof(float));
  return NN_SUCCESS;
}

/* ---- kernels ------------------------------------------------------------------ */

static nn_err cpu_pad(nn_net *net, const void *in, void *padded, const int dims[3], int c)
{
  return nn_ref_pad(in, padded, dims, c);
}

static nn_err cpu_conv(nn_net *net, int l, const void *in, const void *in2, void *out, const int dims[3])
{
  cpu_state      *S = net->bdata;
  cpu_layer      *c = S ? &S->conv[l] : NULL;
  dnnl_exec_arg_t args[6];
  int             nargs = 0;
  nn_err          err   = NN_SUCCESS;

  NN_CHECK(c && c->prim, NN_ERR_ARG, "backend 'cpu': layer %d has no convolution prepared", l);
  NN_CHECK(dims[0] == c->dims[0] && dims[1] == c->dims[1] && dims[2] == c->dims[2], NN_ERR_ARG, "backend 'cpu': layer %d was prepared for %dx%dx%d, called on %dx%dx%d", l, c->dims[0], c->dims[1], c->dims[2], dims[0], dims[1], dims[2]);
  NN_CHECK(!c->res == !in2, NN_ERR_ARG, "backend 'cpu': layer %d: residual input %s", l, in2 ? "not expected" : "missing");
  if (c->reorder) {
    dnnl_exec_arg_t rargs[3];

    rargs[0] = exec_arg(DNNL_ARG_FROM, c->src32);
    rargs[1] = exec_arg(DNNL_ARG_TO, c->src);
    rargs[2] = exec_arg(DNNL_ARG_SCRATCHPAD, c->rscratch);
    DN(dnnl_memory_set_data_handle(c->src32, (void *) in), "source memory");
    DN(dnnl_primitive_execute(c->reorder, S->stream, 3, rargs), "bf16 input reorder");
  } else
    DN(dnnl_memory_set_data_handle(c->src, (void *) in), "source memory");
  DN(dnnl_memory_set_data_handle(c->dst, out), "destination memory");
  args[nargs++] = exec_arg(DNNL_ARG_SRC, c->src);
  args[nargs++] = exec_arg(DNNL_ARG_WEIGHTS, c->wei);
  args[nargs++] = exec_arg(DNNL_ARG_BIAS, c->bias);
  args[nargs++] = exec_arg(DNNL_ARG_DST, c->dst);
  args[nargs++] = exec_arg(DNNL_ARG_SCRATCHPAD, c->scratch);
  if (c->res) {
    DN(dnnl_memory_set_data_handle(c->res, (void *) in2), "residual memory");
    args[nargs++] = exec_arg(DNNL_ARG_ATTR_MULTIPLE_POST_OP(c->respo) | DNNL_ARG_SRC_1, c->res);
  }
  DN(dnnl_primitive_execute(c->prim, S->stream, nargs, args), "convolution");
  DN(dnnl_stream_wait(S->stream), "stream wait");
fail:
  return err;
}

/* Training forward: conv + bias [+ ReLU] by the primitive, then the ReLU
   mask from its output and the residual added. */
static nn_err cpu_conv_train(nn_net *net, int l, const void *in, const void *in2, void *out, void *mask, const int dims[3])
{
  const nn_layer *L = &net->model->layers[l];
  const size_t    n = (size_t) dims[0] * dims[1] * dims[2] * (size_t) L->cout;
  float          *o = out;
  const float    *r = in2;
  unsigned char  *k = mask;

  NN_CALL(cpu_conv(net, l, in, NULL, out, dims));
  if (k)
    for (size_t i = 0; i < n; i++) k[i] = o[i] > 0;
  if (r)
    for (size_t i = 0; i < n; i++) o[i] += r[i];
  return NN_SUCCESS;
}

static nn_err cpu_conv_backward(nn_net *net, int l, const void *in, const void *dout, void *din, int accumulate, float *dw, float *db, const int dims[3])
{
  const nn_layer *L = &net->model->layers[l];
  cpu_state      *S = net->bdata;
  cpu_layer      *c = S ? &S->conv[l] : NULL;
  dnnl_exec_arg_t args[5];
  void           *h   = NULL;
  nn_err          err = NN_SUCCESS;

  NN_CHECK(c && c->bwd_wei && c->bwd_data, NN_ERR_ARG, "backend 'cpu': layer %d has no backward prepared (not a training net?)", l);
  NN_CHECK(dims[0] == c->dims[0] && dims[1] == c->dims[1] && dims[2] == c->dims[2], NN_ERR_ARG, "backend 'cpu': layer %d was prepared for %dx%dx%d, called on %dx%dx%d", l, c->dims[0], c->dims[1], c->dims[2], dims[0], dims[1], dims[2]);
  /* weight and bias gradients, added to dw, db */
  DN(dnnl_memory_set_data_handle(c->bw_src, (void *) in), "source memory");
  DN(dnnl_memory_set_data_handle(c->bw_ddst, (void *) dout), "diff_dst memory");
  args[0] = exec_arg(DNNL_ARG_SRC, c->bw_src);
  args[1] = exec_arg(DNNL_ARG_DIFF_DST, c->bw_ddst);
  args[2] = exec_arg(DNNL_ARG_DIFF_WEIGHTS, c->bw_dwei);
  args[3] = exec_arg(DNNL_ARG_DIFF_BIAS, c->bw_dbias);
  args[4] = exec_arg(DNNL_ARG_SCRATCHPAD, c->bw_scratch);
  DN(dnnl_primitive_execute(c->bwd_wei, S->stream, 5, args), "convolution backward weights");
  args[0] = exec_arg(DNNL_ARG_FROM, c->bw_dwei);
  args[1] = exec_arg(DNNL_ARG_TO, c->bw_dwuser);
  DN(dnnl_primitive_execute(c->dwre, S->stream, 2, args), "weight-gradient reorder");
  DN(dnnl_stream_wait(S->stream), "stream wait");
  {
    const size_t nw = (size_t) L->cout * L->cin * L->k * L->k * L->k;
    const float *gb;

    for (size_t i = 0; i < nw; i++) dw[i] += S->wtmp[i];
    DN(dnnl_memory_get_data_handle(c->bw_dbias, &h), "diff_bias memory");
    gb = h;
    for (int o = 0; o < L->cout; o++) db[o] += gb[o];
  }
  /* data gradient: into din, or into the scratch and then added */
  if (din) {
    float       *target = accumulate ? S->dtmp : din;
    const size_t n      = (size_t) dims[0] * dims[1] * dims[2] * (size_t) L->cin;

    DN(dnnl_memory_set_data_handle(c->bd_dsrc, target), "diff_src memory");
    DN(dnnl_memory_set_data_handle(c->bd_ddst, (void *) dout), "diff_dst memory");
    args[0] = exec_arg(DNNL_ARG_DIFF_DST, c->bd_ddst);
    args[1] = exec_arg(DNNL_ARG_WEIGHTS, c->bd_wei);
    args[2] = exec_arg(DNNL_ARG_DIFF_SRC, c->bd_dsrc);
    args[3] = exec_arg(DNNL_ARG_SCRATCHPAD, c->bd_scratch);
    DN(dnnl_primitive_execute(c->bwd_data, S->stream, 4, args), "convolution backward data");
    DN(dnnl_stream_wait(S->stream), "stream wait");
    if (accumulate) {
      float *g = din;

      for (size_t i = 0; i < n; i++) g[i] += S->dtmp[i];
    }
  }
fail:
  return err;
}

static nn_err cpu_relu_backward(nn_net *net, void *d, const void *mask, size_t n)
{
  return nn_ref_relu_backward(d, mask, n);
}

static nn_err cpu_grad_acc(nn_net *net, void *dst, const void *src, size_t n, int accumulate)
{
  return nn_ref_grad_acc(dst, src, n, accumulate);
}

static nn_err cpu_avgpool2_backward(nn_net *net, const void *dout, void *din, const int dims[3], int c, int accumulate)
{
  return nn_ref_avgpool2_backward(dout, din, dims, c, accumulate);
}

static nn_err cpu_upsample2_backward(nn_net *net, const void *dout, void *din, const int dims[3], int c, int accumulate)
{
  return nn_ref_upsample2_backward(dout, din, dims, c, accumulate);
}

static nn_err cpu_addop(nn_net *net, const void *a, const void *b, void *out, size_t n)
{
  return nn_ref_add(a, b, out, n);
}

static nn_err cpu_avgpool2(nn_net *net, const void *in, void *out, const int dims[3], int c)
{
  return nn_ref_avgpool2(in, out, dims, c);
}

static nn_err cpu_upsample2(nn_net *net, const void *in, const void *skip, void *out, const int dims[3], int c)
{
  return nn_ref_upsample2(in, skip, out, dims, c);
}

const nn_backend_ops nn_backend_cpu = {
  .name        = "cpu",
  .host_memory = 1,
  .check       = cpu_check,
  .setup       = cpu_setup,
  .teardown    = cpu_teardown,
  .alloc       = cpu_alloc,
  .release     = cpu_release,
  .upload      = cpu_upload,
  .download    = cpu_download,
  .pad         = cpu_pad,
  .conv        = cpu_conv,
  .add         = cpu_addop,
  .avgpool2    = cpu_avgpool2,
  .upsample2   = cpu_upsample2,

  .conv_train         = cpu_conv_train,
  .conv_backward      = cpu_conv_backward,
  .relu_backward      = cpu_relu_backward,
  .grad_acc           = cpu_grad_acc,
  .avgpool2_backward  = cpu_avgpool2_backward,
  .upsample2_backward = cpu_upsample2_backward,
  .params_changed     = cpu_params_changed,
};
