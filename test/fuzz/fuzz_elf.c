/* libFuzzer target for the ELF inspector (DT_SONAME and the CUDA forward-compatibility note) and
 * the note's JSON interpretation: any input must succeed or fail cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/error.h"
#include "gpu/discover.h"
#include "gpu/elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        skiff_err_t err = NULL;
        struct skiff_elf_info info = {0};
        if (skiff_elf_inspect_mem(data, size, &info, &err) == 0 && info.cuda_note) {
                char *version = NULL;
                if (skiff_discover_parse_cuda_note(info.cuda_note, info.cuda_note_len, &version,
                                                   &err) == 0)
                        free(version);
        }
        skiff_elf_info_done(&info);
        skiff_error_free(&err);
        /* The raw input as a note descriptor too. */
        char *version = NULL;
        if (skiff_discover_parse_cuda_note((const char *)data, size, &version, &err) == 0)
                free(version);
        skiff_error_free(&err);
        return 0;
}
