/* NAR (Nix ARchive) serialisation.
 *
 * Writer (nar-writer.c): serialises a file system tree exactly like `nix-store --dump`: strings
 * framed by a 64-bit little-endian length and zero padding to 8 bytes, the "nix-archive-1"
 * magic, regular files (with "executable" when the owner-execute bit is set), symlinks and
 * directories whose entries are sorted bytewise by name. Sockets, FIFOs and devices are -EINVAL.
 *
 * Reader (nar-reader.c): a push parser fed arbitrary chunks that validates strictly (magic,
 * token order, entries strictly sorted with no duplicates, names without '/', NUL, "." or "..",
 * size and depth caps) and materialises the tree under a parent directory fd using only
 * *at() calls relative to directory fds it created itself, with O_NOFOLLOW | O_EXCL: it never
 * follows a symlink and never writes outside the target. Symlink targets are stored verbatim.
 * It computes the SHA-256 and size of the stream it consumed. Errors name the entry path. */
#ifndef SKIFF_STORE_NAR_H
#define SKIFF_STORE_NAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/nixhash.h"

/* Receives serialised NAR bytes; returns 0 or -errno (setting *err), which aborts the dump. */
typedef int (*skiff_nar_write_cb)(const void *data, size_t len, void *userdata, skiff_err_t *err);

/* Serialises path (relative to dirfd, or absolute; dirfd may be AT_FDCWD) through cb. The root
 * itself may be a regular file, a symlink or a directory; symlinks are never followed. Blocks
 * on file I/O. */
int skiff_nar_dump(int dirfd, const char *path, skiff_nar_write_cb cb, void *userdata,
                   skiff_err_t *err);

/* Dumps path and returns the NAR's SHA-256 and size without keeping the bytes. */
int skiff_nar_hash_path(int dirfd, const char *path, struct skiff_nixhash *ret_hash,
                        uint64_t *ret_size, skiff_err_t *err);

struct skiff_nar_limits {
        uint64_t max_name;   /* bytes in an entry name (default 255) */
        uint64_t max_target; /* bytes in a symlink target (default 4095) */
        uint64_t max_file;   /* bytes in one regular file (default 64 GiB) */
        uint64_t max_total;  /* bytes of the whole NAR stream (default 256 GiB) */
        unsigned max_depth;  /* directory nesting (default 256) */
};

struct skiff_nar_reader_opts {
        struct skiff_nar_limits limits; /* zero fields take the defaults */
        /* Give files 0444/0555 and directories 0555 (directories once complete), and set every
         * mtime to 1 second past the epoch, as Nix does in its store. */
        bool canonical;
};

struct skiff_nar_reader;

/* Creates a reader that materialises the NAR as parent_dirfd/name (which must not exist).
 * parent_dirfd < 0 validates and hashes only, touching no files (name is then ignored). The fd
 * is borrowed and must stay open until the reader is freed. opts may be NULL. */
int skiff_nar_reader_new(int parent_dirfd, const char *name,
                         const struct skiff_nar_reader_opts *opts, struct skiff_nar_reader **ret,
                         skiff_err_t *err);
/* Feeds the next len bytes. After an error the reader is unusable. Files created so far are
 * left in place: the caller removes the staging directory. */
int skiff_nar_reader_feed(struct skiff_nar_reader *r, const void *data, size_t len,
                          skiff_err_t *err);
/* Checks the NAR is complete (-EBADMSG "truncated" otherwise) and returns its hash and size
 * (either pointer may be NULL). */
int skiff_nar_reader_finish(struct skiff_nar_reader *r, struct skiff_nixhash *ret_hash,
                            uint64_t *ret_size, skiff_err_t *err);
/* Closes every fd; NULL-safe; returns NULL. */
struct skiff_nar_reader *skiff_nar_reader_free(struct skiff_nar_reader *r);
static inline void skiff_nar_reader_freep(struct skiff_nar_reader **p)
{
        skiff_nar_reader_free(*p);
}
#define _cleanup_nar_reader_ __attribute__((cleanup(skiff_nar_reader_freep)))

/* Convenience: reads a whole NAR from fd into parent_dirfd/name. */
int skiff_nar_restore_fd(int fd, int parent_dirfd, const char *name,
                         const struct skiff_nar_reader_opts *opts, struct skiff_nixhash *ret_hash,
                         uint64_t *ret_size, skiff_err_t *err);

#endif
