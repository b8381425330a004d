# Hardening against crashes, hostile peers and misuse (issue 6). Included by tests/CMakeLists.txt.
# Default run: short. The long loops are registered only with -DSHMRING_SOAK=ON (label soak).
# One label per shmring_test (a list would be split by catch_discover_tests): hardening, corruption (hostile peer), soak.
shmring_test(hardening_setup_test SOURCES hardening/setup_test.cpp LABELS hardening TIMEOUT 300)
target_include_directories(hardening_setup_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/hardening)
shmring_test(hardening_permissions_test SOURCES hardening/permissions_test.cpp LABELS hardening TIMEOUT 120)
target_include_directories(hardening_permissions_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/hardening)
shmring_test(hardening_hostile_peer_test SOURCES hardening/hostile_peer_test.cpp LABELS corruption TIMEOUT 300)
target_include_directories(hardening_hostile_peer_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/hardening)
# The cross-process hostile writer on message rings, once include/shmring/message.hpp (issue 3) exists.
if(EXISTS ${PROJECT_SOURCE_DIR}/include/shmring/message.hpp)
  shmring_test(hardening_hostile_message_test SOURCES hardening/hostile_message_test.cpp LABELS corruption TIMEOUT 300)
  target_include_directories(hardening_hostile_message_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/hardening)
endif()
shmring_test(hardening_header_flip_test SOURCES hardening/header_flip_test.cpp LABELS corruption TIMEOUT 300)
target_include_directories(hardening_header_flip_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/hardening)
shmring_test(hardening_liveness_test SOURCES hardening/liveness_test.cpp LABELS hardening TIMEOUT 120)
target_include_directories(hardening_liveness_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/hardening)

