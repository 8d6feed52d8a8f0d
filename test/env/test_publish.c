#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "base/strv.h"
#include "env/generation.h"
#include "env/hub.h"
#include "env/publish.h"
#include "env/ref.h"
#include "env_helpers.h"
#include "store/cache.h"
#include "store/config.h"
#include "store/fetch.h"
#include "store/narinfo.h"
#include "store/sig.h"

#define NOW 1700000000 /* 2023-11-14T22:13:20Z */

struct fixture {
        char *tmp, *hub, *cache, *cache_url;
        struct skiff_sig_seckey sk, other_sk;
        struct skiff_sig_pubkey pk, other_pk;
        char *hello, *greet, *tools; /* store paths in the cache */
        struct skiff_config *cfg;
};

static struct fixture F;

static void keypair(const char *name, struct skiff_sig_seckey *sk, struct skiff_sig_pubkey *pk)
{
        _cleanup_free_ char *s = NULL, *p = NULL;
        cr_assert_eq(skiff_sig_keygen(name, &s, &p, NULL), 0);
        cr_assert_eq(skiff_sig_parse_secret(s, sk, NULL), 0);
        cr_assert_eq(skiff_sig_parse_public(p, pk, NULL), 0);
}

static char *add_dir(const char *name, const char *file, const char *content)
{
        _cleanup_free_ char *dir = xasprintf("%s/src/%s", F.tmp, name);
        _cleanup_free_ char *fp = xasprintf("%s/%s", dir, file);
        th_write(fp, content);
        char *path = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_cache_add_path(F.cache, dir, SKIFF_COMPRESSION_ZSTD, &F.sk, "/nix/store",
                                          &path, &err),
                     0, "%s", skiff_error_msg(err));
        return path;
}

static void setup(void)
{
        F.tmp = th_tmpdir();
        F.hub = xasprintf("%s/hub", F.tmp);
        F.cache = xasprintf("%s/cache", F.tmp);
        F.cache_url = xasprintf("file://%s", F.cache);
        keypair("pub-1", &F.sk, &F.pk);
        keypair("other-1", &F.other_sk, &F.other_pk);
        F.hello = add_dir("hello-2.12.1", "bin/hello", "#!/bin/sh\necho hello\n");
        F.greet = add_dir("greet-1.0", "bin/hello", "#!/bin/sh\necho greet\n");
        F.tools = add_dir("tools-3", "share/tools/x", "x\n");
        const char *c = "{\"retries\": 0, \"connect_timeout\": 2}";
        cr_assert_eq(skiff_config_parse(c, strlen(c), &F.cfg, NULL), 0);
}

static void teardown(void)
{
        th_sh("chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", F.tmp, F.tmp);
        free(F.tmp);
        free(F.hub);
        free(F.cache);
        free(F.cache_url);
        free(F.hello);
        free(F.greet);
        free(F.tools);
        skiff_config_free(F.cfg);
}

TestSuite(publish, .init = setup, .fini = teardown);

static struct skiff_publish_options opts(const char *env, char **caches)
{
        return (struct skiff_publish_options){
            .hub_dir = F.hub,
            .environment = env,
            .system = "x86_64-linux",
            .caches = caches,
            .key = &F.sk,
            .trusted = &F.pk,
            .ntrusted = 1,
            .check_sigs = true,
            .cfg = F.cfg,
            .now = NOW,
        };
}

static uint32_t publish_ok(const struct skiff_publish_options *o)
{
        struct skiff_publish_result res = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_publish_run(o, &res, &err), 0, "%s", skiff_error_msg(err));
        uint32_t g = res.generation;
        cr_assert(strstr(res.doc_path, "/skiff/v1/"));
        skiff_publish_result_done(&res);
        return g;
}

/* The document of env@gen read back through the hub client, verified with the publisher's
 * key. */
