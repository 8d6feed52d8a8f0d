/* NAR reader: a strict push parser that materialises the tree with *at() calls only. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/hashpipe.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "store/nar.h"

#define KEYWORD_MAX 16

/* What the next string token must be. */
enum gstate {
        G_MAGIC,
        G_OPEN,           /* "(" */
        G_TYPE_KW,        /* "type" */
        G_TYPE,           /* "regular" | "symlink" | "directory" */
        G_REG_ATTR,       /* "executable" | "contents" | ")" */
        G_EXEC_EMPTY,     /* "" */
        G_REG_AFTER_EXEC, /* "contents" | ")" */
        G_CONTENTS,       /* the file contents (streamed) */
        G_REG_CLOSE,      /* ")" */
        G_SYM_KW,         /* "target" */
        G_SYM_TARGET,     /* the target */
        G_SYM_CLOSE,      /* ")" */
        G_DIR,            /* "entry" | ")" */
        G_ENT_OPEN,       /* "(" */
        G_ENT_NAME_KW,    /* "name" */
        G_ENT_NAME,       /* the name */
        G_ENT_NODE_KW,    /* "node" */
        G_ENT_CLOSE,      /* ")" */
        G_DONE,
};

/* Tokenizer states. */
enum tstate {
        T_LEN,
        T_STR,
        T_CONTENTS,
        T_PAD,
};

struct frame {
        int fd;          /* the directory, or -EBADF when validating only */
        char *last_name; /* previous entry name, for the ordering check */
        size_t path_len; /* length of r->path before this directory's entry name was added */
};

struct skiff_nar_reader {
        struct skiff_nar_limits lim;
        bool canonical;
        bool materialise;
        int root_parent; /* borrowed */
        char *root_name;

        enum gstate g;
        enum tstate t;
        uint8_t lenbuf[8];
        size_t lenfill;
        uint64_t slen;   /* length of the current string */
        uint64_t sdone;  /* bytes of it consumed */
        uint8_t padneed; /* padding bytes still expected */
        struct skiff_strbuf tok;

        struct frame *stack;
        size_t depth;
        char *pending_name; /* entry name awaiting its node (NULL for the root) */
        bool executable;
        int file_fd;

        struct skiff_strbuf path;   /* current entry path relative to the root, for messages */
        struct skiff_hashpipe hash; /* NarHash, on a helper thread for long NARs */
        uint64_t total;
        bool failed;
};

static const struct skiff_nar_limits default_limits = {
    .max_name = 255,
    .max_target = 4095,
    .max_file = 64ULL << 30,
    .max_total = 256ULL << 30,
    .max_depth = 256,
};

static const char *shown(struct skiff_nar_reader *r)
{
        return r->path.len ? r->path.buf : "/";
}

static int fail(struct skiff_nar_reader *r, skiff_err_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct skiff_nar_reader *r, skiff_err_t *err, int errnum, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = xvasprintf(fmt, ap);
        va_end(ap);
        r->failed = true;
        return skiff_error_set(err, errnum, "NAR entry `%s`: %s", shown(r), msg);
}

static int fail_errno(struct skiff_nar_reader *r, skiff_err_t *err, int e, const char *what)
{
        return fail(r, err, e, "%s: %s", what, strerror(e));
}

/* A printable rendering of an untrusted name (NUL and control bytes escaped). */
static char *escape(const char *s, size_t n)
{
        struct skiff_strbuf sb = SKIFF_STRBUF_INIT;
        for (size_t i = 0; i < n && i < 128; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c < 0x20 || c == 0x7f || c == '`' || c == '\\')
                        skiff_strbuf_printf(&sb, "\\x%02x", c);
                else
                        skiff_strbuf_putc(&sb, (char)c);
        }
        if (n > 128)
                skiff_strbuf_puts(&sb, "...");
        return skiff_strbuf_take(&sb);
}

