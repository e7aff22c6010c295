/* x -> y -> z -> x */
int x_(void); int y_(void);
int x_(void) { return y_(); }
int main(void) { return x_(); }
