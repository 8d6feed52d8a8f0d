/* A task is one container of this shim: its id and bundle, the parsed spec, the runtime's
 * container object, the init process and the table of exec processes. The shim keeps every task
 * in one table (a pod shares one shim, shim-protocol.md §13).
 *
 * Single-threaded; everything runs on the shim loop. */
#ifndef SKIFF_SHIM_TASK_H
#define SKIFF_SHIM_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct skiff_container;
struct skiff_oom_watch;
struct skiff_process;
struct skiff_spec;

struct skiff_task {
        char *id;                          /* owned */
        char *bundle;                      /* owned */
        struct skiff_spec *spec;           /* owned */
        struct skiff_container *container; /* owned; NULL until created */
        struct skiff_process *init;        /* owned */
        struct skiff_process **execs;      /* owned processes */
        size_t n_execs;
        bool own_pidns;                 /* the spec asks for a new PID namespace */
        bool init_exit_deferred;        /* init exited; its TaskExit waits for exec exits (§7.3) */
        int init_exit_status;           /* valid while init_exit_deferred */
        struct timespec init_exited_at; /* valid while init_exit_deferred */
        bool creating;                  /* Create is in progress (waiting for a logger) */
        struct skiff_oom_watch *oom;    /* owned; NULL when OOM events are unavailable */
        struct skiff_task *next;        /* table link */
};

/* New task (not in the table) with an init process in state CREATED. */
struct skiff_task *skiff_task_new(const char *id, const char *bundle);
/* Frees the task, its processes, spec, OOM watch and container object (no teardown: call
 * skiff_container_destroy first). NULL-safe. */
void skiff_task_free(struct skiff_task *t);

/* The task table. add: -EEXIST for a duplicate id. */
int skiff_task_table_add(struct skiff_task *t);
struct skiff_task *skiff_task_table_find(const char *id);
/* Unlinks t (does not free it). */
void skiff_task_table_remove(struct skiff_task *t);
unsigned skiff_task_table_count(void);
/* First task of the table (iterate with ->next); NULL when empty. */
struct skiff_task *skiff_task_table_first(void);

/* Process by exec id; NULL or "" is init. NULL when unknown. */
struct skiff_process *skiff_task_process(struct skiff_task *t, const char *exec_id);
/* Adds an exec (takes ownership); -EEXIST for a duplicate exec id (p stays the caller's). */
int skiff_task_add_exec(struct skiff_task *t, struct skiff_process *p);
/* Unlinks and frees an exec process. */
void skiff_task_remove_exec(struct skiff_task *t, struct skiff_process *p);
/* Exec processes that were started and have not exited yet. */
size_t skiff_task_live_execs(const struct skiff_task *t);

#endif
