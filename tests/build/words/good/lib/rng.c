/* The jitter's generator. */
struct rng { unsigned long long state; };
void rng_init(struct rng *r, unsigned long long seed) { r->state = seed; }
