// {{ header }}
// C-simulation testbench. It runs every sample through the array top and
// the AXI-Stream top, and checks that they agree and that TLAST travels.
//   {{ name }}_tb                  reads tb_vectors.txt (written by qkhw gen:
//                                   input codes and the golden model's
//                                   output codes per sample) and checks
//                                   every output against them
//   {{ name }}_tb IN.bin OUT.bin N  int64 input codes in, output codes out
//                                   (what qkhw verify --target hls runs)
#include "{{ name }}.h"
#include <cstdio>
#include <cstdlib>

static int check_vectors(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "{{ name }}_tb: cannot open %s (written by qkhw gen beside this testbench)\n", path); return 2; }
    long n = 0, in_n = 0, out_n = 0;
    if (fscanf(f, "%ld %ld %ld", &n, &in_n, &out_n) != 3 || in_n != {{ in_n }} || out_n != {{ out_n }}) {
        fprintf(stderr, "{{ name }}_tb: %s: bad header (expected N {{ in_n }} {{ out_n }})\n", path);
        fclose(f);
        return 2;
    }
    long bad = 0;
    for (long s = 0; s < n; ++s) {
{%- for x in ins %}
        {{ x.t }} {{ x.param }}[{{ x.n }}];
{%- endfor %}
        {{ out_t }} out[{{ out_n }}];
{%- for x in ins %}
        for (int k = 0; k < {{ x.n }}; ++k) {
            long long v;
            if (fscanf(f, "%lld", &v) != 1) { fprintf(stderr, "{{ name }}_tb: %s: truncated at sample %ld\n", path, s); fclose(f); return 2; }
            {{ x.param }}[k] = ({{ x.t }})v;
        }
{%- endfor %}
        {{ name }}({{ args }}, out);
{%- if stream %}
        {{ out_t }} out_s[{{ out_n }}];
        {{ name }}_stream_run({{ args }}, out_s);
        for (int k = 0; k < {{ out_n }}; ++k) {
            if (out_s[k] != out[k] && bad++ < 5) fprintf(stderr, "sample %ld output %d: array top %lld, streaming design %lld\n", s, k, (long long)out[k], (long long)out_s[k]);
        }
{%- endif %}
        for (int k = 0; k < {{ out_n }}; ++k) {
            long long e;
            if (fscanf(f, "%lld", &e) != 1) { fprintf(stderr, "{{ name }}_tb: %s: truncated at sample %ld\n", path, s); fclose(f); return 2; }
            if ((long long)out[k] != e) {
                if (bad++ < 5) fprintf(stderr, "sample %ld output %d: expected code %lld, got %lld\n", s, k, e, (long long)out[k]);
            }
        }
    }
    fclose(f);
    if (bad) {
        printf("{{ name }}_tb: %ld of %ld samples x {{ out_n }} outputs differ from qkhw's golden model\n", bad, n);
        return 1;
    }
    printf("{{ name }}_tb: %ld samples from %s: every output code equal to qkhw's golden model\n", n, path);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 1) return check_vectors("tb_vectors.txt");
    if (argc < 4) {
        fprintf(stderr, "usage: {{ name }}_tb  (checks tb_vectors.txt)  or  {{ name }}_tb IN.bin OUT.bin N\n");
        return 2;
    }
    long n = atol(argv[3]);
    FILE *fi = fopen(argv[1], "rb"), *fo = fopen(argv[2], "wb");
    if (!fi || !fo) { fprintf(stderr, "{{ name }}_tb: cannot open %s or %s\n", argv[1], argv[2]); return 2; }
    int errors = 0;
{%- for x in ins %}
{%- if catapult %}
    ac_channel<{{ name }}_axis_in{{ x.suffix }}_t> s_in{{ x.suffix }};
{%- else %}
    hls::stream<{{ name }}_axis_in{{ x.suffix }}_t> s_in{{ x.suffix }};
{%- endif %}
{%- endfor %}
{%- if catapult %}
    ac_channel<{{ name }}_axis_out_t> s_out;
{%- else %}
    hls::stream<{{ name }}_axis_out_t> s_out;
{%- endif %}
    for (long s = 0; s < n; ++s) {
{%- for x in ins %}
        {{ x.t }} {{ x.param }}[{{ x.n }}];
{%- endfor %}
        {{ out_t }} out[{{ out_n }}];
{%- for x in ins %}
        {{ name }}_axis_in{{ x.suffix }}_t w{{ x.suffix }};
        w{{ x.suffix }}.data = 0;
        for (int k = 0; k < {{ x.n }}; ++k) {
            long long v;
            if (fread(&v, sizeof v, 1, fi) != 1) { fprintf(stderr, "{{ name }}_tb: %s: truncated at sample %ld\n", argv[1], s); return 2; }
            {{ x.param }}[k] = ({{ x.t }})v;
{%- if catapult %}
            w{{ x.suffix }}.data.set_slc(k * {{ x.w }}, ac_int<{{ x.w }}, true>(v));
{%- else %}
            w{{ x.suffix }}.data.range((k + 1) * {{ x.w }} - 1, k * {{ x.w }}) = ap_int<{{ x.w }}>(v);
{%- endif %}
        }
        w{{ x.suffix }}.last = (s == n - 1);
        s_in{{ x.suffix }}.write(w{{ x.suffix }});
{%- endfor %}
        {{ name }}({{ args }}, out);
{%- if stream %}
        {{ out_t }} out_s[{{ out_n }}];
        {{ name }}_stream_run({{ args }}, out_s);
{%- endif %}
        {{ name }}_axis({{ axis_args }});
        {{ name }}_axis_out_t r = s_out.read();
        if (r.last != w{{ ins[0].suffix }}.last) {
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
{%- if stream %}
            if (out_s[k] != out[k]) {
                if (errors++ < 5) fprintf(stderr, "sample %ld output %d: array top %lld, streaming design %lld\n", s, k, (long long)out[k], (long long)out_s[k]);
            }
            // What verify compares with the golden model: the streaming design's.
            long long v = out_s[k];
{%- else %}
            long long v = out[k];
{%- endif %}
            fwrite(&v, sizeof v, 1, fo);
        }
    }
    fclose(fi);
    fclose(fo);
    return errors ? 1 : 0;
}
