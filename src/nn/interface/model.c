/* Models: the layer graph as data, the DCDM topologies, validation, He
   initialisation, and cost figures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <deepcd/private/nnimpl.h>

const char *nn_op_name(nn_op op)
{
  switch (op) {
  case NN_OP_CONV: return "conv";
  case NN_OP_ADD: return "add";
  case NN_OP_AVGPOOL2: return "avgpool2";
  case NN_OP_UPSAMPLE2: return "upsample2";
  }
  return "unknown";
}

nn_err nn_model_create(nn_model **model)
{
  NN_CHECK(model, NN_ERR_ARG, "nn_model_create: NULL output");
  *model = calloc(1, sizeof(**model));
  NN_CHECK(*model, NN_ERR_MEM, "nn_model_create: out of memory");
  (*model)->input = (*model)->output = -1;
  return NN_SUCCESS;
}

nn_err nn_model_destroy(nn_model **model)
{
  if (!model || !*model) return NN_SUCCESS;
  free((*model)->layers);
  free((*model)->tensors);
  free((*model)->params);
  free(*model);
  *model = NULL;
  return NN_SUCCESS;
}

nn_err nn_model_add_tensor(nn_model *m, int channels, int level, int *t)
{
  nn_tensor *nt;

  NN_CHECK(m && t, NN_ERR_ARG, "nn_model_add_tensor: NULL argument");
  NN_CHECK(channels > 0 && level >= 0, NN_ERR_ARG, "nn_model_add_tensor: %d channels at level %d", channels, level);
  nt = realloc(m->tensors, (size_t) (m->ntensors + 1) * sizeof(*nt));
  NN_CHECK(nt, NN_ERR_MEM, "nn_model_add_tensor: out of memory");
  m->tensors                       = nt;
  m->tensors[m->ntensors].channels = channels;
  m->tensors[m->ntensors].level    = level;
  *t                               = m->ntensors++;
  return NN_SUCCESS;
}

static nn_err add_layer(nn_model *m, const nn_layer *L)
{
  nn_layer *nl = realloc(m->layers, (size_t) (m->nlayers + 1) * sizeof(*nl));

  NN_CHECK(nl, NN_ERR_MEM, "nn_model: out of memory");
  m->layers               = nl;
  m->layers[m->nlayers++] = *L;
  return NN_SUCCESS;
}

static nn_err check_tensor(const nn_model *m, int t, const char *what)
{
  NN_CHECK(t >= 0 && t < m->ntensors, NN_ERR_ARG, "nn_model: %s tensor %d does not exist", what, t);
  return NN_SUCCESS;
}

nn_err nn_model_add_conv(nn_model *m, int in, int in2, int cout, int k, nn_act act, int *out)
{
  nn_layer L = { 0 };
  size_t   nw;
  float   *p;

  NN_CHECK(m && out, NN_ERR_ARG, "nn_model_add_conv: NULL argument");
  NN_CALL(check_tensor(m, in, "conv input"));
  NN_CHECK(k == 1 || k == 3, NN_ERR_ARG, "nn_model_add_conv: kernel size %d (1 or 3)", k);
  NN_CHECK(cout > 0, NN_ERR_ARG, "nn_model_add_conv: %d output channels", cout);
  if (in2 >= 0) {
    NN_CALL(check_tensor(m, in2, "conv residual"));
    NN_CHECK(m->tensors[in2].channels == cout && m->tensors[in2].level == m->tensors[in].level, NN_ERR_ARG, "nn_model_add_conv: residual tensor %d does not match the output", in2);
  }
  L.op   = NN_OP_CONV;
  L.in   = in;
  L.in2  = in2;
  L.cin  = m->tensors[in].channels;
  L.cout = cout;
  L.k    = k;
  L.act  = act;
  nw     = (size_t) cout * (size_t) L.cin * (size_t) (k * k * k);
  p      = realloc(m->params, (m->nparams + nw + (size_t) cout) * sizeof(float));
  NN_CHECK(p, NN_ERR_MEM, "nn_model_add_conv: out of memory");
  memset(p + m->nparams, 0, (nw + (size_t) cout) * sizeof(float));
  m->params = p;
  L.weight  = m->nparams;
  L.bias    = m->nparams + nw;
  m->nparams += nw + (size_t) cout;
  NN_CALL(nn_model_add_tensor(m, cout, m->tensors[in].level, &L.out));
  NN_CALL(add_layer(m, &L));
  *out = L.out;
  return NN_SUCCESS;
}

nn_err nn_model_add_add(nn_model *m, int a, int b, int *out)
{
  nn_layer L = { 0 };

  NN_CHECK(m && out, NN_ERR_ARG, "nn_model_add_add: NULL argument");
  NN_CALL(check_tensor(m, a, "add"));
  NN_CALL(check_tensor(m, b, "add"));
  NN_CHECK(m->tensors[a].channels == m->tensors[b].channels && m->tensors[a].level == m->tensors[b].level, NN_ERR_ARG, "nn_model_add_add: tensors %d and %d differ in shape", a, b);
  L.op  = NN_OP_ADD;
  L.in  = a;
  L.in2 = b;
  L.cin = L.cout = m->tensors[a].channels;
  NN_CALL(nn_model_add_tensor(m, L.cout, m->tensors[a].level, &L.out));
  NN_CALL(add_layer(m, &L));
  *out = L.out;
  return NN_SUCCESS;
}

nn_err nn_model_add_avgpool2(nn_model *m, int in, int *out)
{
  nn_layer L = { 0 };

  NN_CHECK(m && out, NN_ERR_ARG, "nn_model_add_avgpool2: NULL argument");
  NN_CALL(check_tensor(m, in, "avgpool2 input"));
  L.op  = NN_OP_AVGPOOL2;
  L.in  = in;
  L.in2 = -1;
  L.cin = L.cout = m->tensors[in].channels;
  NN_CALL(nn_model_add_tensor(m, L.cout, m->tensors[in].level + 1, &L.out));
  NN_CALL(add_layer(m, &L));
  *out = L.out;
  return NN_SUCCESS;
}

nn_err nn_model_add_upsample2(nn_model *m, int in, int skip, int *out)
{
  nn_layer L = { 0 };

  NN_CHECK(m && out, NN_ERR_ARG, "nn_model_add_upsample2: NULL argument");
  NN_CALL(check_tensor(m, in, "upsample2 input"));
  NN_CHECK(m->tensors[in].level > 0, NN_ERR_ARG, "nn_model_add_upsample2: tensor %d is at the input resolution already", in);
  if (skip >= 0) {
    NN_CALL(check_tensor(m, skip, "upsample2 skip"));
    NN_CHECK(m->tensors[skip].channels == m->tensors[in].channels && m->tensors[skip].level == m->tensors[in].level - 1, NN_ERR_ARG, "nn_model_add_upsample2: skip tensor %d does not match the output", skip);
  }
  L.op  = NN_OP_UPSAMPLE2;
  L.in  = in;
  L.in2 = skip;
  L.cin = L.cout = m->tensors[in].channels;
  NN_CALL(nn_model_add_tensor(m, L.cout, m->tensors[in].level - 1, &L.out));
  NN_CALL(add_layer(m, &L));
  *out = L.out;
  return NN_SUCCESS;
}

/* The DCDM topology (Kaneda et al. 2023, reference train.py): ReLU before
   the residual add, one pooling level, 16 channels, linear 1x1x1 head. */
