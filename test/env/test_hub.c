#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "env/generation.h"
#include "env/hub.h"
#include "env/ref.h"
#include "env_helpers.h"
#include "store/config.h"
#include "store/sig.h"

struct fixture {
        char *tmp;
        char *hubdir; /* the hub tree */
        char *store;  /* node store root */
        struct skiff_sig_seckey sk;
        struct skiff_sig_pubkey pk;
        struct skiff_config *cfg;
};

static void publish(struct fixture *f, const char *env, unsigned gen, const char *tag, bool sign)
{
        _cleanup_free_ char *doc = th_doc(gen, tag);
        if (strcmp(env, "acme/app") != 0) {
                _cleanup_free_ char *q = xasprintf("\"%s\"", env);
                char *d2 = th_replace(doc, "\"acme/app\"", q);
                free(doc);
                doc = d2;
        }
        _cleanup_free_ char *p = xasprintf("%s/skiff/v1/%s/%u.json", f->hubdir, env, gen);
        th_write(p, doc);
        if (sign) {
                _cleanup_free_ char *sig = NULL;
                cr_assert_eq(skiff_generation_sign(doc, strlen(doc), &f->sk, &sig, NULL), 0);
                _cleanup_free_ char *sp = xasprintf("%s.sig", p);
                th_write(sp, sig);
        }
        _cleanup_free_ char *lp = xasprintf("%s/skiff/v1/%s/live", f->hubdir, env);
        _cleanup_free_ char *lv = xasprintf("%u\n", gen);
        th_write(lp, lv);
}

static void setup_fixture(struct fixture *f)
{
        f->tmp = th_tmpdir();
        f->hubdir = xasprintf("%s/hub", f->tmp);
        f->store = xasprintf("%s/store", f->tmp);
        _cleanup_free_ char *sk = NULL, *pk = NULL;
        cr_assert_eq(skiff_sig_keygen("hub-1", &sk, &pk, NULL), 0);
        cr_assert_eq(skiff_sig_parse_secret(sk, &f->sk, NULL), 0);
        cr_assert_eq(skiff_sig_parse_public(pk, &f->pk, NULL), 0);
        const char *c = "{\"retries\": 0, \"connect_timeout\": 2}";
        cr_assert_eq(skiff_config_parse(c, strlen(c), &f->cfg, NULL), 0);
}

static void teardown_fixture(struct fixture *f)
{
        th_sh("rm -rf '%s'", f->tmp);
        free(f->tmp);
        free(f->hubdir);
        free(f->store);
        skiff_config_free(f->cfg);
}

static struct skiff_hub *hub_for(struct fixture *f, const char *url, bool require)
{
        _cleanup_free_ char *fu = url ? xstrdup(url) : xasprintf("file://%s", f->hubdir);
        struct skiff_hub_options o = {
            .default_url = fu,
            .store_root = f->store,
            .keys = &f->pk,
            .nkeys = 1,
            .require_signatures = require,
            .cfg = f->cfg,
        };
        struct skiff_hub *h = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_hub_new(&o, &h, &err), 0, "%s", skiff_error_msg(err));
        return h;
}

static struct skiff_ref ref_of(const char *s)
{
        struct skiff_ref r = {0};
        cr_assert_eq(skiff_ref_parse(s, true, &r, NULL), 0);
        return r;
}

