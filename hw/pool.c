/* pool.c: the persistent pinned worker pool of lb-pool.h.
 *
 * Workload: many short parallel regions issued back to back from one
 * thread (a 10 us GEMV slice, a 30 ms bandwidth sweep), so the fixed cost
 * of a region, dispatch + barrier, must be ~1 us; and long idle gaps (the
 * report, a sweep's setup), during which the pool must not burn the
 * shared machine.
 *
 * Dispatch. The pool has one generation counter `gen`. lb_pool_run writes
 * fn/arg, then stores gen+1; workers spin on gen, and on a change read
 * fn/arg and run fn(arg, ith, nth). The caller is worker 0: it runs its
 * share right after publishing, then waits for the others.
 *
 * Barrier. Each worker has its own 64-byte line holding `done_gen`, the
 * last generation it finished; the caller waits until every worker's
 * done_gen equals the generation it published. Per-worker lines, not one
 * shared counter: no atomic read-modify-write contended by nth cores, and
 * each worker's store touches a line only the caller reads. The dispatch
 * line (gen, fn, arg) is written only by the caller, once per region.
 *
 * Ordering (C11 atomics):
 *  - caller: plain stores of fn/arg, then gen (seq_cst, which includes
 *    release); worker: acquire load of gen, then plain loads of fn/arg.
 *    So fn/arg and everything the caller wrote before lb_pool_run are
 *    visible to the task.
 *  - worker: runs the task, then done_gen (release); caller: acquire load
 *    of done_gen. So every write of the task happens-before lb_pool_run
 *    returns. The caller rewrites fn/arg only after that, so a worker is
 *    never reading them while they change (no data race, TSan-clean).
 *
 * Spin, then sleep. After finishing a region a worker spins (with pause)
 * for LB_POOL_SPIN_NS, checking a clock every SPIN_CHECK_EVERY pauses,
 * then sleeps on a futex on `gen` itself. A sleeper first increments
 * n_sleepers, then re-reads gen, then FUTEX_WAITs on the value it last
 * saw; the caller stores gen, then reads n_sleepers and, when non-zero,
 * FUTEX_WAKEs all. Both sides use seq_cst for that store/load pair
 * (Dekker): either the caller sees the sleeper count and wakes, or the
 * sleeper sees the new gen and does not sleep. The kernel's FUTEX_WAIT
 * also compares gen with the expected value atomically with queueing, so
 * a wake between the re-check and the syscall is not lost either. The
 * common back-to-back case therefore costs no syscall at all.
 *
 * When the pool has more threads than CPUs to run them (pin none beyond
 * the PU count), spinning would only steal the CPU from the thread being
 * waited for, so the spin window is 0 and the caller yields while it waits.
 *
 * Pinning. Worker 0 is the calling thread; it is bound too while the pool
 * lives, and its original CPU and memory binding are restored by
 * lb_pool_destroy. Every thread binds itself (HWLOC_CPUBIND_THREAD) in a
 * first pool region right after creation, so a failed bind is reported by
 * lb_pool_create with the OS error.
 *
 * Placement (which PU each worker gets) is computed by plan_pool, which
 * also makes every user-facing check; lb_pool_plan exposes it without
 * creating threads, so placement is testable on synthetic topologies.
 *
 * The pool is driven by the thread that created it only: lb_pool_run,
 * lb_pool_alloc and lb_pool_observe_cpus assert that, and that no region
 * is started from inside a task.
 */
#define _GNU_SOURCE
#include "lb-pool.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <hwloc.h>

#include "hw-check.h"

/* One x86-64 (and Arm Neoverse) cache line; the unit of false sharing. */
#define LB_CACHE_LINE 64
/* Pause-loop iterations between clock reads while spinning: a vDSO
 * clock_gettime costs ~20-50 ns, a pause 10-140 cycles, so the clock is
 * < 5% of the spin and the window is resolved to a few microseconds. */
#define SPIN_CHECK_EVERY 64
/* First-touch granularity: the x86-64 base page. Larger pages are still
 * touched (redundantly) at this stride. */
#define LB_PAGE_BYTES 4096
/* Buffers of at least this size are 2 MiB aligned so that transparent
 * huge pages (x86-64 PMD size) can back them from the first byte. */
#define LB_HUGE_BYTES ((size_t)2 << 20)
/* A typo guard for pin none (which may oversubscribe): each thread costs a
 * stack mapping and a kernel task; no machine we target has more PUs. */
#define LB_POOL_MAX_THREADS 4096
/* Room for a cpu list or an offending token in error messages. */
#define LB_LIST_CHARS 128

_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t),
               "futex word must be a plain 32-bit int");

