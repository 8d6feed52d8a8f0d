#include "store/substituter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/path.h"
#include "base/strbuf.h"
#include "base/xalloc.h"

int skiff_substituter_find(struct skiff_fetch *f, char *const *caches, const char *store_dir,
                           const char *base, bool verify, const struct skiff_sig_pubkey *keys,
                           size_t nkeys, struct skiff_substituter_hit *ret, skiff_err_t *err)
{
        _cleanup_free_ char *full = xasprintf("%s/%s", store_dir, base);
        _cleanup_error_ skiff_err_t first = NULL; /* the first cache that did not answer */
        int first_r = 0;
        for (char *const *c = caches; c && *c; c++) {
                _cleanup_free_ char *cache = skiff_path_strip_trailing_slashes(*c);
                _cleanup_free_ char *url = xasprintf("%s/%.32s.narinfo", cache, base);
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                skiff_err_t e = NULL;
                int r = skiff_fetch_buf(f, url, SKIFF_NARINFO_MAX, &buf, &len, &e);
                if (r == -ENOENT) {
                        skiff_error_free(&e);
                        continue;
                }
                if (r < 0) {
                        if (!first) {
                                first = e;
                                first_r = r;
                        } else {
                                skiff_error_free(&e);
                        }
                        continue;
                }
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
        if (first)
                return skiff_error_set(err, -first_r, "%s%s", first->msg,
                                       caches[0] && caches[1] ? " (and no other cache has it)"
                                                              : "");
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
