#include "store/substituter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/xalloc.h"

static void skipped_done(struct skiff_substituter_skipped *s)
{
        free(s->msg);
        *s = (struct skiff_substituter_skipped){0};
}

bool skiff_substituter_skip(struct skiff_substituter_skipped *s, int r, skiff_err_t *err)
{
        if (r != -EIO && r != -ETIMEDOUT && r != -EACCES)
                return false;
        if (!s->r) {
                s->r = r;
                s->msg = xstrdup(err && *err ? (*err)->msg : "download failed");
        }
        skiff_error_free(err);
        return true;
}

int skiff_substituter_skipped_finish(struct skiff_substituter_skipped *s, const char *suffix,
                                     skiff_err_t *err)
{
        int r = s->r ? skiff_error_set(err, -s->r, "%s%s", s->msg, suffix) : 0;
        skipped_done(s);
        return r;
}

int skiff_substituter_find(struct skiff_fetch *f, char *const *caches, const char *store_dir,
                           const char *base, bool verify, const struct skiff_sig_pubkey *keys,
                           size_t nkeys, struct skiff_substituter_hit *ret, skiff_err_t *err)
{
        _cleanup_free_ char *full = xasprintf("%s/%s", store_dir, base);
        _cleanup_(skipped_done) struct skiff_substituter_skipped skipped = {0};
        for (char *const *c = caches; c && *c; c++) {
                _cleanup_free_ char *cache = skiff_path_strip_trailing_slashes(*c);
                _cleanup_free_ char *url = xasprintf("%s/%.32s.narinfo", cache, base);
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                int r = skiff_fetch_buf(f, url, SKIFF_NARINFO_MAX, &buf, &len, err);
                if (r == -ENOENT) {
                        skiff_error_free(err);
                        continue;
                }
                if (skiff_substituter_skip(&skipped, r, err))
                        continue;
                if (r < 0)
                        return r;
                _cleanup_narinfo_ struct skiff_narinfo *ni = NULL;
                r = skiff_narinfo_parse(buf, len, store_dir, &ni, err);
                if (r < 0)
                        return skiff_error_wrap(err, "`%s`", url);
                if (strcmp(ni->store_path, full) != 0)
                        return skiff_error_set(err, EBADMSG, "`%s` describes `%s`, not `%s`", url,
                                               ni->store_path, full);
                if (verify) {
                        _cleanup_free_ char *fp = skiff_narinfo_fingerprint(ni, store_dir);
                        r = skiff_sig_verify_any(fp, strlen(fp), ni->sigs, keys, nkeys, NULL, err);
                        if (r < 0)
                                return skiff_error_wrap(err, "narinfo `%s`", url);
                }
                *ret = (struct skiff_substituter_hit){
                    .ni = TAKE_PTR(ni), .cache = TAKE_PTR(cache), .url = TAKE_PTR(url)};
                return 0;
        }
        int r = skiff_substituter_skipped_finish(
            &skipped, caches && caches[0] && caches[1] ? " (and no other cache has it)" : "", err);
        if (r < 0)
                return r;
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        for (char *const *c = caches; c && *c; c++)
                skiff_strbuf_printf(&sb, "%s`%s`", c == caches ? "" : ", ", *c);
        _cleanup_free_ char *list = skiff_strbuf_take(&sb);
        return skiff_error_set(err, ENOENT, "no cache has `%.32s.narinfo` (caches: %s)", base,
                               list && *list ? list : "none given");
}

void skiff_substituter_hit_done(struct skiff_substituter_hit *h)
{
        skiff_narinfo_free(h->ni);
        free(h->cache);
        free(h->url);
        *h = (struct skiff_substituter_hit){0};
}
