// {{ header }}
// Layer `{{ layer }}`: combinational logic and clock-enabled pipeline
// registers (no reset: datapath only). Generated; do not edit.
module {{ name }} (
{%- if clocked %}
    input  wire clk,
    input  wire ce,
{%- endif %}
{%- if control %}
    input  wire rst,
    input  wire start,
{%- endif %}
{%- for p in inputs %}
    input  wire [{{ p.1 }}:0] {{ p.0 }},
{%- endfor %}
    output wire [{{ out_msb }}:0] y
);
{%- for d in decls %}
    {{ d }}
{%- endfor %}
{%- for a in assigns %}
    {{ a }}
{%- endfor %}
{%- for i in instances %}
    {{ i }}
{%- endfor %}
{%- if !regs.is_empty() %}
    always @(posedge clk) begin
        if (ce) begin
{%- for r in regs %}
            {{ r }}
{%- endfor %}
        end
    end
{%- endif %}
endmodule
