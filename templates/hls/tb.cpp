// {{ header }}
// C-simulation testbench: reads int64 input codes, runs every sample through
// the array top and the AXI-Stream top, checks that they agree and that
// TLAST travels, and writes the output codes for qkhw verify to compare.
// Usage: {{ name }}_tb IN.bin OUT.bin N
#include "{{ name }}.h"
#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    long n = atol(argv[3]);
    FILE *fi = fopen(argv[1], "rb"), *fo = fopen(argv[2], "wb");
    if (!fi || !fo) return 2;
    int errors = 0;
{%- if catapult %}
    ac_channel<{{ name }}_axis_in_t> s_in;
    ac_channel<{{ name }}_axis_out_t> s_out;
{%- else %}
    hls::stream<{{ name }}_axis_in_t> s_in;
    hls::stream<{{ name }}_axis_out_t> s_out;
{%- endif %}
    for (long s = 0; s < n; ++s) {
        {{ in_t }} in[{{ in_n }}];
        {{ out_t }} out[{{ out_n }}];
        {{ name }}_axis_in_t w;
        w.data = 0;
        for (int k = 0; k < {{ in_n }}; ++k) {
            long long v;
            if (fread(&v, sizeof v, 1, fi) != 1) return 2;
            in[k] = ({{ in_t }})v;
{%- if catapult %}
            w.data.set_slc(k * {{ in_w }}, ac_int<{{ in_w }}, true>(v));
{%- else %}
            w.data.range((k + 1) * {{ in_w }} - 1, k * {{ in_w }}) = ap_int<{{ in_w }}>(v);
{%- endif %}
        }
        w.last = (s == n - 1);
        {{ name }}(in, out);
        s_in.write(w);
        {{ name }}_axis(s_in, s_out);
        {{ name }}_axis_out_t r = s_out.read();
        if (r.last != w.last) {
            if (errors++ < 5) fprintf(stderr, "sample %ld: TLAST wrong\n", s);
        }
        for (int k = 0; k < {{ out_n }}; ++k) {
{%- if catapult %}
            ac_int<{{ out_w }}, {{ out_signed }}> e = r.data.slc<{{ out_w }}>(k * {{ out_w }});
{%- else if out_signed %}
            ap_int<{{ out_w }}> e = r.data.range((k + 1) * {{ out_w }} - 1, k * {{ out_w }});
{%- else %}
            ap_uint<{{ out_w }}> e = r.data.range((k + 1) * {{ out_w }} - 1, k * {{ out_w }});
{%- endif %}
{%- if out_signed %}
            long long a = e.to_int64();
{%- else %}
            long long a = (long long)e.to_uint64();
{%- endif %}
            if (a != (long long)out[k]) {
                if (errors++ < 5) fprintf(stderr, "sample %ld output %d: array top %lld, stream top %lld\n", s, k, (long long)out[k], a);
            }
            long long v = out[k];
            fwrite(&v, sizeof v, 1, fo);
        }
    }
    fclose(fi);
    fclose(fo);
    return errors ? 1 : 0;
}