int skiff_nar_reader_new(int parent_dirfd, const char *name,
                         const struct skiff_nar_reader_opts *opts, struct skiff_nar_reader **ret,
                         skiff_err_t *err)
{
        struct skiff_nar_reader *r = xcalloc(1, sizeof(*r));
        r->lim = default_limits;
        if (opts) {
                const struct skiff_nar_limits *l = &opts->limits;
                if (l->max_name)
                        r->lim.max_name = l->max_name;
                if (l->max_target)
                        r->lim.max_target = l->max_target;
                if (l->max_file)
                        r->lim.max_file = l->max_file;
                if (l->max_total)
                        r->lim.max_total = l->max_total;
                if (l->max_depth)
                        r->lim.max_depth = l->max_depth;
                r->canonical = opts->canonical;
        }
        r->materialise = parent_dirfd >= 0;
        if (r->materialise) {
                if (!name || !*name || strchr(name, '/')) {
                        free(r);
                        return skiff_error_set(err, EINVAL, "invalid NAR target name `%s`",
                                               name ? name : "");
                }
                r->root_parent = parent_dirfd;
                r->root_name = xstrdup(name);
        }
        r->stack = xcalloc(r->lim.max_depth + 1, sizeof(struct frame));
        r->file_fd = -EBADF;
        r->g = G_MAGIC;
        r->t = T_LEN;
        skiff_hashpipe_init(&r->hash);
        *ret = r;
        return 0;
}

struct skiff_nar_reader *skiff_nar_reader_free(struct skiff_nar_reader *r)
{
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->depth; i++) {
                skiff_closep(&r->stack[i].fd);
                free(r->stack[i].last_name);
        }
        free(r->stack);
        skiff_closep(&r->file_fd);
        free(r->root_name);
        free(r->pending_name);
        skiff_strbuf_free(&r->tok);
        skiff_strbuf_free(&r->path);
        skiff_hashpipe_abort(&r->hash);
        free(r);
        return NULL;
}

/* The parent directory fd and name for the node being created. */
static void node_loc(struct skiff_nar_reader *r, int *dfd, const char **name)
{
        if (r->depth == 0) {
                *dfd = r->root_parent;
                *name = r->root_name;
        } else {
                *dfd = r->stack[r->depth - 1].fd;
                *name = r->pending_name;
        }
}

static const struct timespec canon_times[2] = {{1, 0}, {1, 0}};

/* A node is complete: pop back to the parent's "entry" close, or finish. */
static void node_done(struct skiff_nar_reader *r)
{
        free(r->pending_name);
        r->pending_name = NULL;
        r->g = r->depth == 0 ? G_DONE : G_ENT_CLOSE;
}

static int create_file(struct skiff_nar_reader *r, skiff_err_t *err)
{
        if (!r->materialise)
                return 0;
        int dfd;
        const char *name;
        node_loc(r, &dfd, &name);
        mode_t mode = r->executable ? (r->canonical ? 0555 : 0755) : (r->canonical ? 0444 : 0644);
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                        mode);
        if (fd < 0)
                return fail_errno(r, err, errno, "create file");
        r->file_fd = fd;
        return 0;
}

static int close_file(struct skiff_nar_reader *r, skiff_err_t *err)
{
        if (r->file_fd < 0)
                return 0;
        if (r->canonical && futimens(r->file_fd, canon_times) < 0)
                return fail_errno(r, err, errno, "set mtime");
        int fd = TAKE_FD(r->file_fd);
        if (close(fd) < 0 && errno != EINTR)
                return fail_errno(r, err, errno, "close file");
        return 0;
}

static int make_symlink(struct skiff_nar_reader *r, skiff_err_t *err)
{
        const char *t = r->tok.buf ? r->tok.buf : "";
        if (r->tok.len == 0)
                return fail(r, err, EBADMSG, "empty symlink target");
        if (memchr(t, '\0', r->tok.len))
                return fail(r, err, EBADMSG, "symlink target contains a NUL byte");
        if (!r->materialise)
                return 0;
        int dfd;
        const char *name;
        node_loc(r, &dfd, &name);
        if (symlinkat(t, dfd, name) < 0)
                return fail_errno(r, err, errno, "create symlink");
        if (r->canonical && utimensat(dfd, name, canon_times, AT_SYMLINK_NOFOLLOW) < 0)
                return fail_errno(r, err, errno, "set mtime");
        return 0;
}

