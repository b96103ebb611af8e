// qkhw_lut: an activation look-up ROM: y = table[x], the table read from
// INIT_FILE ($readmemh, one OUT_W-bit word per line, 2^IN_W lines). The
// read is combinational (distributed ROM / LUTs). Plain Verilog-2005.
module qkhw_lut #(
    parameter integer IN_W = 6,
    parameter integer OUT_W = 8,
    parameter INIT_FILE = "lut.mem"
) (
    input  wire [IN_W-1:0]  x,
    output wire [OUT_W-1:0] y
);
    reg [OUT_W-1:0] table_r [0:(1 << IN_W) - 1];
    initial $readmemh(INIT_FILE, table_r);
    assign y = table_r[x];
endmodule
