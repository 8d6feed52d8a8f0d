/* libFuzzer target for the OCI spec decoders: config.json, an Exec process document and an
 * Update resources document. Each input is fed to all three; none may crash or leak. When the
 * document decodes as a spec with seccomp, the filter is also compiled (not loaded). */
#include <stddef.h>
#include <stdint.h>
#include <seccomp.h>

#include "base/error.h"
#include "oci/caps.h"
#include "oci/seccomp.h"
#include "oci/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *buf = (const char *)data;
        skiff_err_t err = NULL;

        struct skiff_spec *spec = NULL;
        if (skiff_spec_parse(buf, size, &spec, &err) == 0) {
                (void)skiff_spec_annotation(spec, "io.kubernetes.cri.container-type");
                (void)skiff_spec_has_namespace(spec, SKIFF_NS_NETWORK, NULL);
                if (spec->has_process && spec->process.has_caps) {
                        struct skiff_caps_plan plan;
                        (void)skiff_caps_plan_from_spec(&spec->process.caps, &plan, &err);
                        skiff_error_free(&err);
                }
                if (spec->linux_.has_seccomp) {
                        void *ctx = NULL;
                        if (skiff_seccomp_compile(&spec->linux_.seccomp, &ctx, &err) == 0)
                                seccomp_release(ctx);
                }
                skiff_spec_free(spec);
        }
        skiff_error_free(&err);

        struct skiff_spec_process *p = NULL;
        if (skiff_spec_process_parse(buf, size, &p, &err) == 0)
                skiff_spec_process_free(p);
        skiff_error_free(&err);

        struct skiff_spec_resources *r = NULL;
        if (skiff_spec_resources_parse(buf, size, &r, &err) == 0)
                skiff_spec_resources_free(r);
        skiff_error_free(&err);
        return 0;
}
