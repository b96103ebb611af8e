// Testbench of qkhw_skid: 20,000 cycles of random valid and ready; every
// word must come out once, in order. Prints PASS or FAIL and the count.
`timescale 1ns/1ps
module tb_skid;
    reg clk = 1'b0;
    reg rst = 1'b1;
    reg [15:0] s_data = 16'd0;
    reg s_valid = 1'b0;
    reg m_ready = 1'b0;
    wire s_ready;
    wire [15:0] m_data;
    wire m_valid;
    integer seed = 7;
    integer sent = 0;
    integer got = 0;
    integer errors = 0;
    integer cycle = 0;
    qkhw_skid #(.W(16)) dut (.clk(clk), .rst(rst), .s_data(s_data), .s_valid(s_valid), .s_ready(s_ready),
        .m_data(m_data), .m_valid(m_valid), .m_ready(m_ready));
    always #5 clk = ~clk;
    always @(negedge clk) begin
        if (!rst) begin
            s_valid <= ($random(seed) & 1) != 0;
            m_ready <= ($random(seed) & 3) != 0;
            s_data <= sent[15:0];
        end
    end
    always @(posedge clk) begin
        cycle <= cycle + 1;
        if (cycle == 3) rst <= 1'b0;
        if (s_valid && s_ready) sent <= sent + 1;
        if (m_valid && m_ready) begin
            if (m_data != got[15:0]) errors = errors + 1;
            got <= got + 1;
        end
        if (cycle == 20000) begin
            if (errors == 0 && got > 5000 && sent - got <= 2) $display("PASS %0d", got);
            else $display("FAIL errors=%0d sent=%0d got=%0d", errors, sent, got);
            $finish;
        end
    end
endmodule
