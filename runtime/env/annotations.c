#include "env/annotations.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strbuf.h"
#include "base/strv.h"
#include "base/xalloc.h"

/* The parsed value of one annotation. */
struct value {
        bool set;
        struct skiff_ref *layers; /* environment */
        size_t n_layers;
        char **names; /* skip-containers, skip-exec */
        enum skiff_annotations_view view;
        uint32_t timeout;
};

typedef int (*parse_fn)(const char *key, const char *value, bool allow_unpinned, struct value *out,
                        skiff_err_t *err);

static void value_done(struct value *v)
{
        for (size_t i = 0; i < v->n_layers; i++)
                skiff_ref_done(&v->layers[i]);
        free(v->layers);
        skiff_strv_free(v->names);
        *v = (struct value){0};
}

bool skiff_annotations_valid_container_name(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

/* Splits a comma-separated list, trimming blanks around items. Empty items are an error unless
 * the whole value is blank (then *ret is an empty vector). */
static int split_list(const char *key, const char *value, char ***ret, skiff_err_t *err)
{
        _cleanup_strv_ char **items = xcalloc(1, sizeof(char *));
        const char *p = value;
        while (*p == ' ' || *p == '\t')
                p++;
        if (!*p) {
                *ret = TAKE_PTR(items);
                return 0;
        }
        for (;;) {
                const char *end = strchr(p, ',');
                size_t n = end ? (size_t)(end - p) : strlen(p);
                size_t b = 0;
                while (b < n && (p[b] == ' ' || p[b] == '\t'))
                        b++;
                while (n > b && (p[n - 1] == ' ' || p[n - 1] == '\t'))
                        n--;
                if (n == b)
                        return skiff_error_set(
                            err, EINVAL, "annotation `%s`: empty item in list `%s`", key, value);
                skiff_strv_push_take(&items, xstrndup(p + b, n - b));
                if (!end)
                        break;
                p = end + 1;
        }
        *ret = TAKE_PTR(items);
        return 0;
}

static int parse_environment(const char *key, const char *value, bool allow_unpinned,
                             struct value *out, skiff_err_t *err)
{
        _cleanup_strv_ char **items = NULL;
        int r = split_list(key, value, &items, err);
        if (r < 0)
                return r;
        size_t n = skiff_strv_len(items);
        if (n == 0)
                return skiff_error_set(err, EINVAL,
                                       "annotation `%s`: empty value (expected "
                                       "[hub/]owner/name@generation, ...)",
                                       key);
        if (n > SKIFF_ANNOTATIONS_LAYERS_MAX)
                return skiff_error_set(err, EINVAL, "annotation `%s`: %zu layers (at most %d)", key,
                                       n, SKIFF_ANNOTATIONS_LAYERS_MAX);
        struct value v = {.set = true};
        v.layers = xcalloc(n, sizeof(*v.layers));
        for (size_t i = 0; i < n; i++) {
                r = skiff_ref_parse(items[i], allow_unpinned, &v.layers[i], err);
                if (r < 0) {
                        value_done(&v);
                        return skiff_error_wrap(err, "annotation `%s`", key);
                }
                v.n_layers++;
                for (size_t j = 0; j < i; j++) {
                        const struct skiff_ref *a = &v.layers[j], *b = &v.layers[i];
                        if (strcmp(a->owner, b->owner) == 0 && strcmp(a->name, b->name) == 0 &&
                            (a->hub == b->hub || (a->hub && b->hub && !strcmp(a->hub, b->hub)))) {
                                r = skiff_error_set(err, EINVAL,
                                                    "annotation `%s`: environment `%s/%s` is "
                                                    "listed twice",
                                                    key, b->owner, b->name);
                                value_done(&v);
                                return r;
                        }
                }
        }
        *out = v;
        return 0;
}

static int parse_names(const char *key, const char *value, bool allow_unpinned, struct value *out,
                       skiff_err_t *err)
{
        _cleanup_strv_ char **items = NULL;
        int r = split_list(key, value, &items, err);
        if (r < 0)
                return r;
        for (char **p = items; *p; p++)
                if (!skiff_annotations_valid_container_name(*p))
                        return skiff_error_set(
                            err, EINVAL, "annotation `%s`: invalid container name `%s`", key, *p);
        out->set = true;
        out->names = TAKE_PTR(items);
        return 0;
}

static int parse_view(const char *key, const char *value, bool allow_unpinned, struct value *out,
                      skiff_err_t *err)
{
        for (int v = 0; v < _SKIFF_ANNOTATIONS_VIEW_MAX; v++)
                if (strcmp(value, skiff_annotations_view_name((enum skiff_annotations_view)v)) ==
                    0) {
                        out->set = true;
                        out->view = (enum skiff_annotations_view)v;
                        return 0;
                }
        return skiff_error_set(err, EINVAL,
                               "annotation `%s`: unknown value `%s` (expected closure or store)",
                               key, value);
}

static int parse_timeout(const char *key, const char *value, bool allow_unpinned, struct value *out,
                         skiff_err_t *err)
{
        size_t n = strlen(value);
        bool digits = n > 0 && n <= 10;
        for (size_t i = 0; digits && i < n; i++)
                digits = value[i] >= '0' && value[i] <= '9';
        if (!digits || value[0] == '0')
                return skiff_error_set(err, EINVAL,
                                       "annotation `%s`: invalid value `%s` (expected a positive "
                                       "number of seconds, at most %d)",
                                       key, value, SKIFF_ANNOTATIONS_TIMEOUT_MAX);
        unsigned long t = strtoul(value, NULL, 10);
        if (t > SKIFF_ANNOTATIONS_TIMEOUT_MAX)
                return skiff_error_set(err, ERANGE,
                                       "annotation `%s`: %s seconds is more than the maximum %d",
                                       key, value, SKIFF_ANNOTATIONS_TIMEOUT_MAX);
        out->set = true;
        out->timeout = (uint32_t)t;
        return 0;
}

enum key_id {
        KEY_ENVIRONMENT,
        KEY_SKIP_CONTAINERS,
        KEY_SKIP_EXEC,
        KEY_STORE_VIEW,
        KEY_REALIZE_TIMEOUT,
        _KEY_MAX,
};

static const struct {
        const char *name;
        parse_fn parse;
} keys[_KEY_MAX] = {
    [KEY_ENVIRONMENT] = {"environment", parse_environment},
    [KEY_SKIP_CONTAINERS] = {"skip-containers", parse_names},
    [KEY_SKIP_EXEC] = {"skip-exec", parse_names},
    [KEY_STORE_VIEW] = {"store-view", parse_view},
    [KEY_REALIZE_TIMEOUT] = {"realize-timeout", parse_timeout},
};

const char *skiff_annotations_view_name(enum skiff_annotations_view v)
{
        switch (v) {
        case SKIFF_ANNOTATIONS_VIEW_CLOSURE:
                return "closure";
        case SKIFF_ANNOTATIONS_VIEW_STORE:
                return "store";
        default:
                return "unknown";
        }
}

const char *skiff_annotations_container_name(char *const *kv)
{
        const char *name = NULL, *type = NULL;
        for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
                if (strcmp(kv[i], SKIFF_ANNOTATIONS_CRI_NAME) == 0)
                        name = kv[i + 1];
                else if (strcmp(kv[i], SKIFF_ANNOTATIONS_CRI_TYPE) == 0)
                        type = kv[i + 1];
        }
        if (type && strcmp(type, SKIFF_ANNOTATIONS_CRI_SANDBOX) == 0)
                return NULL;
        return name;
}