# ---- Layout across builds: one small program built by g++, by clang++ and by g++ -m32 (CMake uses one compiler
# per project, so these call the compilers directly), run against each other by hardening/cross/run.cmake. --------
find_program(SHMRING_GXX NAMES g++)
find_program(SHMRING_CLANGXX NAMES clang++)
set(cross_src ${CMAKE_CURRENT_SOURCE_DIR}/hardening/cross/peer.cpp)
file(GLOB_RECURSE cross_deps CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/shmring/*.hpp)
set(cross_flags -std=c++20 -O2 -Wall -Wextra -Wpedantic -Werror -I${PROJECT_SOURCE_DIR}/include)
foreach(dir IN LISTS Boost_INCLUDE_DIRS)
  if(NOT dir STREQUAL "/usr/include")
    list(APPEND cross_flags -isystem ${dir})
  endif()
endforeach()
set(cross_peers "")
function(shmring_cross_peer out compiler)
  add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/${out}
                     COMMAND ${compiler} ${ARGN} ${cross_flags} ${cross_src} -o ${CMAKE_CURRENT_BINARY_DIR}/${out} -pthread
                     DEPENDS ${cross_src} ${cross_deps}
                     COMMENT "Building the cross-build peer ${out} (${compiler} ${ARGN})" VERBATIM)
  set(cross_peers ${cross_peers} ${CMAKE_CURRENT_BINARY_DIR}/${out} PARENT_SCOPE)
endfunction()
set(gcc_peer "")
set(clang_peer "")
set(gcc32_peer "")
set(gcc32_nolfs_peer "")
set(gcc32_time64_peer "")
if(SHMRING_GXX)
  shmring_cross_peer(cross_peer_gcc ${SHMRING_GXX})
  set(gcc_peer ${CMAKE_CURRENT_BINARY_DIR}/cross_peer_gcc)
  # Does g++ -m32 link a C++ program here (g++-multilib)? Checked once at configure time.
  if(NOT DEFINED SHMRING_GXX_M32_WORKS)
    file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/m32_probe.cpp "#include <atomic>\nint main() { return 0; }\n")
    execute_process(COMMAND ${SHMRING_GXX} -m32 ${CMAKE_CURRENT_BINARY_DIR}/m32_probe.cpp
                            -o ${CMAKE_CURRENT_BINARY_DIR}/m32_probe RESULT_VARIABLE m32_rc OUTPUT_QUIET ERROR_QUIET)
    if(m32_rc EQUAL 0)
      set(SHMRING_GXX_M32_WORKS ON CACHE INTERNAL "g++ -m32 works")
    else()
      set(SHMRING_GXX_M32_WORKS OFF CACHE INTERNAL "g++ -m32 works")
    endif()
  endif()
  if(SHMRING_GXX_M32_WORKS)
    shmring_cross_peer(cross_peer_gcc32 ${SHMRING_GXX} -m32 -D_FILE_OFFSET_BITS=64)
    shmring_cross_peer(cross_peer_gcc32_nolfs ${SHMRING_GXX} -m32)
    set(gcc32_peer ${CMAKE_CURRENT_BINARY_DIR}/cross_peer_gcc32)
    set(gcc32_nolfs_peer ${CMAKE_CURRENT_BINARY_DIR}/cross_peer_gcc32_nolfs)
    # A 64-bit time_t on i386 (glibc 2.34+; Debian armhf's default ABI): the futex timeout must be passed in the
    # kernel's layout, not the C library's (issue 12; the peer's futex-check). Probed once: older glibc ignores
    # _TIME_BITS, and the peer's static_assert would then fail the build instead of skipping.
    if(NOT DEFINED SHMRING_GXX_M32_TIME64_WORKS)
      file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/m32_time64_probe.cpp
           "#include <time.h>\nstatic_assert(sizeof(time_t) == 8);\nint main() { return 0; }\n")
      execute_process(COMMAND ${SHMRING_GXX} -m32 -D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64
                              ${CMAKE_CURRENT_BINARY_DIR}/m32_time64_probe.cpp -o ${CMAKE_CURRENT_BINARY_DIR}/m32_time64_probe
                      RESULT_VARIABLE t64_rc OUTPUT_QUIET ERROR_QUIET)
      if(t64_rc EQUAL 0)
        set(SHMRING_GXX_M32_TIME64_WORKS ON CACHE INTERNAL "g++ -m32 -D_TIME_BITS=64 works")
      else()
        set(SHMRING_GXX_M32_TIME64_WORKS OFF CACHE INTERNAL "g++ -m32 -D_TIME_BITS=64 works")
      endif()
    endif()
    if(SHMRING_GXX_M32_TIME64_WORKS)
      shmring_cross_peer(cross_peer_gcc32_time64 ${SHMRING_GXX} -m32 -D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64
                         -DSHMRING_EXPECT_TIME64)
      set(gcc32_time64_peer ${CMAKE_CURRENT_BINARY_DIR}/cross_peer_gcc32_time64)
    endif()
  endif()
endif()
if(SHMRING_CLANGXX)
  shmring_cross_peer(cross_peer_clang ${SHMRING_CLANGXX})
  set(clang_peer ${CMAKE_CURRENT_BINARY_DIR}/cross_peer_clang)
endif()
add_custom_target(hardening_cross_peers ALL DEPENDS ${cross_peers})
add_test(NAME hardening_cross_build
         COMMAND ${CMAKE_COMMAND} -DGCC_PEER=${gcc_peer} -DCLANG_PEER=${clang_peer} -DGCC32_PEER=${gcc32_peer}
                 -DGCC32_NOLFS_PEER=${gcc32_nolfs_peer} -DGCC32_TIME64_PEER=${gcc32_time64_peer}
                 -DCLANGXX=${SHMRING_CLANGXX}
                 -DINCLUDE_DIR=${PROJECT_SOURCE_DIR}/include -DPEER_SOURCE=${cross_src}
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/hardening/cross/run.cmake)
set_tests_properties(hardening_cross_build PROPERTIES LABELS hardening TIMEOUT 600
                     SKIP_REGULAR_EXPRESSION "SKIPPED: [A-Z_]+ was not built")

# ---- Crash loops and the two-thread wrap soak: short in the default run, full with -DSHMRING_SOAK=ON. ----------
# The full run: cmake --preset tsan -DSHMRING_SOAK=ON && cmake --build --preset tsan && ctest --preset tsan -L soak
shmring_test(hardening_crash_test SOURCES hardening/soak_test.cpp LABELS hardening TIMEOUT 300)
target_include_directories(hardening_crash_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/hardening)
if(SHMRING_SOAK)
  shmring_test(hardening_soak_test SOURCES hardening/soak_test.cpp LABELS soak TIMEOUT 7200)
  target_include_directories(hardening_soak_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/hardening)
  target_compile_definitions(hardening_soak_test PRIVATE SHMRING_SOAK_FULL=1)
endif()
