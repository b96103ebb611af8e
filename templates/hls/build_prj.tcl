# {{ header }}
# Vitis HLS project: C simulation (the testbench checks the golden vectors
# in tb_vectors.txt, written by qkhw gen) and synthesis of the array top
# {{ name }}. Run: vitis_hls -f build_prj.tcl
open_project {{ name }}_prj
set_top {{ name }}
add_files {{ name }}.cpp
add_files -tb {{ name }}_tb.cpp
add_files -tb tb_vectors.txt
open_solution -flow_target vivado solution1
set_part xcvu9p-flga2104-2L-e
create_clock -period 5 -name default
csim_design
csynth_design
exit