static int push_dir(struct skiff_nar_reader *r, skiff_err_t *err)
{
        if (r->depth >= r->lim.max_depth)
                return fail(r, err, E2BIG, "directories nested deeper than %u", r->lim.max_depth);
        int fd = -EBADF;
        if (r->materialise) {
                int dfd;
                const char *name;
                node_loc(r, &dfd, &name);
                if (mkdirat(dfd, name, 0755) < 0)
                        return fail_errno(r, err, errno, "create directory");
                fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return fail_errno(r, err, errno, "open directory");
        }
        struct frame *f = &r->stack[r->depth++];
        f->fd = fd;
        f->last_name = NULL;
        f->path_len = r->path.len;
        free(r->pending_name);
        r->pending_name = NULL;
        r->g = G_DIR;
        return 0;
}

static int pop_dir(struct skiff_nar_reader *r, skiff_err_t *err)
{
        struct frame *f = &r->stack[r->depth - 1];
        if (f->fd >= 0 && r->canonical) {
                if (fchmod(f->fd, 0555) < 0)
                        return fail_errno(r, err, errno, "make directory read-only");
                if (futimens(f->fd, canon_times) < 0)
                        return fail_errno(r, err, errno, "set mtime");
        }
        skiff_closep(&f->fd);
        f->fd = -EBADF;
        free(f->last_name);
        f->last_name = NULL;
        r->depth--;
        r->g = r->depth == 0 ? G_DONE : G_ENT_CLOSE;
        return 0;
}

static int check_name(struct skiff_nar_reader *r, skiff_err_t *err)
{
        const char *n = r->tok.buf ? r->tok.buf : "";
        size_t len = r->tok.len;
        _cleanup_free_ char *esc = escape(n, len);
        struct frame *f = &r->stack[r->depth - 1];
        r->path.len = f->path_len;
        if (r->path.buf)
                r->path.buf[r->path.len] = '\0';
        if (len == 0)
                return fail(r, err, EBADMSG, "empty entry name");
        if (memchr(n, '\0', len))
                return fail(r, err, EBADMSG, "entry name `%s` contains a NUL byte", esc);
        if (memchr(n, '/', len))
                return fail(r, err, EBADMSG, "entry name `%s` contains `/`", esc);
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
                return fail(r, err, EBADMSG, "invalid entry name `%s`", esc);
        if (f->last_name) {
                int c = strcmp(n, f->last_name);
                if (c == 0)
                        return fail(r, err, EBADMSG, "duplicate entry `%s`", esc);
                if (c < 0)
                        return fail(r, err, EBADMSG, "entry `%s` is not sorted after `%s`", esc,
                                    f->last_name);
        }
        free(f->last_name);
        f->last_name = xstrdup(n);
        free(r->pending_name);
        r->pending_name = xstrdup(n);
        skiff_strbuf_printf(&r->path, "%s%s", r->path.len ? "/" : "", esc);
        return 0;
}

static bool tok_is(struct skiff_nar_reader *r, const char *kw)
{
        size_t n = strlen(kw);
        return r->tok.len == n && (n == 0 || memcmp(r->tok.buf, kw, n) == 0);
}

static int unexpected(struct skiff_nar_reader *r, const char *want, skiff_err_t *err)
{
        _cleanup_free_ char *esc = escape(r->tok.buf ? r->tok.buf : "", r->tok.len);
        return fail(r, err, EBADMSG, "expected %s, got `%s`", want, esc);
}

/* Maximum length allowed for the string expected in the current grammar state. */
static uint64_t string_cap(struct skiff_nar_reader *r)
{
        switch (r->g) {
        case G_ENT_NAME:
                return r->lim.max_name;
        case G_SYM_TARGET:
                return r->lim.max_target;
        case G_CONTENTS:
                return r->lim.max_file;
        case G_EXEC_EMPTY:
                return 0;
        default:
                return KEYWORD_MAX;
        }
}

