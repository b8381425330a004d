# Variable-length messages (issue 3). Included by tests/CMakeLists.txt.
# One label per shmring_test: catch_discover_tests splits a list of labels into separate properties.
shmring_test(message_ring_test SOURCES message/byte_ring_test.cpp LABELS unit)
shmring_test(message_api_test SOURCES message/message_test.cpp LABELS unit)
shmring_test(message_ipc_test SOURCES message/message_ipc_test.cpp LABELS ipc TIMEOUT 600)
shmring_test(message_corruption_test SOURCES message/corruption_test.cpp LABELS corruption)
shmring_test(message_fuzz_replay_test SOURCES fuzz/fuzz_replay_test.cpp LABELS fuzz)
target_include_directories(message_fuzz_replay_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/message)
target_compile_definitions(message_fuzz_replay_test PRIVATE SHMRING_FUZZ_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus")

# The corpus generator (tests/fuzz/make_corpus.cpp), kept compiling; run it by hand to regenerate the seeds.
add_executable(message_fuzz_corpus fuzz/make_corpus.cpp)
target_link_libraries(message_fuzz_corpus PRIVATE shmring::shmring shmring_warnings)

# The libFuzzer target itself, when the compiler is clang and the build is not already sanitized (CI runs it
# through tests/fuzz/run.sh instead): a 10-second run on the seed corpus, new inputs kept in the build tree.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang" AND NOT CMAKE_CXX_FLAGS MATCHES "sanitize")
  include(CheckCXXSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer")
  check_cxx_source_compiles("extern \"C\" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }"
                            SHMRING_HAVE_LIBFUZZER)
  unset(CMAKE_REQUIRED_FLAGS)
  if(SHMRING_HAVE_LIBFUZZER)
    add_executable(message_fuzz fuzz/message_fuzz.cpp)
    target_link_libraries(message_fuzz PRIVATE shmring::shmring shmring_warnings)
    target_compile_options(message_fuzz PRIVATE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
    target_link_options(message_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
    file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/message_fuzz_work)
    add_test(NAME message_fuzz_run
             COMMAND message_fuzz -max_total_time=10 -timeout=10 -max_len=4096
                     ${CMAKE_CURRENT_BINARY_DIR}/message_fuzz_work ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus)
    set_tests_properties(message_fuzz_run PROPERTIES LABELS fuzz TIMEOUT 120)
  endif()
endif()
