#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "env/annotations.h"

#define KV(...) ((char *[]){__VA_ARGS__, NULL})

static int parse(char **kv, const char *ctr, struct skiff_annotations *a, skiff_err_t *err)
{
        return skiff_annotations_parse(kv, ctr, false, a, err);
}

Test(annotations, not_opted_in_without_environment)
{
        struct skiff_annotations a;
        cr_assert_eq(
            parse(KV("io.kubernetes.cri.container-name", "app", "other/key", "x"), "app", &a, NULL),
            0);
        cr_assert_not(a.opted_in);
        cr_assert_eq(a.n_layers, 0);
        cr_assert_eq(a.view, SKIFF_ANNOTATIONS_VIEW_CLOSURE);
        cr_assert_eq(a.realize_timeout, 0);
        skiff_annotations_done(&a);
        cr_assert_eq(skiff_annotations_parse(NULL, NULL, false, &a, NULL), 0);
        cr_assert_not(a.opted_in);
        skiff_annotations_done(&a);
}

Test(annotations, layers_in_order)
{
        struct skiff_annotations a;
        skiff_err_t err = NULL;
        cr_assert_eq(
            parse(KV("skiff.dev/environment", "acme/base@1, hub.io/acme/app@3"), "app", &a, &err),
            0, "%s", skiff_error_msg(err));
        cr_assert(a.opted_in);
        cr_assert_eq(a.n_layers, 2);
        cr_assert_str_eq(a.layers[0].name, "base");
        cr_assert_eq(a.layers[0].generation, 1);
        cr_assert_str_eq(a.layers[1].hub, "hub.io");
        cr_assert_eq(a.layers[1].generation, 3);
        cr_assert_eq(a.n_all_refs, 2);
        skiff_annotations_done(&a);
}

Test(annotations, per_container_override)
{
        char **kv = KV("skiff.dev/environment", "acme/app@7", "skiff.dev/environment.train",
                       "acme/train@2", "skiff.dev/store-view.train", "store",
                       "skiff.dev/realize-timeout", "30", "skiff.dev/realize-timeout.other", "90");
        struct skiff_annotations a;
        cr_assert_eq(parse(kv, "train", &a, NULL), 0);
        cr_assert_eq(a.n_layers, 1);
        cr_assert_str_eq(a.layers[0].name, "train");
        cr_assert_eq(a.view, SKIFF_ANNOTATIONS_VIEW_STORE);
        cr_assert_eq(a.realize_timeout, 30);
        cr_assert_eq(a.n_all_refs, 2);
        skiff_annotations_done(&a);

        cr_assert_eq(parse(kv, "other", &a, NULL), 0);
        cr_assert_str_eq(a.layers[0].name, "app");
        cr_assert_eq(a.view, SKIFF_ANNOTATIONS_VIEW_CLOSURE);
        cr_assert_eq(a.realize_timeout, 90);
        skiff_annotations_done(&a);

        /* The sandbox sees pod-level values only, but every reference. */
        cr_assert_eq(parse(kv, NULL, &a, NULL), 0);
        cr_assert_str_eq(a.layers[0].name, "app");
        cr_assert_eq(a.realize_timeout, 30);
        cr_assert_eq(a.n_all_refs, 2);
        skiff_annotations_done(&a);
}

Test(annotations, skip_lists)
{
        char **kv = KV("skiff.dev/environment", "acme/app@7", "skiff.dev/skip-containers",
                       "sidecar, istio-proxy", "skiff.dev/skip-exec", "debug");
        struct skiff_annotations a;
        cr_assert_eq(parse(kv, "sidecar", &a, NULL), 0);
        cr_assert(a.skipped);
        cr_assert_not(a.skip_exec);
        skiff_annotations_done(&a);
        cr_assert_eq(parse(kv, "debug", &a, NULL), 0);
        cr_assert_not(a.skipped);
        cr_assert(a.skip_exec);
        cr_assert(a.opted_in);
        skiff_annotations_done(&a);
        cr_assert_eq(parse(kv, NULL, &a, NULL), 0);
        cr_assert_not(a.skipped);
        cr_assert_not(a.skip_exec);
        skiff_annotations_done(&a);
        cr_assert_eq(parse(KV("skiff.dev/skip-exec", ""), "x", &a, NULL), 0);
        cr_assert_not(a.skip_exec);
        skiff_annotations_done(&a);
}