static nn_err build_dcdm(nn_model *m, int fullpairs, int halfpairs, int uppairs)
{
  int x, f, la, lb, apa, apb, upa, upb, out;

  NN_CALL(nn_model_add_tensor(m, 1, 0, &x));
  m->input = x;
  NN_CALL(nn_model_add_conv(m, x, -1, 16, 3, NN_ACT_NONE, &f));
  NN_CALL(nn_model_add_conv(m, f, -1, 16, 3, NN_ACT_RELU, &la));
  NN_CALL(nn_model_add_conv(m, la, -1, 16, 3, NN_ACT_RELU, &lb));
  for (int i = 0; i < fullpairs; i++) {
    NN_CALL(nn_model_add_conv(m, lb, la, 16, 3, NN_ACT_RELU, &la));
    NN_CALL(nn_model_add_conv(m, la, -1, 16, 3, NN_ACT_RELU, &lb));
  }
  NN_CALL(nn_model_add_avgpool2(m, lb, &apa));
  for (int i = 0; i < halfpairs; i++) {
    NN_CALL(nn_model_add_conv(m, apa, -1, 16, 3, NN_ACT_RELU, &apb));
    NN_CALL(nn_model_add_conv(m, apb, apa, 16, 3, NN_ACT_RELU, &apa));
  }
  NN_CALL(nn_model_add_upsample2(m, apa, lb, &upa));
  for (int i = 0; i < uppairs; i++) {
    NN_CALL(nn_model_add_conv(m, upa, -1, 16, 3, NN_ACT_RELU, &upb));
    NN_CALL(nn_model_add_conv(m, upb, upa, 16, 3, NN_ACT_RELU, &upa));
  }
  NN_CALL(nn_model_add_conv(m, upa, -1, 1, 1, NN_ACT_NONE, &out));
  m->output = out;
  return NN_SUCCESS;
}

