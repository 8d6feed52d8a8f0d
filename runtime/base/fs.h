/* Filesystem and fd helpers. All fds opened here are O_CLOEXEC. Every function that can fail
 * returns -errno and sets *err with a message naming the path. */
#ifndef SKIFF_BASE_FS_H
#define SKIFF_BASE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Reads a whole file (at most max bytes; larger is -EFBIG) into a NUL-terminated heap buffer.
 * dirfd may be AT_FDCWD. */
int skiff_fs_read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len,
                          skiff_err_t *err);
int skiff_fs_read_file(const char *path, size_t max, char **out, size_t *len, skiff_err_t *err);
/* Reads all of fd (up to max bytes) into a NUL-terminated heap buffer. */
int skiff_fs_read_fd(int fd, size_t max, char **out, size_t *len, skiff_err_t *err);
/* Writes data to path atomically: a temp file `.<name>.tmp.<pid>.<tid>` in the same directory
 * (removed on failure), fsync when do_sync, rename over path. mode is applied exactly (not
 * filtered by the umask). Safe from several threads. */
int skiff_fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                               bool do_sync, skiff_err_t *err);
/* Writes a string to an existing file (e.g. a cgroup or /proc knob) with a single write(2). */
int skiff_fs_write_string(const char *path, const char *s, skiff_err_t *err);
int skiff_fs_write_string_at(int dirfd, const char *path, const char *s, skiff_err_t *err);
/* Writes all bytes to fd, retrying on EINTR and short writes. */
int skiff_fs_write_all(int fd, const void *data, size_t len);
/* Reads exactly len bytes unless EOF comes first; returns bytes read or -errno. */
ssize_t skiff_fs_read_full(int fd, void *buf, size_t len);
/* mkdir -p with mode for created directories; existing directories are fine. */
int skiff_fs_mkdir_p(const char *path, mode_t mode, skiff_err_t *err);
/* Recursively removes path (not following symlinks, staying on one filesystem is not
 * enforced); a missing path is success. Makes read-only directories writable as needed. */
int skiff_fs_rm_rf(const char *path, skiff_err_t *err);
int skiff_fs_rm_rf_at(int dirfd, const char *name, skiff_err_t *err);
/* Parses an unsigned/signed decimal integer with full validation (no sign for unsigned, no
 * trailing garbage, range checked). Returns 0 or -EINVAL/-ERANGE. */
int skiff_parse_u64(const char *s, uint64_t *out);
int skiff_parse_i64(const char *s, int64_t *out);
/* Sets or clears O_NONBLOCK / FD_CLOEXEC on fd. */
int skiff_fd_set_nonblock(int fd, bool on);
int skiff_fd_set_cloexec(int fd, bool on);

#endif
