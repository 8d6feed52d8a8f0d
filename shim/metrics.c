#include "shim/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "cgroups/v1/metrics.pb-c.h"
#include "cgroups/v2/metrics.pb-c.h"
#include "oci/cgroups.h"

/* memory.stat keys (v1) whose proto field is spelled differently. */
static const struct {
        const char *key, *field;
} v1_aliases[] = {
    {"pgpgin", "pg_pg_in"},
    {"pgpgout", "pg_pg_out"},
    {"pgfault", "pg_fault"},
    {"pgmajfault", "pg_maj_fault"},
    {"hierarchical_memsw_limit", "hierarchical_swap_limit"},
    {"total_pgpgin", "total_pg_pg_in"},
    {"total_pgpgout", "total_pg_pg_out"},
    {"total_pgfault", "total_pg_fault"},
    {"total_pgmajfault", "total_pg_maj_fault"},
};

/* Sets the uint64 field called name (if the message has one) to value. */
static void set_u64_field(ProtobufCMessage *m, const char *name, uint64_t value)
{
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
        if (!f || f->type != PROTOBUF_C_TYPE_UINT64 || f->label != PROTOBUF_C_LABEL_NONE)
                return;
        *(uint64_t *)((char *)m + f->offset) = value;
}

static void fill_memory_stat(ProtobufCMessage *m, const struct skiff_cgroup_stats *st, bool v1)
{
        for (size_t i = 0; i < st->n_memory_stat; i++) {
                const char *name = st->memory_stat[i].key;
                if (v1) {
                        for (size_t j = 0; j < sizeof(v1_aliases) / sizeof(v1_aliases[0]); j++)
                                if (strcmp(name, v1_aliases[j].key) == 0)
                                        name = v1_aliases[j].field;
                } else if (strcmp(name, "usage") == 0 || strcmp(name, "usage_limit") == 0 ||
                           strcmp(name, "swap_usage") == 0 || strcmp(name, "swap_limit") == 0 ||
                           strcmp(name, "max_usage") == 0) {
                        continue; /* not memory.stat keys; set below from the plain fields */
                }
                set_u64_field(m, name, st->memory_stat[i].value);
        }
}

static void pack(const ProtobufCMessage *m, const char *type, Google__Protobuf__Any *any)
{
        size_t n = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = xmalloc(n ? n : 1);
        protobuf_c_message_pack(m, buf);
        google__protobuf__any__init(any);
        any->type_url = (char *)type;
        any->value.data = buf;
        any->value.len = n;
}

static void pack_v1(const struct skiff_cgroup_stats *st, Google__Protobuf__Any *any)
{
        Io__Containerd__Cgroups__V1__Metrics m = IO__CONTAINERD__CGROUPS__V1__METRICS__INIT;
        Io__Containerd__Cgroups__V1__PidsStat pids = IO__CONTAINERD__CGROUPS__V1__PIDS_STAT__INIT;
        Io__Containerd__Cgroups__V1__CPUStat cpu = IO__CONTAINERD__CGROUPS__V1__CPUSTAT__INIT;
        Io__Containerd__Cgroups__V1__CPUUsage usage = IO__CONTAINERD__CGROUPS__V1__CPUUSAGE__INIT;
        Io__Containerd__Cgroups__V1__Throttle thr = IO__CONTAINERD__CGROUPS__V1__THROTTLE__INIT;
        Io__Containerd__Cgroups__V1__MemoryStat mem =
            IO__CONTAINERD__CGROUPS__V1__MEMORY_STAT__INIT;
        Io__Containerd__Cgroups__V1__MemoryEntry mu =
            IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT;
        Io__Containerd__Cgroups__V1__MemoryEntry ms =
            IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT;

        pids.current = st->pids_current;
        pids.limit = st->pids_limit;
        usage.total = st->cpu_usage_ns;
        usage.kernel = st->cpu_system_ns;
        usage.user = st->cpu_user_ns;
        usage.n_per_cpu = st->n_cpu_percpu;
        usage.per_cpu = st->cpu_percpu_ns;
        thr.periods = st->cpu_nr_periods;
        thr.throttled_periods = st->cpu_nr_throttled;
        thr.throttled_time = st->cpu_throttled_ns;
        cpu.usage = &usage;
        cpu.throttling = &thr;
        fill_memory_stat(&mem.base, st, true);
        mu.usage = st->mem_usage;
        mu.max = st->mem_max_usage;
        mu.limit = st->mem_limit;
        mu.failcnt = st->mem_failcnt;
        ms.usage = st->swap_usage;
        ms.limit = st->swap_limit;
        mem.usage = &mu;
        mem.swap = &ms;
        m.pids = &pids;
        m.cpu = &cpu;
        m.memory = &mem;
        pack(&m.base, SKIFF_METRICS_V1_TYPE, any);
}

static void pack_v2(const struct skiff_cgroup_stats *st, Google__Protobuf__Any *any)
{
        Io__Containerd__Cgroups__V2__Metrics m = IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;
        Io__Containerd__Cgroups__V2__PidsStat pids = IO__CONTAINERD__CGROUPS__V2__PIDS_STAT__INIT;
        Io__Containerd__Cgroups__V2__CPUStat cpu = IO__CONTAINERD__CGROUPS__V2__CPUSTAT__INIT;
        Io__Containerd__Cgroups__V2__MemoryStat mem =
            IO__CONTAINERD__CGROUPS__V2__MEMORY_STAT__INIT;
        Io__Containerd__Cgroups__V2__MemoryEvents ev =
            IO__CONTAINERD__CGROUPS__V2__MEMORY_EVENTS__INIT;

        pids.current = st->pids_current;
        pids.limit = st->pids_limit;
        cpu.usage_usec = st->cpu_usage_ns / 1000;
        cpu.user_usec = st->cpu_user_ns / 1000;
        cpu.system_usec = st->cpu_system_ns / 1000;
        cpu.nr_periods = st->cpu_nr_periods;
        cpu.nr_throttled = st->cpu_nr_throttled;
        cpu.throttled_usec = st->cpu_throttled_ns / 1000;
        fill_memory_stat(&mem.base, st, false);
        mem.usage = st->mem_usage;
        mem.usage_limit = st->mem_limit;
        mem.max_usage = st->mem_max_usage;
        mem.swap_usage = st->swap_usage;
        mem.swap_limit = st->swap_limit;
        ev.oom = st->oom_events;
        ev.oom_kill = st->oom_kill;
        m.pids = &pids;
        m.cpu = &cpu;
        m.memory = &mem;
        m.memory_events = &ev;
        pack(&m.base, SKIFF_METRICS_V2_TYPE, any);
}

void skiff_metrics_pack(const struct skiff_cgroup_stats *st, Google__Protobuf__Any *any)
{
        if (st->v2)
                pack_v2(st, any);
        else
                pack_v1(st, any);
}

void skiff_metrics_any_clear(Google__Protobuf__Any *any)
{
        free(any->value.data);
        any->value.data = NULL;
        any->value.len = 0;
}
