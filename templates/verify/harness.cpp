// {{ header }}
// Verilator harness of qkhw verify: streams the input vectors through the
// AXI-Stream top with random input gaps and random output back-pressure
// (xorshift from the seed), records every output, and checks TLAST and, in
// steady mode, the latency and the initiation interval. Generated.
#include "V{{ top }}.h"
#include "V{{ top }}___024root.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <climits>
#include <cstring>
#include <vector>
#ifdef QKHW_TRACE
#ifdef QKHW_FST
#include "verilated_fst_c.h"
typedef VerilatedFstC QkhwTrace;
#else
#include "verilated_vcd_c.h"
typedef VerilatedVcdC QkhwTrace;
#endif
#endif

// The input file: each input port's transfers one after another, port by
// port (one port, unless the model has several inputs).
static const int N_INS = {{ ins.len() }};
// Bytes of one transfer and transfers per sample of each input port.
static const long IN_BYTES[] = { {% for p in ins %}{{ p.bytes }}, {% endfor %}0 };
static const long IN_BEATS[] = { {% for p in ins %}{{ p.beats }}, {% endfor %}1 };
static const int OUT_BYTES = {{ out_bytes }};
static const long LATENCY = {{ latency }};
static const long II = {{ ii }};
// Output transfers per sample (1: one whole sample per transfer).
static const long OUT_BEATS = {{ out_beats }};
// Streaming design: TLAST on each sample's last beat; latency and interval
// are measured and printed, not checked.
static const bool STREAM = {{ stream }};

static uint64_t rng_state;
static uint64_t rnd() {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

// Input port k's transfer from its bytes, and its handshake.
{%- for p in ins %}
static void set_in_{{ loop.index0 }}(V{{ top }}* t, const uint8_t* b) {
{%- if p.wide %}
    for (int w = 0; w < {{ p.words }}; ++w) {
        uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            int i = w * 4 + k;
            if (i < {{ p.bytes }}) v |= (uint32_t)b[i] << (8 * k);
        }
        t->{{ p.port }}_tdata[w] = v;
    }
{%- else %}
    uint64_t v = 0;
    for (int k = 0; k < {{ p.bytes }}; ++k) v |= (uint64_t)b[k] << (8 * k);
    t->{{ p.port }}_tdata = v;
{%- endif %}
}
{%- endfor %}
static void drive_in(V{{ top }}* t, int k, const uint8_t* b, bool valid, bool last) {
    switch (k) {
{%- for p in ins %}
    case {{ loop.index0 }}: set_in_{{ loop.index0 }}(t, b); t->{{ p.port }}_tvalid = valid; t->{{ p.port }}_tlast = last; break;
{%- endfor %}
    default: break;
    }
}
static bool in_ready(V{{ top }}* t, int k) {
    switch (k) {
{%- for p in ins %}
    case {{ loop.index0 }}: return t->{{ p.port }}_tready;
{%- endfor %}
    default: (void)t; return false;
    }
}

static void get_out(V{{ top }}* t, uint8_t* b) {
{%- if out_wide %}
    for (int i = 0; i < OUT_BYTES; ++i) b[i] = (uint8_t)(t->{{ out_port }}_tdata[i / 4] >> (8 * (i % 4)));
{%- else %}
    uint64_t v = t->{{ out_port }}_tdata;
    for (int i = 0; i < OUT_BYTES; ++i) b[i] = (uint8_t)(v >> (8 * i));
{%- endif %}
}

// A streaming design's FIFOs: the occupancy probe of each (its `level`
// wire, public to the harness), its name and capacity.
static const int N_FIFOS = {{ fifos.len() }};
static const char* const FIFO_NAME[] = { {% for f in fifos %}"{{ f.1 }}", {% endfor %}"" };
static const long FIFO_CAP[] = { {% for f in fifos %}{{ f.2 }}, {% endfor %}0 };
static long fifo_level(V{{ top }}* t, int k) {
    switch (k) {
{%- for f in fifos %}
    case {{ loop.index0 }}: return (long)t->rootp->{{ top }}__DOT__{{ f.0 }}__DOT__level;
{%- endfor %}
    default: (void)t; return 0;
    }
}
static bool fifo_full(V{{ top }}* t, int k) {
    switch (k) {
{%- for f in fifos %}
    case {{ loop.index0 }}: return t->rootp->{{ top }}__DOT__{{ f.0 }}__DOT__full;
{%- endfor %}
    default: (void)t; return false;
    }
}