static struct skiff_generation *hub_get(const char *env, uint32_t gen, char **ret_json)
{
        _cleanup_free_ char *url = xasprintf("file://%s", F.hub);
        struct skiff_hub_options ho = {
            .default_url = url,
            .keys = &F.pk,
            .nkeys = 1,
            .require_signatures = true,
            .cfg = F.cfg,
        };
        _cleanup_hub_ struct skiff_hub *h = NULL;
        cr_assert_eq(skiff_hub_new(&ho, &h, NULL), 0);
        _cleanup_free_ char *s = xasprintf("%s@%u", env, gen);
        _cleanup_(skiff_ref_done) struct skiff_ref ref = {0};
        cr_assert_eq(skiff_ref_parse(s, false, &ref, NULL), 0);
        struct skiff_hub_document d = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_hub_get(h, &ref, &d, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_str_eq(d.key_name, "pub-1");
        struct skiff_generation *g = TAKE_PTR(d.generation);
        if (ret_json)
                *ret_json = TAKE_PTR(d.json);
        skiff_hub_document_done(&d);
        return g;
}

static char *env_file(const char *env, const char *name)
{
        return xasprintf("%s/skiff/v1/%s/%s", F.hub, env, name);
}

Test(publish, writes_signed_generations_index_and_live)
{
        char *caches[] = {F.cache_url, NULL};
        struct skiff_publish_package p1[] = {{F.hello, 5}};
        struct skiff_publish_options o = opts("acme/hello", caches);
        o.packages = p1;
        o.n_packages = 1;
        o.description = "first";
        cr_assert_eq(publish_ok(&o), 1);
        _cleanup_free_ char *doc1_path = env_file("acme/hello", "1.json");
        _cleanup_free_ char *doc1 = th_read(doc1_path);
        _cleanup_free_ char *live_path = env_file("acme/hello", "live");
        struct stat st;
        cr_assert_eq(stat(live_path, &st), -1, "no live pointer without --live");

        struct skiff_publish_package p2[] = {{F.hello, 5}, {F.tools, 3}};
        o.packages = p2;
        o.n_packages = 2;
        o.description = "second";
        o.live = true;
        o.now = NOW + 60;
        cr_assert_eq(publish_ok(&o), 2);
        _cleanup_free_ char *doc1_again = th_read(doc1_path);
        cr_assert_str_eq(doc1, doc1_again, "generation 1 is never rewritten");
        _cleanup_free_ char *live = th_read(live_path);
        cr_assert_str_eq(live, "2\n");

        _cleanup_free_ char *json1 = NULL, *json2 = NULL;
        _cleanup_generation_ struct skiff_generation *g1 = hub_get("acme/hello", 1, &json1);
        _cleanup_generation_ struct skiff_generation *g2 = hub_get("acme/hello", 2, &json2);
        cr_assert_str_eq(g1->created, "2023-11-14T22:13:20Z");
        cr_assert_str_eq(g1->description, "first");
        cr_assert_str_eq(g2->description, "second");
        const struct skiff_generation_system *s = skiff_generation_system(g2, "x86_64-linux");
        cr_assert_not_null(s);
        cr_assert_str_eq(s->store_dir, "/nix/store");
        cr_assert_eq(s->n_packages, 2);
        cr_assert_str_eq(s->packages[0].name, "hello-2.12.1");
        cr_assert_str_eq(s->packages[1].path, F.tools);
        cr_assert_eq(s->packages[1].priority, 3);
        cr_assert(s->has_closure);
        cr_assert_eq(s->n_closure, 2);
        cr_assert_str_eq(s->substituters[0], F.cache_url);

        /* Each closure entry matches the narinfo in the cache. */
        for (size_t i = 0; i < s->n_closure; i++) {
                const struct skiff_generation_path *e = &s->closure[i];
                const char *base = strrchr(e->path, '/') + 1;
                _cleanup_free_ char *nip = xasprintf("%s/%.32s.narinfo", F.cache, base);
                _cleanup_free_ char *nitext = th_read(nip);
                _cleanup_narinfo_ struct skiff_narinfo *ni = NULL;
                cr_assert_eq(skiff_narinfo_parse(nitext, strlen(nitext), "/nix/store", &ni, NULL),
                             0);
                cr_assert(e->has_file);
                cr_assert_str_eq(e->url, ni->url);
                cr_assert_eq(strncmp(e->url, "nar/", 4), 0);
                cr_assert_str_eq(e->compression, "zstd");
                cr_assert(skiff_nixhash_equal(&e->nar_hash, &ni->nar_hash));
                cr_assert(skiff_nixhash_equal(&e->file_hash, &ni->file_hash));
                cr_assert_eq(e->nar_size, ni->nar_size);
                cr_assert_eq(e->file_size, ni->file_size);
        }

        _cleanup_free_ char *ixp = env_file("acme/hello", "index.json");
        _cleanup_free_ char *ixt = th_read(ixp);
        _cleanup_publish_index_ struct skiff_publish_index *ix = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_publish_index_parse(ixt, strlen(ixt), &ix, &err), 0, "%s",
                     skiff_error_msg(err));
        cr_assert_str_eq(ix->environment, "acme/hello");
        cr_assert_eq(ix->n_entries, 2);
        cr_assert_eq(ix->entries[0].generation, 1);
        cr_assert_str_eq(ix->entries[0].description, "first");
        cr_assert_str_eq(ix->entries[1].created, "2023-11-14T22:14:20Z");
        uint8_t h[32];
        char hex[65];
        skiff_sha256_oneshot(json2, strlen(json2), h);
        skiff_hex_encode(h, 32, hex);
        cr_assert_str_eq(ix->entries[1].sha256, hex);
}

