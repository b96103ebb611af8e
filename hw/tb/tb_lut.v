// Testbench of qkhw_lut: every address of a 6-bit table (written by the
// Rust test as lut.mem: y = (x * 37 + 5) mod 256) reads back its word.
`timescale 1ns/1ps
module tb_lut;
    reg [5:0] x;
    wire [7:0] y;
    integer i;
    integer errors = 0;
    qkhw_lut #(.IN_W(6), .OUT_W(8), .INIT_FILE("lut.mem")) u (.x(x), .y(y));
    initial begin
        for (i = 0; i < 64; i = i + 1) begin
            x = i;
            #1;
            if (y !== ((i * 37 + 5) % 256)) errors = errors + 1;
        end
        if (errors == 0) $display("PASS 64");
        else $display("FAIL errors=%0d", errors);
        $finish;
    end
endmodule
