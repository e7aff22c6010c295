static inline int clock_now(void) { return 1; }