struct lb_pool_worker {
    /* Written by this worker only (release), read by the caller; the
     * first field so that it starts the worker's own cache line. */
    _Alignas(LB_CACHE_LINE) _Atomic uint32_t done_gen;
    int ith;                  /* 0..nth-1; 0 is the caller */
    struct lb_pool *pool;
    pthread_t thread;         /* unused for worker 0 */
    int cpu;                  /* OS index bound to, -1 when not one PU */
    hwloc_bitmap_t cpuset;    /* what to bind to, NULL for no cpu binding */
    int bind_errno;           /* set by the bind region: 0 or errno */
    const char *bind_what;    /* the hwloc call that failed */
    int bind_line;            /* its line in this file */
};

struct lb_pool {
    /* Dispatch line: written by the caller once per region, read by every
     * worker. gen is also the futex word. */
    _Alignas(LB_CACHE_LINE) _Atomic uint32_t gen;
    bool quit;                /* set before the last gen bump: exit */
    lb_task_fn fn;
    void *arg;
    int n_threads;
    int64_t spin_ns;          /* spin window after a region, ns */
    struct lb_pool_worker *workers; /* n_threads, 64-byte aligned each */

    /* Written by workers going to sleep; read by the caller per region. */
    _Alignas(LB_CACHE_LINE) _Atomic uint32_t n_sleepers;

    /* Cold: set up once. */
    _Alignas(LB_CACHE_LINE) hwloc_topology_t topo;
    pthread_t owner;          /* the creating thread = worker 0 */
    bool in_run;              /* owner only: catches nested regions */
    int n_started;            /* worker threads created (1..n_threads-1) */
    int numa_node;            /* -1 or OS index */
    hwloc_bitmap_t nodeset;   /* NUMA node to bind memory to, or NULL */
    bool caller_bound;        /* worker 0 was bound: restore at destroy */
    hwloc_bitmap_t saved_cpuset;  /* caller's binding before create */
    hwloc_bitmap_t saved_nodeset; /* caller's memory binding, when numa */
    hwloc_membind_policy_t saved_policy;
};

/* ---- small helpers ------------------------------------------------------ */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
    /* EAGAIN (value changed), EINTR and spurious returns are all fine:
     * the caller re-checks gen in a loop. */
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, NULL,
            NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL,
            NULL, 0);
}

static const char *const pin_names[] = {
    [LB_PIN_COMPACT] = "compact",
    [LB_PIN_SPREAD] = "spread",
    [LB_PIN_NONE] = "none",
};

const char *lb_pin_name(enum lb_pin pin)
{
    if ((unsigned)pin < LB_ARRAY_LEN(pin_names)) return pin_names[pin];
    return "unknown";
}

bool lb_pin_parse(const char *s, enum lb_pin *out)
{
    if (!s) return false;
    for (size_t i = 0; i < LB_ARRAY_LEN(pin_names); i++) {
        if (strcmp(s, pin_names[i]) == 0) {
            if (out) *out = (enum lb_pin)i;
            return true;
        }
    }
    return false;
}

/* ---- the worker side ---------------------------------------------------- */

/* Returns the first generation different from `seen`: spins for the
 * pool's window, then sleeps on the futex until woken. */
static uint32_t wait_gen(struct lb_pool *pool, uint32_t seen)
{
    int64_t t0 = 0;
    for (unsigned i = 1;; i++) {
        uint32_t g = atomic_load_explicit(&pool->gen, memory_order_acquire);
        if (g != seen) return g;
        cpu_relax();
        if (i % SPIN_CHECK_EVERY) continue;
        /* The window starts at the first check, SPIN_CHECK_EVERY pauses
         * in: a few microseconds late at worst, and no clock read at all
         * when the next region comes quickly. */
        int64_t t = now_ns();
        if (t0 == 0) t0 = t;
        if (t - t0 < pool->spin_ns) continue;

        atomic_fetch_add_explicit(&pool->n_sleepers, 1, memory_order_seq_cst);
        if (atomic_load_explicit(&pool->gen, memory_order_seq_cst) == seen)
            futex_wait(&pool->gen, seen);
        atomic_fetch_sub_explicit(&pool->n_sleepers, 1, memory_order_relaxed);
        t0 = 0; /* woken (or spurious): spin a fresh window */
    }
}

static void *worker_main(void *p)
{
    struct lb_pool_worker *w = p;
    struct lb_pool *pool = w->pool;
    uint32_t seen = 0; /* gen is 0 until the first region */
    for (;;) {
        uint32_t g = wait_gen(pool, seen);
        seen = g;
        if (pool->quit) break;
        pool->fn(pool->arg, w->ith, pool->n_threads);
        atomic_store_explicit(&w->done_gen, g, memory_order_release);
    }
    return NULL;
}

