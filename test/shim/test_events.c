#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "events/forward.pb-c.h"
#include "events/task.pb-c.h"
#include "shim/events.h"
#include "shim/ttrpc.h"

/* A fake containerd: our own ttrpc server on a temp socket serving Events/Forward, in the same
 * loop as the publisher. */
static uv_loop_t loop;
static char dir[] = "/tmp/skiff-events-XXXXXX";
static char path[128];
static struct skiff_ttrpc_server *fake;
static struct skiff_events *ev;

struct got {
        char topic[64];
        char type_url[96];
        char ns[32];
        int64_t ts_seconds;
        uint32_t pid;
};
static struct got got[64];
static size_t n_got, n_calls;
static int fail_first; /* answer this many calls with UNAVAILABLE */
static bool hold;      /* keep calls unanswered */
static struct skiff_ttrpc_call *held;

static void forward(struct skiff_ttrpc_call *call, const uint8_t *p, size_t len, void *ud)
{
        n_calls++;
        if (fail_first > 0) {
                fail_first--;
                skiff_ttrpc_reply_error(call, SKIFF_GRPC_UNAVAILABLE, "restarting");
                return;
        }
        Containerd__Services__Events__Ttrpc__V1__ForwardRequest *fr =
            containerd__services__events__ttrpc__v1__forward_request__unpack(NULL, len, p);
        cr_assert_not_null(fr);
        cr_assert_not_null(fr->envelope);
        Containerd__Services__Events__Ttrpc__V1__Envelope *e = fr->envelope;
        if (strcmp(e->topic, "/bad") == 0) {
                skiff_ttrpc_reply_error(call, SKIFF_GRPC_INVALID_ARGUMENT, "bad topic");
                containerd__services__events__ttrpc__v1__forward_request__free_unpacked(fr, NULL);
                return;
        }
        cr_assert_lt(n_got, 64);
        struct got *g = &got[n_got++];
        snprintf(g->topic, sizeof(g->topic), "%s", e->topic);
        snprintf(g->ns, sizeof(g->ns), "%s", e->namespace_);
        cr_assert_not_null(e->timestamp);
        g->ts_seconds = e->timestamp->seconds;
        cr_assert_not_null(e->event);
        snprintf(g->type_url, sizeof(g->type_url), "%s", e->event->type_url);
        if (strcmp(e->event->type_url, "containerd.events.TaskStart") == 0) {
                Containerd__Events__TaskStart *ts = containerd__events__task_start__unpack(
                    NULL, e->event->value.len, e->event->value.data);
                cr_assert_not_null(ts);
                g->pid = ts->pid;
                containerd__events__task_start__free_unpacked(ts, NULL);
        }
        containerd__services__events__ttrpc__v1__forward_request__free_unpacked(fr, NULL);
        if (hold) {
                held = call;
                return;
        }
        skiff_ttrpc_reply(call, NULL);
}

static const struct skiff_ttrpc_method methods[] = {{"Forward", forward}};

static void start_fake(void)
{
        unlink(path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, path);
        cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        cr_assert_eq(listen(fd, 8), 0);
        cr_assert_eq(skiff_ttrpc_server_new(&loop, fd, &fake), 0);
        skiff_ttrpc_server_register(fake, "containerd.services.events.ttrpc.v1.Events", methods, 1,
                                    NULL);
}

static void setup(void)
{
        cr_assert_eq(uv_loop_init(&loop), 0);
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/containerd.sock.ttrpc", dir);
        char addr[160];
        snprintf(addr, sizeof(addr), "unix://%s", path);
        cr_assert_eq(skiff_events_new(&loop, addr, "k8s.io", &ev), 0);
}

static void teardown(void)
{
        unlink(path);
        rmdir(dir);
}

TestSuite(events, .init = setup, .fini = teardown, .timeout = 30);

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop until *flag becomes true or ms pass; returns the flag. */
static bool run_until(const bool *flag, unsigned ms)
{
        uint64_t end = now_ms() + ms;
        while (!*flag && now_ms() < end) {
                uv_run(&loop, UV_RUN_NOWAIT);
                usleep(500);
        }
        return *flag;
}

static void run_for(unsigned ms)
{
        bool never = false;
        run_until(&never, ms);
}

static bool want(size_t n)
{
        uint64_t end = now_ms() + 10000;
        while (n_got < n && now_ms() < end) {
                uv_run(&loop, UV_RUN_NOWAIT);
                usleep(500);
        }
        return n_got >= n;
}

