#include <criterion/criterion.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/strv.h"

struct sample {
        char *name;
        int64_t count;
        bool flag;
        char **tags;
};

static const struct skiff_json_field sample_fields[] = {
    {"name", skiff_json_dec_string, offsetof(struct sample, name), true},
    {"count", skiff_json_dec_i64, offsetof(struct sample, count), false},
    {"flag", skiff_json_dec_bool, offsetof(struct sample, flag), false},
    {"tags", skiff_json_dec_strv, offsetof(struct sample, tags), false},
    {NULL},
};

static void sample_clear(struct sample *s)
{
        free(s->name);
        skiff_strv_free(s->tags);
}

static int decode(const char *text, struct sample *s, skiff_err_t *err)
{
        _cleanup_json_ struct skiff_json *doc = NULL;
        int r = skiff_json_parse(text, strlen(text), &doc, err);
        if (r < 0)
                return r;
        return skiff_json_decode_object(skiff_json_root(doc), "spec", sample_fields, s, false, err);
}

Test(json, decodes_known_fields)
{
        struct sample s = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(
            decode("{\"name\":\"a\",\"count\":-5,\"flag\":true,\"tags\":[\"x\",\"y\"]}", &s, &err),
            0, "%s", skiff_error_msg(err));
        cr_assert_str_eq(s.name, "a");
        cr_assert_eq(s.count, -5);
        cr_assert(s.flag);
        cr_assert_eq(skiff_strv_len(s.tags), 2);
        cr_assert_str_eq(s.tags[1], "y");
        sample_clear(&s);
}

Test(json, unknown_key_names_path)
{
        struct sample s = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_lt(decode("{\"name\":\"a\",\"bogus\":1}", &s, &err), 0);
        cr_assert_str_eq(skiff_error_msg(err), "spec.bogus: unknown key");
        sample_clear(&s);
}

Test(json, wrong_type_names_path)
{
        struct sample s = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_lt(decode("{\"name\":\"a\",\"tags\":[\"x\",3]}", &s, &err), 0);
        cr_assert_str_eq(skiff_error_msg(err), "spec.tags[1]: expected a string, got a number");
        sample_clear(&s);
}

Test(json, missing_required)
{
        struct sample s = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_lt(decode("{\"count\":1}", &s, &err), 0);
        cr_assert_str_eq(skiff_error_msg(err), "spec.name: required key is missing");
}

Test(json, syntax_error)
{
        struct sample s = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(decode("{\"name\":", &s, &err), -EBADMSG);
        cr_assert(strncmp(skiff_error_msg(err), "invalid JSON", 12) == 0);
}

Test(json, integer_range)
{
        struct sample s = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(decode("{\"name\":\"a\",\"count\":99999999999999999999}", &s, &err), -ERANGE);
        sample_clear(&s);
}

Test(json, generator_roundtrip)
{
        _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
        skiff_json_gen_map_open(g);
        skiff_json_gen_kv_string(g, "name", "q\"x");
        skiff_json_gen_kv_u64(g, "big", UINT64_MAX);
        skiff_json_gen_map_close(g);
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_json_gen_finish(g, &out, NULL, &err), 0);
        cr_assert_str_eq(out, "{\"name\":\"q\\\"x\",\"big\":18446744073709551615}");
}

Test(json, finish_line_ends_with_exactly_one_newline)
{
        for (int pretty = 0; pretty < 2; pretty++) {
                _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(pretty);
                skiff_json_gen_map_open(g);
                skiff_json_gen_kv_string(g, "a", "b");
                skiff_json_gen_map_close(g);
                _cleanup_free_ char *out = NULL;
                size_t len = 0;
                _cleanup_error_ skiff_err_t err = NULL;
                cr_assert_eq(skiff_json_gen_finish_line(g, &out, &len, &err), 0);
                cr_assert_eq(len, strlen(out));
                cr_assert_gt(len, 1);
                cr_assert_eq(out[len - 1], '\n', "pretty %d: `%s`", pretty, out);
                cr_assert_neq(out[len - 2], '\n', "pretty %d: `%s`", pretty, out);
        }
        _cleanup_json_gen_ struct skiff_json_gen *g = skiff_json_gen_new(false);
        skiff_json_gen_map_open(g);
        skiff_json_gen_map_close(g);
        _cleanup_free_ char *out = NULL;
        cr_assert_eq(skiff_json_gen_finish_line(g, &out, NULL, NULL), 0);
        cr_assert_str_eq(out, "{}\n");
}