/* ---- the caller side ---------------------------------------------------- */

static void wait_done(struct lb_pool *pool, struct lb_pool_worker *w,
                      uint32_t g)
{
    int64_t t0 = 0;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&w->done_gen, memory_order_acquire) == g)
            return;
        cpu_relax();
        if (i % SPIN_CHECK_EVERY) continue;
        int64_t t = now_ns();
        if (t0 == 0) t0 = t;
        /* A long or imbalanced region (or an oversubscribed pool): let
         * whoever shares this CPU run. */
        if (t - t0 >= pool->spin_ns) sched_yield();
    }
}

void lb_pool_run(struct lb_pool *pool, lb_task_fn fn, void *arg)
{
    LB_ASSERT(pool && fn);
    LB_ASSERT(pthread_equal(pthread_self(), pool->owner));
    LB_ASSERT(!pool->in_run);
    int nth = pool->n_threads;
    pool->in_run = true;
    if (nth == 1) {
        fn(arg, 0, 1);
        pool->in_run = false;
        return;
    }
    /* Workers spin reading this line: a store to it takes it away from
     * them (and back), so skip the stores when the task is unchanged, as
     * in a benchmark loop; then gen's store is the only transfer. */
    if (pool->fn != fn) pool->fn = fn;
    if (pool->arg != arg) pool->arg = arg;
    /* Only this thread writes gen, so a relaxed read of it is exact. */
    uint32_t g = atomic_load_explicit(&pool->gen, memory_order_relaxed) + 1;
    atomic_store_explicit(&pool->gen, g, memory_order_seq_cst);
    if (atomic_load_explicit(&pool->n_sleepers, memory_order_seq_cst))
        futex_wake_all(&pool->gen);
    fn(arg, 0, nth);
    for (int i = 1; i < nth; i++) wait_done(pool, &pool->workers[i], g);
    pool->in_run = false;
}

int lb_pool_size(const struct lb_pool *pool)
{
    LB_ASSERT(pool);
    return pool->n_threads;
}

int lb_pool_cpu_of(const struct lb_pool *pool, int ith)
{
    LB_ASSERT(pool && ith >= 0 && ith < pool->n_threads);
    return pool->workers[ith].cpu;
}

static void observe_task(void *arg, int ith, int nth)
{
    int *cpus = arg;
    cpus[ith] = sched_getcpu();
}

void lb_pool_observe_cpus(struct lb_pool *pool, int *cpus)
{
    LB_ASSERT(cpus);
    lb_pool_run(pool, observe_task, cpus);
}

/* ---- choosing the CPUs -------------------------------------------------- */

/* Per-PU facts used to order the candidates. */
struct pu_info {
    hwloc_obj_t pu;
    int smt_rank; /* 0 for the first candidate PU of its core, 1 next, ... */
    int domain;   /* index into the (NUMA node, L3) domains */
};

struct domain {
    int numa;     /* logical index of the NUMA node, -1 when none */
    int l3;       /* logical index of the L3, -1 when none */
    int rank;     /* how many domains of the same NUMA node came before */
};

/* Fills order[0..*n) with the candidate PUs (those in `cand`) in the
 * pin mode's order:
 *  compact: the first PU of every core in hwloc logical order (which
 *           walks core by core, L3 by L3, NUMA node by node), then the
 *           second PU of every core (SMT siblings), and so on: cores
 *           before hyperthreads;
 *  spread:  domains = (NUMA node, L3) pairs; domains are ordered so that
 *           consecutive ones alternate NUMA nodes (first L3 of each node,
 *           then the second of each, ...), and PUs are dealt round-robin
 *           over them, each domain giving its PUs in compact order. */
static enum lb_status order_pus(hwloc_topology_t topo, hwloc_const_cpuset_t cand,
                                enum lb_pin pin, hwloc_obj_t *order, int *n,
                                struct lb_error *err)
{
    int n_all = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    int n_cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    struct pu_info *info = calloc((size_t)n_all + 1, sizeof *info);
    struct domain *dom = calloc((size_t)n_all + 1, sizeof *dom);
    int *core_seen = calloc((size_t)(n_cores > 0 ? n_cores : 1), sizeof *core_seen);
    int *dom_order = calloc((size_t)n_all + 1, sizeof *dom_order);
    int *cursor = calloc((size_t)n_all + 1, sizeof *cursor);
    enum lb_status st = LB_OK;
    int m = 0, n_dom = 0, max_rank = 0;

