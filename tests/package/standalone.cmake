# cmake -P standalone.cmake: shmring configured on its own with a test or benchmark framework hidden, as on a
# machine with only a compiler and CMake. CHECK selects:
#   without_boost    default options with Boost hidden: the library needs none; the tests (which use Boost's
#                    headers as a peer) are skipped with a notice, and the headers, package and tool install
#   without_catch2   default options (SHMRING_BUILD_TESTS=AUTO): configures with a notice, builds, installs the
#                    headers, CMake package, .pc file and tool, and registers no tests
#   tests_need_catch2  -DSHMRING_BUILD_TESTS=ON asked for explicitly: configure fails and says what is missing
#   bench_needs_benchmark  the same for -DSHMRING_BUILD_BENCH=ON and Google Benchmark
file(REMOVE_RECURSE ${WORK_DIR})
set(build ${WORK_DIR}/build)
# Examples are left out of the build to spare the machine; they need nothing more than the tool does.
set(common -S ${SHMRING_SOURCE_DIR} -B ${build} -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release
           -DSHMRING_BUILD_EXAMPLES=OFF)

function(expect_configure_error var package)
  execute_process(COMMAND ${CMAKE_COMMAND} ${common} -DSHMRING_BUILD_TOOLS=OFF -D${var}=ON
                          -DCMAKE_DISABLE_FIND_PACKAGE_${package}=ON
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REGEX REPLACE "[ \n]+" " " err "${err}")  # CMake wraps the message
  if(NOT rc)
    message(FATAL_ERROR "-D${var}=ON configured without ${package}:\n${out}")
  endif()
  if(NOT err MATCHES "shmring: ${var}=ON asks for the .* but ${package}.* was not found")
    message(FATAL_ERROR "-D${var}=ON without ${package} failed without saying why:\n${err}")
  endif()
  message(STATUS "as expected: ${err}")
endfunction()

if(CHECK STREQUAL "tests_need_catch2")
  expect_configure_error(SHMRING_BUILD_TESTS Catch2)
elseif(CHECK STREQUAL "bench_needs_benchmark")
  expect_configure_error(SHMRING_BUILD_BENCH benchmark)
elseif(CHECK STREQUAL "without_catch2" OR CHECK STREQUAL "without_boost")
  if(CHECK STREQUAL "without_boost")
    set(hidden Boost)
    set(notice_pattern "shmring: Boost[^\n]* not found: tests skipped[^\n]*")
  else()
    set(hidden Catch2)
    set(notice_pattern "shmring: Catch2[^\n]* not found: tests skipped[^\n]*")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} ${common} -DCMAKE_DISABLE_FIND_PACKAGE_${hidden}=ON
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc)
    message(FATAL_ERROR "configuring without ${hidden} failed (${rc}):\n${out}\n${err}")
  endif()
  string(REGEX MATCH "${notice_pattern}" notice "${out}")
  if(NOT notice)
    message(FATAL_ERROR "configuring without ${hidden} printed no notice:\n${out}")
  endif()
  message(STATUS "notice: ${notice}")
  if(EXISTS ${build}/tests OR EXISTS ${build}/CTestTestfile.cmake)
    message(FATAL_ERROR "tests were configured although ${hidden} is missing")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${build} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "building without ${hidden} failed: ${rc}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${build} --prefix ${WORK_DIR}/prefix RESULT_VARIABLE rc
                  OUTPUT_QUIET)
  if(rc)
    message(FATAL_ERROR "installing without ${hidden} failed: ${rc}")
  endif()
  foreach(f IN ITEMS include/shmring/shmring.hpp share/cmake/shmring/shmringConfig.cmake
                     share/pkgconfig/shmring.pc bin/shmring)
    if(NOT EXISTS ${WORK_DIR}/prefix/${f})
      message(FATAL_ERROR "the install without ${hidden} has no ${f}")
    endif()
  endforeach()
else()
  message(FATAL_ERROR "unknown CHECK '${CHECK}'")
endif()
