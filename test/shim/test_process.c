#include <criterion/criterion.h>
#include <errno.h>
#include <time.h>

#include "shim/process.h"

static struct skiff_process *in_state(enum skiff_proc_state s)
{
        struct skiff_process *p = skiff_process_new(NULL, "", "", "", false);
        p->state = s;
        return p;
}

Test(process, new_process_is_created_with_empty_paths)
{
        struct skiff_process *p = skiff_process_new("e1", NULL, "/out", NULL, true);
        cr_assert_eq(p->state, SKIFF_PROC_CREATED);
        cr_assert_str_eq(p->exec_id, "e1");
        cr_assert_str_eq(p->stdin_path, "");
        cr_assert_str_eq(p->stdout_path, "/out");
        cr_assert(p->terminal);
        cr_assert(!skiff_process_is_init(p));
        skiff_process_free(p);
        p = skiff_process_new("", NULL, NULL, NULL, false);
        cr_assert(skiff_process_is_init(p));
        skiff_process_free(p);
}

Test(process, lifecycle_created_running_stopped_deleted)
{
        struct skiff_process *p = in_state(SKIFF_PROC_CREATED);
        cr_assert_eq(skiff_process_transition(p, SKIFF_PROC_OP_START), 0);
        cr_assert_eq(p->state, SKIFF_PROC_RUNNING);
        cr_assert_eq(skiff_process_transition(p, SKIFF_PROC_OP_KILL), 0);
        cr_assert_eq(p->state, SKIFF_PROC_RUNNING);
        cr_assert_eq(skiff_process_transition(p, SKIFF_PROC_OP_PAUSE), 0);
        cr_assert_eq(p->state, SKIFF_PROC_PAUSED);
        cr_assert_eq(skiff_process_transition(p, SKIFF_PROC_OP_RESUME), 0);
        cr_assert_eq(p->state, SKIFF_PROC_RUNNING);
        struct timespec at = {.tv_sec = 1700000000, .tv_nsec = 5};
        cr_assert_eq(skiff_process_set_exited(p, 137, &at), 0);
        cr_assert_eq(p->state, SKIFF_PROC_STOPPED);
        cr_assert_eq(p->exit_status, 137);
        cr_assert_eq(p->exited_at.tv_sec, 1700000000);
        cr_assert_eq(skiff_process_transition(p, SKIFF_PROC_OP_DELETE), 0);
        cr_assert_eq(p->state, SKIFF_PROC_DELETED);
        skiff_process_free(p);
}

/* Every illegal (state, op) pair with the error it must give; the state must not change. */
static const struct {
        enum skiff_proc_state state;
        enum skiff_proc_op op;
        int err;
} illegal[] = {
    {SKIFF_PROC_CREATED, SKIFF_PROC_OP_PAUSE, -ENOTCONN},
    {SKIFF_PROC_CREATED, SKIFF_PROC_OP_RESUME, -ENOTCONN},
    {SKIFF_PROC_RUNNING, SKIFF_PROC_OP_START, -EBUSY},
    {SKIFF_PROC_RUNNING, SKIFF_PROC_OP_DELETE, -EBUSY},
    {SKIFF_PROC_RUNNING, SKIFF_PROC_OP_RESUME, -EBUSY},
    {SKIFF_PROC_PAUSED, SKIFF_PROC_OP_START, -EBUSY},
    {SKIFF_PROC_PAUSED, SKIFF_PROC_OP_PAUSE, -EBUSY},
    {SKIFF_PROC_PAUSED, SKIFF_PROC_OP_DELETE, -EBUSY},
    {SKIFF_PROC_PAUSED, SKIFF_PROC_OP_EXEC, -EBUSY},
    {SKIFF_PROC_STOPPED, SKIFF_PROC_OP_START, -ENOTCONN},
    {SKIFF_PROC_STOPPED, SKIFF_PROC_OP_PAUSE, -ENOTCONN},
    {SKIFF_PROC_STOPPED, SKIFF_PROC_OP_RESUME, -ENOTCONN},
    {SKIFF_PROC_STOPPED, SKIFF_PROC_OP_EXEC, -ENOTCONN},
    {SKIFF_PROC_STOPPED, SKIFF_PROC_OP_EXIT, -ENOTCONN},
    {SKIFF_PROC_STOPPED, SKIFF_PROC_OP_KILL, -ENOENT},
    {SKIFF_PROC_DELETED, SKIFF_PROC_OP_DELETE, -ENOENT},
    {SKIFF_PROC_DELETED, SKIFF_PROC_OP_START, -ENOENT},
    {SKIFF_PROC_DELETED, SKIFF_PROC_OP_KILL, -ENOENT},
};

