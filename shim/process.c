#include "shim/process.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "oci/spec.h"
#include "shim/stdio.h"

/* Result of an operation per state: a state (>= 0, the new state) or -errno. KILL, EXEC and IO
 * leave the state as it is. */
#define SAME (-1000)
static const int transitions[_SKIFF_PROC_STATE_MAX][_SKIFF_PROC_OP_MAX] = {
    [SKIFF_PROC_CREATED] =
        {
            [SKIFF_PROC_OP_START] = SKIFF_PROC_RUNNING,
            [SKIFF_PROC_OP_KILL] = SAME,
            [SKIFF_PROC_OP_PAUSE] = -ENOTCONN,
            [SKIFF_PROC_OP_RESUME] = -ENOTCONN,
            [SKIFF_PROC_OP_EXIT] = SKIFF_PROC_STOPPED,
            [SKIFF_PROC_OP_DELETE] = SKIFF_PROC_DELETED,
            [SKIFF_PROC_OP_EXEC] = SAME,
            [SKIFF_PROC_OP_IO] = SAME,
        },
    [SKIFF_PROC_RUNNING] =
        {
            [SKIFF_PROC_OP_START] = -EBUSY,
            [SKIFF_PROC_OP_KILL] = SAME,
            [SKIFF_PROC_OP_PAUSE] = SKIFF_PROC_PAUSED,
            [SKIFF_PROC_OP_RESUME] = -EBUSY,
            [SKIFF_PROC_OP_EXIT] = SKIFF_PROC_STOPPED,
            [SKIFF_PROC_OP_DELETE] = -EBUSY,
            [SKIFF_PROC_OP_EXEC] = SAME,
            [SKIFF_PROC_OP_IO] = SAME,
        },
    [SKIFF_PROC_PAUSED] =
        {
            [SKIFF_PROC_OP_START] = -EBUSY,
            [SKIFF_PROC_OP_KILL] = SAME,
            [SKIFF_PROC_OP_PAUSE] = -EBUSY,
            [SKIFF_PROC_OP_RESUME] = SKIFF_PROC_RUNNING,
            [SKIFF_PROC_OP_EXIT] = SKIFF_PROC_STOPPED,
            [SKIFF_PROC_OP_DELETE] = -EBUSY,
            [SKIFF_PROC_OP_EXEC] = -EBUSY,
            [SKIFF_PROC_OP_IO] = SAME,
        },
    [SKIFF_PROC_STOPPED] =
        {
            [SKIFF_PROC_OP_START] = -ENOTCONN,
            [SKIFF_PROC_OP_KILL] = -ENOENT,
            [SKIFF_PROC_OP_PAUSE] = -ENOTCONN,
            [SKIFF_PROC_OP_RESUME] = -ENOTCONN,
            [SKIFF_PROC_OP_EXIT] = -ENOTCONN,
            [SKIFF_PROC_OP_DELETE] = SKIFF_PROC_DELETED,
            [SKIFF_PROC_OP_EXEC] = -ENOTCONN,
            [SKIFF_PROC_OP_IO] = SAME,
        },
    [SKIFF_PROC_DELETED] =
        {
            [SKIFF_PROC_OP_START] = -ENOENT,
            [SKIFF_PROC_OP_KILL] = -ENOENT,
            [SKIFF_PROC_OP_PAUSE] = -ENOENT,
            [SKIFF_PROC_OP_RESUME] = -ENOENT,
            [SKIFF_PROC_OP_EXIT] = -ENOENT,
            [SKIFF_PROC_OP_DELETE] = -ENOENT,
            [SKIFF_PROC_OP_EXEC] = -ENOENT,
            [SKIFF_PROC_OP_IO] = -ENOENT,
        },
};

static const char *const state_names[_SKIFF_PROC_STATE_MAX] = {
    [SKIFF_PROC_CREATED] = "created", [SKIFF_PROC_RUNNING] = "running",
    [SKIFF_PROC_PAUSED] = "paused",   [SKIFF_PROC_STOPPED] = "stopped",
    [SKIFF_PROC_DELETED] = "deleted",
};

const char *skiff_process_state_name(enum skiff_proc_state s)
{
        return (unsigned)s < _SKIFF_PROC_STATE_MAX ? state_names[s] : "unknown";
}

struct skiff_process *skiff_process_new(const char *exec_id, const char *in, const char *out,
                                        const char *err, bool terminal)
{
        struct skiff_process *p = xcalloc(1, sizeof(*p));
        p->exec_id = exec_id && *exec_id ? xstrdup(exec_id) : NULL;
        p->stdin_path = xstrdup(in ? in : "");
        p->stdout_path = xstrdup(out ? out : "");
        p->stderr_path = xstrdup(err ? err : "");
        p->terminal = terminal;
        p->state = SKIFF_PROC_CREATED;
        return p;
}

void skiff_process_free(struct skiff_process *p)
{
        if (!p)
                return;
        skiff_stdio_free(p->stdio);
        skiff_spec_process_free(p->spec);
        free(p->exec_id);
        free(p->stdin_path);
        free(p->stdout_path);
        free(p->stderr_path);
        free(p->waiters);
        free(p);
}

bool skiff_process_is_init(const struct skiff_process *p)
{
        return p->exec_id == NULL;
}

int skiff_process_check(const struct skiff_process *p, enum skiff_proc_op op)
{
        if ((unsigned)p->state >= _SKIFF_PROC_STATE_MAX || (unsigned)op >= _SKIFF_PROC_OP_MAX)
                return -EINVAL;
        int r = transitions[p->state][op];
        return r < 0 && r != SAME ? r : 0;
}

int skiff_process_transition(struct skiff_process *p, enum skiff_proc_op op)
{
        int r = skiff_process_check(p, op);
        if (r < 0)
                return r;
        int next = transitions[p->state][op];
        if (next != SAME)
                p->state = (enum skiff_proc_state)next;
        return 0;
}

int skiff_process_set_exited(struct skiff_process *p, int status, const struct timespec *at)
{
        int r = skiff_process_transition(p, SKIFF_PROC_OP_EXIT);
        if (r < 0)
                return r;
        p->exit_status = status;
        p->exited_at = *at;
        /* Waiters may add or remove waiters while running: take the list first. */
        struct skiff_process_waiter *w = p->waiters;
        size_t n = p->n_waiters;
        p->waiters = NULL;
        p->n_waiters = 0;
        for (size_t i = 0; i < n; i++)
                w[i].cb(p, w[i].data);
        free(w);
        return 0;
}

void skiff_process_on_exit(struct skiff_process *p, skiff_process_exit_cb cb, void *data)
{
        if (p->state == SKIFF_PROC_STOPPED || p->state == SKIFF_PROC_DELETED) {
                cb(p, data);
                return;
        }
        p->waiters = xreallocarray(p->waiters, p->n_waiters + 1, sizeof(*p->waiters));
        p->waiters[p->n_waiters++] = (struct skiff_process_waiter){.cb = cb, .data = data};
}

bool skiff_process_remove_waiter(struct skiff_process *p, skiff_process_exit_cb cb, void *data)
{
        for (size_t i = 0; i < p->n_waiters; i++) {
                if (p->waiters[i].cb != cb || p->waiters[i].data != data)
                        continue;
                memmove(&p->waiters[i], &p->waiters[i + 1],
                        (p->n_waiters - i - 1) * sizeof(*p->waiters));
                p->n_waiters--;
                return true;
        }
        return false;
}