    if (!info || !dom || !core_seen || !dom_order || !cursor) {
        st = lb_error_set(err, LB_ENOMEM, "lb_pool_create: out of memory");
        goto out;
    }
    for (hwloc_obj_t pu = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PU, NULL);
         pu; pu = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PU, pu)) {
        if (!hwloc_bitmap_isset(cand, pu->os_index)) continue;
        struct pu_info *pi = &info[m++];
        pi->pu = pu;
        /* Machines without Core objects: each PU is its own core. */
        hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, pu);
        if (core && (int)core->logical_index < n_cores)
            pi->smt_rank = core_seen[core->logical_index]++;
        if (pi->smt_rank > max_rank) max_rank = pi->smt_rank;

        /* NUMA nodes are memory children in hwloc 2, not ancestors: take
         * the first node whose cpuset holds the PU. */
        int numa = -1;
        for (hwloc_obj_t nd = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, NULL);
             nd; nd = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, nd)) {
            if (nd->cpuset && hwloc_bitmap_isset(nd->cpuset, pu->os_index)) {
                numa = (int)nd->logical_index;
                break;
            }
        }
        hwloc_obj_t l3 = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_L3CACHE, pu);
        int l3i = l3 ? (int)l3->logical_index : -1;
        int d;
        for (d = 0; d < n_dom; d++)
            if (dom[d].numa == numa && dom[d].l3 == l3i) break;
        if (d == n_dom) {
            int rank = 0;
            for (int k = 0; k < n_dom; k++) rank += dom[k].numa == numa;
            dom[n_dom++] = (struct domain){numa, l3i, rank};
        }
        pi->domain = d;
    }

    if (pin == LB_PIN_COMPACT) {
        int k = 0;
        for (int r = 0; r <= max_rank; r++)
            for (int i = 0; i < m; i++)
                if (info[i].smt_rank == r) order[k++] = info[i].pu;
        *n = k;
        goto out;
    }

    /* spread: domains sorted by (rank within node, node), a stable
     * insertion sort (n_dom is the number of L3s: small). */
    for (int d = 0; d < n_dom; d++) {
        int j = d;
        while (j > 0 && (dom[dom_order[j - 1]].rank > dom[d].rank ||
                         (dom[dom_order[j - 1]].rank == dom[d].rank &&
                          dom[dom_order[j - 1]].numa > dom[d].numa))) {
            dom_order[j] = dom_order[j - 1];
            j--;
        }
        dom_order[j] = d;
    }
    /* Deal round-robin: cursor[d] walks the compact order (smt rank, then
     * logical) restricted to domain d, encoded as rank * m + i. */
    int k = 0;
    while (k < m) {
        for (int oi = 0; oi < n_dom; oi++) {
            int d = dom_order[oi];
            for (; cursor[d] < (max_rank + 1) * m; cursor[d]++) {
                int r = cursor[d] / m, i = cursor[d] % m;
                if (info[i].domain == d && info[i].smt_rank == r) {
                    order[k++] = info[i].pu;
                    cursor[d]++;
                    break;
                }
            }
        }
    }
    *n = k;

out:
    free(info);
    free(dom);
    free(core_seen);
    free(dom_order);
    free(cursor);
    return st;
}

static void list_snprintf(char *buf, size_t len, hwloc_const_bitmap_t set)
{
    if (hwloc_bitmap_list_snprintf(buf, len, set) < 0) snprintf(buf, len, "?");
}

/* Reads decimal digits at *q (before stop) into *v; false when there are
 * none. Values saturate at a billion (no PU index comes near), so nothing
 * overflows and the caller reports such a cpu as not existing. */
static bool parse_uint(const char **q, const char *stop, long *v)
{
    if (*q == stop || **q < '0' || **q > '9') return false;
    long x = 0;
    for (; *q < stop && **q >= '0' && **q <= '9'; (*q)++)
        x = x < 100000000 ? x * 10 + (**q - '0') : 1000000000;
    *v = x;
    return true;
}

/* Parses the strict OS cpu list "0,2,4-7" (decimal numbers and ascending
 * ranges, comma separated, no spaces, no repeats) into cpus[0..*n); every
 * cpu must be a PU in `cand` (present, allowed, on the chosen node). */
