/* A strict, bounded reader of the two facts driver discovery needs from an ELF64 shared object:
 * its DT_SONAME and the descriptor of the NVIDIA `.note.cuda.fwd_compatibility` note
 * (gpu.md §8.1). Only headers, the section table, the section-name table, the dynamic section,
 * its string table and the note are read (pread), never the whole file, so a 100 MB libcuda
 * costs a few KiB of I/O. Every offset and size is checked against the file size and against
 * fixed caps before anything is read. No code is loaded. */
#ifndef SKIFF_GPU_ELF_H
#define SKIFF_GPU_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SKIFF_ELF_CUDA_NOTE_SECTION ".note.cuda.fwd_compatibility"
#define SKIFF_ELF_CUDA_NOTE_OWNER   "NVIDIA Corporation"

struct skiff_elf_info {
        uint8_t elf_class; /* 1 = ELF32, 2 = ELF64 */
        uint16_t machine;  /* e_machine (62 = x86-64, 183 = aarch64, 3 = i386) */
        char *soname;      /* DT_SONAME, or NULL when absent (or for ELF32, which is not read) */
        char *cuda_note; /* the note's descriptor without trailing NULs, NUL-terminated; or NULL */
        size_t cuda_note_len;
};

/* Inspects an open file (not consumed). -ENOEXEC when it is not a little/host-endian ELF file,
 * -EBADMSG for a malformed one (the message names the field), -errno for I/O errors. ELF32
 * files succeed with only elf_class and machine filled in. */
int skiff_elf_inspect_fd(int fd, struct skiff_elf_info *ret, skiff_err_t *err);
/* The same over a memory buffer (tests, fuzzing). */
int skiff_elf_inspect_mem(const void *buf, size_t len, struct skiff_elf_info *ret,
                          skiff_err_t *err);
/* Opens path (O_RDONLY|O_CLOEXEC) and inspects it; errors name the path. */
int skiff_elf_inspect_path(const char *path, struct skiff_elf_info *ret, skiff_err_t *err);
void skiff_elf_info_done(struct skiff_elf_info *info); /* frees the strings; zeroes *info */

#endif
