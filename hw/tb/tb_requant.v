// Testbench of qkhw_requant: every 10-bit input code through eight
// parameter sets (each rounding mode, saturate and wrap, narrowing and
// widening); one line per input with the eight outputs in decimal. The
// Rust test (tests/hw_primitives.rs) checks each against fxp::requantize.
`timescale 1ns/1ps
module tb_requant;
    reg [9:0] x;
    wire [5:0] y0, y1, y2, y3, y4;
    wire [3:0] y5;
    wire [11:0] y6;
    wire [1:0] y7;
    qkhw_requant #(.IN_W(10), .SHIFT(4), .OUT_W(6), .ROUND(0), .SAT(1)) u0 (.x(x), .y(y0));
    qkhw_requant #(.IN_W(10), .SHIFT(4), .OUT_W(6), .ROUND(1), .SAT(1)) u1 (.x(x), .y(y1));
    qkhw_requant #(.IN_W(10), .SHIFT(4), .OUT_W(6), .ROUND(2), .SAT(1)) u2 (.x(x), .y(y2));
    qkhw_requant #(.IN_W(10), .SHIFT(4), .OUT_W(6), .ROUND(0), .SAT(0)) u3 (.x(x), .y(y3));
    qkhw_requant #(.IN_W(10), .SHIFT(3), .OUT_W(6), .ROUND(0), .SAT(1), .MIN_CODE(7'sd0), .MAX_CODE(7'sd40)) u4 (.x(x), .y(y4));
    qkhw_requant #(.IN_W(10), .SHIFT(1), .OUT_W(4), .ROUND(1), .SAT(0)) u5 (.x(x), .y(y5));
    qkhw_requant #(.IN_W(10), .SHIFT(1), .OUT_W(12), .ROUND(2), .SAT(0)) u6 (.x(x), .y(y6));
    qkhw_requant #(.IN_W(10), .SHIFT(8), .OUT_W(2), .ROUND(0), .SAT(1)) u7 (.x(x), .y(y7));
    integer i;
    integer fd;
    initial begin
        fd = $fopen("requant.txt", "w");
        for (i = 0; i < 1024; i = i + 1) begin
            x = i;
            #1;
            $fdisplay(fd, "%0d %0d %0d %0d %0d %0d %0d %0d %0d", $signed(x), $signed(y0), $signed(y1), $signed(y2), $signed(y3), y4, $signed(y5), $signed(y6), $signed(y7));
        end
        $fclose(fd);
        $finish;
    end
endmodule
