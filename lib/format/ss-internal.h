/* Internal interface between the .ss reader and writer. */
#ifndef LS_SS_INTERNAL_H
#define LS_SS_INTERNAL_H

#include "libstream.h"

/* Encodes h into the 128 bytes at p. */
void ls__ss_header_encode(const ls_ss_header *h, unsigned char *p);

/* Reads the .ss file on fd (read-write, any position) and sets *h to its
 * header, *end to the offset just after its last complete message that
 * is not an End-of-Stream marker, and *whole to the offset just after
 * its last complete message (or beacon): what follows is incomplete. */
int ls__ss_find_end(int fd, ls_ss_header *h, uint64_t *end, uint64_t *whole,
    ls_error *err);

#endif
