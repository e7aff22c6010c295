int loop_run(void);
