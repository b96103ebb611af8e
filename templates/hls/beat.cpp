namespace {{ ns }} {
{{ consts }}
static void beat({{ params }}, {{ out_t }} out[{{ out_n }}]) {
{% include "common/body.c" %}
{{ copy }}
}
}