Test(hub, fetches_verifies_caches_and_works_offline)
{
        struct fixture f = {0};
        setup_fixture(&f);
        publish(&f, "acme/app", 1, "one", true);
        publish(&f, "acme/app", 2, "two", true);
        _cleanup_hub_ struct skiff_hub *h = hub_for(&f, NULL, true);
        struct skiff_ref r = ref_of("acme/app@1");
        struct skiff_hub_document d = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_hub_get(h, &r, &d, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_not(d.from_cache);
        cr_assert_eq(d.generation->generation, 1);
        cr_assert_str_eq(d.key_name, "hub-1");
        cr_assert_str_eq(d.generation->vars[1], "hi one");
        _cleanup_free_ char *cp = xasprintf("%s/envs/default/acme/app/1.json", f.store);
        _cleanup_free_ char *cached = th_read(cp);
        cr_assert_str_eq(cached, d.json);
        skiff_hub_document_done(&d);

        /* The hub disappears: the cached generation still resolves, others do not. */
        th_sh("rm -rf '%s'", f.hubdir);
        cr_assert_eq(skiff_hub_get(h, &r, &d, &err), 0, "%s", skiff_error_msg(err));
        cr_assert(d.from_cache);
        cr_assert_eq(d.generation->generation, 1);
        skiff_hub_document_done(&d);
        struct skiff_ref r2 = ref_of("acme/app@2");
        cr_assert_lt(skiff_hub_get(h, &r2, &d, &err), 0);
        cr_assert(strstr(err->msg, "environment `acme/app@2`"), "%s", err->msg);
        skiff_error_free(&err);
        skiff_ref_done(&r);
        skiff_ref_done(&r2);
        teardown_fixture(&f);
}

Test(hub, tampered_cache_is_refetched)
{
        struct fixture f = {0};
        setup_fixture(&f);
        publish(&f, "acme/app", 1, "one", true);
        _cleanup_hub_ struct skiff_hub *h = hub_for(&f, NULL, true);
        struct skiff_ref r = ref_of("acme/app@1");
        struct skiff_hub_document d = {0};
        cr_assert_eq(skiff_hub_get(h, &r, &d, NULL), 0);
        skiff_hub_document_done(&d);
        _cleanup_free_ char *cp = xasprintf("%s/envs/default/acme/app/1.json", f.store);
        _cleanup_free_ char *cached = th_read(cp);
        _cleanup_free_ char *bad = th_replace(cached, "hi one", "hi evil");
        th_write(cp, bad);
        cr_assert_eq(skiff_hub_get(h, &r, &d, NULL), 0);
        cr_assert_not(d.from_cache);
        cr_assert_str_eq(d.generation->vars[1], "hi one");
        skiff_hub_document_done(&d);
        _cleanup_free_ char *again = th_read(cp);
        cr_assert_str_eq(again, cached);
        skiff_ref_done(&r);
        teardown_fixture(&f);
}

Test(hub, errors_name_what_failed)
{
        struct fixture f = {0};
        setup_fixture(&f);
        publish(&f, "acme/app", 3, "three", true);
        publish(&f, "acme/nosig", 1, "ns", false);
        publish(&f, "acme/wrong", 1, "w", true); /* document says acme/app: see below */
        _cleanup_free_ char *wp = xasprintf("%s/skiff/v1/acme/wrong/1.json", f.hubdir);
        _cleanup_free_ char *doc = th_doc(1, "w");
        th_write(wp, doc);
        _cleanup_free_ char *sig = NULL;
        cr_assert_eq(skiff_generation_sign(doc, strlen(doc), &f.sk, &sig, NULL), 0);
        _cleanup_free_ char *wsp = xasprintf("%s.sig", wp);
        th_write(wsp, sig);
        /* A document signed by an untrusted key. */
        _cleanup_free_ char *osk = NULL, *opk = NULL;
        cr_assert_eq(skiff_sig_keygen("hub-1", &osk, &opk, NULL), 0);
        struct skiff_sig_seckey other;
        cr_assert_eq(skiff_sig_parse_secret(osk, &other, NULL), 0);
        publish(&f, "acme/forged", 1, "f", false);
        _cleanup_free_ char *fp = xasprintf("%s/skiff/v1/acme/forged/1.json", f.hubdir);
        _cleanup_free_ char *fdoc = th_read(fp);
        _cleanup_free_ char *fsig = NULL;
        cr_assert_eq(skiff_generation_sign(fdoc, strlen(fdoc), &other, &fsig, NULL), 0);
        _cleanup_free_ char *fsp = xasprintf("%s.sig", fp);
        th_write(fsp, fsig);

        _cleanup_hub_ struct skiff_hub *h = hub_for(&f, NULL, true);
        static const struct {
                const char *ref, *needle;
                int rc;
        } cases[] = {
            {"acme/nope@1", "environment `acme/nope@1`: unknown environment", -ENOENT},
            {"acme/app@9", "unknown generation 9 on hub", -ENOENT},
            {"acme/app@9", "(live is 3)", -ENOENT},
            {"acme/nosig@1", "no signature", -EPERM},
            {"acme/forged@1", "no valid signature by a trusted key", -EPERM},
            {"acme/wrong@1", "describes `acme/app@1`, not `acme/wrong@1`", -EINVAL},
            {"nohub.invalid/acme/app@3", "hub unreachable and no cached document", 0},
        };
        for (size_t i = 0; i < SKIFF_ARRAY_SIZE(cases); i++) {
                struct skiff_ref r = ref_of(cases[i].ref);
                struct skiff_hub_document d = {0};
                skiff_err_t err = NULL;
                int rc = skiff_hub_get(h, &r, &d, &err);
                if (cases[i].rc)
                        cr_assert_eq(rc, cases[i].rc, "%s: %d %s", cases[i].ref, rc,
                                     skiff_error_msg(err));
                else
                        cr_assert_lt(rc, 0);
                cr_assert(strstr(err->msg, cases[i].needle), "%s: %s", cases[i].ref, err->msg);
                cr_assert_null(d.generation);
                skiff_error_free(&err);
                skiff_ref_done(&r);
        }
        /* Nothing unverified reached the cache. */
        _cleanup_free_ char *cp = xasprintf("%s/envs/default/acme/forged/1.json", f.store);
        cr_assert_neq(access(cp, F_OK), 0);
        teardown_fixture(&f);
}

Test(hub, unsigned_accepted_when_not_required)
{
        struct fixture f = {0};
        setup_fixture(&f);
        publish(&f, "acme/nosig", 1, "ns", false);
        _cleanup_hub_ struct skiff_hub *h = hub_for(&f, NULL, false);
        struct skiff_ref r = ref_of("acme/nosig@1");
        struct skiff_hub_document d = {0};
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_hub_get(h, &r, &d, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_null(d.key_name);
        skiff_hub_document_done(&d);
        skiff_ref_done(&r);
        teardown_fixture(&f);
}

Test(hub, resolves_unpinned_through_live)
{
        struct fixture f = {0};
        setup_fixture(&f);
        publish(&f, "acme/app", 1, "one", true);
        publish(&f, "acme/app", 4, "four", true);
        _cleanup_hub_ struct skiff_hub *h = hub_for(&f, NULL, true);
        struct skiff_ref r = ref_of("acme/app");
        cr_assert_eq(skiff_hub_resolve(h, &r, NULL), 0);
        cr_assert_eq(r.generation, 4);
        _cleanup_free_ char *lp = xasprintf("%s/skiff/v1/acme/app/live", f.hubdir);
        th_write(lp, "banana\n");
        struct skiff_ref r2 = ref_of("acme/app");
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_hub_resolve(h, &r2, &err), -EBADMSG);
        cr_assert(strstr(err->msg, "malformed `live`"), "%s", err->msg);
        skiff_error_free(&err);
        skiff_ref_done(&r);
        skiff_ref_done(&r2);
        teardown_fixture(&f);
}

Test(hub, locate_aliases_and_names)
{
        struct fixture f = {0};
        setup_fixture(&f);
        char *aliases[] = {"internal", "http://10.0.0.1:8080/hub/", NULL};
        struct skiff_hub_options o = {.aliases = aliases, .store_root = f.store, .cfg = f.cfg};
        _cleanup_hub_ struct skiff_hub *h = NULL;
        cr_assert_eq(skiff_hub_new(&o, &h, NULL), 0);
        struct skiff_ref r = ref_of("internal/acme/app@1");
        _cleanup_free_ char *url = NULL, *name = NULL;
        cr_assert_eq(skiff_hub_locate(h, &r, &url, &name, NULL), 0);
        cr_assert_str_eq(url, "http://10.0.0.1:8080/hub");
        cr_assert_str_eq(name, "internal");
        skiff_ref_done(&r);
        r = ref_of("hub.example.com/acme/app@1");
        free(url);
        url = NULL;
        cr_assert_eq(skiff_hub_locate(h, &r, &url, NULL, NULL), 0);
        cr_assert_str_eq(url, "https://hub.example.com");
        skiff_ref_done(&r);
        r = ref_of("acme/app@1");
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_hub_locate(h, &r, NULL, NULL, &err), -EINVAL);
        cr_assert(strstr(err->msg, "no default hub"), "%s", err->msg);
        skiff_error_free(&err);
        skiff_ref_done(&r);
        char *bad[] = {"Bad", "http://x", NULL};
        o.aliases = bad;
        struct skiff_hub *h2 = NULL;
        cr_assert_eq(skiff_hub_new(&o, &h2, &err), -EINVAL);
        skiff_error_free(&err);
        char *bad2[] = {"ok", "ftp://x", NULL};
        o.aliases = bad2;
        cr_assert_eq(skiff_hub_new(&o, &h2, &err), -EINVAL);
        skiff_error_free(&err);
        teardown_fixture(&f);
}

