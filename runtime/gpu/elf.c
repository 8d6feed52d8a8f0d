#include "gpu/elf.h"

#include <elf.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/xalloc.h"

/* Caps on what we agree to read from one file. */
#define MAX_SECTIONS   4096
#define MAX_STRTAB     (1u << 20)
#define MAX_DYNAMIC    (1u << 20)
#define MAX_NOTE       (64u << 10)
#define MAX_SONAME_LEN 4096

struct src {
        const uint8_t *mem; /* memory source, or NULL for fd */
        int fd;
        uint64_t size;
};

/* Reads exactly len bytes at off; -EBADMSG when the range is outside the file. */
static int src_read(const struct src *s, uint64_t off, void *buf, size_t len, const char *what,
                    skiff_err_t *err)
{
        if (off > s->size || len > s->size - off)
                return skiff_error_set(err, EBADMSG, "%s (%zu bytes at %llu) is outside the file",
                                       what, len, (unsigned long long)off);
        if (s->mem) {
                memcpy(buf, s->mem + off, len);
                return 0;
        }
        size_t done = 0;
        while (done < len) {
                ssize_t r = pread(s->fd, (char *)buf + done, len - done, (off_t)(off + done));
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return skiff_error_set_errno(err, errno, "read %s", what);
                }
                if (r == 0)
                        return skiff_error_set(err, EBADMSG, "%s: unexpected end of file", what);
                done += (size_t)r;
        }
        return 0;
}

