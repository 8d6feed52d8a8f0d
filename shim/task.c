#include "shim/task.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "oci/container.h"
#include "oci/spec.h"
#include "shim/oom.h"
#include "shim/process.h"

static struct skiff_task *table;

struct skiff_task *skiff_task_new(const char *id, const char *bundle)
{
        struct skiff_task *t = xcalloc(1, sizeof(*t));
        t->id = xstrdup(id);
        t->bundle = xstrdup(bundle);
        return t;
}

void skiff_task_free(struct skiff_task *t)
{
        if (!t)
                return;
        skiff_oom_watch_stop(t->oom);
        for (size_t i = 0; i < t->n_execs; i++)
                skiff_process_free(t->execs[i]);
        free(t->execs);
        skiff_process_free(t->init);
        skiff_container_free(t->container);
        skiff_spec_free(t->spec);
        free(t->id);
        free(t->bundle);
        free(t);
}

int skiff_task_table_add(struct skiff_task *t)
{
        if (skiff_task_table_find(t->id))
                return -EEXIST;
        t->next = table;
        table = t;
        return 0;
}

struct skiff_task *skiff_task_table_find(const char *id)
{
        if (!id)
                return NULL;
        for (struct skiff_task *t = table; t; t = t->next)
                if (strcmp(t->id, id) == 0)
                        return t;
        return NULL;
}

void skiff_task_table_remove(struct skiff_task *t)
{
        for (struct skiff_task **pp = &table; *pp; pp = &(*pp)->next) {
                if (*pp == t) {
                        *pp = t->next;
                        t->next = NULL;
                        return;
                }
        }
}

unsigned skiff_task_table_count(void)
{
        unsigned n = 0;
        for (struct skiff_task *t = table; t; t = t->next)
                n++;
        return n;
}

struct skiff_task *skiff_task_table_first(void)
{
        return table;
}

struct skiff_process *skiff_task_process(struct skiff_task *t, const char *exec_id)
{
        if (!exec_id || !*exec_id)
                return t->init;
        for (size_t i = 0; i < t->n_execs; i++)
                if (strcmp(t->execs[i]->exec_id, exec_id) == 0)
                        return t->execs[i];
        return NULL;
}

int skiff_task_add_exec(struct skiff_task *t, struct skiff_process *p)
{
        if (!p->exec_id || skiff_task_process(t, p->exec_id))
                return -EEXIST;
        t->execs = xreallocarray(t->execs, t->n_execs + 1, sizeof(*t->execs));
        t->execs[t->n_execs++] = p;
        p->task = t;
        return 0;
}

void skiff_task_remove_exec(struct skiff_task *t, struct skiff_process *p)
{
        for (size_t i = 0; i < t->n_execs; i++) {
                if (t->execs[i] != p)
                        continue;
                memmove(&t->execs[i], &t->execs[i + 1], (t->n_execs - i - 1) * sizeof(*t->execs));
                t->n_execs--;
                skiff_process_free(p);
                return;
        }
}

size_t skiff_task_live_execs(const struct skiff_task *t)
{
        size_t n = 0;
        for (size_t i = 0; i < t->n_execs; i++) {
                enum skiff_proc_state s = t->execs[i]->state;
                if (s == SKIFF_PROC_RUNNING || s == SKIFF_PROC_PAUSED)
                        n++;
        }
        return n;
}