static enum lb_status parse_cpus(hwloc_topology_t topo, hwloc_const_cpuset_t cand,
                                 const char *list, int numa_node, int **cpus_out,
                                 int *n_out, struct lb_error *err)
{
    enum lb_status st = LB_OK;
    int *cpus = NULL, n = 0, cap = 0;
    hwloc_bitmap_t seen = hwloc_bitmap_alloc();
    char avail[LB_LIST_CHARS];
    if (!seen) return lb_error_set(err, LB_ENOMEM, "lb_pool_create: out of memory");
    list_snprintf(avail, sizeof avail, cand);

    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        const char *stop = end ? end : p + strlen(p);
        char tok[LB_LIST_CHARS];
        snprintf(tok, sizeof tok, "%.*s", (int)(stop - p < LB_LIST_CHARS - 1 ? stop - p : LB_LIST_CHARS - 1), p);
        if (stop == p) {
            st = lb_error_set(err, LB_EINVAL, "--cpus \"%s\": empty entry in the cpu list",
                              list);
            goto fail;
        }
        long lo, hi;
        const char *q = p;
        bool ok = parse_uint(&q, stop, &lo);
        hi = lo;
        if (ok && q < stop) ok = *q++ == '-' && parse_uint(&q, stop, &hi) && q == stop;
        if (!ok) {
            st = lb_error_set(err, LB_EINVAL,
                              "--cpus \"%s\": bad entry '%s' (expected a cpu number N "
                              "or a range N-M, comma separated)", list, tok);
            goto fail;
        }
        if (hi < lo) {
            st = lb_error_set(err, LB_EINVAL, "--cpus \"%s\": range '%s' is reversed",
                              list, tok);
            goto fail;
        }
        for (long c = lo; c <= hi; c++) {
            if (!hwloc_bitmap_isset(cand, (unsigned)c)) {
                if (numa_node >= 0 && hwloc_get_pu_obj_by_os_index(topo, (unsigned)c))
                    st = lb_error_set(err, LB_EINVAL,
                                      "--cpus \"%s\": cpu %ld is not on NUMA node %d "
                                      "(its CPUs: %s)", list, c, numa_node, avail);
                else
                    st = lb_error_set(err, LB_EINVAL,
                                      "--cpus \"%s\": cpu %ld does not exist or is not "
                                      "available to this process (CPUs %s)", list, c, avail);
                goto fail;
            }
            if (hwloc_bitmap_isset(seen, (unsigned)c)) {
                st = lb_error_set(err, LB_EINVAL, "--cpus \"%s\": cpu %ld is listed twice",
                                  list, c);
                goto fail;
            }
            hwloc_bitmap_set(seen, (unsigned)c);
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                int *grown = realloc(cpus, (size_t)cap * sizeof *cpus);
                if (!grown) {
                    st = lb_error_set(err, LB_ENOMEM, "lb_pool_create: out of memory");
                    goto fail;
                }
                cpus = grown;
            }
            cpus[n++] = (int)c;
        }
        if (!end) break;
        p = end + 1;
    }
    hwloc_bitmap_free(seen);
    *cpus_out = cpus;
    *n_out = n;
    return LB_OK;

fail:
    hwloc_bitmap_free(seen);
    free(cpus);
    return st;
}

/* ---- create / destroy --------------------------------------------------- */

/* The first region of every pool: each thread binds itself. */
#define BIND_CHECK(w, stmt)                                                   \
    do {                                                                      \
        if ((stmt) < 0) {                                                     \
            (w)->bind_errno = errno ? errno : EINVAL;                         \
            (w)->bind_what = #stmt;                                           \
            (w)->bind_line = __LINE__;                                        \
            return;                                                           \
        }                                                                     \
    } while (0)

static void bind_task(void *arg, int ith, int nth)
{
    struct lb_pool *pool = arg;
    struct lb_pool_worker *w = &pool->workers[ith];
    if (w->cpuset)
        BIND_CHECK(w, hwloc_set_cpubind(pool->topo, w->cpuset, HWLOC_CPUBIND_THREAD));
    if (pool->nodeset)
        BIND_CHECK(w, hwloc_set_membind(pool->topo, pool->nodeset, HWLOC_MEMBIND_BIND,
                                        HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET));
}


#define ALLOC_CHECK(p)                                                        \
    do {                                                                      \
        if (!(p)) {                                                           \
            st = lb_error_set(err, LB_ENOMEM, "lb_pool_create: out of memory"); \
            goto fail;                                                        \
        }                                                                     \
    } while (0)

/* Where each worker goes: the checked, resolved form of a config. */
struct plan {
    int *cpu;               /* n_threads: OS cpu, or -1 for no single PU */
    hwloc_bitmap_t cand;    /* candidate PUs: allowed, on the node if any */
    hwloc_bitmap_t nodeset; /* the NUMA node to bind memory to, or NULL */
    bool oversubscribed;    /* more threads than candidate PUs (pin none) */
};

static void plan_free(struct plan *pl)
{
    free(pl->cpu);
    hwloc_bitmap_free(pl->cand);
    hwloc_bitmap_free(pl->nodeset);
    memset(pl, 0, sizeof *pl);
}

/* Checks cfg against the topology and resolves it; every user-facing
 * error of lb_pool_create comes from here, so lb_pool_plan reports the
 * same ones. */
