#include "CShardLog.h"
#include <errno.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int shardlog_futex_supported(void) { return 1; }

int shardlog_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    if (timeout_ns < 0) timeout_ns = 0;
    struct timespec ts;
    ts.tv_sec = (time_t)(timeout_ns / 1000000000);
    ts.tv_nsec = (long)(timeout_ns % 1000000000);
    return (int)syscall(SYS_futex, word, FUTEX_WAIT, expected, &ts, NULL, 0);
}

int shardlog_futex_wake(uint32_t *word, int count) {
    return (int)syscall(SYS_futex, word, FUTEX_WAKE, count, NULL, NULL, 0);
}
#else
int shardlog_futex_supported(void) { return 0; }

int shardlog_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    (void)word; (void)expected; (void)timeout_ns;
    errno = ENOSYS;
    return -1;
}

int shardlog_futex_wake(uint32_t *word, int count) {
    (void)word; (void)count;
    errno = ENOSYS;
    return -1;
}
#endif
