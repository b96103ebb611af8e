// {{ header }}
// Top of the design: AXI-Stream-compatible ports, one whole sample per
// transfer, TLAST travels with its sample. The datapath advances when the
// output skid buffer can take a sample (`ce`), so nothing is lost or
// duplicated under any valid/ready pattern; with {{ o }}_tready high it
// takes one sample per clock with a fixed latency. Reset clears control
// state only. Generated; do not edit.
module {{ name }} (
    input  wire                 {{ clk }},
    input  wire                 {{ rst_port }},
{%- for p in ins %}
    input  wire [{{ p.tdata - 1 }}:0]  {{ p.prefix }}_tdata,
    input  wire                 {{ p.prefix }}_tvalid,
    output wire                 {{ p.prefix }}_tready,
    input  wire                 {{ p.prefix }}_tlast,
{%- endfor %}
    output wire [{{ out_tdata - 1 }}:0]  {{ o }}_tdata,
    output wire                 {{ o }}_tvalid,
    input  wire                 {{ o }}_tready,
    output wire                 {{ o }}_tlast
);
    wire c_clk = {{ clk }};
    wire c_rst = {{ rst_expr }};
    wire ce;
{%- if ii > 1 %}
    // Initiation interval {{ ii }}: every layer runs in lockstep with this
    // phase counter, and a sample is accepted only at phase 0.
    reg [{{ phase_w - 1 }}:0] phase;
    always @(posedge c_clk) begin
        if (c_rst) phase <= {{ phase_w }}'d0;
        else if (ce) phase <= (phase == {{ phase_w }}'d{{ ii - 1 }}) ? {{ phase_w }}'d0 : phase + {{ phase_w }}'d1;
    end
    wire slot = (phase == {{ phase_w }}'d0);
{%- else %}
    wire slot = 1'b1;
{%- endif %}
{%- if join %}

    // Several inputs: each port fills its own holding register, and a
    // sample enters the datapath (`take`) once every port has delivered its
    // part, so no input's producer waits for another's. TLAST is the first
    // input's.
    wire take;
{%- for p in ins %}
    reg [{{ p.bits - 1 }}:0] hold_{{ loop.index0 }};
    reg full_{{ loop.index0 }};
    assign {{ p.prefix }}_tready = ~full_{{ loop.index0 }} | take;
    always @(posedge c_clk) begin
        if (c_rst) full_{{ loop.index0 }} <= 1'b0;
        else if ({{ p.prefix }}_tvalid & {{ p.prefix }}_tready) full_{{ loop.index0 }} <= 1'b1;
        else if (take) full_{{ loop.index0 }} <= 1'b0;
    end
    always @(posedge c_clk) if ({{ p.prefix }}_tvalid & {{ p.prefix }}_tready) hold_{{ loop.index0 }} <= {{ p.prefix }}_tdata[{{ p.bits - 1 }}:0];
{%- if p.tdata > p.bits %}
    wire unused_pad_{{ loop.index0 }} = ^{{ p.prefix }}_tdata[{{ p.tdata - 1 }}:{{ p.bits }}];
{%- endif %}
{%- endfor %}
    reg hold_last;
    always @(posedge c_clk) if ({{ ins[0].prefix }}_tvalid & {{ ins[0].prefix }}_tready) hold_last <= {{ ins[0].prefix }}_tlast;
    wire unused_tlast = ^{ {% for p in ins %}{% if !loop.first %}{{ p.prefix }}_tlast{% if !loop.last %}, {% endif %}{% endif %}{% endfor %} };
    wire all_in = {% for p in ins %}full_{{ loop.index0 }}{% if !loop.last %} & {% endif %}{% endfor %};
    assign take = ce & slot & all_in;
    wire in_valid = all_in;
    wire in_last = hold_last;

    // Input register (stage 1){% if ii > 1 %}, held for the initiation interval{% endif %}.
    reg [{{ in_bits - 1 }}:0] in_r;
    always @(posedge c_clk) if (ce & slot) in_r <= { {{ hold_cat }} };
{%- else %}
    assign {{ i }}_tready = ce & slot;
    wire in_valid = {{ i }}_tvalid;
    wire in_last = {{ i }}_tlast;

    // Input register (stage 1){% if ii > 1 %}, held for the initiation interval{% endif %}.
    reg [{{ in_bits - 1 }}:0] in_r;
    always @(posedge c_clk) if (ce & slot) in_r <= {{ i }}_tdata[{{ in_bits - 1 }}:0];
{%- if in_tdata > in_bits %}
    wire unused_input_pad = ^{{ i }}_tdata[{{ in_tdata - 1 }}:{{ in_bits }}];
{%- endif %}
{%- endif %}

{%- if ii > 1 %}
    // Valid and TLAST, one bit per window of {{ ii }} cycles: a sample accepted
    // at phase 0 leaves the datapath {{ latency }} cycles later, in window
    // {{ win - 1 }} at phase {{ out_phase }}.
    reg [{{ win - 1 }}:0] valid_w;
    reg [{{ win - 1 }}:0] last_w;
    always @(posedge c_clk) begin
        if (c_rst) begin
            valid_w <= {{ win }}'d0;
        end else if (ce & slot) begin
{%- if win > 1 %}
            valid_w <= {valid_w[{{ win - 2 }}:0], in_valid};
{%- else %}
            valid_w <= in_valid;
{%- endif %}
        end
    end
    always @(posedge c_clk) begin
        if (ce & slot) begin
{%- if win > 1 %}
            last_w <= {last_w[{{ win - 2 }}:0], in_last};
{%- else %}
            last_w <= in_last;
{%- endif %}
        end
    end
    wire out_valid = valid_w[{{ win - 1 }}] & (phase == {{ phase_w }}'d{{ out_phase }});
    wire out_last = last_w[{{ win - 1 }}];
{%- else %}
    // Valid and TLAST, one bit per pipeline stage.
    reg [{{ latency - 1 }}:0] valid_sr;
    reg [{{ latency - 1 }}:0] last_sr;
    always @(posedge c_clk) begin
        if (c_rst) begin
            valid_sr <= {{ latency }}'d0;
        end else if (ce) begin
{%- if latency > 1 %}
            valid_sr <= {valid_sr[{{ latency - 2 }}:0], in_valid};
{%- else %}
            valid_sr <= in_valid;
{%- endif %}
        end
    end
    always @(posedge c_clk) begin
        if (ce) begin
{%- if latency > 1 %}
            last_sr <= {last_sr[{{ latency - 2 }}:0], in_last};
{%- else %}
            last_sr <= in_last;
{%- endif %}
        end
    end
    wire out_valid = valid_sr[{{ latency - 1 }}];
    wire out_last = last_sr[{{ latency - 1 }}];
{%- endif %}

{{ body }}
    // Output skid buffer: breaks the ready path, one cycle.
    wire [{{ out_bits }}:0] skid_out;
    qkhw_skid #(.W({{ out_bits + 1 }})) u_skid (
        .clk(c_clk), .rst(c_rst),
        .s_data({ out_last, {{ out_expr }} }), .s_valid(out_valid), .s_ready(ce),
        .m_data(skid_out), .m_valid({{ o }}_tvalid), .m_ready({{ o }}_tready)
    );
    assign {{ o }}_tlast = skid_out[{{ out_bits }}];
{%- if out_tdata > out_bits %}
    assign {{ o }}_tdata = { {{ out_tdata - out_bits }}'d0, skid_out[{{ out_bits - 1 }}:0] };
{%- else %}
    assign {{ o }}_tdata = skid_out[{{ out_bits - 1 }}:0];
{%- endif %}

`ifdef QKHW_TAPS
    // Layer outputs for qkhw verify's mismatch localization.
{%- for t in taps %}
    wire [{{ t.elements * t.width as usize - 1 }}:0] {{ t.signal }} /*verilator public_flat_rd*/;
    assign {{ t.signal }} = {{ t.signal[4..] }};
{%- endfor %}
`endif
endmodule
