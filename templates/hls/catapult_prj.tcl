# {{ header }}
# Catapult HLS project: synthesis of the array top {{ name }}, pipelined at
# initiation interval 1 (the loops carry hls_unroll pragmas). The C testbench
# {{ name }}_tb.cpp, run with no arguments, checks the golden vectors in
# tb_vectors.txt (written by qkhw gen).
# Run: catapult -shell -file build_prj.tcl
# Written for Catapult 2023+; qkhw's own checks are C simulation only.
options set Input/CppStandard c++11
project new -name {{ name }}_prj
solution file add {{ name }}.cpp
solution file add {{ name }}_tb.cpp -exclude true
directive set -DESIGN_HIERARCHY {{ name }}
go analyze
go compile
solution library add mgc_Xilinx-VIRTEX-uplus-2_beh -- -rtlsyntool Vivado -manufacturer Xilinx -family VIRTEX-uplus -speed -2 -part xcvu9p-flga2104-2-e
go libraries
directive set -CLOCKS {clk {-CLOCK_PERIOD 5.0 -CLOCK_EDGE rising -RESET_KIND sync -RESET_SYNC_NAME rst -RESET_SYNC_ACTIVE high}}
go assembly
go architect
go allocate
go extract
