/* A clean command: nothing to resolve. */
int main(void) { return 0; }