#ifdef QKHW_TAPS
// Tap k's bytes after a clock edge.
static void get_tap(V{{ top }}* t, int k, std::vector<uint8_t>& out) {
    out.clear();
    switch (k) {
{%- for tp in taps %}
    case {{ loop.index0 }}: {
{%- if tp.2 %}
        const auto& w = t->rootp->{{ top }}__DOT__{{ tp.0 }};
        for (int i = 0; i < {{ tp.1 }}; ++i) out.push_back((uint8_t)(w[i / 4] >> (8 * (i % 4))));
{%- else %}
        uint64_t v = t->rootp->{{ top }}__DOT__{{ tp.0 }};
        for (int i = 0; i < {{ tp.1 }}; ++i) out.push_back((uint8_t)(v >> (8 * i)));
{%- endif %}
        break;
    }
{%- endfor %}
    default: break;
    }
}
static const long TAP_STAGE[] = { {% for tp in taps %}{{ tp.3 }}, {% endfor %}0 };
// Streamed layers: beats per sample (0: read at TAP_STAGE instead), each
// beat read when the tap's handshake fires.
static const long TAP_BEATS[] = { {% for tp in taps %}{{ tp.4 }}, {% endfor %}0 };
static const int N_TAPS = {{ taps.len() }};
static bool tap_fire(V{{ top }}* t, int k) {
    switch (k) {
{%- for tp in taps %}{% if tp.4 > 0 %}
    case {{ loop.index0 }}: return t->rootp->{{ top }}__DOT__{{ tp.5 }};
{%- endif %}{% endfor %}
    default: (void)t; return false;
    }
}
#endif

// usage: harness IN OUT N SEED MODE [TAP_SAMPLE TAP_FILE] [VCD|FST]
// MODE 0: random gaps and back-pressure (with several inputs, the first half of
// the samples sent one input after another); 1: steady (checks latency and II).
// Prints `progress K` (K outputs so far) on stdout as it goes.
int main(int argc, char** argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s IN OUT N SEED MODE [TAP_SAMPLE TAP_FILE] [VCD|FST]\n", argv[0]);
        return 2;
    }
    const long n = atol(argv[3]);
    rng_state = strtoull(argv[4], nullptr, 10) * 2654435761ull + 0x9E3779B97F4A7C15ull;
    const int mode = atoi(argv[5]);
    const long n_out = n * OUT_BEATS;
    // Where each port's transfers start in the file, and how many it has.
    long in_off[N_INS + 1], n_ins[N_INS + 1];
    size_t in_size = 0;
    for (int k = 0; k < N_INS; ++k) {
        in_off[k] = (long)in_size;
        n_ins[k] = n * IN_BEATS[k];
        in_size += (size_t)(n_ins[k] * IN_BYTES[k]);
    }
    std::vector<uint8_t> in(in_size > 0 ? in_size : 1), out((size_t)n_out * OUT_BYTES);
    FILE* f = fopen(argv[1], "rb");
    if (!f || fread(in.data(), 1, in_size, f) != in_size) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    fclose(f);
    VerilatedContext ctx;
    V{{ top }} top{&ctx};
#ifdef QKHW_TRACE
    QkhwTrace* vcd = nullptr;
    if (argc > 8) {
        ctx.traceEverOn(true);
        vcd = new QkhwTrace;
        top.trace(vcd, 99);
        vcd->open(argv[8]);
    }
#endif
#ifdef QKHW_TAPS
    const long tap_sample = argc > 7 ? atol(argv[6]) : -1;
    FILE* tapf = argc > 7 ? fopen(argv[7], "wb") : nullptr;
    std::vector<uint8_t> tapbuf;
    std::vector<long> tap_beat((size_t)N_TAPS + 1, 0);
