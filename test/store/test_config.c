#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "store/config.h"
#include "store_helpers.h"

static struct skiff_config *parse_ok(const char *doc)
{
        struct skiff_config *c = NULL;
        skiff_err_t err = NULL;
        cr_assert_eq(skiff_config_parse(doc, strlen(doc), &c, &err), 0, "%s", skiff_error_msg(err));
        return c;
}

static void parse_err(const char *doc, const char *needle)
{
        struct skiff_config *c = NULL;
        skiff_err_t err = NULL;
        cr_assert_lt(skiff_config_parse(doc, strlen(doc), &c, &err), 0, "accepted %s", doc);
        cr_assert(strstr(err->msg, needle), "`%s` lacks `%s`", err->msg, needle);
        skiff_error_free(&err);
}

Test(config, defaults)
{
        _cleanup_config_ struct skiff_config *c = parse_ok("{}");
        cr_assert_str_eq(c->store_root, "/var/lib/skiff");
        cr_assert_str_eq(c->store_dir, "/nix/store");
        cr_assert(c->require_signatures);
        cr_assert_eq(c->parallelism, 8);
        cr_assert_eq(c->keep_generations, 3);
        cr_assert_eq(c->nkeys, 1);
        cr_assert_str_eq(c->substituters[0], "https://cache.nixos.org");
}

Test(config, full_document_and_credentials)
{
        _cleanup_config_ struct skiff_config *c = parse_ok(
            "{\"store_root\": \"/srv/skiff\", \"substituters\": [\"file:///c\", "
            "\"http://127.0.0.1:1/\"], \"trusted_public_keys\": "
            "[\"k:Yro8jE3UwCfpvC0XfuK04jfclubFaWrG5Z1G2+QrtuQ=\"], \"require_signatures\": false,"
            " \"parallelism\": 4, \"connect_timeout\": 3, \"low_speed_timeout\": 9, "
            "\"retries\": 0, \"realize_timeout\": 60, \"keep_generations\": 1, "
            "\"allow_unpinned\": true, \"gc_max_size\": \"20G\", \"credentials\": "
            "{\"cache.example\": {\"bearer_token\": \"t\"}, \"Other.Example\": "
            "{\"username\": \"u\", \"password\": \"p\"}}}");
        cr_assert(!c->require_signatures && c->allow_unpinned);
        cr_assert_eq(c->parallelism, 4);
        cr_assert_eq(c->gc_max_size, 20ULL << 30);
        cr_assert_str_eq(c->keys[0].name, "k");
        cr_assert_str_eq(skiff_config_cred_for(c, "cache.example")->bearer_token, "t");
        cr_assert_str_eq(skiff_config_cred_for(c, "other.example")->password, "p");
        cr_assert_null(skiff_config_cred_for(c, "nowhere"));
}

Test(config, errors_name_the_key)
{
        parse_err("{\"parallel\": 3}", "parallel: unknown key");
        parse_err("{\"parallelism\": \"8\"}", "parallelism");
        parse_err("{\"parallelism\": 0}", "parallelism");
        parse_err("{\"parallelism\": 65}", "parallelism");
        parse_err("{\"require_signatures\": 1}", "require_signatures");
        parse_err("{\"store_root\": \"relative\"}", "store_root");
        parse_err("{\"substituters\": [\"ftp://x\"]}", "substituters[0]");
        parse_err("{\"trusted_public_keys\": [\"bad\"]}", "trusted_public_keys[0]");
        parse_err("{\"credentials\": {\"h\": {\"token\": \"x\"}}}", "credentials.h.token");
        parse_err("{\"credentials\": {\"h\": {\"username\": \"x\"}}}", "credentials.h");
        parse_err("{\"gc_max_size\": \"lots\"}", "gc_max_size");
        parse_err("[]", "expected an object");
}

