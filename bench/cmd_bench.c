#include "harness.h"
int cmd_bench(int argc, char **argv) { (void)argc; (void)argv; bench_error("bench: being written"); return 2; }
