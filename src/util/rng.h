/* A small seeded generator (xoshiro256**, seeded through splitmix64): the same
 * numbers on every machine and compiler, so a seed reproduces a run. */
#ifndef CNN_RNG_H
#define CNN_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
double rng_uniform(struct rng *r);          /* [0, 1) */
double rng_normal(struct rng *r);           /* N(0, 1) */
uint32_t rng_below(struct rng *r, uint32_t n); /* uniform in [0, n), unbiased */
void rng_shuffle(struct rng *r, int *a, int n);  /* Fisher-Yates */

#endif
