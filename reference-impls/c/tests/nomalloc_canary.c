/* Deliberately allocates: the nomalloc target links this the same way as the core and requires the
 * link to FAIL, proving that the check would catch an allocation in the core. */
#include <stdlib.h>
void *ekc_canary_alloc(size_t n);
void *ekc_canary_alloc(size_t n) { return malloc(n); }
