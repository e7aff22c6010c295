/* Pairing, as in s22 of the notes. */