/* A real HTTP hub: python3 -m http.server on 127.0.0.1. */
Test(hub, http_hub)
{
        if (access("/usr/bin/python3", X_OK) != 0)
                cr_skip_test("/usr/bin/python3 missing");
        struct fixture f = {0};
        setup_fixture(&f);
        publish(&f, "acme/app", 2, "two", true);
        _cleanup_free_ char *portfile = xasprintf("%s/port", f.tmp);
        _cleanup_free_ char *script =
            xasprintf("import http.server,socketserver,os,functools\n"
                      "class H(http.server.SimpleHTTPRequestHandler):\n"
                      "  log_message=lambda *a: None\n"
                      "h=functools.partial(H,directory='%s')\n"
                      "s=socketserver.TCPServer(('127.0.0.1',0),h)\n"
                      "open('%s.tmp','w').write(str(s.server_address[1]))\n"
                      "os.rename('%s.tmp','%s')\n"
                      "s.serve_forever()\n",
                      f.hubdir, portfile, portfile, portfile);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                execl("/usr/bin/python3", "python3", "-c", script, (char *)NULL);
                _exit(127);
        }
        for (int i = 0; i < 100 && access(portfile, F_OK) != 0; i++)
                usleep(50000);
        _cleanup_free_ char *port = th_read(portfile);
        _cleanup_free_ char *url = xasprintf("http://127.0.0.1:%s", port);
        _cleanup_hub_ struct skiff_hub *h = hub_for(&f, url, true);
        struct skiff_ref r = ref_of("acme/app");
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_hub_resolve(h, &r, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_eq(r.generation, 2);
        struct skiff_hub_document d = {0};
        cr_assert_eq(skiff_hub_get(h, &r, &d, &err), 0, "%s", skiff_error_msg(err));
        cr_assert_not(d.from_cache);
        skiff_hub_document_done(&d);
        struct skiff_ref r9 = ref_of("acme/app@9");
        cr_assert_eq(skiff_hub_get(h, &r9, &d, &err), -ENOENT);
        cr_assert(strstr(err->msg, "unknown generation 9"), "%s", err->msg);
        skiff_error_free(&err);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        /* Server gone: the cached document is used, an uncached one reports the outage. */
        cr_assert_eq(skiff_hub_get(h, &r, &d, &err), 0, "%s", skiff_error_msg(err));
        cr_assert(d.from_cache);
        skiff_hub_document_done(&d);
        struct skiff_ref r1 = ref_of("acme/app@1");
        cr_assert_lt(skiff_hub_get(h, &r1, &d, &err), 0);
        cr_assert(strstr(err->msg, "hub unreachable and no cached document"), "%s", err->msg);
        skiff_error_free(&err);
        skiff_ref_done(&r);
        skiff_ref_done(&r1);
        skiff_ref_done(&r9);
        teardown_fixture(&f);
}