static void publish_start(uint32_t pid)
{
        Containerd__Events__TaskStart m = CONTAINERD__EVENTS__TASK_START__INIT;
        m.container_id = "c1";
        m.pid = pid;
        skiff_events_publish(ev, "/tasks/start", "containerd.events.TaskStart", &m.base);
}

static void shutdown_all(void)
{
        skiff_events_close(ev);
        if (fake)
                skiff_ttrpc_server_close(fake);
        cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
        cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(events, delivers_in_order_with_a_valid_envelope)
{
        start_fake();
        for (uint32_t i = 1; i <= 30; i++)
                publish_start(i);
        cr_assert(want(30));
        time_t t = time(NULL);
        for (uint32_t i = 0; i < 30; i++) {
                cr_assert_eq(got[i].pid, i + 1);
                cr_assert_str_eq(got[i].topic, "/tasks/start");
                cr_assert_str_eq(got[i].type_url, "containerd.events.TaskStart");
                cr_assert_str_eq(got[i].ns, "k8s.io");
                cr_assert(got[i].ts_seconds > t - 60 && got[i].ts_seconds <= t);
        }
        cr_assert_eq(n_calls, 30);
        shutdown_all();
}

Test(events, retries_until_containerd_appears)
{
        publish_start(1);
        publish_start(2);
        run_for(300); /* several failed connects with backoff */
        cr_assert_eq(n_got, 0);
        publish_start(3);
        start_fake();
        cr_assert(want(3));
        cr_assert_eq(got[0].pid, 1);
        cr_assert_eq(got[1].pid, 2);
        cr_assert_eq(got[2].pid, 3);
        shutdown_all();
}

Test(events, retries_after_an_error_status)
{
        start_fake();
        fail_first = 2;
        publish_start(7);
        publish_start(8);
        cr_assert(want(2));
        cr_assert_eq(got[0].pid, 7);
        cr_assert_eq(got[1].pid, 8);
        cr_assert_eq(n_calls, 4);
        shutdown_all();
}

Test(events, drops_an_event_containerd_calls_invalid)
{
        start_fake();
        Containerd__Events__TaskOOM m = CONTAINERD__EVENTS__TASK_OOM__INIT;
        m.container_id = "c1";
        skiff_events_publish(ev, "/bad", "containerd.events.TaskOOM", &m.base);
        publish_start(9);
        cr_assert(want(1));
        cr_assert_eq(got[0].pid, 9);
        cr_assert_eq(n_calls, 2);
        shutdown_all();
}

Test(events, one_call_in_flight_at_a_time)
{
        start_fake();
        hold = true;
        publish_start(1);
        publish_start(2);
        publish_start(3);
        cr_assert(want(1));
        run_for(100);
        cr_assert_eq(n_calls, 1);
        hold = false;
        skiff_ttrpc_reply(held, NULL);
        cr_assert(want(3));
        cr_assert_eq(got[2].pid, 3);
        shutdown_all();
}

Test(events, reconnects_after_containerd_restart)
{
        start_fake();
        publish_start(1);
        cr_assert(want(1));
        skiff_ttrpc_server_close(fake);
        fake = NULL;
        run_for(50);
        start_fake();
        publish_start(2);
        cr_assert(want(2));
        cr_assert_eq(got[1].pid, 2);
        shutdown_all();
}

static bool flushed;
static void on_flushed(void *data)
{
        cr_assert_eq(data, &flushed);
        flushed = true;
}

Test(events, flush_waits_for_delivery)
{
        start_fake();
        for (uint32_t i = 1; i <= 5; i++)
                publish_start(i);
        skiff_events_flush(ev, on_flushed, &flushed);
        cr_assert_not(flushed);
        cr_assert(run_until(&flushed, 5000));
        cr_assert_eq(n_got, 5);
        flushed = false;
        skiff_events_flush(ev, on_flushed, &flushed); /* empty queue: immediate */
        cr_assert(flushed);
        shutdown_all();
}

Test(events, flush_gives_up_without_containerd)
{
        publish_start(1);
        skiff_events_flush(ev, on_flushed, &flushed);
        uint64_t t0 = now_ms();
        cr_assert(run_until(&flushed, 10000));
        cr_assert_geq(now_ms() - t0, 2000);
        shutdown_all();
}

Test(events, new_rejects_bad_addresses)
{
        struct skiff_events *e2;
        cr_assert_eq(skiff_events_new(&loop, "", "default", &e2), -EINVAL);
        char longp[200];
        memset(longp, 'a', sizeof(longp) - 1);
        longp[sizeof(longp) - 1] = 0;
        cr_assert_eq(skiff_events_new(&loop, longp, "default", &e2), -ENAMETOOLONG);
        shutdown_all();
}