Test(publish, next_generation_skips_existing_files)
{
        char *caches[] = {F.cache_url, NULL};
        struct skiff_publish_package p[] = {{F.hello, 5}};
        struct skiff_publish_options o = opts("acme/skip", caches);
        o.packages = p;
        o.n_packages = 1;
        cr_assert_eq(publish_ok(&o), 1);
        /* A stray signature of generation 4 (say, from an interrupted copy) is never replaced. */
        _cleanup_free_ char *stray = env_file("acme/skip", "4.json.sig");
        th_write(stray, "nobody:AAAA\n");
        cr_assert_eq(publish_ok(&o), 5);
        _cleanup_free_ char *s = th_read(stray);
        cr_assert_str_eq(s, "nobody:AAAA\n");
        uint32_t hi = 0;
        _cleanup_free_ char *dir = xasprintf("%s/skiff/v1/acme/skip", F.hub);
        cr_assert_eq(skiff_publish_index_highest(dir, &hi, NULL), 0);
        cr_assert_eq(hi, 5);
}

Test(publish, includes_compose_packages_vars_hooks_requires)
{
        char *caches[] = {F.cache_url, NULL};
        struct skiff_publish_package pb[] = {{F.tools, 5}};
        char *bvars[] = {"A", "1", "B", "1", NULL};
        char *breq[] = {"cuda", ">=12", NULL};
        struct skiff_publish_options ob = opts("acme/base", caches);
        ob.packages = pb;
        ob.n_packages = 1;
        ob.vars = bvars;
        ob.requires = breq;
        ob.on_activate = "echo base";
        ob.live = true;
        cr_assert_eq(publish_ok(&ob), 1);

        struct skiff_publish_package pa[] = {{F.hello, 4}};
        char *avars[] = {"B", "2", "C", "3", NULL};
        char *areq[] = {"cuda", "<13", "driver", ">=535", NULL};
        char *incs[] = {"acme/base", NULL}; /* unpinned: resolved through `live` */
        struct skiff_publish_options oa = opts("acme/app", caches);
        oa.packages = pa;
        oa.n_packages = 1;
        oa.vars = avars;
        oa.requires = areq;
        oa.on_activate = "echo app\n";
        oa.includes = incs;
        cr_assert_eq(publish_ok(&oa), 1);

        _cleanup_generation_ struct skiff_generation *g = hub_get("acme/app", 1, NULL);
        cr_assert_eq(g->n_includes, 1);
        _cleanup_free_ char *inc = skiff_ref_format(&g->includes[0]);
        cr_assert_str_eq(inc, "acme/base@1");
        const struct skiff_generation_system *s = skiff_generation_system(g, "x86_64-linux");
        cr_assert_eq(s->n_packages, 2);
        cr_assert_str_eq(s->packages[0].path, F.tools);
        cr_assert_eq(s->packages[0].priority, 5);
        cr_assert_str_eq(s->packages[1].path, F.hello);
        cr_assert_eq(s->packages[1].priority, 4);
        cr_assert_eq(s->n_closure, 2);
        /* vars sorted by the writer: A=1 (base), B=2 (later wins), C=3 */
        cr_assert_str_eq(g->vars[0], "A");
        cr_assert_str_eq(g->vars[1], "1");
        cr_assert_str_eq(g->vars[2], "B");
        cr_assert_str_eq(g->vars[3], "2");
        cr_assert_str_eq(g->vars[5], "3");
        cr_assert_str_eq(g->on_activate, "echo base\necho app\n");
        cr_assert_eq(g->n_requires, 2);
        cr_assert_str_eq(g->requires[0].name, "cuda");
        cr_assert_str_eq(g->requires[0].constraint, ">=12,<13");
        cr_assert_str_eq(g->requires[1].constraint, ">=535");

        /* The same package in a later layer replaces the included one. */
        struct skiff_publish_package pr[] = {{F.tools, 1}};
        char *incs2[] = {"acme/base@1", NULL};
        struct skiff_publish_options o2 = opts("acme/app", caches);
        o2.packages = pr;
        o2.n_packages = 1;
        o2.includes = incs2;
        cr_assert_eq(publish_ok(&o2), 2);
        _cleanup_generation_ struct skiff_generation *g2 = hub_get("acme/app", 2, NULL);
        cr_assert_eq(g2->systems[0].n_packages, 1);
        cr_assert_eq(g2->systems[0].packages[0].priority, 1);
}

