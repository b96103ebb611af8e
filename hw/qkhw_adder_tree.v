// qkhw_adder_tree: a pipelined adder tree over N two's complement inputs
// of IN_W bits (packed, input k at bits [k*IN_W +: IN_W]). Pairs are added
// level by level at full growth; every LEVELS_PER_STAGE levels the partial
// sums are registered (clock enable `ce`, no reset: datapath only).
// OUT_W must be at least IN_W + clog2(N). Latency: STAGES cycles (reported
// by the localparam), the last level always registered. Plain Verilog-2005.
module qkhw_adder_tree #(
    parameter integer N = 8,
    parameter integer IN_W = 8,
    parameter integer OUT_W = 11,
    parameter integer LEVELS_PER_STAGE = 2
) (
    input  wire                clk,
    input  wire                ce,
    input  wire [N*IN_W-1:0]   x,
    output wire [OUT_W-1:0]    y
);
    // Levels needed to reduce N inputs pairwise.
    function integer clog2;
        input integer v;
        integer t;
        begin
            clog2 = 0;
            t = v - 1;
            while (t > 0) begin
                clog2 = clog2 + 1;
                t = t >> 1;
            end
        end
    endfunction
    localparam integer LEVELS = (N > 1) ? clog2(N) : 0;
    localparam integer P = 1 << LEVELS;      // level 0, padded with zeros
    wire [P*OUT_W-1:0] lv0;
    genvar i, l;
    generate
        for (i = 0; i < P; i = i + 1) begin : g_in
            if (i < N) begin : g_x
                assign lv0[i*OUT_W +: OUT_W] = {{(OUT_W-IN_W){x[i*IN_W+IN_W-1]}}, x[i*IN_W +: IN_W]};
            end else begin : g_zero
                assign lv0[i*OUT_W +: OUT_W] = {OUT_W{1'b0}};
            end
        end
        for (l = 1; l <= LEVELS; l = l + 1) begin : g_level
            wire [(P >> l)*OUT_W-1:0] v;
            wire [(P >> (l - 1))*OUT_W-1:0] prev;
            if (l == 1) begin : g_first
                assign prev = lv0;
            end else begin : g_next
                assign prev = g_level[l - 1].v;
            end
            for (i = 0; i < (P >> l); i = i + 1) begin : g_node
                wire [OUT_W-1:0] s = prev[(2*i)*OUT_W +: OUT_W] + prev[(2*i+1)*OUT_W +: OUT_W];
                if ((l % LEVELS_PER_STAGE) == 0 || l == LEVELS) begin : g_reg
                    reg [OUT_W-1:0] r;
                    always @(posedge clk) if (ce) r <= s;
                    assign v[i*OUT_W +: OUT_W] = r;
                end else begin : g_comb
                    assign v[i*OUT_W +: OUT_W] = s;
                end
            end
        end
        if (LEVELS == 0) begin : g_one
            reg [OUT_W-1:0] r1;
            always @(posedge clk) if (ce) r1 <= lv0;
            assign y = r1;
        end else begin : g_out
            assign y = g_level[LEVELS].v;
        end
    endgenerate
endmodule