static enum lb_status plan_pool(hwloc_topology_t topo, const struct lb_pool_config *cfg,
                                struct plan *pl, struct lb_error *err)
{
    enum lb_status st = LB_OK;
    hwloc_obj_t *order = NULL;
    int *list = NULL, n_list = 0;
    char avail[LB_LIST_CHARS];
    int nth = cfg->n_threads;

    memset(pl, 0, sizeof *pl);
    if (nth < 1)
        return lb_error_set(err, LB_EINVAL, "--threads %d: need at least 1 thread", nth);
    if (nth > LB_POOL_MAX_THREADS)
        return lb_error_set(err, LB_EINVAL, "--threads %d: more than %d threads",
                            nth, LB_POOL_MAX_THREADS);
    if ((unsigned)cfg->pin >= LB_ARRAY_LEN(pin_names))
        return lb_error_set(err, LB_EINVAL, "lb_pool_create: bad pin mode %d", (int)cfg->pin);
    if (cfg->numa_node < -1)
        return lb_error_set(err, LB_EINVAL, "--numa %d: not a node index",
                            cfg->numa_node);

    pl->cpu = malloc((size_t)nth * sizeof *pl->cpu);
    pl->cand = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(topo));
    ALLOC_CHECK(pl->cpu && pl->cand);
    for (int i = 0; i < nth; i++) pl->cpu[i] = -1;
    if (cfg->numa_node >= 0) {
        hwloc_obj_t node = NULL;
        while ((node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, node)))
            if ((int)node->os_index == cfg->numa_node) break;
        if (!node) {
            char nodes[LB_LIST_CHARS];
            list_snprintf(nodes, sizeof nodes, hwloc_topology_get_topology_nodeset(topo));
            st = lb_error_set(err, LB_EINVAL,
                              "--numa %d does not exist (this machine has NUMA node%s %s)",
                              cfg->numa_node,
                              hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE) > 1 ? "s" : "",
                              nodes);
            goto fail;
        }
        hwloc_bitmap_and(pl->cand, pl->cand, node->cpuset);
        pl->nodeset = hwloc_bitmap_dup(node->nodeset);
        ALLOC_CHECK(pl->nodeset);
    }
    list_snprintf(avail, sizeof avail, pl->cand);
    int n_cand = hwloc_bitmap_weight(pl->cand);

    if (cfg->cpus) {
        st = parse_cpus(topo, pl->cand, cfg->cpus, cfg->numa_node, &list, &n_list, err);
        if (st != LB_OK) goto fail;
        if (nth > n_list) {
            st = lb_error_set(err, LB_EINVAL,
                              "--threads %d exceeds the %d CPUs available for pinning "
                              "(--cpus \"%s\")", nth, n_list, cfg->cpus);
            goto fail;
        }
        for (int i = 0; i < nth; i++) pl->cpu[i] = list[i];
    } else if (cfg->pin == LB_PIN_NONE) {
        pl->oversubscribed = nth > n_cand;
    } else {
        if (nth > n_cand) {
            char on_node[48] = "";
            if (cfg->numa_node >= 0)
                snprintf(on_node, sizeof on_node, " on NUMA node %d", cfg->numa_node);
            st = lb_error_set(err, LB_EINVAL,
                              "--threads %d exceeds the %d CPUs available for pinning "
                              "(%s%s; --pin none may oversubscribe)",
                              nth, n_cand, avail, on_node);
            goto fail;
        }
        order = calloc((size_t)hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU) + 1, sizeof *order);
        ALLOC_CHECK(order);
        int n_order = 0;
        st = order_pus(topo, pl->cand, cfg->pin, order, &n_order, err);
        if (st != LB_OK) goto fail;
        LB_ASSERT(n_order >= nth);
        for (int i = 0; i < nth; i++) pl->cpu[i] = (int)order[i]->os_index;
    }
    free(order);
    free(list);
    return LB_OK;

fail:
    free(order);
    free(list);
    plan_free(pl);
    return st;
}

enum lb_status lb_pool_plan(const struct lb_hw *hw, const struct lb_pool_config *cfg,
                            int *cpus, struct lb_error *err)
{
    LB_ASSERT(hw && hw->topology && cfg && cpus);
    struct plan pl;
    enum lb_status st = plan_pool((hwloc_topology_t)hw->topology, cfg, &pl, err);
    if (st != LB_OK) return st;
    memcpy(cpus, pl.cpu, (size_t)cfg->n_threads * sizeof *cpus);
    plan_free(&pl);
    return LB_OK;
}

enum lb_status lb_pool_create(const struct lb_hw *hw,
                              const struct lb_pool_config *cfg,
                              struct lb_pool **out, struct lb_error *err)
{
    enum lb_status st = LB_OK;
    struct lb_pool *pool = NULL;
    struct plan pl;