nn_err nn_model_create_arch(const char *arch, nn_model **model)
{
  nn_err err;

  NN_CHECK(arch && model, NN_ERR_ARG, "nn_model_create_arch: NULL argument");
  NN_CALL(nn_model_create(model));
  if (!strcmp(arch, "from64"))
    err = build_dcdm(*model, 1, 3, 2);
  else if (!strcmp(arch, "from128"))
    err = build_dcdm(*model, 2, 5, 3);
  else {
    nn_model_destroy(model);
    return nn_error_set(NN_ERR_ARG, "unknown architecture '%s' (known: from64, from128)", arch);
  }
  if (err) {
    nn_model_destroy(model);
    return err;
  }
  snprintf((*model)->arch, sizeof((*model)->arch), "%s", arch);
  return NN_SUCCESS;
}

nn_err nn_model_validate(const nn_model *m)
{
  size_t next = 0;
  char  *defined;

  NN_CHECK(m, NN_ERR_ARG, "nn_model_validate: NULL model");
  NN_CHECK(m->nlayers > 0 && m->ntensors > 0 && m->layers && m->tensors, NN_ERR_MODEL, "model has no layers");
  NN_CHECK(m->input >= 0 && m->input < m->ntensors && m->output >= 0 && m->output < m->ntensors, NN_ERR_MODEL, "model input/output tensor out of range");
  NN_CHECK(m->tensors[m->input].channels == 1 && m->tensors[m->input].level == 0, NN_ERR_MODEL, "model input must have 1 channel at level 0");
  NN_CHECK(m->tensors[m->output].channels == 1 && m->tensors[m->output].level == 0, NN_ERR_MODEL, "model output must have 1 channel at level 0");
  for (int t = 0; t < m->ntensors; t++) NN_CHECK(m->tensors[t].channels > 0 && m->tensors[t].channels <= 4096 && m->tensors[t].level >= 0 && m->tensors[t].level < 16, NN_ERR_MODEL, "tensor %d: %d channels at level %d", t, m->tensors[t].channels, m->tensors[t].level);
  defined = calloc((size_t) m->ntensors, 1);
  NN_CHECK(defined, NN_ERR_MEM, "out of memory");
  defined[m->input] = 1;
#define FAIL(...)                                   \
  do {                                              \
    free(defined);                                  \
    return nn_error_set(NN_ERR_MODEL, __VA_ARGS__); \
  } while (0)
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer  *L = &m->layers[l];
    const nn_tensor *ti, *to, *t2 = NULL;

    if (L->in < 0 || L->in >= m->ntensors || L->out < 0 || L->out >= m->ntensors || L->in2 < -1 || L->in2 >= m->ntensors) FAIL("layer %d (%s): tensor index out of range", l, nn_op_name(L->op));
    if (!defined[L->in] || (L->in2 >= 0 && !defined[L->in2])) FAIL("layer %d (%s): reads a tensor before it is computed", l, nn_op_name(L->op));
    if (defined[L->out]) FAIL("layer %d (%s): writes tensor %d a second time", l, nn_op_name(L->op), L->out);
    ti = &m->tensors[L->in];
    to = &m->tensors[L->out];
    if (L->in2 >= 0) t2 = &m->tensors[L->in2];
    switch (L->op) {
    case NN_OP_CONV:
      if ((L->k != 1 && L->k != 3) || L->cin != ti->channels || L->cout != to->channels || to->level != ti->level) FAIL("layer %d (conv): shapes do not match (k %d, %d->%d channels)", l, L->k, L->cin, L->cout);
      if (L->act != NN_ACT_NONE && L->act != NN_ACT_RELU) FAIL("layer %d (conv): unknown activation %d", l, (int) L->act);
      if (t2 && (t2->channels != to->channels || t2->level != to->level)) FAIL("layer %d (conv): residual tensor does not match the output", l);
      if (L->weight != next || L->bias != next + (size_t) L->cout * (size_t) L->cin * (size_t) (L->k * L->k * L->k)) FAIL("layer %d (conv): parameter offsets out of order", l);
      next = L->bias + (size_t) L->cout;
      break;
    case NN_OP_ADD:
      if (!t2 || t2->channels != ti->channels || t2->level != ti->level || to->channels != ti->channels || to->level != ti->level) FAIL("layer %d (add): shapes do not match", l);
      break;
    case NN_OP_AVGPOOL2:
      if (t2 || to->channels != ti->channels || to->level != ti->level + 1) FAIL("layer %d (avgpool2): shapes do not match", l);
      break;
    case NN_OP_UPSAMPLE2:
      if (to->channels != ti->channels || to->level + 1 != ti->level || (t2 && (t2->channels != to->channels || t2->level != to->level))) FAIL("layer %d (upsample2): shapes do not match", l);
      break;
    default: FAIL("layer %d: unknown operation %d", l, (int) L->op);
    }
    defined[L->out] = 1;
  }
  if (!defined[m->output]) FAIL("the output tensor %d is never computed", m->output);
  if (next != m->nparams) FAIL("the layers use %zu parameters, the model has %zu", next, m->nparams);
