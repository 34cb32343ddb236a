#include "CShardLog.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

int shardlog_malloc_keep_freed(size_t bytes) {
#if defined(__GLIBC__)
    int value = bytes > (size_t)0x7fffffff ? 0x7fffffff : (int)bytes;
    // Setting either threshold turns off glibc's own adjustment of both, so both are set.
    return mallopt(M_TRIM_THRESHOLD, value) == 1 && mallopt(M_MMAP_THRESHOLD, value) == 1;
#else
    (void)bytes;
    return 0;
#endif
}
