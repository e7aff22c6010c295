int census_walk(void);