#undef FAIL
  free(defined);
  NN_CHECK(m->nparams == 0 || m->params, NN_ERR_MODEL, "model parameters missing");
  for (size_t i = 0; i < m->nparams; i++) NN_CHECK(isfinite(m->params[i]), NN_ERR_MODEL, "parameter %zu is not finite", i);
  return NN_SUCCESS;
}

/* splitmix64: deterministic on every platform. */
static uint64_t next_u64(uint64_t *s)
{
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z          = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z          = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static double next_normal(uint64_t *s)
{
  double u1 = ((double) (next_u64(s) >> 11) + 0.5) * 0x1.0p-53, u2 = (double) (next_u64(s) >> 11) * 0x1.0p-53;

  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

nn_err nn_model_init_he(nn_model *m, uint64_t seed)
{
  uint64_t s = seed;

  NN_CHECK(m, NN_ERR_ARG, "nn_model_init_he: NULL model");
  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer *L = &m->layers[l];
    size_t          nw;
    double          sd;

    if (L->op != NN_OP_CONV) continue;
    nw = (size_t) L->cout * (size_t) L->cin * (size_t) (L->k * L->k * L->k);
    sd = sqrt(2.0 / (double) ((size_t) L->cin * (size_t) (L->k * L->k * L->k)));
    for (size_t i = 0; i < nw; i++) m->params[L->weight + i] = (float) (sd * next_normal(&s));
    for (int i = 0; i < L->cout; i++) m->params[L->bias + (size_t) i] = 0.0f;
  }
  m->training.seed = seed;
  return NN_SUCCESS;
}

int nn_model_levels(const nn_model *m)
{
  int lv = 0;

  for (int t = 0; t < m->ntensors; t++)
    if (m->tensors[t].level > lv) lv = m->tensors[t].level;
  return lv;
}

double nn_model_flops_per_voxel(const nn_model *m)
{
  double f = 0;

  for (int l = 0; l < m->nlayers; l++) {
    const nn_layer  *L    = &m->layers[l];
    const nn_tensor *to   = &m->tensors[L->out];
    double           frac = 1.0 / (double) (1 << (3 * to->level)); /* voxels at this level per input voxel */

    switch (L->op) {
    case NN_OP_CONV: f += frac * ((double) L->cout * (2.0 * L->cin * L->k * L->k * L->k + 1 + (L->act ? 1 : 0) + (L->in2 >= 0 ? 1 : 0))); break;
    case NN_OP_ADD: f += frac * L->cout; break;
    case NN_OP_AVGPOOL2: f += frac * L->cout * 8; break;
    case NN_OP_UPSAMPLE2: f += frac * (L->in2 >= 0 ? L->cout : 0); break;
    }
  }
  return f;
}
