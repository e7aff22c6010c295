int z_(void); int x_(void);
int z_(void) { return x_() + 1; }