Test(publish, equal_priority_conflict_names_both_paths)
{
        char *caches[] = {F.cache_url, NULL};
        struct skiff_publish_package px[] = {{F.hello, 5}}, py[] = {{F.greet, 5}};
        struct skiff_publish_options ox = opts("acme/x", caches), oy = opts("acme/y", caches);
        ox.packages = px;
        ox.n_packages = 1;
        oy.packages = py;
        oy.n_packages = 1;
        cr_assert_eq(publish_ok(&ox), 1);
        cr_assert_eq(publish_ok(&oy), 1);

        char *incs[] = {"acme/x@1", "acme/y@1", NULL};
        struct skiff_publish_options oz = opts("acme/z", caches);
        oz.includes = incs;
        _cleanup_free_ char *work = xasprintf("%s/work", F.tmp);
        oz.work_store = work;
        struct skiff_publish_result res = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_publish_run(&oz, &res, &err), -EEXIST);
        cr_assert(strstr(err->msg, F.hello) && strstr(err->msg, F.greet), "%s", err->msg);
        cr_assert(strstr(err->msg, "bin/hello"), "%s", err->msg);
        skiff_error_free(&err);
        _cleanup_free_ char *doc = env_file("acme/z", "1.json");
        struct stat st;
        cr_assert_eq(stat(doc, &st), -1, "nothing published on conflict");

        /* With a lower priority number for greet, it wins and the publish succeeds. */
        struct skiff_publish_package pg[] = {{F.greet, 1}};
        oz.packages = pg;
        oz.n_packages = 1;
        cr_assert_eq(skiff_publish_run(&oz, &res, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(res.generation, 1);
        cr_assert_eq(res.check, SKIFF_PUBLISH_CHECK_REALIZED);
        skiff_publish_result_done(&res);
        _cleanup_free_ char *in_store = xasprintf("%s/store/%s", work, F.greet + 11);
        cr_assert_eq(stat(in_store, &st), 0, "the closure was realized into the work store");
}

/* A narinfo-only cache (no NARs needed to resolve a closure): top -> mid -> leaf, leaf refers
 * to itself. */
struct fake {
        char *top, *mid, *leaf;
};

static void fake_narinfo(const char *dir, const char *path, char **refs, const char *url,
                         const char *comp, const struct skiff_sig_seckey *sk)
{
        struct skiff_narinfo ni = {0};
        ni.store_path = (char *)path;
        ni.url = (char *)url;
        ni.compression = (char *)comp;
        ni.has_file_hash = true;
        _cleanup_free_ char *fh = th_hash(path), *nh = th_hash(url);
        cr_assert_eq(skiff_nixhash_parse(fh, &ni.file_hash, NULL), 0);
        ni.file_size = 123;
        cr_assert_eq(skiff_nixhash_parse(nh, &ni.nar_hash, NULL), 0);
        ni.nar_size = 456;
        _cleanup_strv_ char **bases = NULL;
        for (char **r = refs; r && *r; r++)
                skiff_strv_push(&bases, strrchr(*r, '/') + 1);
        ni.references = bases ? bases : (char *[]){NULL};
        _cleanup_free_ char *fp = skiff_narinfo_fingerprint(&ni, "/nix/store");
        _cleanup_free_ char *sig = NULL;
        cr_assert_eq(skiff_sig_sign(sk, fp, strlen(fp), &sig, NULL), 0);
        char *sigs[] = {sig, NULL};
        ni.sigs = sigs;
        _cleanup_free_ char *text = skiff_narinfo_format(&ni);
        _cleanup_free_ char *p = xasprintf("%s/%.32s.narinfo", dir, strrchr(path, '/') + 1);
        th_write(p, text);
}

static struct fake make_fake(const char *dir, const struct skiff_sig_seckey *sk,
                             const char *top_url)
{
        struct fake f = {
            .top = th_store_path("/nix/store", dir, "top-1.0"),
            .mid = th_store_path("/nix/store", "mid", "mid-2"),
            .leaf = th_store_path("/nix/store", "leaf", "leaf-3.1"),
        };
        char *tr[] = {f.mid, NULL}, *mr[] = {f.leaf, NULL}, *lr[] = {f.leaf, NULL};
        fake_narinfo(dir, f.top, tr, top_url, "xz", sk);
        fake_narinfo(dir, f.mid, mr, "nar/mid.nar", "none", sk);
        fake_narinfo(dir, f.leaf, lr, "nar/leaf.nar.zst", "zstd", sk);
        return f;
}

Test(publish, closure_follows_references_and_checks_narinfo)
{
        _cleanup_free_ char *dir = xasprintf("%s/fake", F.tmp);
        _cleanup_free_ char *abs_url = xasprintf("file://%s/nar/top.nar.xz", dir);
        struct fake f = make_fake(dir, &F.sk, abs_url);
        _cleanup_free_ char *url = xasprintf("file://%s/", dir);
        char *caches[] = {F.cache_url, url, NULL};
        _cleanup_fetch_ struct skiff_fetch *fe = NULL;
        cr_assert_eq(skiff_fetch_global_init(NULL), 0);
        cr_assert_eq(skiff_fetch_new(F.cfg, &fe, NULL), 0);
        char *roots[] = {f.top, NULL};
        struct skiff_generation_path *c = NULL;
        size_t n = 0;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_publish_resolve_closure(fe, caches, "/nix/store", &F.pk, 1, roots, NULL,
                                                   0, &c, &n, &err),
                     0, "%s", skiff_error_msg(err));
        cr_assert_eq(n, 3);
        for (size_t i = 0; i < n; i++) {
                if (strcmp(c[i].path, f.top) == 0) {
                        cr_assert_str_eq(c[i].url, "nar/top.nar.xz", "made cache-relative");
                        cr_assert_str_eq(c[i].references[0], f.mid);
                } else if (strcmp(c[i].path, f.leaf) == 0) {
                        cr_assert_str_eq(c[i].references[0], f.leaf);
                        cr_assert_str_eq(c[i].compression, "zstd");
                } else {
                        cr_assert_str_eq(c[i].path, f.mid);
                        cr_assert_str_eq(c[i].compression, "none");
                }
                cr_assert_eq(c[i].nar_size, 456);
                cr_assert(c[i].has_file);
        }
        cr_assert_lt(strcmp(c[0].path, c[1].path), 0);
        skiff_publish_closure_free(c, n);

        /* Signed by a key that is not trusted. */
        cr_assert_eq(skiff_publish_resolve_closure(fe, caches, "/nix/store", &F.other_pk, 1, roots,
                                                   NULL, 0, &c, &n, &err),
                     -EPERM);
        cr_assert(strstr(err->msg, "no valid signature"), "%s", err->msg);
        skiff_error_free(&err);

        /* A path no cache has. */
        _cleanup_free_ char *missing = th_store_path("/nix/store", "nope", "missing-1");
        char *mroots[] = {missing, NULL};
        cr_assert_eq(skiff_publish_resolve_closure(fe, caches, "/nix/store", NULL, 0, mroots, NULL,
                                                   0, &c, &n, &err),
                     -ENOENT);
        cr_assert(strstr(err->msg, missing), "%s", err->msg);
        skiff_error_free(&err);

        /* A known entry (from an included document) is used without any narinfo. */
        char *no_refs[] = {NULL};
        struct skiff_generation_path known = {.path = missing,
                                              .nar_size = 9,
                                              .references = no_refs,
                                              .has_file = true,
                                              .url = "nar/m.nar",
                                              .compression = "none",
                                              .file_size = 9};
        cr_assert_eq(skiff_publish_resolve_closure(fe, caches, "/nix/store", NULL, 0, mroots,
                                                   &known, 1, &c, &n, &err),
                     0, "%s", skiff_error_msg(err));
        cr_assert_eq(n, 1);
        cr_assert_str_eq(c[0].url, "nar/m.nar");
        skiff_publish_closure_free(c, n);

        /* Unsupported compression and URLs outside the cache. */
        _cleanup_free_ char *dir2 = xasprintf("%s/fake2", F.tmp);
        struct fake g = make_fake(dir2, &F.sk, "https://elsewhere.example/nar/x.nar.xz");
        _cleanup_free_ char *url2 = xasprintf("file://%s", dir2);
        char *caches2[] = {url2, NULL};
        char *groots[] = {g.top, NULL};
        cr_assert_eq(skiff_publish_resolve_closure(fe, caches2, "/nix/store", NULL, 0, groots, NULL,
                                                   0, &c, &n, &err),
                     -EINVAL);
        cr_assert(strstr(err->msg, "outside the cache"), "%s", err->msg);
        skiff_error_free(&err);
        char *tr[] = {g.mid, NULL};
        fake_narinfo(dir2, g.top, tr, "nar/top.nar.lz4", "lz4", &F.sk);
        cr_assert_eq(skiff_publish_resolve_closure(fe, caches2, "/nix/store", NULL, 0, groots, NULL,
                                                   0, &c, &n, &err),
                     -ENOTSUP);
        cr_assert(strstr(err->msg, "`lz4`"), "%s", err->msg);
        skiff_error_free(&err);
        free(f.top), free(f.mid), free(f.leaf), free(g.top), free(g.mid), free(g.leaf);
}