#endif
    // When each port's transfers were accepted, and when each sample was
    // (its last part on every port).
    std::vector<std::vector<long>> accepted_at((size_t)N_INS + 1);
    for (int k = 0; k < N_INS; ++k) accepted_at[(size_t)k].assign((size_t)n_ins[k], -1);
    std::vector<long> sample_at((size_t)n + 1, -1);
    std::vector<long> out_at((size_t)n_out, -1);
    // Transfers each input port has delivered; `next_in` is the samples
    // every port has delivered.
    long next_ins[N_INS + 1] = {0};
    long next_in = 0, next_out = 0, cycle = 0, last_out_cycle = -1;
    std::vector<long> fifo_max((size_t)N_FIFOS + 1, 0);
    int errors = 0;
    top.{{ clk }} = 0;
    top.{{ rst }} = {{ rst_on }};
    for (int k = 0; k < N_INS; ++k) drive_in(&top, k, &in[(size_t)in_off[k]], false, false);
    top.{{ out_port }}_tready = 0;
    for (int i = 0; i < 4; ++i) {
        top.{{ clk }} = 0; top.eval();
        top.{{ clk }} = 1; top.eval();
    }
    top.{{ rst }} = {{ rst_off }};
    const long limit = 64 + (n * II + LATENCY + 8) * (mode == 0 ? 16 : (STREAM ? 4 : 2));
    // A stall: no transfer for this many cycles while inputs are given.
    const long stall = 1000 + 8 * (II + LATENCY);
    long last_progress = 0;
    const long progress_step = n_out / 100 > 0 ? n_out / 100 : 1;
    // The run ends when every output beat is out and every input beat in:
    // a sample's output can be complete before its last input beats go in
    // where the model never reads them (a pooling that drops the last
    // rows), and its last-beat latency is then negative.
    long ins_left = 0;
    for (int k = 0; k < N_INS; ++k) ins_left += n_ins[k];
    while ((next_out < n_out || ins_left > 0) && cycle < limit) {
        if (cycle - last_progress > stall) {
            fprintf(stderr, "stall: no transfer for %ld cycles (after output transfer %ld, %ld samples in)", cycle - last_progress, next_out, next_in);
            // A full FIFO deadlocks its fork: the join after it waits for
            // the other branch, which the fork no longer feeds. The FIFOs
            // are in stream order; the last full one is the cause, and the
            // full ones before it back up behind it.
            int cause = -1;
            for (int k = 0; k < N_FIFOS; ++k) if (fifo_full(&top, k)) cause = k;
            if (cause >= 0) {
                fprintf(stderr, ": FIFO `%s` is full (%ld words; %ld in the design's report)", FIFO_NAME[cause], fifo_level(&top, cause), FIFO_CAP[cause]);
                int behind = 0;
                for (int k = 0; k < cause; ++k) {
                    if (fifo_full(&top, k)) fprintf(stderr, "%s`%s`", behind++ ? ", " : "; backed up behind it: ", FIFO_NAME[k]);
                }
            } else if (N_FIFOS > 0) {
                fprintf(stderr, "; no FIFO is full");
            }
            fprintf(stderr, "\n");
            ++errors;
            break;
        }
        bool give[N_INS + 1];
        // With several inputs, the random run sends its first half of the
        // samples one input after another (every beat of sample s on port
        // 0, then on port 1, ...: a single source, which the design must
        // not deadlock), the rest on each port independently.
        int turn = -1;
        if (mode == 0 && N_INS > 1 && next_in < n / 2) {
            for (int k = N_INS - 1; k >= 0; --k) if (next_ins[k] < (next_in + 1) * IN_BEATS[k]) turn = k;
        }
        for (int k = 0; k < N_INS; ++k) {
            long j = next_ins[k];
            give[k] = j < n_ins[k] && (mode != 0 || (rnd() & 3) != 0) && (turn < 0 || turn == k);
            bool last = STREAM ? ((j + 1) % IN_BEATS[k] == 0) : (j == n - 1);
            drive_in(&top, k, &in[(size_t)(in_off[k] + (j < n_ins[k] ? j : 0) * IN_BYTES[k])], give[k], last);
        }
        top.{{ out_port }}_tready = (mode != 0) || (rnd() % 4) != 0;
        top.{{ clk }} = 0;
        top.eval();
#ifdef QKHW_TRACE
        if (vcd) vcd->dump((uint64_t)(cycle * 2));
#endif
        bool in_fire[N_INS + 1];
        for (int k = 0; k < N_INS; ++k) in_fire[k] = give[k] && in_ready(&top, k);
#ifdef QKHW_TAPS
        // Streamed layers' beats, as they are handed over.
        if (tapf && tap_sample >= 0) {
            for (int k = 0; k < N_TAPS; ++k) {
                if (TAP_BEATS[k] == 0 || !tap_fire(&top, k)) continue;
                long b = tap_beat[(size_t)k]++;
                if (b / TAP_BEATS[k] != tap_sample) continue;
                get_tap(&top, k, tapbuf);
                int kk = k;
                fwrite(&kk, 4, 1, tapf);
                fwrite(tapbuf.data(), 1, tapbuf.size(), tapf);
            }
        }
#endif
        bool out_fire = top.{{ out_port }}_tvalid && top.{{ out_port }}_tready;
        if (out_fire) {
            get_out(&top, &out[(size_t)next_out * OUT_BYTES]);
            bool want_last = STREAM ? ((next_out + 1) % OUT_BEATS == 0) : (next_out == n - 1);
            if ((bool)top.{{ out_port }}_tlast != want_last) {
                fprintf(stderr, "TLAST wrong on output transfer %ld\n", next_out);
                ++errors;
            }
            out_at[(size_t)next_out] = cycle;
            last_progress = cycle;
            if (mode == 1 && !STREAM) {
                long lat = cycle - sample_at[(size_t)next_out];
                if (lat != LATENCY) {
                    fprintf(stderr, "sample %ld: latency %ld cycles, the interface says %ld\n", next_out, lat, LATENCY);
                    ++errors;
                }
                if (last_out_cycle >= 0 && cycle != last_out_cycle + II) {
                    fprintf(stderr, "sample %ld: %ld cycles after the previous output (initiation interval %ld)\n", next_out, cycle - last_out_cycle, II);
                    ++errors;
                }
                last_out_cycle = cycle;
            }
            ++next_out;
            if (next_out % progress_step == 0) {
                printf("progress %ld\n", next_out / OUT_BEATS);
                fflush(stdout);
            }
        }
        top.{{ clk }} = 1;
        top.eval();
#ifdef QKHW_TRACE
        if (vcd) vcd->dump((uint64_t)(cycle * 2 + 1));
#endif
        // A sample is accepted when its last part is.
        for (int k = 0; k < N_INS; ++k) {
            if (!in_fire[k]) continue;
            long j = next_ins[k]++;
            --ins_left;
            last_progress = cycle;
            accepted_at[(size_t)k][(size_t)j] = cycle;
            long s = j / IN_BEATS[k];
            if ((j + 1) % IN_BEATS[k] == 0 && sample_at[(size_t)s] < cycle) sample_at[(size_t)s] = cycle;
        }
        next_in = next_ins[0] / IN_BEATS[0];
        for (int k = 1; k < N_INS; ++k) if (next_ins[k] / IN_BEATS[k] < next_in) next_in = next_ins[k] / IN_BEATS[k];
        for (int k = 0; k < N_FIFOS; ++k) {
            long l = fifo_level(&top, k);
            if (l > fifo_max[k]) fifo_max[k] = l;
        }
#ifdef QKHW_TAPS
        if (tapf && tap_sample >= 0 && tap_sample < next_in) {
            for (int k = 0; k < N_TAPS; ++k) {
                if (TAP_BEATS[k] == 0 && cycle - (TAP_STAGE[k] - 1) == sample_at[(size_t)tap_sample]) {
                    get_tap(&top, k, tapbuf);
                    int kk = k;
                    fwrite(&kk, 4, 1, tapf);
                    fwrite(tapbuf.data(), 1, tapbuf.size(), tapf);
                }
            }
        }
#endif
        ++cycle;
    }
