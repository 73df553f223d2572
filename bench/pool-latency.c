/* pool-latency.c: dispatch + barrier of an empty region (see
 * lb-pool-latency.h). Each worker writes its ith into its own 64-byte
 * line, so the region has a visible effect and no false sharing: what is
 * timed is the pool's handshake, not the task. */
#include "lb-pool-latency.h"

#include <stdlib.h>

struct lb_pool_latency_slot {
    _Alignas(64) int64_t ith; /* one cache line per worker */
};

struct lb_pool_latency_state {
    int nth;
    struct lb_pool_latency_slot *slots; /* nth */
};

static void empty_task(void *arg, int ith, int nth)
{
    struct lb_pool_latency_state *s = arg;
    s->slots[ith].ith = ith;
}

enum lb_status lb_pool_latency_setup(const struct lb_bench_env *env, void **state,
                                     struct lb_error *err)
{
    struct lb_pool_latency_state *s = calloc(1, sizeof *s);
    if (!s) return lb_error_set(err, LB_ENOMEM, "pool_latency: out of memory");
    s->nth = lb_pool_size(env->pool);
    s->slots = aligned_alloc(64, (size_t)s->nth * sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return lb_error_set(err, LB_ENOMEM, "pool_latency: out of memory");
    }
    for (int i = 0; i < s->nth; i++) s->slots[i].ith = -1;
    *state = s;
    return LB_OK;
}

void lb_pool_latency_run(void *state, struct lb_pool *pool, uint64_t iter)
{
    lb_pool_run(pool, empty_task, state);
}

enum lb_status lb_pool_latency_validate(void *state, struct lb_pool *pool,
                                        struct lb_error *err)
{
    struct lb_pool_latency_state *s = state;
    for (int i = 0; i < s->nth; i++)
        if (s->slots[i].ith != i)
            return lb_error_set(err, LB_EVALIDATE, "pool_latency: worker %d of %d "
                                "did not run (slot holds %lld)", i, s->nth,
                                (long long)s->slots[i].ith);
    return LB_OK;
}

void lb_pool_latency_teardown(void *state, struct lb_pool *pool)
{
    struct lb_pool_latency_state *s = state;
    if (!s) return;
    free(s->slots);
    free(s);
}
