#include "env/hub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/path.h"
#include "base/strv.h"
#include "base/xalloc.h"
#include "env/generation.h"
#include "env/ref.h"
#include "store/config.h"
#include "store/fetch.h"
#include "store/sig.h"

#define LIVE_MAX 64

struct skiff_hub {
        char *default_url;
        char *default_name;
        char **aliases;
        char *store_root;
        const struct skiff_sig_pubkey *keys; /* borrowed */
        size_t nkeys;
        bool require_signatures;
        const struct skiff_config *cfg; /* borrowed or own_cfg */
        struct skiff_config *own_cfg;
        struct skiff_fetch *fetch; /* created on first use */
};

static bool valid_base_url(const char *u)
{
        return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0 ||
               strncmp(u, "file:///", 8) == 0;
}

int skiff_hub_new(const struct skiff_hub_options *o, struct skiff_hub **ret, skiff_err_t *err)
{
        if (o->default_url && !valid_base_url(o->default_url))
                return skiff_error_set(err, EINVAL,
                                       "default hub `%s`: expected an http://, https:// or "
                                       "file:/// URL",
                                       o->default_url);
        const char *dname = o->default_name ? o->default_name : SKIFF_HUB_DEFAULT_NAME;
        if (!skiff_ref_valid_hub(dname))
                return skiff_error_set(err, EINVAL, "default hub name `%s` is not a valid hub name",
                                       dname);
        for (size_t i = 0; o->aliases && o->aliases[i]; i += 2) {
                if (!o->aliases[i + 1])
                        return skiff_error_set(err, EINVAL, "hub alias `%s` has no URL",
                                               o->aliases[i]);
                if (!skiff_ref_valid_hub(o->aliases[i]))
                        return skiff_error_set(
                            err, EINVAL, "hub alias `%s` is not a valid hub name", o->aliases[i]);
                if (!valid_base_url(o->aliases[i + 1]))
                        return skiff_error_set(err, EINVAL,
                                               "hub alias `%s`: `%s` is not an http://, https:// "
                                               "or file:/// URL",
                                               o->aliases[i], o->aliases[i + 1]);
        }
        int r = skiff_fetch_global_init(err);
        if (r < 0)
                return r;
        struct skiff_hub *h = xcalloc(1, sizeof(*h));
        h->default_url = o->default_url ? skiff_path_strip_trailing_slashes(o->default_url) : NULL;
        h->default_name = xstrdup(dname);
        h->aliases = skiff_strv_copy(o->aliases);
        h->store_root = xstrdup(o->store_root);
        h->keys = o->keys;
        h->nkeys = o->nkeys;
        h->require_signatures = o->require_signatures;
        if (o->cfg)
                h->cfg = o->cfg;
        else
                h->cfg = h->own_cfg = skiff_config_new_default();
        *ret = h;
        return 0;
}

struct skiff_hub *skiff_hub_free(struct skiff_hub *h)
{
        if (!h)
                return NULL;
        free(h->default_url);
        free(h->default_name);
        skiff_strv_free(h->aliases);
        free(h->store_root);
        skiff_fetch_free(h->fetch);
        skiff_config_free(h->own_cfg);
        free(h);
        return NULL;
}

int skiff_hub_locate(const struct skiff_hub *h, const struct skiff_ref *ref, char **ret_url,
                     char **ret_name, skiff_err_t *err)
{
        const char *url = NULL, *name = NULL;
        _cleanup_free_ char *https = NULL;
        if (!ref->hub) {
                if (!h->default_url)
                        return skiff_error_set(err, EINVAL,
                                               "no default hub is configured (write "
                                               "<hub>/%s/%s@N)",
                                               ref->owner, ref->name);
                url = h->default_url;
                name = h->default_name;
        } else {
                name = ref->hub;
                for (size_t i = 0; h->aliases && h->aliases[i]; i += 2)
                        if (strcmp(h->aliases[i], ref->hub) == 0)
                                url = h->aliases[i + 1];
                if (!url)
                        url = https = xasprintf("https://%s", ref->hub);
        }
        if (ret_url)
                *ret_url = skiff_path_strip_trailing_slashes(url);
        if (ret_name)
                *ret_name = xstrdup(name);
        return 0;
}

static int fetcher(struct skiff_hub *h, skiff_err_t *err)
{
        if (h->fetch)
                return 0;
        return skiff_fetch_new(h->cfg, &h->fetch, err);
}

static char *env_url(const char *base, const struct skiff_ref *ref, const char *file)
{
        return xasprintf("%s/skiff/v1/%s/%s/%s", base, ref->owner, ref->name, file);
}

