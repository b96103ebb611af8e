// qkhw_skid: a valid/ready skid buffer. `s_ready` is a register, so no
// combinational path runs from `m_ready` back to `s_ready`; a sample is
// never lost or duplicated, and with `m_ready` high one passes per clock
// (one cycle of latency). Reset clears the valid state only.
module qkhw_skid #(
    parameter integer W = 8
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [W-1:0] s_data,
    input  wire         s_valid,
    output wire         s_ready,
    output wire [W-1:0] m_data,
    output wire         m_valid,
    input  wire         m_ready
);
    reg [W-1:0] data_r;
    reg [W-1:0] skid_r;
    reg         valid_r;
    reg         skid_valid_r;
    wire out_free = m_ready | ~valid_r;

    assign s_ready = ~skid_valid_r;
    assign m_valid = valid_r;
    assign m_data = data_r;

    always @(posedge clk) begin
        if (rst) begin
            valid_r <= 1'b0;
            skid_valid_r <= 1'b0;
        end else if (out_free) begin
            valid_r <= skid_valid_r | s_valid;
            skid_valid_r <= 1'b0;
        end else if (s_valid & ~skid_valid_r) begin
            skid_valid_r <= 1'b1;
        end
    end

    always @(posedge clk) begin
        if (out_free) begin
            data_r <= skid_valid_r ? skid_r : s_data;
        end
        if (~out_free & s_valid & ~skid_valid_r) begin
            skid_r <= s_data;
        end
    end
endmodule
