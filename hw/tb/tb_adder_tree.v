// Testbench of qkhw_adder_tree: two configurations (5 inputs, a register
// every 2 levels; 8 inputs, every level), 2,000 cycles of random inputs with
// a random clock enable; each output checked against the sum of its inputs
// from LATENCY enabled cycles before. Prints PASS or FAIL.
`timescale 1ns/1ps
module tb_adder_tree;
    reg clk = 1'b0;
    reg ce = 1'b0;
    reg [29:0] xa = 30'd0;
    reg [63:0] xb = 64'd0;
    wire [8:0] ya;
    wire [10:0] yb;
    qkhw_adder_tree #(.N(5), .IN_W(6), .OUT_W(9), .LEVELS_PER_STAGE(2)) ua (.clk(clk), .ce(ce), .x(xa), .y(ya));
    qkhw_adder_tree #(.N(8), .IN_W(8), .OUT_W(11), .LEVELS_PER_STAGE(1)) ub (.clk(clk), .ce(ce), .x(xb), .y(yb));
    integer seed = 11;
    integer cycle = 0;
    integer errors = 0;
    integer checked = 0;
    integer k;
    // Expected sums, shifted on each enabled cycle (latency 2 and 3).
    reg signed [8:0] ea [0:3];
    reg signed [10:0] eb [0:3];
    reg signed [8:0] sa;
    reg signed [10:0] sb;
    always #5 clk = ~clk;
    always @(negedge clk) begin
        ce <= ($random(seed) & 3) != 0;
        xa <= {$random(seed), $random(seed)};
        xb <= {$random(seed), $random(seed)};
    end
    always @(posedge clk) begin
        cycle <= cycle + 1;
        if (ce) begin
            sa = 0;
            for (k = 0; k < 5; k = k + 1) sa = sa + $signed(xa[k*6 +: 6]);
            sb = 0;
            for (k = 0; k < 8; k = k + 1) sb = sb + $signed(xb[k*8 +: 8]);
            ea[2] <= ea[1]; ea[1] <= ea[0]; ea[0] <= sa;
            eb[3] <= eb[2]; eb[2] <= eb[1]; eb[1] <= eb[0]; eb[0] <= sb;
        end
    end
    // After 8 enabled cycles the pipelines hold real values: compare.
    always @(negedge clk) begin
        if (cycle > 20) begin
            if ($signed(ya) !== ea[1]) errors = errors + 1;
            if ($signed(yb) !== eb[2]) errors = errors + 1;
            checked = checked + 1;
        end
        if (cycle == 2000) begin
            if (errors == 0 && checked > 1900) $display("PASS %0d", checked);
            else $display("FAIL errors=%0d checked=%0d", errors, checked);
            $finish;
        end
    end
endmodule
