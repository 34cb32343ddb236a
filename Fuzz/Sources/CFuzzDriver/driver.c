// In debug builds SwiftPM links executables with `--defsym main=shardlog_fuzz_main` (so tests can link them), which
// hides libFuzzer's own `main`. This is that symbol: it hands over to libFuzzer's driver with the Swift entry point.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

int shardlog_fuzz_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