Test(annotations, strict_errors_name_the_annotation)
{
        static const struct {
                const char *key, *value, *msg;
                int rc;
        } bad[] = {
            {"skiff.dev/store-view", "foo",
             "annotation `skiff.dev/store-view`: unknown value `foo` (expected closure or "
             "store)",
             -EINVAL},
            {"skiff.dev/store-view", "Closure", "unknown value `Closure`", -EINVAL},
            {"skiff.dev/realize-timeout", "0", "annotation `skiff.dev/realize-timeout`", -EINVAL},
            {"skiff.dev/realize-timeout", "10s", "invalid value `10s`", -EINVAL},
            {"skiff.dev/realize-timeout", "-5", "invalid value", -EINVAL},
            {"skiff.dev/realize-timeout", "030", "invalid value", -EINVAL},
            {"skiff.dev/realize-timeout", "3601", "maximum", -ERANGE},
            {"skiff.dev/realize-timeout", "99999999999", "invalid value", -EINVAL},
            {"skiff.dev/environment", "", "empty value", -EINVAL},
            {"skiff.dev/environment", "acme/a@1,,acme/b@1", "empty item", -EINVAL},
            {"skiff.dev/environment", "acme/a@1,acme/a@2", "listed twice", -EINVAL},
            {"skiff.dev/environment", "acme/App@1",
             "annotation `skiff.dev/environment`: environment reference `acme/App@1`: invalid "
             "name",
             -EINVAL},
            {"skiff.dev/environment", "acme/pytorch", "unpinned", -EPERM},
            {"skiff.dev/environment.train", "acme/pytorch", "unpinned", -EPERM},
            {"skiff.dev/skip-containers", "Side_car", "invalid container name `Side_car`", -EINVAL},
            {"skiff.dev/enviroment", "acme/a@1", "annotation `skiff.dev/enviroment`: unknown key",
             -EINVAL},
            {"skiff.dev/environment.", "acme/a@1", "not a valid container name", -EINVAL},
            {"skiff.dev/environment.Bad", "acme/a@1", "`Bad` is not a valid container name",
             -EINVAL},
            {"skiff.dev/", "x", "unknown key", -EINVAL},
            {NULL, NULL, NULL, 0},
        };
        for (size_t i = 0; bad[i].key; i++) {
                struct skiff_annotations a = {0};
                skiff_err_t err = NULL;
                char *kv[] = {"io.kubernetes.cri.container-name", "app", (char *)bad[i].key,
                              (char *)bad[i].value, NULL};
                int rc = parse(kv, "app", &a, &err);
                cr_assert_eq(rc, bad[i].rc, "%s=%s: rc %d", bad[i].key, bad[i].value, rc);
                cr_assert(strstr(err->msg, bad[i].msg), "%s=%s: %s", bad[i].key, bad[i].value,
                          err->msg);
                cr_assert_not(a.opted_in);
                skiff_error_free(&err);
        }
}

Test(annotations, overrides_for_other_containers_are_still_checked)
{
        struct skiff_annotations a;
        skiff_err_t err = NULL;
        cr_assert_eq(parse(KV("skiff.dev/store-view.sidecar", "bogus"), "app", &a, &err), -EINVAL);
        cr_assert(strstr(err->msg, "skiff.dev/store-view.sidecar"), "%s", err->msg);
        skiff_error_free(&err);
}

Test(annotations, unpinned_allowed_by_node)
{
        struct skiff_annotations a;
        cr_assert_eq(
            skiff_annotations_parse(KV("skiff.dev/environment", "acme/app"), "x", true, &a, NULL),
            0);
        cr_assert_eq(a.layers[0].generation, 0);
        skiff_annotations_done(&a);
}

Test(annotations, duplicate_and_missing_values)
{
        struct skiff_annotations a;
        skiff_err_t err = NULL;
        cr_assert_eq(
            parse(KV("skiff.dev/environment", "acme/a@1", "skiff.dev/environment", "acme/a@1"), "x",
                  &a, &err),
            -EINVAL);
        cr_assert(strstr(err->msg, "duplicate"), "%s", err->msg);
        skiff_error_free(&err);
        char *odd[] = {"skiff.dev/environment", NULL};
        cr_assert_eq(parse(odd, "x", &a, &err), -EINVAL);
        cr_assert(strstr(err->msg, "missing value"), "%s", err->msg);
        skiff_error_free(&err);
}

Test(annotations, too_many_layers)
{
        char buf[1024] = "";
        for (int i = 0; i <= SKIFF_ANNOTATIONS_LAYERS_MAX; i++)
                snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%sacme/e%d@1", i ? "," : "",
                         i);
        struct skiff_annotations a;
        skiff_err_t err = NULL;
        cr_assert_eq(parse(KV("skiff.dev/environment", buf), "x", &a, &err), -EINVAL);
        cr_assert(strstr(err->msg, "layers"), "%s", err->msg);
        skiff_error_free(&err);
}

Test(annotations, container_name_from_cri)
{
        cr_assert_str_eq(
            skiff_annotations_container_name(KV("io.kubernetes.cri.container-type", "container",
                                                "io.kubernetes.cri.container-name", "train")),
            "train");
        cr_assert_null(
            skiff_annotations_container_name(KV("io.kubernetes.cri.container-type", "sandbox")));
        cr_assert_null(skiff_annotations_container_name(NULL));
}
