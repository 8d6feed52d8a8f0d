/* cgroup v2 device rules: a small BPF_PROG_TYPE_CGROUP_DEVICE program, assembled here from the
 * OCI rule list, loaded with the bpf(2) syscall and attached to the cgroup directory (the GPU
 * device injection relies on it on v2 hosts).
 *
 * Semantics: the rules are checked from last to first and the first matching rule decides, so
 * a later rule overrides an earlier one for the devices it names; no match denies. An allow
 * rule matches a request when it covers every requested access bit; a deny rule matches when it
 * names any requested bit. This is the effective behaviour of the same list written in order to
 * v1 devices.allow / devices.deny after "deny a". */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "oci/cgroups-internal.h"
#include "oci/spec.h"

#define ACC_ALL (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)
#define MAX_IDS 64

/* Register use: r2 access bits, r3 device type, r4 major, r5 minor, r1 scratch. */
static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
        struct bpf_insn i = {.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
        return i;
}

struct prog {
        struct bpf_insn *v;
        size_t n;
};

static size_t emit(struct prog *p, struct bpf_insn i)
{
        p->v = xreallocarray(p->v, p->n + 1, sizeof(*p->v));
        p->v[p->n] = i;
        return p->n++;
}

int skiff_cg_bpf_devices_build(const struct skiff_spec_device_rule *rules, size_t n,
                               struct skiff_bpf_insn_buf *out, skiff_err_t *err)
{
        struct prog p = {NULL, 0};
        /* access_type = (access << 16) | type */
        emit(&p, insn(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0));
        emit(&p, insn(BPF_ALU | BPF_MOV | BPF_X, 3, 2, 0, 0));
        emit(&p, insn(BPF_ALU | BPF_AND | BPF_K, 3, 0, 0, 0xffff));
        emit(&p, insn(BPF_ALU | BPF_RSH | BPF_K, 2, 0, 0, 16));
        emit(&p, insn(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0));
        emit(&p, insn(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0));
        bool terminated = false;
        for (size_t k = n; k-- > 0 && !terminated;) {
                const struct skiff_spec_device_rule *d = &rules[k];
                char type = d->type ? d->type : 'a';
                unsigned acc;
                if ((type != 'a' && type != 'c' && type != 'b') ||
                    skiff_cg_device_access(d->access, &acc) < 0 || d->major > UINT32_MAX ||
                    d->minor > UINT32_MAX) {
                        free(p.v);
                        return skiff_error_set(err, EINVAL,
                                               "linux.resources.devices[%zu]: "
                                               "invalid rule",
                                               k);
                }
                size_t jumps[8], nj = 0;
                if (type != 'a') {
                        int t = type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
                        jumps[nj++] = emit(&p, insn(BPF_JMP32 | BPF_JNE | BPF_K, 3, 0, 0, t));
                        if (d->major >= 0)
                                jumps[nj++] = emit(&p, insn(BPF_JMP32 | BPF_JNE | BPF_K, 4, 0, 0,
                                                            (int32_t)(uint32_t)d->major));
                        if (d->minor >= 0)
                                jumps[nj++] = emit(&p, insn(BPF_JMP32 | BPF_JNE | BPF_K, 5, 0, 0,
                                                            (int32_t)(uint32_t)d->minor));
                }
                if (acc != ACC_ALL) {
                        emit(&p, insn(BPF_ALU | BPF_MOV | BPF_X, 1, 2, 0, 0));
                        if (d->allow) {
                                /* requested bits outside the rule -> no match */
                                emit(&p, insn(BPF_ALU | BPF_AND | BPF_K, 1, 0, 0,
                                              (int32_t)(ACC_ALL & ~acc)));
                                jumps[nj++] =
                                    emit(&p, insn(BPF_JMP32 | BPF_JNE | BPF_K, 1, 0, 0, 0));
                        } else {
                                /* no requested bit named by the rule -> no match */
                                emit(&p, insn(BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, (int32_t)acc));
                                jumps[nj++] =
                                    emit(&p, insn(BPF_JMP32 | BPF_JEQ | BPF_K, 1, 0, 0, 0));
                        }
                }
                emit(&p, insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, d->allow ? 1 : 0));
                emit(&p, insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
                for (size_t j = 0; j < nj; j++)
                        p.v[jumps[j]].off = (int16_t)(p.n - (jumps[j] + 1));
                /* An unconditional rule hides all earlier ones (the verifier refuses unreachable
                 * instructions, so nothing may follow it). */
                terminated = nj == 0;
        }
        if (!terminated) {
                emit(&p, insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0));
                emit(&p, insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
        }
        out->insns = p.v;
        out->n = p.n;
        return 0;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
        return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int prog_id(int fd, uint32_t *id)
{
        struct bpf_prog_info info;
        union bpf_attr attr;
        memset(&info, 0, sizeof(info));
        memset(&attr, 0, sizeof(attr));
        attr.info.bpf_fd = (uint32_t)fd;
        attr.info.info_len = sizeof(info);
        attr.info.info = (uint64_t)(uintptr_t)&info;
        if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
                return -errno;
        *id = info.id;
        return 0;
}

int skiff_cg_bpf_devices_apply(const char *dir, const struct skiff_spec_device_rule *rules,
                               size_t n, skiff_err_t *err)
{
        struct skiff_bpf_insn_buf buf = {NULL, 0};
        int r = skiff_cg_bpf_devices_build(rules, n, &buf, err);
        if (r < 0)
                return r;
        _cleanup_free_ void *insns = buf.insns;
        union bpf_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
        attr.insns = (uint64_t)(uintptr_t)insns;
        attr.insn_cnt = (uint32_t)buf.n;
        attr.license = (uint64_t)(uintptr_t) "Apache-2.0";
        /* Load without a verifier log: with log_level 1 the kernel logs every instruction, and
         * since Linux 6.4 a log that does not fit the buffer fails the load with ENOSPC. The
         * log is only requested to explain a failure. */
        _cleanup_close_ int prog = sys_bpf(BPF_PROG_LOAD, &attr);
        if (prog < 0) {
                int saved = errno;
                _cleanup_free_ char *log = xcalloc(1, 1u << 16);
                attr.log_buf = (uint64_t)(uintptr_t)log;
                attr.log_size = 1u << 16;
                attr.log_level = 1;
                int again = sys_bpf(BPF_PROG_LOAD, &attr);
                if (again >= 0)
                        close(again);
                size_t len = strlen(log);
                const char *tail = len > 200 ? log + len - 200 : log;
                return skiff_error_set_errno(err, saved, "load device BPF program (%zu insns%s%s)",
                                             buf.n, tail[0] ? "; verifier: " : "", tail);
        }
        _cleanup_close_ int cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cgfd < 0)
                return skiff_error_set_errno(err, errno, "open `%s`", dir);
        memset(&attr, 0, sizeof(attr));
        attr.target_fd = (uint32_t)cgfd;
        attr.attach_bpf_fd = (uint32_t)prog;
        attr.attach_type = BPF_CGROUP_DEVICE;
        attr.attach_flags = BPF_F_ALLOW_MULTI;
        if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
                return skiff_error_set_errno(err, errno, "attach device BPF program to `%s`", dir);