static int fetch_file(struct skiff_hub *h, const char *base, const struct skiff_ref *ref,
                      const char *file, size_t max, char **ret, size_t *ret_len, skiff_err_t *err)
{
        int r = fetcher(h, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *url = env_url(base, ref, file);
        return skiff_fetch_buf(h->fetch, url, max, ret, ret_len, err);
}

static int parse_live(const char *buf, uint32_t *ret, skiff_err_t *err)
{
        _cleanup_free_ char *s = xstrdup(buf);
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
                s[--n] = '\0';
        return skiff_ref_parse_generation(s, ret, err);
}

int skiff_hub_live(struct skiff_hub *h, const struct skiff_ref *ref, uint32_t *ret,
                   skiff_err_t *err)
{
        _cleanup_free_ char *base = NULL, *buf = NULL;
        int r = skiff_hub_locate(h, ref, &base, NULL, err);
        if (r < 0)
                return r;
        r = fetch_file(h, base, ref, "live", LIVE_MAX, &buf, NULL, err);
        if (r == -ENOENT)
                return skiff_error_set(err, ENOENT, "unknown environment `%s/%s` on hub `%s`",
                                       ref->owner, ref->name, base);
        if (r < 0)
                return skiff_error_wrap(err, "read the live generation of `%s/%s`", ref->owner,
                                        ref->name);
        r = parse_live(buf, ret, err);
        if (r < 0)
                return skiff_error_set(err, EBADMSG,
                                       "`%s/%s`: malformed `live` file on hub `%s`: %s", ref->owner,
                                       ref->name, base, skiff_error_msg(*err));
        return 0;
}

int skiff_hub_resolve(struct skiff_hub *h, struct skiff_ref *ref, skiff_err_t *err)
{
        if (skiff_ref_is_pinned(ref))
                return 0;
        uint32_t g = 0;
        int r = skiff_hub_live(h, ref, &g, err);
        if (r < 0)
                return skiff_error_wrap(err, "resolve unpinned `%s/%s`", ref->owner, ref->name);
        ref->generation = g;
        return 0;
}

void skiff_hub_document_done(struct skiff_hub_document *d)
{
        if (!d)
                return;
        skiff_generation_free(d->generation);
        free(d->json);
        free(d->key_name);
        *d = (struct skiff_hub_document){0};
}

/* Verifies and parses a (doc, sig) pair for ref. sig may be NULL when signatures are not
 * required. */
static int check_document(struct skiff_hub *h, const struct skiff_ref *ref, const char *json,
                          size_t len, const char *sig, size_t sig_len,
                          struct skiff_hub_document *ret, skiff_err_t *err)
{
        size_t key = 0;
        bool signed_ok = false;
        if (sig) {
                int r =
                    skiff_generation_verify(json, len, sig, sig_len, h->keys, h->nkeys, &key, err);
                if (r < 0)
                        return skiff_error_wrap(err, "signature of `%u.json`", ref->generation);
                signed_ok = true;
        } else if (h->require_signatures) {
                return skiff_error_set(err, EPERM, "`%u.json` has no signature (`%u.json.sig`)",
                                       ref->generation, ref->generation);
        }
        _cleanup_generation_ struct skiff_generation *g = NULL;
        int r = skiff_generation_parse(json, len, &g, err);
        if (r < 0)
                return skiff_error_wrap(err, "`%u.json`", ref->generation);
        _cleanup_free_ char *want = skiff_ref_env_name(ref);
        if (strcmp(g->environment, want) != 0 || g->generation != ref->generation)
                return skiff_error_set(err, EINVAL, "`%u.json` describes `%s@%u`, not `%s@%u`",
                                       ref->generation, g->environment, g->generation, want,
                                       ref->generation);
        ret->generation = TAKE_PTR(g);
        ret->json = xmemdup(json, len + 1);
        ret->len = len;
        ret->key_name = signed_ok ? xstrdup(h->keys[key].name) : NULL;
        return 0;
}

static char *cache_dir(const struct skiff_hub *h, const char *hub_name, const struct skiff_ref *ref)
{
        return xasprintf("%s/envs/%s/%s/%s", h->store_root, hub_name, ref->owner, ref->name);
}

static int from_cache(struct skiff_hub *h, const char *dir, const struct skiff_ref *ref,
                      struct skiff_hub_document *ret)
{
        _cleanup_free_ char *jp = xasprintf("%s/%u.json", dir, ref->generation);
        _cleanup_free_ char *sp = xasprintf("%s/%u.json.sig", dir, ref->generation);
        _cleanup_free_ char *json = NULL, *sig = NULL;
        size_t len = 0, sig_len = 0;
        if (skiff_fs_read_file(jp, SKIFF_GENERATION_MAX, &json, &len, NULL) < 0)
                return -ENOENT;
        int r = skiff_fs_read_file(sp, SKIFF_GENERATION_SIG_MAX, &sig, &sig_len, NULL);
        if (r < 0 && h->require_signatures)
                return -ENOENT;
        _cleanup_error_ skiff_err_t ignored = NULL;
        r = check_document(h, ref, json, len, sig, sig_len, ret, &ignored);
        if (r < 0)
                return r;
        ret->from_cache = true;
        return 0;
}

static int to_cache(const char *dir, const struct skiff_ref *ref, const char *json, size_t len,
                    const char *sig, size_t sig_len, skiff_err_t *err)
{
        int r = skiff_fs_mkdir_p(dir, 0755, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *jp = xasprintf("%s/%u.json", dir, ref->generation);
        _cleanup_free_ char *sp = xasprintf("%s/%u.json.sig", dir, ref->generation);
        /* The signature goes first: a reader only trusts a document next to its signature. */
        if (sig) {
                r = skiff_fs_write_file_atomic(sp, sig, sig_len, 0644, true, err);
                if (r < 0)
                        return r;
        }
        return skiff_fs_write_file_atomic(jp, json, len, 0644, true, err);
}

static int get(struct skiff_hub *h, const struct skiff_ref *ref, struct skiff_hub_document *ret,
               skiff_err_t *err)
{
        if (!skiff_ref_is_pinned(ref))
                return skiff_error_set(err, EINVAL, "reference is unpinned (resolve it first)");
        _cleanup_free_ char *base = NULL, *name = NULL;
        int r = skiff_hub_locate(h, ref, &base, &name, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = h->store_root ? cache_dir(h, name, ref) : NULL;
        if (dir && from_cache(h, dir, ref, ret) == 0)
                return 0;

        _cleanup_free_ char *file = xasprintf("%u.json", ref->generation);
        _cleanup_free_ char *sfile = xasprintf("%u.json.sig", ref->generation);
        _cleanup_free_ char *json = NULL, *sig = NULL;
        size_t len = 0, sig_len = 0;
        r = fetch_file(h, base, ref, file, SKIFF_GENERATION_MAX, &json, &len, err);
        if (r == -ENOENT) {
                uint32_t live = 0;
                _cleanup_error_ skiff_err_t lerr = NULL;
                int lr = skiff_hub_live(h, ref, &live, &lerr);
                if (lr == -ENOENT)
                        return skiff_error_set(err, ENOENT, "unknown environment on hub `%s`",
                                               base);
                if (lr == 0)
                        return skiff_error_set(err, ENOENT,
                                               "unknown generation %u on hub `%s` (live is %u)",
                                               ref->generation, base, live);
                return skiff_error_set(err, ENOENT, "unknown generation %u on hub `%s`",
                                       ref->generation, base);
        }
        if (r < 0)
                return skiff_error_wrap(err, "hub unreachable and no cached document");
        r = fetch_file(h, base, ref, sfile, SKIFF_GENERATION_SIG_MAX, &sig, &sig_len, err);
        if (r == -ENOENT && !h->require_signatures)
                skiff_error_free(err);
        else if (r == -ENOENT)
                return skiff_error_set(err, EPERM, "`%s` has no signature (`%s` is missing)", file,
                                       sfile);
        else if (r < 0)
                return skiff_error_wrap(err, "fetch the signature");
        r = check_document(h, ref, json, len, sig, sig_len, ret, err);
        if (r < 0)
                return r;
        if (dir) {
                r = to_cache(dir, ref, json, len, sig, sig_len, err);
                if (r < 0) {
                        skiff_hub_document_done(ret);
                        return skiff_error_wrap(err, "cache the document");
                }
        }
        return 0;
}

int skiff_hub_get(struct skiff_hub *h, const struct skiff_ref *ref, struct skiff_hub_document *ret,
                  skiff_err_t *err)
{
        struct skiff_hub_document d = {0};
        int r = get(h, ref, &d, err);
        if (r < 0) {
                _cleanup_free_ char *s = skiff_ref_format(ref);
                return skiff_error_wrap(err, "environment `%s`", s);
        }
        *ret = d;
        return 0;
}

int skiff_hub_index(struct skiff_hub *h, const struct skiff_ref *ref, char **ret, size_t *ret_len,
                    skiff_err_t *err)
{
        _cleanup_free_ char *base = NULL;
        int r = skiff_hub_locate(h, ref, &base, NULL, err);
        if (r < 0)
                return r;
        r = fetch_file(h, base, ref, "index.json", SKIFF_HUB_INDEX_MAX, ret, ret_len, err);
        if (r == -ENOENT)
                return skiff_error_set(err, ENOENT, "environment `%s/%s` has no index on hub `%s`",
                                       ref->owner, ref->name, base);
        return r;
}