Test(config, sizes)
{
        uint64_t v = 0;
        cr_assert_eq(skiff_config_parse_size("123", &v), 0);
        cr_assert_eq(v, 123);
        cr_assert_eq(skiff_config_parse_size("1.5K", &v), 0);
        cr_assert_eq(v, 1536);
        cr_assert_eq(skiff_config_parse_size("2MiB", &v), 0);
        cr_assert_eq(v, 2 << 20);
        cr_assert_eq(skiff_config_parse_size("-1", &v), -EINVAL);
        cr_assert_eq(skiff_config_parse_size("10X", &v), -EINVAL);
}

Test(config, hub_and_aliases)
{
        _cleanup_config_ struct skiff_config *d = parse_ok("{}");
        cr_assert_null(d->hub);
        cr_assert_not_null(d->hubs);
        cr_assert_null(d->hubs[0]);

        _cleanup_config_ struct skiff_config *c =
            parse_ok("{\"hub\": \"https://hub.example.com/envs\", \"hubs\": {\"internal\": "
                     "\"http://10.0.0.1:8080\", \"local\": \"file:///srv/hub\"}}");
        cr_assert_str_eq(c->hub, "https://hub.example.com/envs");
        cr_assert_str_eq(c->hubs[0], "internal");
        cr_assert_str_eq(c->hubs[1], "http://10.0.0.1:8080");
        cr_assert_str_eq(c->hubs[2], "local");
        cr_assert_str_eq(c->hubs[3], "file:///srv/hub");
        cr_assert_null(c->hubs[4]);

        parse_err("{\"hub\": \"ftp://x\"}", "hub: unsupported URL `ftp://x`");
        parse_err("{\"hub\": 3}", "hub");
        parse_err("{\"hubs\": [\"http://x\"]}", "hubs");
        parse_err("{\"hubs\": {\"a\": 1}}", "hubs.a");
        parse_err("{\"hubs\": {\"a\": \"s3://bucket\"}}", "hubs.a: unsupported URL");
        parse_err("{\"hub_url\": \"http://x\"}", "hub_url: unknown key");
}

Test(config, gpu_section)
{
        _cleanup_config_ struct skiff_config *d = parse_ok("{}");
        cr_assert_null(d->gpu.driver_root, "absent driver_root means automatic");
        cr_assert(!d->gpu.accept_env_unprivileged);
        cr_assert(!d->gpu.probe_cuda);
        cr_assert_str_eq(d->gpu.cdi_dirs[0], "/etc/cdi");
        cr_assert_str_eq(d->gpu.cdi_dirs[1], "/var/run/cdi");
        cr_assert_null(d->gpu.cdi_dirs[2]);

        _cleanup_config_ struct skiff_config *c =
            parse_ok("{\"gpu\": {\"driver_root\": \"/usr/local/nvidia\", "
                     "\"accept_env_unprivileged\": true, \"cdi_dirs\": [\"/srv/cdi\"], "
                     "\"probe_cuda\": true}}");
        cr_assert_str_eq(c->gpu.driver_root, "/usr/local/nvidia");
        cr_assert(c->gpu.accept_env_unprivileged && c->gpu.probe_cuda);
        cr_assert_str_eq(c->gpu.cdi_dirs[0], "/srv/cdi");
        cr_assert_null(c->gpu.cdi_dirs[1]);

        _cleanup_config_ struct skiff_config *e = parse_ok("{\"gpu\": {\"cdi_dirs\": []}}");
        cr_assert_null(e->gpu.cdi_dirs[0], "an empty list turns CDI directories off");

        parse_err("{\"gpu\": {\"driverRoot\": \"/\"}}", "gpu.driverRoot: unknown key");
        parse_err("{\"gpu\": {\"driver_root\": \"usr/local\"}}", "gpu.driver_root");
        parse_err("{\"gpu\": {\"accept_env_unprivileged\": \"yes\"}}",
                  "gpu.accept_env_unprivileged");
        parse_err("{\"gpu\": {\"cdi_dirs\": [\"rel\"]}}", "gpu.cdi_dirs[0]: expected an absolute");
        parse_err("{\"gpu\": {\"cdi_dirs\": \"/etc/cdi\"}}", "gpu.cdi_dirs");
        parse_err("{\"gpu\": {\"probe_cuda\": 1}}", "gpu.probe_cuda");
        parse_err("{\"gpu\": true}", "gpu: expected an object");
}