static void add_all_refs(struct skiff_annotations *a, const struct value *v)
{
        for (size_t i = 0; i < v->n_layers; i++) {
                bool dup = false;
                for (size_t j = 0; j < a->n_all_refs && !dup; j++)
                        dup = skiff_ref_equal(&a->all_refs[j], &v->layers[i]);
                if (dup)
                        continue;
                a->all_refs = xreallocarray(a->all_refs, a->n_all_refs + 1, sizeof(*a->all_refs));
                skiff_ref_copy(&v->layers[i], &a->all_refs[a->n_all_refs++]);
        }
}

struct slots {
        struct value pod[_KEY_MAX];
        struct value ctr[_KEY_MAX];
};

static void slots_done(struct slots *s)
{
        for (size_t i = 0; i < _KEY_MAX; i++) {
                value_done(&s->pod[i]);
                value_done(&s->ctr[i]);
        }
}

static const char *known_keys(void)
{
        return "environment, skip-containers, skip-exec, store-view, realize-timeout";
}

/* Handles one `skiff.dev/` annotation: validates it and stores it when it applies. */
static int parse_one(const char *key, const char *value, const char *container, bool allow_unpinned,
                     struct slots *s, struct skiff_annotations *a, skiff_err_t *err)
{
        const char *rest = key + strlen(SKIFF_ANNOTATIONS_PREFIX);
        const char *dot = strchr(rest, '.');
        size_t base_len = dot ? (size_t)(dot - rest) : strlen(rest);
        size_t k = 0;
        while (k < _KEY_MAX &&
               !(strlen(keys[k].name) == base_len && strncmp(keys[k].name, rest, base_len) == 0))
                k++;
        if (k == _KEY_MAX)
                return skiff_error_set(err, EINVAL,
                                       "annotation `%s`: unknown key (known keys under `%s`: %s, "
                                       "each optionally suffixed with `.<container-name>`)",
                                       key, SKIFF_ANNOTATIONS_PREFIX, known_keys());
        const char *suffix = dot ? dot + 1 : NULL;
        if (suffix && !skiff_annotations_valid_container_name(suffix))
                return skiff_error_set(err, EINVAL,
                                       "annotation `%s`: `%s` is not a valid container name", key,
                                       suffix);
        struct value v = {0};
        int r = keys[k].parse(key, value, allow_unpinned, &v, err);
        if (r < 0)
                return r;
        if (k == KEY_ENVIRONMENT)
                add_all_refs(a, &v);
        struct value *dst = NULL;
        if (!suffix)
                dst = &s->pod[k];
        else if (container && strcmp(suffix, container) == 0)
                dst = &s->ctr[k];
        if (!dst) {
                value_done(&v);
                return 0;
        }
        value_done(dst);
        *dst = v;
        return 0;
}

