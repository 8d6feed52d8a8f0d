#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/xalloc.h"
#include "gpu/elf.h"

#define LIB64 SKIFF_SOURCE_DIR "/test/fixtures/gpu/driver/lib64/"
#define NOTE                                                                                       \
        "{\"format\":1,\"CUDA version\":\"13.0\",\"driver\":[535,550,565,570,575,580],"            \
        "\"device\":[1,2,7,8,9,10,11,12,13,14]}"

static char *slurp(const char *path, size_t *len)
{
        char *buf = NULL;
        cr_assert_eq(skiff_fs_read_file(path, 1 << 20, &buf, len, NULL), 0, "read %s", path);
        return buf;
}

Test(elf, reads_soname_and_cuda_note_from_a_file)
{
        struct skiff_elf_info info = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_elf_inspect_path(LIB64 "libcuda.so.580.159.04", &info, &err), 0, "%s",
                     skiff_error_msg(err));
        cr_assert_eq(info.elf_class, ELFCLASS64);
        cr_assert_eq(info.machine, EM_X86_64);
        cr_assert_str_eq(info.soname, "libcuda.so.1");
        cr_assert_str_eq(info.cuda_note, NOTE);
        cr_assert_eq(info.cuda_note_len, strlen(NOTE));
        skiff_elf_info_done(&info);
        cr_assert_null(info.soname);
}

Test(elf, library_without_note_has_only_a_soname)
{
        struct skiff_elf_info info = {0};
        cr_assert_eq(skiff_elf_inspect_path(LIB64 "libnvidia-gpucomp.so.580.159.04", &info, NULL),
                     0);
        cr_assert_str_eq(info.soname, "libnvidia-gpucomp.so.580.159.04");
        cr_assert_null(info.cuda_note);
        skiff_elf_info_done(&info);
}

Test(elf, memory_and_fd_sources_agree)
{
        size_t len = 0;
        _cleanup_free_ char *buf = slurp(LIB64 "libcuda.so.580.159.04", &len);
        struct skiff_elf_info info = {0};
        cr_assert_eq(skiff_elf_inspect_mem(buf, len, &info, NULL), 0);
        cr_assert_str_eq(info.soname, "libcuda.so.1");
        cr_assert_str_eq(info.cuda_note, NOTE);
        skiff_elf_info_done(&info);
}

Test(elf, non_elf_files_are_enoexec)
{
        struct skiff_elf_info info = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        cr_assert_eq(skiff_elf_inspect_path(LIB64 "../bin/nvidia-smi", &info, &err), -ENOEXEC);
        cr_assert(strstr(skiff_error_msg(err), "bad magic"), "%s", skiff_error_msg(err));
        cr_assert_eq(skiff_elf_inspect_mem("\177ELF", 4, &info, &err), -ENOEXEC);
        cr_assert_eq(skiff_elf_inspect_path(LIB64, &info, &err), -ENOEXEC); /* a directory */
        cr_assert_eq(skiff_elf_inspect_path(LIB64 "missing.so", &info, &err), -ENOENT);
        cr_assert(strstr(skiff_error_msg(err), "missing.so`"));
}

Test(elf, every_truncation_fails_cleanly_or_succeeds)
{
        size_t len = 0;
        _cleanup_free_ char *buf = slurp(LIB64 "libcuda.so.580.159.04", &len);
        size_t ok = 0;
        for (size_t n = 0; n <= len; n++) {
                struct skiff_elf_info info = {0};
                _cleanup_error_ skiff_err_t err = NULL;
                int r = skiff_elf_inspect_mem(buf, n, &info, &err);
                cr_assert(r == 0 || r == -EBADMSG || r == -ENOEXEC, "cut at %zu: %d", n, r);
                if (r == 0) {
                        ok++;
                        /* The section table sits at the end: only the whole file has it. */
                        cr_assert_str_eq(info.soname, "libcuda.so.1");
                }
                skiff_elf_info_done(&info);
        }
        cr_assert_geq(ok, 1);
}

static int inspect_patched(const char *buf, size_t len, size_t off, const void *val, size_t vlen,
                           char **msg)
{
        _cleanup_free_ char *b = xmemdup(buf, len);
        memcpy(b + off, val, vlen);
        struct skiff_elf_info info = {0};
        _cleanup_error_ skiff_err_t err = NULL;
        int r = skiff_elf_inspect_mem(b, len, &info, &err);
        skiff_elf_info_done(&info);
        *msg = xstrdup(skiff_error_msg(err));
        return r;
}

Test(elf, refuses_out_of_bounds_tables)
{
        size_t len = 0;
        _cleanup_free_ char *buf = slurp(LIB64 "libcuda.so.580.159.04", &len);
        Elf64_Ehdr eh;
        memcpy(&eh, buf, sizeof(eh));
        _cleanup_free_ char *msg = NULL;

        uint16_t many = 60000;
        cr_assert_eq(inspect_patched(buf, len, offsetof(Elf64_Ehdr, e_shnum), &many, 2, &msg),
                     -EBADMSG);
        cr_assert(strstr(msg, "`e_shnum`"), "%s", msg);
        free(TAKE_PTR(msg));

        uint64_t far = (uint64_t)len - 8;
        cr_assert_eq(inspect_patched(buf, len, offsetof(Elf64_Ehdr, e_shoff), &far, 8, &msg),
                     -EBADMSG);
        cr_assert(strstr(msg, "outside the file"), "%s", msg);
        free(TAKE_PTR(msg));

        uint16_t bad = 99;
        cr_assert_eq(inspect_patched(buf, len, offsetof(Elf64_Ehdr, e_shentsize), &bad, 2, &msg),
                     -EBADMSG);
        free(TAKE_PTR(msg));

        /* Every section's offset pushed past the end of the file. */
        _cleanup_free_ char *b = xmemdup(buf, len);
        for (size_t i = 1; i < eh.e_shnum; i++) {
                Elf64_Shdr sh;
                memcpy(&sh, b + eh.e_shoff + i * sizeof(sh), sizeof(sh));
                if (sh.sh_type == SHT_NOTE || sh.sh_type == SHT_DYNAMIC ||
                    sh.sh_type == SHT_STRTAB) {
                        sh.sh_offset = (uint64_t)len;
                        memcpy(b + eh.e_shoff + i * sizeof(sh), &sh, sizeof(sh));
                }
        }
        struct skiff_elf_info info = {0};
        cr_assert_eq(skiff_elf_inspect_mem(b, len, &info, NULL), -EBADMSG);
}
