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
    input  wire [{{ in_tdata - 1 }}:0]  {{ i }}_tdata,
    input  wire                 {{ i }}_tvalid,
    output wire                 {{ i }}_tready,
    input  wire                 {{ i }}_tlast,
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
    assign {{ i }}_tready = ce & slot;

    // Input register (stage 1), held for the initiation interval.
    reg [{{ in_bits - 1 }}:0] in_r;
    always @(posedge c_clk) if (ce & slot) in_r <= {{ i }}_tdata[{{ in_bits - 1 }}:0];
{%- else %}
    assign {{ i }}_tready = ce;

    // Input register (stage 1).
    reg [{{ in_bits - 1 }}:0] in_r;
    always @(posedge c_clk) if (ce) in_r <= {{ i }}_tdata[{{ in_bits - 1 }}:0];
{%- endif %}
{%- if in_tdata > in_bits %}
    wire unused_input_pad = ^{{ i }}_tdata[{{ in_tdata - 1 }}:{{ in_bits }}];
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
            valid_w <= {valid_w[{{ win - 2 }}:0], {{ i }}_tvalid};
{%- else %}
            valid_w <= {{ i }}_tvalid;
{%- endif %}
        end
    end
    always @(posedge c_clk) begin
        if (ce & slot) begin
{%- if win > 1 %}
            last_w <= {last_w[{{ win - 2 }}:0], {{ i }}_tlast};
{%- else %}
            last_w <= {{ i }}_tlast;
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
            valid_sr <= {valid_sr[{{ latency - 2 }}:0], {{ i }}_tvalid};
{%- else %}
            valid_sr <= {{ i }}_tvalid;
{%- endif %}
        end
    end
    always @(posedge c_clk) begin
        if (ce) begin
{%- if latency > 1 %}
            last_sr <= {last_sr[{{ latency - 2 }}:0], {{ i }}_tlast};
{%- else %}
            last_sr <= {{ i }}_tlast;
{%- endif %}
        end
    end
    wire out_valid = valid_sr[{{ latency - 1 }}];
    wire out_last = last_sr[{{ latency - 1 }}];
{%- endif %}

{%- for b in body %}
    {{ b }}
{%- endfor %}

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