/* Handles a complete string token (other than contents). */
static int on_token(struct skiff_nar_reader *r, skiff_err_t *err)
{
        switch (r->g) {
        case G_MAGIC:
                if (!tok_is(r, "nix-archive-1"))
                        return fail(r, err, EBADMSG, "not a NAR (bad magic)");
                r->g = G_OPEN;
                return 0;
        case G_OPEN:
                if (!tok_is(r, "("))
                        return unexpected(r, "`(`", err);
                r->g = G_TYPE_KW;
                return 0;
        case G_TYPE_KW:
                if (!tok_is(r, "type"))
                        return unexpected(r, "`type`", err);
                r->g = G_TYPE;
                return 0;
        case G_TYPE:
                if (tok_is(r, "regular")) {
                        r->executable = false;
                        r->g = G_REG_ATTR;
                        return 0;
                }
                if (tok_is(r, "symlink")) {
                        r->g = G_SYM_KW;
                        return 0;
                }
                if (tok_is(r, "directory"))
                        return push_dir(r, err);
                return unexpected(r, "a node type", err);
        case G_REG_ATTR:
        case G_REG_AFTER_EXEC:
                if (r->g == G_REG_ATTR && tok_is(r, "executable")) {
                        r->executable = true;
                        r->g = G_EXEC_EMPTY;
                        return 0;
                }
                if (tok_is(r, "contents")) {
                        r->g = G_CONTENTS;
                        return 0;
                }
                if (tok_is(r, ")")) {
                        int k = create_file(r, err);
                        if (k >= 0)
                                k = close_file(r, err);
                        if (k < 0)
                                return k;
                        node_done(r);
                        return 0;
                }
                return unexpected(r, "`contents` or `)`", err);
        case G_EXEC_EMPTY:
                r->g = G_REG_AFTER_EXEC; /* length 0 was enforced by string_cap() */
                return 0;
        case G_REG_CLOSE:
        case G_SYM_CLOSE:
                if (!tok_is(r, ")"))
                        return unexpected(r, "`)`", err);
                node_done(r);
                return 0;
        case G_SYM_KW:
                if (!tok_is(r, "target"))
                        return unexpected(r, "`target`", err);
                r->g = G_SYM_TARGET;
                return 0;
        case G_SYM_TARGET: {
                int k = make_symlink(r, err);
                if (k < 0)
                        return k;
                r->g = G_SYM_CLOSE;
                return 0;
        }
        case G_DIR:
                if (tok_is(r, "entry")) {
                        r->g = G_ENT_OPEN;
                        return 0;
                }
                if (tok_is(r, ")")) {
                        r->path.len = r->stack[r->depth - 1].path_len;
                        if (r->path.buf)
                                r->path.buf[r->path.len] = '\0';
                        return pop_dir(r, err);
                }
                return unexpected(r, "`entry` or `)`", err);
        case G_ENT_OPEN:
                if (!tok_is(r, "("))
                        return unexpected(r, "`(`", err);
                r->g = G_ENT_NAME_KW;
                return 0;
        case G_ENT_NAME_KW:
                if (!tok_is(r, "name"))
                        return unexpected(r, "`name`", err);
                r->g = G_ENT_NAME;
                return 0;
        case G_ENT_NAME: {
                int k = check_name(r, err);
                if (k < 0)
                        return k;
                r->g = G_ENT_NODE_KW;
                return 0;
        }
        case G_ENT_NODE_KW:
                if (!tok_is(r, "node"))
                        return unexpected(r, "`node`", err);
                r->g = G_OPEN;
                return 0;
        case G_ENT_CLOSE:
                if (!tok_is(r, ")"))
                        return unexpected(r, "`)`", err);
                r->g = G_DIR;
                return 0;
        case G_CONTENTS:
        case G_DONE:
                break;
        }
        return fail(r, err, EBADMSG, "internal parser error");
}

/* A length prefix is complete. */
static int on_length(struct skiff_nar_reader *r, skiff_err_t *err)
{
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--)
                n = n << 8 | r->lenbuf[i];
        r->lenfill = 0;
        uint64_t cap = string_cap(r);
        if (n > cap) {
                if (r->g == G_CONTENTS)
                        return fail(r, err, EFBIG, "file of %llu bytes exceeds the limit of %llu",
                                    (unsigned long long)n, (unsigned long long)cap);
                return fail(r, err, EBADMSG, "string of %llu bytes exceeds the limit of %llu",
                            (unsigned long long)n, (unsigned long long)cap);
        }
        r->slen = n;
        r->sdone = 0;
        r->padneed = (uint8_t)((8 - n % 8) % 8);
        skiff_strbuf_reset(&r->tok);
        if (r->g == G_CONTENTS) {
                int k = create_file(r, err);
                if (k < 0)
                        return k;
                r->t = T_CONTENTS;
        } else {
                r->t = T_STR;
        }
        if (n == 0)
                r->t = T_PAD;
        return 0;
}