    LB_ASSERT(hw && hw->topology && cfg && out);
    *out = NULL;
    hwloc_topology_t topo = (hwloc_topology_t)hw->topology;
    st = plan_pool(topo, cfg, &pl, err);
    if (st != LB_OK) return st;
    int nth = cfg->n_threads;

    pool = aligned_alloc(LB_CACHE_LINE, sizeof *pool);
    ALLOC_CHECK(pool);
    memset(pool, 0, sizeof *pool);
    atomic_init(&pool->gen, 0);
    atomic_init(&pool->n_sleepers, 0);
    pool->topo = topo;
    pool->owner = pthread_self();
    pool->n_threads = nth;
    pool->numa_node = cfg->numa_node;
    pool->spin_ns = pl.oversubscribed ? 0 : LB_POOL_SPIN_NS;
    pool->nodeset = pl.nodeset;
    pl.nodeset = NULL; /* the pool owns it now */
    size_t wbytes = (size_t)nth * sizeof *pool->workers; /* a multiple of 64 */
    pool->workers = aligned_alloc(LB_CACHE_LINE, wbytes);
    ALLOC_CHECK(pool->workers);
    memset(pool->workers, 0, wbytes);
    for (int i = 0; i < nth; i++) {
        struct lb_pool_worker *w = &pool->workers[i];
        atomic_init(&w->done_gen, 0);
        w->ith = i;
        w->pool = pool;
        w->cpu = pl.cpu[i];
        if (w->cpu >= 0) {
            w->cpuset = hwloc_bitmap_alloc();
            ALLOC_CHECK(w->cpuset);
            hwloc_bitmap_only(w->cpuset, (unsigned)w->cpu);
        } else if (pool->nodeset) {
            /* pin none on a node: run anywhere on it */
            w->cpuset = hwloc_bitmap_dup(pl.cand);
            ALLOC_CHECK(w->cpuset);
        }
    }

    /* Remember the caller's binding before worker 0 is bound. */
    if (pool->workers[0].cpuset) {
        pool->saved_cpuset = hwloc_bitmap_alloc();
        ALLOC_CHECK(pool->saved_cpuset);
        HWLOC_CHECK(hwloc_get_cpubind(topo, pool->saved_cpuset, HWLOC_CPUBIND_THREAD));
    }
    if (pool->nodeset) {
        pool->saved_nodeset = hwloc_bitmap_alloc();
        ALLOC_CHECK(pool->saved_nodeset);
        HWLOC_CHECK(hwloc_get_membind(topo, pool->saved_nodeset, &pool->saved_policy,
                                      HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET));
    }
    pool->caller_bound = pool->saved_cpuset || pool->saved_nodeset;

    /* Workers start with every signal blocked, so that SIGINT and friends
     * go to the caller's thread and never interrupt a region. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 1; i < nth; i++) {
        int rc = pthread_create(&pool->workers[i].thread, NULL, worker_main,
                                &pool->workers[i]);
        if (rc != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            st = lb_error_set(err, LB_EIO, "lb_pool_create: pthread_create for worker %d "
                              "of %d failed: %s", i, nth, strerror(rc));
            goto fail;
        }
        pool->n_started = i;
        char name[32];
        snprintf(name, sizeof name, "lb-pool-%d", i);
        name[15] = '\0'; /* the kernel's limit: 16 bytes, NUL included */
        pthread_setname_np(pool->workers[i].thread, name);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    lb_pool_run(pool, bind_task, pool);
    for (int i = 0; i < nth; i++) {
        struct lb_pool_worker *w = &pool->workers[i];
        if (!w->bind_errno) continue;
        char where[LB_LIST_CHARS];
        if (w->cpuset) list_snprintf(where, sizeof where, w->cpuset);
        else snprintf(where, sizeof where, "any cpu");
        st = lb_error_set(err, LB_EIO,
                          "binding pool worker %d (cpu %s, numa node %d) failed: %s: %s "
                          "(%s:%d)", i, where, cfg->numa_node, w->bind_what,
                          strerror(w->bind_errno), __FILE__, w->bind_line);
        goto fail;
    }

    plan_free(&pl);
    *out = pool;
    return LB_OK;

fail:
    plan_free(&pl);
    lb_pool_destroy(pool);
    return st;
}

