// qkhw_requant: the hardware requantizer. Takes a two's complement code
// `x` (IN_W bits) and drops SHIFT fraction bits with the rounding ROUND,
// then fits the result to OUT_W bits: saturating to [MIN_CODE, MAX_CODE]
// (SAT = 1) or keeping the low bits (SAT = 0, wrap). Plain Verilog-2005.
//   ROUND: 0 ties to even (tf.round), 1 ties away from zero, 2 floor.
//   SHIFT >= 1 and IN_W >= SHIFT + 2 (the generator extends x if needed).
module qkhw_requant #(
    parameter integer IN_W = 16,
    parameter integer SHIFT = 4,
    parameter integer OUT_W = 8,
    parameter integer ROUND = 0,
    parameter integer SAT = 1,
    parameter signed [OUT_W:0] MIN_CODE = -(1 <<< (OUT_W - 1)),
    parameter signed [OUT_W:0] MAX_CODE = (1 <<< (OUT_W - 1)) - 1
) (
    input  wire [IN_W-1:0]  x,
    output wire [OUT_W-1:0] y
);
    localparam integer QW = IN_W - SHIFT;      // floor(x / 2^SHIFT)
    localparam integer RW = QW + 1;            // after the rounding increment
    localparam integer CW = (RW > OUT_W + 1) ? RW : OUT_W + 1;

    wire [QW-1:0] q = x[IN_W-1:SHIFT];
    wire half = x[SHIFT-1];
    wire rest;
    generate
        if (SHIFT > 1) begin : g_rest
            assign rest = |x[SHIFT-2:0];
        end else begin : g_norest
            assign rest = 1'b0;
        end
    endgenerate
    wire up = (ROUND == 0) ? (half & (rest | q[0])) :
              (ROUND == 1) ? (half & (rest | ~x[IN_W-1])) : 1'b0;
    wire [RW-1:0] r = {q[QW-1], q} + {{(RW-1){1'b0}}, up};

    generate
        if (SAT != 0) begin : g_sat
            wire signed [CW-1:0] rc = $signed({{(CW-RW){r[RW-1]}}, r});
            wire signed [CW-1:0] lo = $signed({{(CW-OUT_W-1){MIN_CODE[OUT_W]}}, MIN_CODE});
            wire signed [CW-1:0] hi = $signed({{(CW-OUT_W-1){MAX_CODE[OUT_W]}}, MAX_CODE});
            wire signed [CW-1:0] c = (rc < lo) ? lo : ((rc > hi) ? hi : rc);
            assign y = c[OUT_W-1:0];
            wire unused_high = ^c[CW-1:OUT_W];
        end else begin : g_wrap
            if (RW > OUT_W) begin : g_cut
                assign y = r[OUT_W-1:0];
                wire unused_high = ^r[RW-1:OUT_W];
            end else begin : g_ext
                assign y = {{(OUT_W-RW){r[RW-1]}}, r};
            end
        end
    endgenerate
endmodule
