# The census's owners in one read (owners_iter.bpf.c): a second eBPF object
# built as closewait.bpf.c is (same vmlinux.h, clang, llvm-strip -g,
# bpftool gen skeleton), its user side in the same static piece.
add_custom_command(OUTPUT ${cw_bpf_dir}/owners_iter.bpf.o
  COMMAND ${CW_CLANG} -target bpf -g -O2 -D__TARGET_ARCH_x86 -Wall -Werror
          -I${cw_bpf_dir} -I${CMAKE_CURRENT_SOURCE_DIR}
          -c ${CMAKE_CURRENT_SOURCE_DIR}/owners_iter.bpf.c -o ${cw_bpf_dir}/owners_iter.bpf.o
  COMMAND ${CW_LLVM_STRIP} -g ${cw_bpf_dir}/owners_iter.bpf.o
  DEPENDS owners_iter.bpf.c owners_rec.h ${cw_bpf_dir}/vmlinux.h
  COMMENT "eBPF object owners_iter.bpf.o" VERBATIM)
add_custom_command(OUTPUT ${cw_bpf_dir}/owners_iter.skel.h
  COMMAND ${CW_BPFTOOL} gen skeleton ${cw_bpf_dir}/owners_iter.bpf.o name owners_iter_bpf
          > ${cw_bpf_dir}/owners_iter.skel.h
  DEPENDS ${cw_bpf_dir}/owners_iter.bpf.o
  COMMENT "eBPF skeleton owners_iter.skel.h" VERBATIM)
add_custom_target(owners_iter_bpf_skel DEPENDS ${cw_bpf_dir}/owners_iter.skel.h)
target_sources(closewait_trace PRIVATE ${cw_bpf_dir}/owners_iter.skel.h owners_iter.c)
add_dependencies(closewait_trace owners_iter_bpf_skel)
