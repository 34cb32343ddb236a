// Append path probe: pwrite vs memcpy into a MAP_SHARED mapping, 128 KiB batches into a preallocated 512 MiB file.
// Build and run: gcc -O2 -o /tmp/pwrite_vs_mmap Benchmarks/probes/pwrite_vs_mmap.c && /tmp/pwrite_vs_mmap /tmp
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    const size_t size = 512ul << 20, batch = 128 << 10;
    char path[512];
    char *buf = malloc(batch);
    for (size_t i = 0; i < batch; i++) buf[i] = (char)(i * 31);
    for (int round = 0; round < 3; round++) {
        for (int mode = 0; mode < 2; mode++) {
            snprintf(path, sizeof path, "%s/probe-%d.seg", dir, mode);
            int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || posix_fallocate(fd, 0, size) != 0) { perror("prealloc"); return 1; }
            char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            double t0 = now();
            for (size_t off = 0; off + batch <= size; off += batch) {
                if (mode == 0) { if (pwrite(fd, buf, batch, off) != (ssize_t)batch) { perror("pwrite"); return 1; } }
                else memcpy(map + off, buf, batch);
            }
            double dt = now() - t0;
            printf("KEY: append_%s_round%d %.0f MB/s\n", mode == 0 ? "pwrite" : "mmap_memcpy", round, size / dt / 1e6);
            munmap(map, size);
            close(fd);
            unlink(path);
        }
    }
    return 0;
}
