/* lb-pool-latency.h: the pool_latency benchmark's operations, for the
 * suite that declares `lb_bench_pool_latency` (bench/lb-harness.h types).
 *
 * What one call measures: dispatch + barrier of an empty region, i.e. one
 * lb_pool_run whose task only writes its ith into the worker's own cache
 * line. That is the fixed cost every parallel kernel pays per region.
 */
#ifndef LB_POOL_LATENCY_H
#define LB_POOL_LATENCY_H

#include "lb-harness.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Allocates one cache line per pool worker (poisoned with -1). */
enum lb_status lb_pool_latency_setup(const struct lb_bench_env *env, void **state,
                                     struct lb_error *err);
/* ONE lb_pool_run of the empty region: dispatch + barrier. */
void lb_pool_latency_run(void *state, struct lb_pool *pool, uint64_t iter);
/* Every worker wrote its ith: each ran in the last region. */
enum lb_status lb_pool_latency_validate(void *state, struct lb_pool *pool,
                                        struct lb_error *err);
void lb_pool_latency_teardown(void *state, struct lb_pool *pool);

#ifdef __cplusplus
}
#endif
#endif
