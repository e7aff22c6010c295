int census_owners(void);
