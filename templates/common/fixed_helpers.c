/* floor(v / 2^s) for 1 <= s <= 62, without shifting a negative value. */
static int64_t qkhw_floor_shift(int64_t v, int s) {
    int64_t d = (int64_t)1 << s;
    int64_t q = v / d;
    if (v % d != 0 && v < 0) q -= 1;
    return q;
}

/* v / 2^s rounded: mode 0 ties to even, 1 ties away from zero, 2 floor. */
static int64_t qkhw_round_shift(int64_t v, int s, int mode) {
    int64_t q = qkhw_floor_shift(v, s);
    int64_t rem = v - q * ((int64_t)1 << s);
    int64_t half = (int64_t)1 << (s - 1);
    int up;
    if (mode == 2 || rem < half) up = 0;
    else if (rem > half) up = 1;
    else up = (mode == 0) ? (int)(q & 1) : (v >= 0);
    return q + up;
}

static int64_t qkhw_clamp(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Keep the low bits of v in the format whose codes are lo..hi. */
static int64_t qkhw_wrap(int64_t v, int64_t lo, int64_t hi) {
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1u;
    uint64_t off = ((uint64_t)v - (uint64_t)lo) % span;
    return (int64_t)((uint64_t)lo + off);
}
