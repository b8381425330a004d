# cmake -P run.cmake: the same ring used by programs built by different compilers and for different ABIs.
# Inputs (-D): GCC_PEER, CLANG_PEER (x86-64 builds of peer.cpp), GCC32_PEER (g++ -m32 -D_FILE_OFFSET_BITS=64,
# may be empty), GCC32_NOLFS_PEER (g++ -m32 without large-file support, may be empty), GCC32_TIME64_PEER (g++ -m32
# -D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64, may be empty), CLANGXX (for the clang -m32 compile check, may be empty),
# INCLUDE_DIR, PEER_SOURCE.
# Every build also runs its futex-check: the kernel reads the futex timeout the library means (issue 12).
# Each pair runs concurrently (a pipeline: the producer's stdout, its checksum line, is the consumer's stdin);
# both sides call open_or_create, so either may create the ring. The consumer checks every field of every record.
cmake_minimum_required(VERSION 3.21)

string(RANDOM LENGTH 10 ALPHABET abcdefghijklmnopqrstuvwxyz0123456789 tag)
set(names "")

function(cleanup)
  foreach(n IN LISTS names)
    file(REMOVE /dev/shm/shmring-${n})
  endforeach()
endfunction()

macro(fail msg)
  cleanup()
  message(FATAL_ERROR "${msg}")
endmacro()

# run_pair(<label> <producer> <consumer> <count> [u64]): producer | consumer, both must exit 0.
function(run_pair label prod cons count)
  set(name "xbuild-${tag}-${label}")
  list(APPEND names ${name})
  set(names ${names} PARENT_SCOPE)
  execute_process(COMMAND ${prod} produce ${name} ${count} ${ARGN}
                  COMMAND ${cons} consume ${name} ${count} ${ARGN}
                  RESULTS_VARIABLE rcs OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 240)
  if(NOT rcs STREQUAL "0;0")
    fail("${label}: exit codes ${rcs} (producer;consumer)\n${out}${err}")
  endif()
  if(NOT out MATCHES "^ok ${count} ")
    fail("${label}: the consumer did not confirm: ${out}${err}")
  endif()
  if(EXISTS /dev/shm/shmring-${name})
    fail("${label}: the drained segment was left behind")
  endif()
  message(STATUS "${label}: ${out}")
endfunction()