static int parse_all(char *const *kv, const char *container, bool allow_unpinned,
                     struct skiff_annotations *a, skiff_err_t *err)
{
        _cleanup_(slots_done) struct slots s = {0};
        size_t plen = strlen(SKIFF_ANNOTATIONS_PREFIX);
        for (size_t i = 0; kv && kv[i]; i += 2) {
                const char *key = kv[i], *value = kv[i + 1];
                bool ours = strncmp(key, SKIFF_ANNOTATIONS_PREFIX, plen) == 0;
                if (!value) {
                        if (ours)
                                return skiff_error_set(err, EINVAL,
                                                       "annotation `%s`: missing value", key);
                        break;
                }
                if (!ours)
                        continue;
                for (size_t j = 0; j < i; j += 2)
                        if (strcmp(kv[j], key) == 0)
                                return skiff_error_set(err, EINVAL,
                                                       "annotation `%s`: duplicate key", key);
                int r = parse_one(key, value, container, allow_unpinned, &s, a, err);
                if (r < 0)
                        return r;
        }

        /* The effective value of each key: the container's override, else the pod's. */
        struct value *eff[_KEY_MAX];
        for (size_t k = 0; k < _KEY_MAX; k++)
                eff[k] = s.ctr[k].set ? &s.ctr[k] : &s.pod[k];
        if (eff[KEY_ENVIRONMENT]->set) {
                a->opted_in = true;
                a->layers = TAKE_PTR(eff[KEY_ENVIRONMENT]->layers);
                a->n_layers = eff[KEY_ENVIRONMENT]->n_layers;
                eff[KEY_ENVIRONMENT]->n_layers = 0;
        }
        if (eff[KEY_STORE_VIEW]->set)
                a->view = eff[KEY_STORE_VIEW]->view;
        if (eff[KEY_REALIZE_TIMEOUT]->set)
                a->realize_timeout = eff[KEY_REALIZE_TIMEOUT]->timeout;
        if (container) {
                a->skipped = skiff_strv_contains(eff[KEY_SKIP_CONTAINERS]->names, container);
                a->skip_exec = skiff_strv_contains(eff[KEY_SKIP_EXEC]->names, container);
        }
        return 0;
}

int skiff_annotations_parse(char *const *kv, const char *container, bool allow_unpinned,
                            struct skiff_annotations *ret, skiff_err_t *err)
{
        struct skiff_annotations a = {.view = SKIFF_ANNOTATIONS_VIEW_CLOSURE};
        int r = parse_all(kv, container, allow_unpinned, &a, err);
        if (r < 0) {
                skiff_annotations_done(&a);
                return r;
        }
        *ret = a;
        return 0;
}

void skiff_annotations_done(struct skiff_annotations *a)
{
        if (!a)
                return;
        for (size_t i = 0; i < a->n_layers; i++)
                skiff_ref_done(&a->layers[i]);
        free(a->layers);
        for (size_t i = 0; i < a->n_all_refs; i++)
                skiff_ref_done(&a->all_refs[i]);
        free(a->all_refs);
        *a = (struct skiff_annotations){0};
}
