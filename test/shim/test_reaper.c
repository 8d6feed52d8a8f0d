#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "shim/reaper.h"

#define MAX_SEEN 128

static struct {
        int n;
        pid_t pid[MAX_SEEN];
        int status[MAX_SEEN];
        void *data[MAX_SEEN];
        bool in_subscribe; /* set while skiff_reaper_subscribe runs */
        bool called_inside;
} seen;

static void exit_cb(const struct skiff_exit *e, void *data)
{
        if (seen.in_subscribe)
                seen.called_inside = true;
        cr_assert_lt(seen.n, MAX_SEEN);
        cr_assert_gt(e->exited_at.tv_sec, 0);
        seen.pid[seen.n] = e->pid;
        seen.status[seen.n] = e->status;
        seen.data[seen.n] = data;
        seen.n++;
}

static void keepalive_cb(uv_timer_t *t)
{
}

static uv_loop_t loop;
static uv_timer_t keepalive;
static struct skiff_reaper *reaper;

static void setup(void)
{
        memset(&seen, 0, sizeof(seen));
        cr_assert_eq(uv_loop_init(&loop), 0);
        cr_assert_eq(uv_timer_init(&loop, &keepalive), 0);
        cr_assert_eq(uv_timer_start(&keepalive, keepalive_cb, 5, 5), 0);
        cr_assert_eq(skiff_reaper_new(&loop, &reaper), 0);
}

static void teardown(void)
{
        skiff_reaper_close(reaper);
        uv_close((uv_handle_t *)&keepalive, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        cr_assert_eq(uv_loop_close(&loop), 0, "handles left open");
}

/* Runs the loop until n exits were seen or 5 s passed. */
static void run_until(int n)
{
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (seen.n < n) {
                uv_run(&loop, UV_RUN_ONCE);
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - start.tv_sec > 5)
                        break;
        }
}

static pid_t child_exit(int code)
{
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0)
                _exit(code);
        return pid;
}

static pid_t child_sleep(void)
{
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        return pid;
}

TestSuite(reaper, .init = setup, .fini = teardown);

Test(reaper, exit_status_conversion)
{
        cr_assert_eq(skiff_reaper_exit_status(0), 0);
        cr_assert_eq(skiff_reaper_exit_status(3 << 8), 3); /* exited with 3 */
        cr_assert_eq(skiff_reaper_exit_status(SIGKILL), 128 + SIGKILL);
        cr_assert_eq(skiff_reaper_exit_status(SIGTERM), 128 + SIGTERM);
}

Test(reaper, subscribed_exit_is_dispatched_with_status)
{
        pid_t pid = child_sleep();
        int token = 0;
        cr_assert_eq(skiff_reaper_subscribe(reaper, pid, exit_cb, &token), 0);
        cr_assert_eq(skiff_reaper_subscribe(reaper, pid, exit_cb, &token), -EEXIST);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        run_until(1);
        cr_assert_eq(seen.n, 1);
        cr_assert_eq(seen.pid[0], pid);
        cr_assert_eq(seen.status[0], 137);
        cr_assert_eq(seen.data[0], &token);
}

Test(reaper, early_exit_is_cached_and_replayed_from_the_loop)
{
        pid_t pid = child_exit(42);
        /* Wait for the child to be a zombie, then let the reaper take it before anyone
         * subscribed. */
        siginfo_t si;
        cr_assert_eq(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
        skiff_reaper_drain(reaper);
        cr_assert_eq(seen.n, 0);
        cr_assert_eq(skiff_reaper_cached(reaper), 1);

        seen.in_subscribe = true;
        cr_assert_eq(skiff_reaper_subscribe(reaper, pid, exit_cb, NULL), 0);
        seen.in_subscribe = false;
        cr_assert(!seen.called_inside, "replayed synchronously inside subscribe");
        cr_assert_eq(seen.n, 0);
        cr_assert_eq(skiff_reaper_cached(reaper), 0);
        run_until(1);
        cr_assert_eq(seen.n, 1);
        cr_assert_eq(seen.pid[0], pid);
        cr_assert_eq(seen.status[0], 42);
}

Test(reaper, many_exits_are_all_drained)
{
        enum { N = 60 };
        pid_t pids[N];
        for (int i = 0; i < N; i++) {
                pids[i] = child_exit(i);
                cr_assert_eq(skiff_reaper_subscribe(reaper, pids[i], exit_cb, NULL), 0);
        }
        run_until(N);
        cr_assert_eq(seen.n, N);
        for (int i = 0; i < N; i++) {
                bool found = false;
                for (int j = 0; j < seen.n; j++) {
                        if (seen.pid[j] == pids[i]) {
                                cr_assert_eq(seen.status[j], i);
                                found = true;
                        }
                }
                cr_assert(found, "exit of child %d lost", i);
        }
        cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a zombie was left behind");
}

Test(reaper, unsubscribed_exit_goes_to_the_cache)
{
        pid_t pid = child_sleep();
        cr_assert_eq(skiff_reaper_subscribe(reaper, pid, exit_cb, NULL), 0);
        cr_assert(skiff_reaper_unsubscribe(reaper, pid));
        cr_assert(!skiff_reaper_unsubscribe(reaper, pid));
        cr_assert_eq(kill(pid, SIGTERM), 0);
        siginfo_t si;
        cr_assert_eq(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
        skiff_reaper_drain(reaper);
        cr_assert_eq(seen.n, 0);
        cr_assert_eq(skiff_reaper_cached(reaper), 1);
        cr_assert_eq(skiff_reaper_subscribe(reaper, -1, exit_cb, NULL), -EINVAL);
}