# expect_refused(<label> <producer> <consumer> <expected consumer exit> ...): the producer runs alone first (it
# creates the ring and fills part of it), then the consumer, which must exit with the expected code.
function(expect_refused label prod cons want)
  set(name "xbuild-${tag}-${label}")
  list(APPEND names ${name})
  set(names ${names} PARENT_SCOPE)
  execute_process(COMMAND ${prod} produce ${name} 100 ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE ck ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    fail("${label}: the producer failed: ${rc} ${err}")
  endif()
  execute_process(COMMAND ${cons} consume ${name} 100 ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL want)
    fail("${label}: the consumer exited ${rc}, expected ${want}: ${out}${err}")
  endif()
  file(REMOVE /dev/shm/shmring-${name})
  message(STATUS "${label}: refused as expected (exit ${rc}): ${err}")
endfunction()

foreach(p IN ITEMS GCC_PEER CLANG_PEER)
  if(NOT EXISTS "${${p}}")
    message(STATUS "SKIPPED: ${p} was not built (no such compiler here)")
    return()
  endif()
endforeach()

foreach(p IN ITEMS GCC_PEER CLANG_PEER GCC32_PEER)
  if(${p})
    execute_process(COMMAND ${${p}} info OUTPUT_VARIABLE info)
    message(STATUS "${p}: ${info}")
  endif()
endforeach()

# The futex timeout in the kernel's layout, on every ABI built here (peer.cpp, futex_check, says how it is checked).
foreach(p IN ITEMS GCC_PEER CLANG_PEER GCC32_PEER GCC32_NOLFS_PEER GCC32_TIME64_PEER)
  if(${p})
    set(name "xbuild-${tag}-futex-${p}")
    list(APPEND names ${name})
    execute_process(COMMAND ${${p}} futex-check ${name} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                    TIMEOUT 120)
    if(NOT rc EQUAL 0)
      fail("${p} futex-check: exit ${rc}\n${out}${err}")
    endif()
    message(STATUS "${p}: ${out}")
  endif()
endforeach()
if(NOT GCC32_TIME64_PEER)
  message(STATUS "SKIPPED (32-bit with a 64-bit time_t): g++ -m32 -D_TIME_BITS=64 cannot build here")
endif()

set(n 1000000)
run_pair(gcc-to-clang ${GCC_PEER} ${CLANG_PEER} ${n})
run_pair(clang-to-gcc ${CLANG_PEER} ${GCC_PEER} ${n})
run_pair(clang-to-gcc-u64 ${CLANG_PEER} ${GCC_PEER} ${n} u64)

if(GCC32_PEER)
  # i386 and x86-64 agree on every header offset (layout.hpp asserts them in both builds) and on 8-byte atomics,
  # so an element type with the same size and alignment in both ABIs interoperates byte for byte:
  run_pair(gcc64-to-gcc32 ${GCC_PEER} ${GCC32_PEER} ${n})
  run_pair(gcc32-to-gcc64 ${GCC32_PEER} ${GCC_PEER} ${n})
  run_pair(gcc32-to-clang64 ${GCC32_PEER} ${CLANG_PEER} ${n})
  if(GCC32_TIME64_PEER)
    # time_t is in no shared field: a 64-bit time_t changes nothing of the layout.
    run_pair(gcc32time64-to-gcc64 ${GCC32_TIME64_PEER} ${GCC_PEER} 100000)
    run_pair(gcc64-to-gcc32time64 ${GCC_PEER} ${GCC32_TIME64_PEER} 100000)
  endif()
  # ...and a type whose alignment differs (uint64_t is 4-aligned on i386) is refused: element_mismatch (10 + 10).
  expect_refused(u64-64-to-32 ${GCC_PEER} ${GCC32_PEER} 20 u64)
  expect_refused(u64-32-to-64 ${GCC32_PEER} ${GCC_PEER} 20 u64)
  # A ring too big for a 32-bit address space (6 GiB, sparse) is refused, never mapped short: layout_mismatch
  # (10 + 12) with large-file support; without it fstat itself fails (EOVERFLOW): system_error (10 + 19).
  set(name "xbuild-${tag}-huge")
  list(APPEND names ${name})
  execute_process(COMMAND ${GCC_PEER} create-huge ${name} 27 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    fail("huge: creating a 6 GiB ring failed: ${rc} ${err}")
  endif()
  execute_process(COMMAND ${GCC32_PEER} open-huge ${name} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 22)
    fail("huge: the 32-bit opener exited ${rc}, expected 22 (layout_mismatch): ${out}${err}")
  endif()
  message(STATUS "huge, 32-bit with large-file support: refused (exit ${rc}): ${err}")
  if(GCC32_NOLFS_PEER)
    execute_process(COMMAND ${GCC32_NOLFS_PEER} open-huge ${name} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 29)
      fail("huge: the 32-bit opener without large-file support exited ${rc}, expected 29 (system_error): ${out}${err}")
    endif()
    message(STATUS "huge, 32-bit without large-file support: refused (exit ${rc}): ${err}")
  endif()
  execute_process(COMMAND ${GCC32_PEER} create-huge ${name}-2 27 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 12)
    fail("huge: the 32-bit creator exited ${rc}, expected 12 (invalid_argument): ${out}${err}")
  endif()
  message(STATUS "huge, 32-bit creator: refused (exit ${rc}): ${err}")
else()
  message(STATUS "SKIPPED (32-bit): g++ -m32 cannot build here (install g++-multilib)")
endif()

if(CLANGXX)
  # clang 14 with libstdc++ on i386 does not report 8-byte atomics as always lock-free, so config.hpp refuses the
  # build at compile time instead of letting a lock-based atomic into shared memory.
  execute_process(COMMAND ${CLANGXX} -m32 -std=c++20 -fsyntax-only -I${INCLUDE_DIR} ${PEER_SOURCE}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(STATUS "clang++ -m32 builds the peer (8-byte atomics are lock-free there): not refused")
  elseif(err MATCHES "shmring needs lock-free 64-bit atomics")
    message(STATUS "clang++ -m32: refused at compile time by config.hpp (lock-free 64-bit atomics)")
  elseif(err MATCHES "gnu/stubs-32.h|cannot find|No such file|file not found")
    message(STATUS "SKIPPED (clang -m32): no 32-bit headers for clang here")
  else()
    fail("clang++ -m32 failed for another reason than the lock-free check:\n${err}")
  endif()
endif()

cleanup()