        /* Detach the programs of earlier updates: with ALLOW_MULTI every program must allow. */
        uint32_t self = 0, ids[MAX_IDS];
        if ((r = prog_id(prog, &self)) < 0)
                return skiff_error_set_errno(err, -r, "query device BPF program id");
        memset(&attr, 0, sizeof(attr));
        attr.query.target_fd = (uint32_t)cgfd;
        attr.query.attach_type = BPF_CGROUP_DEVICE;
        attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
        attr.query.prog_cnt = MAX_IDS;
        if (sys_bpf(BPF_PROG_QUERY, &attr) < 0)
                return skiff_error_set_errno(err, errno, "query device BPF programs of `%s`", dir);
        uint32_t cnt = attr.query.prog_cnt < MAX_IDS ? attr.query.prog_cnt : MAX_IDS;
        for (uint32_t i = 0; i < cnt; i++) {
                if (ids[i] == self)
                        continue;
                memset(&attr, 0, sizeof(attr));
                attr.prog_id = ids[i];
                _cleanup_close_ int old = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
                if (old < 0) {
                        if (errno == ENOENT)
                                continue;
                        return skiff_error_set_errno(err, errno, "get BPF program %u", ids[i]);
                }
                memset(&attr, 0, sizeof(attr));
                attr.target_fd = (uint32_t)cgfd;
                attr.attach_bpf_fd = (uint32_t)old;
                attr.attach_type = BPF_CGROUP_DEVICE;
                if (sys_bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
                        return skiff_error_set_errno(
                            err, errno, "detach old device BPF program from `%s`", dir);
        }
        return 0;
}
