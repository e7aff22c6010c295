int y_(void); int z_(void);
int y_(void) { return z_(); }
