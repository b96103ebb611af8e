# {{ header }}
# Vitis HLS project: C simulation (qkhw's vectors: in.bin, N samples) and
# synthesis of the array top {{ name }}. Run: vitis_hls -f build_prj.tcl
open_project {{ name }}_prj
set_top {{ name }}
add_files {{ name }}.cpp
add_files -tb {{ name }}_tb.cpp
open_solution -flow_target vivado solution1
set_part xcvu9p-flga2104-2L-e
create_clock -period 5 -name default
csim_design -argv "in.bin out.bin 1000"
csynth_design
exit
