    size_t r, j, k, o, ci, oy, ox, ky, kx, iy = 0, ix = 0;
{{ buffers }}
    (void)r; (void)j; (void)k; (void)o; (void)ci; (void)oy; (void)ox; (void)ky; (void)kx; (void)iy; (void)ix;
    (void)qkhw_round_shift; (void)qkhw_clamp; (void)qkhw_wrap;{% if wide %} (void)qkhw_round_shift_w; (void)qkhw_clamp_w; (void)qkhw_wrap_w;{% endif %}
{{ body }}
