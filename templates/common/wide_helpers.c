/* Two-word versions of the helpers, for values wider than 64 bits
 * (qkhw_wide is the compiler's 128-bit integer; see the header). */
static qkhw_wide qkhw_floor_shift_w(qkhw_wide v, int s) {
    qkhw_wide d = (qkhw_wide)1 << s;
    qkhw_wide q = v / d;
    if (v % d != 0 && v < 0) q -= 1;
    return q;
}

static qkhw_wide qkhw_round_shift_w(qkhw_wide v, int s, int mode) {
    qkhw_wide q = qkhw_floor_shift_w(v, s);
    qkhw_wide rem = v - q * ((qkhw_wide)1 << s);
    qkhw_wide half = (qkhw_wide)1 << (s - 1);
    int up;
    if (mode == 2 || rem < half) up = 0;
    else if (rem > half) up = 1;
    else up = (mode == 0) ? (int)((q & 1) != 0) : (v >= 0);
    return q + up;
}

static qkhw_wide qkhw_clamp_w(qkhw_wide v, qkhw_wide lo, qkhw_wide hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Every step in the unsigned type by compound assignment: an HLS
 * arbitrary-precision difference of two unsigned values is signed and one
 * bit wider, which `%` would then round toward zero. */
static qkhw_wide qkhw_wrap_w(qkhw_wide v, qkhw_wide lo, qkhw_wide hi) {
    qkhw_uwide span = (qkhw_uwide)hi;
    span -= (qkhw_uwide)lo;
    span += 1u;
    qkhw_uwide d = (qkhw_uwide)v;
    d -= (qkhw_uwide)lo;
    qkhw_uwide r = (qkhw_uwide)lo;
    r += d % span;
    return (qkhw_wide)r;
}