/* Reads a table of n entries of entsize bytes, capped at max bytes in all. */
static int read_table(const struct src *s, uint64_t off, uint64_t n, uint64_t entsize, uint64_t max,
                      const char *what, void **ret, skiff_err_t *err)
{
        if (entsize && n > max / entsize)
                return skiff_error_set(err, EBADMSG, "%s is too large", what);
        size_t len = (size_t)(n * entsize);
        _cleanup_free_ void *buf = xmalloc(len ? len : 1);
        int r = src_read(s, off, buf, len, what, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

struct elf64 {
        Elf64_Ehdr eh;
        Elf64_Shdr *sh; /* eh.e_shnum entries */
        size_t nsh;
};

static int load_sections(const struct src *s, struct elf64 *e, skiff_err_t *err)
{
        if (e->eh.e_shoff == 0 || e->eh.e_shnum == 0)
                return 0; /* no section table: nothing to find */
        if (e->eh.e_shentsize != sizeof(Elf64_Shdr))
                return skiff_error_set(err, EBADMSG, "`e_shentsize` is %u, expected %zu",
                                       e->eh.e_shentsize, sizeof(Elf64_Shdr));
        if (e->eh.e_shnum > MAX_SECTIONS)
                return skiff_error_set(err, EBADMSG, "`e_shnum` %u exceeds %u", e->eh.e_shnum,
                                       MAX_SECTIONS);
        void *sh = NULL;
        int r = read_table(s, e->eh.e_shoff, e->eh.e_shnum, sizeof(Elf64_Shdr),
                           (uint64_t)MAX_SECTIONS * sizeof(Elf64_Shdr), "section header table", &sh,
                           err);
        if (r < 0)
                return r;
        e->sh = sh;
        e->nsh = e->eh.e_shnum;
        return 0;
}

/* Reads a string table section into a NUL-terminated buffer. */
static int load_strtab(const struct src *s, const struct elf64 *e, size_t idx, const char *what,
                       char **ret, size_t *ret_len, skiff_err_t *err)
{
        if (idx == 0 || idx >= e->nsh)
                return skiff_error_set(err, EBADMSG, "%s section index %zu is invalid", what, idx);
        const Elf64_Shdr *sh = &e->sh[idx];
        if (sh->sh_type != SHT_STRTAB)
                return skiff_error_set(err, EBADMSG, "%s section %zu is not a string table", what,
                                       idx);
        if (sh->sh_size > MAX_STRTAB)
                return skiff_error_set(err, EBADMSG, "%s is larger than %u bytes", what,
                                       MAX_STRTAB);
        _cleanup_free_ char *buf = xmalloc(sh->sh_size + 1);
        int r = src_read(s, sh->sh_offset, buf, sh->sh_size, what, err);
        if (r < 0)
                return r;
        buf[sh->sh_size] = '\0';
        *ret_len = sh->sh_size;
        *ret = TAKE_PTR(buf);
        return 0;
}

static const char *strtab_at(const char *tab, size_t len, uint64_t off)
{
        if (off >= len)
                return NULL;
        return tab + off; /* the table carries a spare NUL at tab[len] */
}

static int read_soname(const struct src *s, const struct elf64 *e, struct skiff_elf_info *info,
                       skiff_err_t *err)
{
        for (size_t i = 0; i < e->nsh; i++) {
                const Elf64_Shdr *sh = &e->sh[i];
                if (sh->sh_type != SHT_DYNAMIC)
                        continue;
                if (sh->sh_entsize != 0 && sh->sh_entsize != sizeof(Elf64_Dyn))
                        return skiff_error_set(err, EBADMSG, "dynamic section entry size %llu",
                                               (unsigned long long)sh->sh_entsize);
                uint64_t n = sh->sh_size / sizeof(Elf64_Dyn);
                _cleanup_free_ Elf64_Dyn *dyn = NULL;
                void *p = NULL;
                int r = read_table(s, sh->sh_offset, n, sizeof(Elf64_Dyn), MAX_DYNAMIC,
                                   "dynamic section", &p, err);
                if (r < 0)
                        return r;
                dyn = p;
                for (uint64_t j = 0; j < n && dyn[j].d_tag != DT_NULL; j++) {
                        if (dyn[j].d_tag != DT_SONAME)
                                continue;
                        _cleanup_free_ char *tab = NULL;
                        size_t tab_len = 0;
                        r = load_strtab(s, e, sh->sh_link, "dynamic string table", &tab, &tab_len,
                                        err);
                        if (r < 0)
                                return r;
                        const char *name = strtab_at(tab, tab_len, dyn[j].d_un.d_val);
                        if (!name || !name[0] || strlen(name) > MAX_SONAME_LEN)
                                return skiff_error_set(err, EBADMSG, "`DT_SONAME` is invalid");
                        info->soname = xstrdup(name);
                        return 0;
                }
                return 0; /* one dynamic section per object */
        }
        return 0;
}

static size_t align4(size_t n)
{
        return (n + 3) & ~(size_t)3;
}

/* Walks the notes of one SHT_NOTE section for the NVIDIA owner. */
static int read_cuda_note(const struct src *s, const Elf64_Shdr *sh, struct skiff_elf_info *info,
                          skiff_err_t *err)
{
        if (sh->sh_size > MAX_NOTE)
                return skiff_error_set(err, EBADMSG, "`%s` is larger than %u bytes",
                                       SKIFF_ELF_CUDA_NOTE_SECTION, MAX_NOTE);
        size_t size = (size_t)sh->sh_size;
        _cleanup_free_ uint8_t *buf = xmalloc(size + 1);
        int r = src_read(s, sh->sh_offset, buf, size, SKIFF_ELF_CUDA_NOTE_SECTION, err);
        if (r < 0)
                return r;
        size_t pos = 0;
        const size_t owner_len = sizeof(SKIFF_ELF_CUDA_NOTE_OWNER); /* with the NUL */
        while (size - pos >= 12) {
                uint32_t namesz, descsz;
                memcpy(&namesz, buf + pos, 4);
                memcpy(&descsz, buf + pos + 4, 4);
                pos += 12;
                if (namesz > size - pos || align4(namesz) > size - pos)
                        return skiff_error_set(err, EBADMSG, "note name size %u is out of bounds",
                                               namesz);
                const uint8_t *name = buf + pos;
                pos += align4(namesz);
                if (descsz > size - pos)
                        return skiff_error_set(err, EBADMSG,
                                               "note descriptor size %u is out of bounds", descsz);
                const uint8_t *desc = buf + pos;
                size_t adv = align4(descsz);
                pos = adv > size - pos ? size : pos + adv;
                if (namesz == owner_len &&
                    memcmp(name, SKIFF_ELF_CUDA_NOTE_OWNER, owner_len) == 0) {
                        size_t n = descsz;
                        while (n > 0 && desc[n - 1] == '\0')
                                n--;
                        if (memchr(desc, '\0', n))
                                return skiff_error_set(err, EBADMSG,
                                                       "CUDA note descriptor contains a NUL byte");
                        info->cuda_note = xstrndup((const char *)desc, n);
                        info->cuda_note_len = n;
                        return 0;
                }
        }
        return 0;
}

static int inspect_sections(const struct src *s, const struct elf64 *e, struct skiff_elf_info *info,
                            skiff_err_t *err);

static int inspect(const struct src *s, struct skiff_elf_info *ret, skiff_err_t *err)
{
        unsigned char ident[EI_NIDENT];
        if (s->size < EI_NIDENT)
                return skiff_error_set(err, ENOEXEC, "not an ELF file (too short)");
        int r = src_read(s, 0, ident, EI_NIDENT, "ELF identification", err);
        if (r < 0)
                return r;
        if (memcmp(ident, ELFMAG, SELFMAG) != 0)
                return skiff_error_set(err, ENOEXEC, "not an ELF file (bad magic)");
#if __BYTE_ORDER == __LITTLE_ENDIAN
        const unsigned char host_data = ELFDATA2LSB;
#else
        const unsigned char host_data = ELFDATA2MSB;
#endif
        if (ident[EI_DATA] != host_data)
                return skiff_error_set(err, ENOEXEC, "ELF byte order %u is not the host's",
                                       ident[EI_DATA]);
        struct skiff_elf_info info = {.elf_class = ident[EI_CLASS]};
        if (info.elf_class == ELFCLASS32) {
                Elf32_Ehdr eh32;
                if (s->size < sizeof(eh32))
                        return skiff_error_set(err, EBADMSG, "ELF header is truncated");
                r = src_read(s, 0, &eh32, sizeof(eh32), "ELF header", err);
                if (r < 0)
                        return r;
                info.machine = eh32.e_machine;
                *ret = info;
                return 0;
        }
        if (info.elf_class != ELFCLASS64)
                return skiff_error_set(err, ENOEXEC, "unknown ELF class %u", info.elf_class);

        struct elf64 e = {0};
        if (s->size < sizeof(e.eh))
                return skiff_error_set(err, EBADMSG, "ELF header is truncated");
        r = src_read(s, 0, &e.eh, sizeof(e.eh), "ELF header", err);
        if (r < 0)
                return r;
        info.machine = e.eh.e_machine;
        r = load_sections(s, &e, err);
        if (r >= 0 && e.nsh > 0)
                r = inspect_sections(s, &e, &info, err);
        free(e.sh);
        if (r < 0) {
                skiff_elf_info_done(&info);
                return r;
        }
        *ret = info;
        return 0;
}

static int inspect_sections(const struct src *s, const struct elf64 *e, struct skiff_elf_info *info,
                            skiff_err_t *err)
{
        int r = read_soname(s, e, info, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *names = NULL;
        size_t names_len = 0;
        if (e->eh.e_shstrndx == SHN_UNDEF)
                return 0;
        r = load_strtab(s, e, e->eh.e_shstrndx, "section name table", &names, &names_len, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < e->nsh && !info->cuda_note; i++) {
                if (e->sh[i].sh_type != SHT_NOTE)
                        continue;
                const char *n = strtab_at(names, names_len, e->sh[i].sh_name);
                if (!n || strcmp(n, SKIFF_ELF_CUDA_NOTE_SECTION) != 0)
                        continue;
                r = read_cuda_note(s, &e->sh[i], info, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int skiff_elf_inspect_fd(int fd, struct skiff_elf_info *ret, skiff_err_t *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return skiff_error_set_errno(err, errno, "stat");
        if (!S_ISREG(st.st_mode))
                return skiff_error_set(err, ENOEXEC, "not a regular file");
        struct src s = {.fd = fd, .size = (uint64_t)st.st_size};
        return inspect(&s, ret, err);
}

int skiff_elf_inspect_mem(const void *buf, size_t len, struct skiff_elf_info *ret, skiff_err_t *err)
{
        struct src s = {.mem = buf ? buf : (const uint8_t *)"", .fd = -1, .size = buf ? len : 0};
        return inspect(&s, ret, err);
}

int skiff_elf_inspect_path(const char *path, struct skiff_elf_info *ret, skiff_err_t *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", path);
        int r = skiff_elf_inspect_fd(fd, ret, err);
        if (r < 0)
                return skiff_error_wrap(err, "inspect `%s`", path);
        return 0;
}

void skiff_elf_info_done(struct skiff_elf_info *info)
{
        if (!info)
                return;
        free(info->soname);
        free(info->cuda_note);
        memset(info, 0, sizeof(*info));
}
