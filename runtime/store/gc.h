/* Garbage collection of the node store: marks every path reachable (through the local narinfo
 * References) from every file under roots/ and from a keep list, and sweeps the rest. Takes the
 * store lock exclusively, so it waits for running realizations and they wait for it. Blocking. */
#ifndef SKIFF_STORE_GC_H
#define SKIFF_STORE_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct skiff_config;

struct skiff_gc_opts {
        bool dry_run;
        uint64_t max_size; /* 0: delete every unreachable path; else only until the store's
                              total NAR size is at most this, least recently
                              realized or reused (narinfo mtime) first, ties by name */
        char *const *keep; /* extra roots (full store paths), NULL-terminated; may be NULL */
        void (*report)(const char *path, uint64_t size, void *userdata); /* each deletion */
        void *userdata;
};

struct skiff_gc_result {
        size_t total;   /* paths in the store before */
        size_t live;    /* reachable */
        size_t deleted; /* removed (or would be, on a dry run) */
        uint64_t freed; /* NAR bytes of the deleted paths */
        uint64_t size_after;
};

int skiff_gc_run(const struct skiff_config *cfg, const struct skiff_gc_opts *opts,
                 struct skiff_gc_result *ret, skiff_err_t *err);

#endif
