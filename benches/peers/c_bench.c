#define _POSIX_C_SOURCE 199309L
/* Times the generated C of jet_tagger: one core, 1,024 fixed<16,6> input
 * vectors cycled. Built and run by benches/peers/run_c.sh. */
#include "jet_tagger.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000, s; size_t k;
    static int16_t in[1024][16]; int16_t out[5]; long long sum = 0;
    unsigned x = 12345;
    for (s = 0; s < 1024; ++s) for (k = 0; k < 16; ++k) { x = x * 1103515245u + 12345u; in[s][k] = (int16_t)((x >> 8) & 0xffff) >> 4; }
    struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
    for (s = 0; s < n; ++s) { jet_tagger_infer(in[s & 1023], out); sum += out[0]; }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double t = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
    printf("%ld inferences in %.3f s: %.0f inferences/s (checksum %lld)\n", n, t, n / t, sum);
    return 0;
}
