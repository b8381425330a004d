# cmake -P run.cmake: installs shmring (MODE=find_package) and builds + runs tests/package/consumer against it.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
if(MODE STREQUAL "find_package")
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${SHMRING_BINARY_DIR} --prefix ${prefix} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "install failed: ${rc}")
  endif()
  if(NOT EXISTS ${prefix}/include/shmring/shmring.hpp)
    message(FATAL_ERROR "the install has no include/shmring/shmring.hpp")
  endif()
endif()
# The consumer gets no sanitizer or warning flags from us: it is a user's project.
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SHMRING_SOURCE_DIR}/tests/package/consumer -B ${WORK_DIR}/build
                        -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix} -DMODE=${MODE}
                        -DSHMRING_SOURCE_DIR=${SHMRING_SOURCE_DIR} -DCMAKE_BUILD_TYPE=Release
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer project failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the consumer project failed: ${rc}")
endif()
execute_process(COMMAND ${WORK_DIR}/build/package_consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "${out}")
if(rc OR NOT out MATCHES "package consumer: 1000 values ok")
  message(FATAL_ERROR "the consumer program failed: ${rc}")
endif()
