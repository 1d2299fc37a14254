# Installs iommusim into a scratch prefix and builds and runs examples/embed against the installed
# package: the way a SystemC modeller consumes it.
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${WORK}/prefix RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "install failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE}/examples/embed -B ${WORK}/build -DCMAKE_PREFIX_PATH=${WORK}/prefix
                        -DCMAKE_CXX_FLAGS=${CXXFLAGS} -DCMAKE_EXE_LINKER_FLAGS=${CXXFLAGS}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "configuring the example against the package failed:\n${out}\n${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/build RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "building the example failed:\n${out}\n${err}")
endif()
# The installed presets are found without the source tree.
execute_process(COMMAND ${WORK}/build/embed_groups RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
if(rc OR NOT out MATCHES "IOMMU Group 0: 0000:00:00.0")
  message(FATAL_ERROR "the example did not list the groups (rc ${rc}):\n${out}\n${err}")
endif()
# The VT-d model, its driver and a DMA engine, from the installed package.
execute_process(COMMAND ${WORK}/build/embed_vtd_dma RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
if(rc OR NOT out MATCHES "memory at 0x40000000 = 0xc0ffee00")
  message(FATAL_ERROR "the VT-d example did not translate its DMA (rc ${rc}):\n${out}\n${err}")
endif()
