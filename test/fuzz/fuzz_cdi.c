/* libFuzzer target for the CDI consumer: the input is parsed as a CDI spec file; a valid spec is
 * put in a registry and every one of its devices is resolved (merging the edits). The input is
 * also tried as a NVIDIA_VISIBLE_DEVICES value and as a CDI device name. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "gpu/cdi.h"
#include "gpu/nvenv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        skiff_err_t err = NULL;
        struct skiff_cdi_spec *spec = NULL;
        if (skiff_cdi_spec_parse((const char *)data, size, "fuzz.json", 0, &spec, &err) == 0) {
                struct skiff_cdi_registry *reg = skiff_cdi_registry_new();
                skiff_cdi_registry_add(reg, spec);
                for (size_t i = 0; i < spec->n_devices; i++) {
                        size_t n = strlen(spec->vendor) + strlen(spec->class_) +
                                   strlen(spec->devices[i].name) + 3;
                        char *name = malloc(n);
                        if (!name)
                                break;
                        strcpy(name, spec->vendor);
                        strcat(name, "/");
                        strcat(name, spec->class_);
                        strcat(name, "=");
                        strcat(name, spec->devices[i].name);
                        char *names[] = {name, NULL};
                        struct skiff_cdi_edits e = {0};
                        if (skiff_cdi_resolve(reg, names, &e, &err) == 0)
                                skiff_cdi_edits_done(&e);
                        skiff_error_free(&err);
                        free(name);
                }
                skiff_cdi_registry_free(reg);
        }
        skiff_error_free(&err);

        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        struct skiff_nvenv_devices d = {0};
        if (skiff_nvenv_parse_devices(s, &d, &err) == 0)
                skiff_nvenv_devices_done(&d);
        skiff_error_free(&err);
        unsigned caps = 0;
        (void)skiff_nvenv_parse_caps(s, &caps, &err);
        skiff_error_free(&err);
        (void)skiff_cdi_validate_name(s, &err);
        skiff_error_free(&err);
        free(s);
        return 0;
}