void lb_pool_destroy(struct lb_pool *pool)
{
    if (!pool) return;
    if (pool->n_started > 0) {
        LB_ASSERT(pthread_equal(pthread_self(), pool->owner) && !pool->in_run);
        pool->quit = true;
        uint32_t g = atomic_load_explicit(&pool->gen, memory_order_relaxed) + 1;
        atomic_store_explicit(&pool->gen, g, memory_order_seq_cst);
        futex_wake_all(&pool->gen);
        for (int i = 1; i <= pool->n_started; i++)
            pthread_join(pool->workers[i].thread, NULL);
    }
    /* Give the caller its binding back. Failures are ignored: destroy has
     * no way to report them, and the binding set at create was accepted
     * by the same kernel moments before. */
    if (pool->caller_bound) {
        if (pool->saved_cpuset)
            hwloc_set_cpubind(pool->topo, pool->saved_cpuset, HWLOC_CPUBIND_THREAD);
        if (pool->saved_nodeset) {
            hwloc_membind_policy_t pol = pool->saved_policy;
            if (pol == HWLOC_MEMBIND_MIXED) pol = HWLOC_MEMBIND_DEFAULT;
            hwloc_set_membind(pool->topo, pool->saved_nodeset, pol,
                              HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET);
        }
    }
    if (pool->workers)
        for (int i = 0; i < pool->n_threads; i++)
            hwloc_bitmap_free(pool->workers[i].cpuset);
    hwloc_bitmap_free(pool->nodeset);
    hwloc_bitmap_free(pool->saved_cpuset);
    hwloc_bitmap_free(pool->saved_nodeset);
    free(pool->workers);
    free(pool);
}

/* ---- memory ------------------------------------------------------------- */

/* Alignment and mapped length for a buffer of `bytes`; lb_pool_free
 * recomputes the same, so nothing needs to be stored per buffer. */
static size_t map_len(size_t bytes, size_t *align)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t a = bytes >= LB_HUGE_BYTES ? LB_HUGE_BYTES : page;
    if (a < page) a = page;
    if (align) *align = a;
    return (bytes + a - 1) / a * a;
}

struct touch_ctx {
    volatile char *p;
    size_t bytes;
};

/* First touch: worker ith writes one byte of each 4 KiB page in its
 * lb_split share, the share a kernel splitting the same bytes gives it
 * (up to page rounding at the seams), so the page is allocated on the
 * node of the core that will stream it. With THP a 2 MiB page goes to
 * whichever worker touches it first. */
static void touch_task(void *arg, int ith, int nth)
{
    const struct touch_ctx *t = arg;
    size_t b, e;
    lb_split(t->bytes, LB_PAGE_BYTES, ith, nth, &b, &e);
    for (size_t off = b; off < e; off += LB_PAGE_BYTES) t->p[off] = 0;
}

void *lb_mem_map(size_t bytes)
{
    if (bytes == 0) return NULL;
    size_t align;
    size_t len = map_len(bytes, &align);
    if (len < bytes) return NULL; /* overflow */
    size_t extra = align > (size_t)sysconf(_SC_PAGESIZE) ? align : 0;
    if (len + extra < len) return NULL;
    char *raw = mmap(NULL, len + extra, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    /* Trim the over-allocation so that [p, p+len) is exactly the mapping. */
    char *p = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
    if (p > raw) munmap(raw, (size_t)(p - raw));
    if (raw + len + extra > p + len) munmap(p + len, (size_t)(raw + len + extra - (p + len)));

    /* Advisory: fails with EINVAL where THP is compiled out; fine. */
    if (align == LB_HUGE_BYTES) madvise(p, len, MADV_HUGEPAGE);
    return p;
}

void lb_mem_unmap(void *p, size_t bytes)
{
    if (!p || bytes == 0) return;
    munmap(p, map_len(bytes, NULL));
}

void *lb_pool_alloc(struct lb_pool *pool, size_t bytes)
{
    LB_ASSERT(pool);
    char *p = lb_mem_map(bytes);
    if (!p) return NULL;
    if (pool->nodeset &&
        hwloc_set_area_membind(pool->topo, p, map_len(bytes, NULL), pool->nodeset, HWLOC_MEMBIND_BIND,
                               HWLOC_MEMBIND_BYNODESET) < 0) {
        lb_mem_unmap(p, bytes);
        return NULL;
    }
    struct touch_ctx t = {p, bytes};
    lb_pool_run(pool, touch_task, &t);
    return p;
}

void lb_pool_free(struct lb_pool *pool, void *p, size_t bytes)
{
    (void)pool;
    lb_mem_unmap(p, bytes);
}

void lb_barrier_wait(struct lb_barrier *b, int nth)
{
    if (nth == 1) return;
    const unsigned ph = atomic_load_explicit(&b->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == (unsigned)nth - 1) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&b->phase, ph + 1, memory_order_release);
        return;
    }
    unsigned spins = 0;
    while (atomic_load_explicit(&b->phase, memory_order_acquire) == ph) {
        __builtin_ia32_pause();
        /* 2^14 pauses: ~10-100 us, far longer than a pinned peer takes
         * (< 1 us), short enough that an oversubscribed pool moves */
        if (++spins % (1u << 14) == 0) sched_yield();
    }
}
