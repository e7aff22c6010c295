int cw_api(void);
