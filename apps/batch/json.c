/* JSON text for the batch's journal and summary: writing with escapes, and
   a reader of the flat objects the journal holds. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"

static void text_reserve(DeepCDBatchText *t, size_t more)
{
  size_t cap;
  char  *s;

  if (t->bad || t->len + more + 1 <= t->cap) return;
  cap = t->cap ? t->cap : 4096;
  while (cap < t->len + more + 1) cap *= 2;
  if (!(s = realloc(t->s, cap))) {
    t->bad = 1;
    return;
  }
  t->s   = s;
  t->cap = cap;
}

void DeepCDBatchTextPrintf(DeepCDBatchText *t, const char fmt[], ...)
{
  va_list ap;
  int     n;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    t->bad = 1;
    return;
  }
  text_reserve(t, (size_t) n);
  if (t->bad) return;
  va_start(ap, fmt);
  vsnprintf(t->s + t->len, (size_t) n + 1, fmt, ap);
  va_end(ap);
  t->len += (size_t) n;
}

void DeepCDBatchTextQuoted(DeepCDBatchText *t, const char s[], PetscBool csv)
{
  DeepCDBatchTextPrintf(t, "\"");
  for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
    if (csv)
      DeepCDBatchTextPrintf(t, *c == '"' ? "\"\"" : "%c", *c);
    else if (*c == '"' || *c == '\\')
      DeepCDBatchTextPrintf(t, "\\%c", *c);
    else if (*c < 0x20)
      DeepCDBatchTextPrintf(t, "\\u%04x", *c);
    else
      DeepCDBatchTextPrintf(t, "%c", *c);
  }
  DeepCDBatchTextPrintf(t, "\"");
}

void DeepCDBatchTextNumber(DeepCDBatchText *t, double v)
{
  if (isfinite(v))
    DeepCDBatchTextPrintf(t, "%.17g", v);
  else
    DeepCDBatchTextPrintf(t, "null");
}

void DeepCDBatchTextFree(DeepCDBatchText *t)
{
  free(t->s);
  memset(t, 0, sizeof(*t));
}

static const char *skip_ws(const char *p)
{
  while (*p && isspace((unsigned char) *p)) p++;
  return p;
}

/* A JSON string at p (after its opening quote) into out (NUL-terminated,
   truncated to len); returns the character after the closing quote or NULL. */
static const char *parse_string(const char *p, char *out, size_t len)
{
  size_t n = 0;

  while (*p && *p != '"') {
    unsigned c = (unsigned char) *p++;

    if (c == '\\') {
      switch (*p++) {
      case '"':
        c = '"';
        break;
      case '\\':
        c = '\\';
        break;
      case '/':
        c = '/';
        break;
      case 'n':
        c = '\n';
        break;
      case 't':
        c = '\t';
        break;
      case 'r':
        c = '\r';
        break;
      case 'b':
        c = '\b';
        break;
      case 'f':
        c = '\f';
        break;
      case 'u': {
        char hex[5] = { 0 };

        for (int i = 0; i < 4; i++) {
          if (!isxdigit((unsigned char) p[i])) return NULL;
          hex[i] = p[i];
        }
        p += 4;
        c = (unsigned) strtoul(hex, NULL, 16);
        if (c > 0x7f) c = '?'; /* the writer escapes control characters only */
        break;
      }
      default:
        return NULL;
      }
    }
    if (n + 1 < len) out[n++] = (char) c;
  }
  if (*p != '"') return NULL;
  out[n] = 0;
  return p + 1;
}

int DeepCDBatchJSONParseObject(const char text[], void (*field)(const char key[], const char *str, double num, void *ctx), void *ctx)
{
  const char *p = skip_ws(text);
  char        key[64], *val;
  size_t      lval = strlen(text) + 1;

  if (*p++ != '{') return 1;
  if (!(val = malloc(lval))) return 1;
  p = skip_ws(p);
  if (*p == '}') {
    free(val);
    return *skip_ws(p + 1) != 0;
  }
  for (;;) {
    if (*p++ != '"' || !(p = parse_string(p, key, sizeof(key)))) break;
    p = skip_ws(p);
    if (*p++ != ':') break;
    p = skip_ws(p);
    if (*p == '"') {
      if (!(p = parse_string(p + 1, val, lval))) break;
      field(key, val, 0, ctx);
    } else if (!strncmp(p, "null", 4)) {
      p += 4;
      field(key, NULL, NAN, ctx);
    } else {
      char  *end;
      double v = strtod(p, &end);

      if (end == p) break;
      p = end;
      field(key, NULL, v, ctx);
    }
    p = skip_ws(p);
    if (*p == ',') {
      p = skip_ws(p + 1);
      continue;
    }
    if (*p == '}') {
      free(val);
      return *skip_ws(p + 1) != 0;
    }
    break;
  }
  free(val);
  return 1;
}
