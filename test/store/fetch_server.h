/* Starts and stops test/store/fetch_httpd.py (run with /usr/bin/python3) for the store suites
 * (header-only). */
#ifndef SKIFF_TEST_STORE_FETCH_SERVER_H
#define SKIFF_TEST_STORE_FETCH_SERVER_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/xalloc.h"

struct th_server {
        pid_t pid;
        int port;
        char *log; /* one JSON line per request */
};

/* Runs the server with its port file, request log and stderr under dir/name.*; waits until it
 * listens. */
static inline void th_server_start(struct th_server *s, const char *dir, const char *name)
{
        _cleanup_free_ char *portfile = xasprintf("%s/%s.port", dir, name);
        s->log = xasprintf("%s/%s.log", dir, name);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                _cleanup_free_ char *errlog = xasprintf("%s/%s.err", dir, name);
                int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd >= 0)
                        dup2(fd, 2);
                execl("/usr/bin/python3", "/usr/bin/python3",
                      SKIFF_SOURCE_DIR "/test/store/fetch_httpd.py", portfile, s->log,
                      (char *)NULL);
                _exit(127);
        }
        s->pid = pid;
        for (int i = 0; i < 200; i++) {
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                if (skiff_fs_read_file(portfile, 64, &buf, &len, NULL) >= 0 && len > 0) {
                        s->port = atoi(buf);
                        return;
                }
                usleep(25 * 1000);
        }
        cr_assert_fail("the test server did not start");
}

static inline void th_server_stop(struct th_server *s)
{
        if (s->pid > 0) {
                kill(s->pid, SIGTERM);
                waitpid(s->pid, NULL, 0);
        }
        free(s->log);
        *s = (struct th_server){0};
}

/* A port on 127.0.0.1 nothing listens on (bound, then closed): connections are refused. */
static inline int th_closed_port(void)
{
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(s, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof(a);
        cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
        cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
        close(s);
        return ntohs(a.sin_port);
}

#endif
