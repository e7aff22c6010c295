#define LOOP 1
