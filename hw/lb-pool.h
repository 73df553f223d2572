/* lb-pool.h: a persistent, pinned worker pool for kernels and benchmarks.
 *
 * Workload: the caller issues many short parallel regions (a 10 us GEMV
 * slice, a 30 ms bandwidth sweep) and wants the dispatch + barrier cost to
 * be small next to them (target < 5 us on 2 threads). Workers spin on a
 * generation counter for a short while after each region, then sleep, so
 * an idle pool does not burn the shared machine.
 *
 * The calling thread is worker 0: lb_pool_run(pool, fn, arg) calls
 * fn(arg, ith, nth) on every worker ith = 0..nth-1 and returns when all
 * have finished. Kernels split work by (ith, nth) and know nothing else of
 * the pool (kernels/ stays pure compute).
 */
#ifndef LB_POOL_H
#define LB_POOL_H

#include "lb-hw.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*lb_task_fn)(void *arg, int ith, int nth);

/* How long a worker spins after a region before it sleeps, ns. 100 us
 * covers the gap between back-to-back regions of a benchmark loop or a
 * model's layers (a few us) with wide margin, is a few times a futex
 * wake-up (5-50 us, more in a VM), and lets an idle pool give its CPUs
 * back within 0.1 ms. Tests sleep longer than this to exercise wake-ups. */
#define LB_POOL_SPIN_NS 100000

enum lb_pin {
    LB_PIN_COMPACT = 0, /* fill cores of one L3/NUMA node before the next */
    LB_PIN_SPREAD,      /* round-robin over L3 domains (CCDs) and NUMA nodes */
    LB_PIN_NONE,        /* no binding; the OS schedules */
};

struct lb_pool_config {
    int n_threads;        /* >= 1, including the caller */
    enum lb_pin pin;
    const char *cpus;     /* NULL, or an explicit OS cpu list "0,2,4-7": worker i
                             gets the i-th cpu (overrides pin) */
    int numa_node;        /* -1, or OS index: run there and bind memory there */
};

struct lb_pool;

const char *lb_pin_name(enum lb_pin pin);
bool lb_pin_parse(const char *s, enum lb_pin *out);

enum lb_status lb_pool_create(const struct lb_hw *hw,
                              const struct lb_pool_config *cfg,
                              struct lb_pool **out, struct lb_error *err);
void lb_pool_destroy(struct lb_pool *pool);
/* What lb_pool_create(hw, cfg) would do, without threads or binding: the
 * same checks and errors, and cpus[0..cfg->n_threads) filled with the OS
 * cpu each worker would be bound to (-1: not bound to one PU). For the
 * report's placement and for tests on synthetic topologies. */
enum lb_status lb_pool_plan(const struct lb_hw *hw, const struct lb_pool_config *cfg,
                            int *cpus, struct lb_error *err);

void lb_pool_run(struct lb_pool *pool, lb_task_fn fn, void *arg);
int lb_pool_size(const struct lb_pool *pool);
/* OS cpu index worker ith is bound to, or -1 when unpinned. */
int lb_pool_cpu_of(const struct lb_pool *pool, int ith);
/* The cpu each worker observed itself on (sched_getcpu) in a probe run:
 * fills cpus[0..nth-1]; used by tests and the report. */
void lb_pool_observe_cpus(struct lb_pool *pool, int *cpus);

/* Memory for benchmark buffers: page aligned, transparent huge pages
 * requested, bound to the pool's NUMA node when one was given, and first
 * touched by the workers in the same static split a kernel uses, so on a
 * multi-node box each slice lives near the core that streams it.
 * Returns NULL on failure. Free with lb_pool_free. */
void *lb_pool_alloc(struct lb_pool *pool, size_t bytes);
void lb_pool_free(struct lb_pool *pool, void *p, size_t bytes);

/* The mapping under lb_pool_alloc, for memory that has no pool at hand
 * (synthesized model weights): anonymous, page aligned, 2 MiB aligned
 * with transparent huge pages requested (MADV_HUGEPAGE) from 2 MiB up,
 * zero-filled, not touched. Weights streamed once per token from 4 KiB
 * pages cost a TLB walk every 4 KiB and stop the hardware prefetchers at
 * every page (docs/decode.md measures the difference). NULL on failure;
 * free with lb_mem_unmap and the same bytes. */
void *lb_mem_map(size_t bytes);
void lb_mem_unmap(void *p, size_t bytes);

/* A barrier for the workers of ONE pool region (a kernel with phases:
 * quantize x, then rows; attention partials, then merge), so a call needs
 * one dispatch instead of one per phase. Sense-counting: the counter and
 * the phase sit on their own cache lines. Zero-initialise before use;
 * every worker 0..nth-1 of the region must call lb_barrier_wait. Waiters
 * spin with pause and yield every 2^14 spins, so an oversubscribed pool
 * (--pin none) still progresses. */
struct lb_barrier {
    _Alignas(64) _Atomic unsigned arrived;
    _Alignas(64) _Atomic unsigned phase;
};
void lb_barrier_wait(struct lb_barrier *b, int nth);

#ifdef __cplusplus
}
#endif
#endif