Test(process, illegal_transitions_fail_and_keep_state)
{
        for (size_t i = 0; i < sizeof(illegal) / sizeof(illegal[0]); i++) {
                struct skiff_process *p = in_state(illegal[i].state);
                cr_assert_eq(skiff_process_check(p, illegal[i].op), illegal[i].err,
                             "check case %zu", i);
                cr_assert_eq(skiff_process_transition(p, illegal[i].op), illegal[i].err,
                             "transition case %zu", i);
                cr_assert_eq(p->state, illegal[i].state, "state changed in case %zu", i);
                skiff_process_free(p);
        }
}

Test(process, created_may_exit_be_deleted_and_take_execs)
{
        struct skiff_process *p = in_state(SKIFF_PROC_CREATED);
        cr_assert_eq(skiff_process_check(p, SKIFF_PROC_OP_EXEC), 0);
        cr_assert_eq(skiff_process_check(p, SKIFF_PROC_OP_KILL), 0);
        cr_assert_eq(skiff_process_check(p, SKIFF_PROC_OP_DELETE), 0);
        cr_assert_eq(skiff_process_transition(p, SKIFF_PROC_OP_EXIT), 0);
        cr_assert_eq(p->state, SKIFF_PROC_STOPPED);
        skiff_process_free(p);
}

static int calls;
static int last_status;
static void on_exit_cb(struct skiff_process *p, void *data)
{
        calls++;
        last_status = p->exit_status;
        *(int *)data += 1;
}

Test(process, waiters_run_once_at_exit_and_immediately_after)
{
        struct skiff_process *p = in_state(SKIFF_PROC_RUNNING);
        int a = 0, b = 0, c = 0;
        calls = 0;
        skiff_process_on_exit(p, on_exit_cb, &a);
        skiff_process_on_exit(p, on_exit_cb, &b);
        skiff_process_on_exit(p, on_exit_cb, &c);
        cr_assert(skiff_process_remove_waiter(p, on_exit_cb, &c));
        cr_assert(!skiff_process_remove_waiter(p, on_exit_cb, &c));
        cr_assert_eq(calls, 0);
        struct timespec at = {.tv_sec = 1};
        cr_assert_eq(skiff_process_set_exited(p, 3, &at), 0);
        cr_assert_eq(calls, 2);
        cr_assert_eq(a, 1);
        cr_assert_eq(b, 1);
        cr_assert_eq(c, 0);
        cr_assert_eq(last_status, 3);
        /* A second exit is refused and runs nothing. */
        cr_assert_eq(skiff_process_set_exited(p, 4, &at), -ENOTCONN);
        cr_assert_eq(calls, 2);
        cr_assert_eq(p->exit_status, 3);
        /* Waiting on a stopped process answers right away. */
        skiff_process_on_exit(p, on_exit_cb, &c);
        cr_assert_eq(c, 1);
        skiff_process_free(p);
}

Test(process, state_names)
{
        cr_assert_str_eq(skiff_process_state_name(SKIFF_PROC_RUNNING), "running");
        cr_assert_str_eq(skiff_process_state_name(SKIFF_PROC_STOPPED), "stopped");
        cr_assert_str_eq(skiff_process_state_name((enum skiff_proc_state)99), "unknown");
}