/* The string (and its padding) is complete. */
static int on_string_end(struct skiff_nar_reader *r, skiff_err_t *err)
{
        r->t = T_LEN;
        if (r->g == G_CONTENTS) {
                int k = close_file(r, err);
                if (k < 0)
                        return k;
                r->g = G_REG_CLOSE;
                return 0;
        }
        return on_token(r, err);
}

int skiff_nar_reader_feed(struct skiff_nar_reader *r, const void *data, size_t len,
                          skiff_err_t *err)
{
        if (r->failed)
                return skiff_error_set(err, EINVAL, "NAR reader used after an error");
        const uint8_t *p = data;
        if (r->total + len > r->lim.max_total || r->total + len < r->total)
                return fail(r, err, EFBIG, "NAR exceeds the limit of %llu bytes",
                            (unsigned long long)r->lim.max_total);
        skiff_hashpipe_update(&r->hash, p, len);
        r->total += len;
        while (len) {
                if (r->g == G_DONE)
                        return fail(r, err, EBADMSG, "trailing data after the end of the NAR");
                switch (r->t) {
                case T_LEN: {
                        size_t k = 8 - r->lenfill < len ? 8 - r->lenfill : len;
                        memcpy(r->lenbuf + r->lenfill, p, k);
                        r->lenfill += k;
                        p += k;
                        len -= k;
                        if (r->lenfill == 8) {
                                int e = on_length(r, err);
                                if (e < 0)
                                        return e;
                                if (r->t == T_PAD && r->padneed == 0) {
                                        e = on_string_end(r, err);
                                        if (e < 0)
                                                return e;
                                }
                        }
                        break;
                }
                case T_STR:
                case T_CONTENTS: {
                        uint64_t left = r->slen - r->sdone;
                        size_t k = left < len ? (size_t)left : len;
                        if (r->t == T_STR) {
                                skiff_strbuf_append(&r->tok, p, k);
                        } else if (r->file_fd >= 0) {
                                int e = skiff_fs_write_all(r->file_fd, p, k);
                                if (e < 0)
                                        return fail_errno(r, err, -e, "write file");
                        }
                        r->sdone += k;
                        p += k;
                        len -= k;
                        if (r->sdone == r->slen) {
                                r->t = T_PAD;
                                if (r->padneed == 0) {
                                        int e = on_string_end(r, err);
                                        if (e < 0)
                                                return e;
                                }
                        }
                        break;
                }
                case T_PAD:
                        while (len && r->padneed) {
                                if (*p != 0)
                                        return fail(r, err, EBADMSG, "non-zero padding");
                                p++;
                                len--;
                                r->padneed--;
                        }
                        if (r->padneed == 0) {
                                int e = on_string_end(r, err);
                                if (e < 0)
                                        return e;
                        }
                        break;
                }
        }
        return 0;
}

int skiff_nar_reader_finish(struct skiff_nar_reader *r, struct skiff_nixhash *ret_hash,
                            uint64_t *ret_size, skiff_err_t *err)
{
        if (r->failed)
                return skiff_error_set(err, EINVAL, "NAR reader used after an error");
        if (r->g != G_DONE)
                return fail(r, err, EBADMSG, "truncated NAR (%llu bytes)",
                            (unsigned long long)r->total);
        struct skiff_nixhash h;
        skiff_hashpipe_final(&r->hash, h.d);
        if (ret_hash)
                *ret_hash = h;
        if (ret_size)
                *ret_size = r->total;
        return 0;
}

int skiff_nar_restore_fd(int fd, int parent_dirfd, const char *name,
                         const struct skiff_nar_reader_opts *opts, struct skiff_nixhash *ret_hash,
                         uint64_t *ret_size, skiff_err_t *err)
{
        _cleanup_nar_reader_ struct skiff_nar_reader *r = NULL;
        int k = skiff_nar_reader_new(parent_dirfd, name, opts, &r, err);
        if (k < 0)
                return k;
        _cleanup_free_ uint8_t *buf = xmalloc(256 * 1024);
        for (;;) {
                ssize_t n = read(fd, buf, 256 * 1024);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return skiff_error_set_errno(err, errno, "read NAR");
                if (n == 0)
                        break;
                k = skiff_nar_reader_feed(r, buf, (size_t)n, err);
                if (k < 0)
                        return k;
        }
        return skiff_nar_reader_finish(r, ret_hash, ret_size, err);
}