Test(publish, closure_listing_packages_are_its_roots)
{
        _cleanup_free_ char *dir = xasprintf("%s/fake", F.tmp);
        _cleanup_free_ char *u = xasprintf("file://%s", dir);
        struct fake f = make_fake(dir, &F.sk, "nar/top.nar.xz");
        char *caches[] = {u, NULL};
        char *list[] = {f.leaf, f.top, f.mid, NULL};
        struct skiff_publish_options o = opts("acme/listed", caches);
        o.closure_list = list;
        o.closure_priority = 2;
        struct skiff_publish_result res = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_publish_run(&o, &res, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(res.n_packages, 1);
        cr_assert_eq(res.n_closure, 3);
        cr_assert_eq(res.nar_size, 3 * 456);
        skiff_publish_result_done(&res);
        _cleanup_generation_ struct skiff_generation *g = hub_get("acme/listed", 1, NULL);
        cr_assert_str_eq(g->systems[0].packages[0].path, f.top);
        cr_assert_str_eq(g->systems[0].packages[0].name, "top-1.0");
        cr_assert_eq(g->systems[0].packages[0].priority, 2);

        /* Narinfo signatures by an untrusted key fail the publish when checked... */
        struct fake h = make_fake(dir, &F.other_sk, "nar/top.nar.xz");
        char *list2[] = {h.top, NULL};
        o.closure_list = list2;
        cr_assert_eq(skiff_publish_run(&o, &res, &err), -EPERM);
        skiff_error_free(&err);
        /* ...and pass when not. */
        o.check_sigs = false;
        cr_assert_eq(skiff_publish_run(&o, &res, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(res.generation, 2);
        skiff_publish_result_done(&res);
        free(f.top), free(f.mid), free(f.leaf), free(h.top), free(h.mid), free(h.leaf);
}

Test(publish, bad_options_and_includes)
{
        char *caches[] = {F.cache_url, NULL};
        struct skiff_publish_package p[] = {{F.hello, 5}};
        struct skiff_publish_result res = {0};
        skiff_err_t err = NULL;
        struct skiff_publish_options o = opts("acme/app@3", caches);
        o.packages = p;
        o.n_packages = 1;
        cr_assert_eq(skiff_publish_run(&o, &res, &err), -EINVAL);
        cr_assert(strstr(err->msg, "expected owner/name"), "%s", err->msg);
        skiff_error_free(&err);

        o.environment = "acme/app";
        char *incs[] = {"acme/nothere@1", NULL};
        o.includes = incs;
        cr_assert_eq(skiff_publish_run(&o, &res, &err), -ENOENT);
        cr_assert(strstr(err->msg, "include `acme/nothere@1`"), "%s", err->msg);
        skiff_error_free(&err);

        /* An include signed by a key the publisher does not trust. */
        struct skiff_publish_options ob = opts("acme/foreign", caches);
        ob.packages = p;
        ob.n_packages = 1;
        ob.key = &F.other_sk;
        ob.trusted = NULL;
        ob.ntrusted = 0;
        ob.check_sigs = false;
        cr_assert_eq(publish_ok(&ob), 1);
        char *incs2[] = {"acme/foreign@1", NULL};
        o.includes = incs2;
        cr_assert_eq(skiff_publish_run(&o, &res, &err), -EPERM);
        cr_assert(strstr(err->msg, "acme/foreign@1"), "%s", err->msg);
        skiff_error_free(&err);

        /* A package outside the store dir. */
        o.includes = NULL;
        struct skiff_publish_package bad[] = {{"/usr/bin/hello", 5}};
        o.packages = bad;
        cr_assert_eq(skiff_publish_run(&o, &res, &err), -EINVAL);
        cr_assert(strstr(err->msg, "/usr/bin/hello"), "%s", err->msg);
        skiff_error_free(&err);

        /* A bad variable name is caught by the document validation before anything is written. */
        o.packages = p;
        char *vars[] = {"SKIFF_X", "1", NULL};
        o.vars = vars;
        cr_assert_eq(skiff_publish_run(&o, &res, &err), -EINVAL);
        cr_assert(strstr(err->msg, "SKIFF_X"), "%s", err->msg);
        skiff_error_free(&err);
        _cleanup_free_ char *doc = env_file("acme/app", "1.json");
        struct stat st;
        cr_assert_eq(stat(doc, &st), -1);
}

Test(publish, index_round_trip_and_errors)
{
        const char *doc = "{\"schema\": \"skiff.dev/index/v1\", \"environment\": \"acme/app\", "
                          "\"generations\": [{\"generation\": 2, \"created\": "
                          "\"2024-05-01T12:00:00Z\", \"sha256\": "
                          "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"},"
                          " {\"generation\": 1, \"created\": \"2024-04-01T12:00:00Z\", "
                          "\"sha256\": "
                          "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\", "
                          "\"description\": \"d\"}]}";
        _cleanup_publish_index_ struct skiff_publish_index *ix = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_publish_index_parse(doc, strlen(doc), &ix, &err), 0, "%s",
                     skiff_error_msg(err));
        cr_assert_eq(ix->n_entries, 2);
        cr_assert_eq(ix->entries[0].generation, 1, "sorted by generation");
        _cleanup_free_ char *out = NULL;
        size_t len = 0;
        cr_assert_eq(skiff_publish_index_write(ix, &out, &len, NULL), 0);
        _cleanup_publish_index_ struct skiff_publish_index *ix2 = NULL;
        cr_assert_eq(skiff_publish_index_parse(out, len, &ix2, NULL), 0);
        cr_assert_str_eq(ix2->entries[0].description, "d");
        cr_assert_null(ix2->entries[1].description);

        const char *bad[][2] = {
            {"{\"schema\": \"x\", \"environment\": \"a/b\", \"generations\": []}", "schema"},
            {"{\"schema\": \"skiff.dev/index/v1\", \"environment\": \"a/b\", \"generations\": "
             "[{\"generation\": 0, \"created\": \"2024-05-01T12:00:00Z\", \"sha256\": "
             "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}]}",
             "generations[0].generation"},
            {"{\"schema\": \"skiff.dev/index/v1\", \"environment\": \"a/b\", \"generations\": "
             "[{\"generation\": 1, \"created\": \"2024-05-01T12:00:00Z\", \"sha256\": \"ab\"}]}",
             "generations[0].sha256"},
            {"{\"schema\": \"skiff.dev/index/v1\", \"environment\": \"a/b\", \"generations\": "
             "[{\"generation\": 1, \"created\": \"yesterday\", \"sha256\": "
             "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}]}",
             "generations[0].created"},
            {"{\"schema\": \"skiff.dev/index/v1\", \"environment\": \"a/b\", \"generations\": [], "
             "\"extra\": 1}",
             "extra"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct skiff_publish_index *x = NULL;
                cr_assert_lt(skiff_publish_index_parse(bad[i][0], strlen(bad[i][0]), &x, &err), 0,
                             "accepted %s", bad[i][0]);
                cr_assert(strstr(err->msg, bad[i][1]), "`%s` lacks `%s`", err->msg, bad[i][1]);
                skiff_error_free(&err);
        }
}
