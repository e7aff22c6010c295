/* The long-lived client (S9-S12). */
int main(void) { return 0; }