#ifdef QKHW_TAPS
    if (tapf) fclose(tapf);
#endif
#ifdef QKHW_TRACE
    if (vcd) vcd->close();
#endif
    if (next_out < n_out) {
        fprintf(stderr, "only %ld of %ld output transfers after %ld cycles\n", next_out, n_out, cycle);
        ++errors;
    }
    for (int k = 0; k < N_INS; ++k) {
        if (next_ins[k] < n_ins[k]) {
            fprintf(stderr, "input %d: only %ld of %ld transfers taken after %ld cycles\n", k, next_ins[k], n_ins[k], cycle);
            ++errors;
        }
    }
    for (int k = 0; k < N_FIFOS; ++k) printf("fifo %d %ld\n", k, fifo_max[k]);
    if (STREAM && mode == 1 && next_out == n_out && n > 0) {
        // Measured at full rate: first input beat -> first output beat,
        // last input beat -> last output beat, and the cycles between the
        // first input beats of consecutive samples (the largest seen). With
        // several inputs a sample's first beat is the latest of its ports'
        // first beats (as the generator's timing simulation counts).
        long lf = 0, ll = LONG_MIN, iv = 0, prev = 0;
        std::vector<long> firsts;
        for (long s = 0; s < n; ++s) {
            long first = 0;
            for (int k = 0; k < N_INS; ++k) {
                long a = accepted_at[(size_t)k][(size_t)(s * IN_BEATS[k])];
                if (k == 0 || a > first) first = a;
            }
            long a = out_at[(size_t)(s * OUT_BEATS)] - first;
            long b = out_at[(size_t)(s * OUT_BEATS + OUT_BEATS - 1)] - sample_at[(size_t)s];
            if (a > lf) lf = a;
            if (b > ll) ll = b;
            if (s > 0 && first - prev > iv) iv = first - prev;
            prev = first;
            firsts.push_back(first);
        }
        printf("stream latency_first %ld latency_last %ld interval %ld\n", lf, ll, iv);
        // Every sample's first input beat: the steady state's check.
        printf("stream_firsts");
        for (long t : firsts) printf(" %ld", t);
        printf("\n");
    }
    f = fopen(argv[2], "wb");
    if (!f || fwrite(out.data(), 1, out.size(), f) != out.size()) {
        fprintf(stderr, "cannot write %s\n", argv[2]);
        return 2;
    }
    fclose(f);
    printf("cycles %ld\n", cycle);
    return errors ? 1 : 0;
}
