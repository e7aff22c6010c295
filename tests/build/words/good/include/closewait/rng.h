/* Public: nothing to resolve. */
