# Waiting, timeouts, dead peers and stale segments (issue 4). Included by tests/CMakeLists.txt.
# Every test here starts real processes. The wake-up test hangs on a lost wake-up (its sleeps are unbounded),
# so its TIMEOUT is what turns a lost wake-up into a failure.
set(SHMRING_WAIT_DIR ${CMAKE_CURRENT_SOURCE_DIR}/wait)

shmring_test(wait_wakeup_test SOURCES wait/wakeup_test.cpp LABELS ipc stress TIMEOUT 240)
target_include_directories(wait_wakeup_test PRIVATE ${SHMRING_WAIT_DIR})

shmring_test(wait_timeout_test SOURCES wait/timeout_test.cpp LABELS ipc TIMEOUT 120)
target_include_directories(wait_timeout_test PRIVATE ${SHMRING_WAIT_DIR})

shmring_test(wait_peer_death_test SOURCES wait/peer_death_test.cpp LABELS ipc stress TIMEOUT 300)
target_include_directories(wait_peer_death_test PRIVATE ${SHMRING_WAIT_DIR})

shmring_test(wait_message_test SOURCES wait/message_wait_test.cpp LABELS ipc stress TIMEOUT 240)
target_include_directories(wait_message_test PRIVATE ${SHMRING_WAIT_DIR})

# Durations saturate and timed waits end at their deadline (issue 12). The spin_iterations test has no other
# hang guard than this TIMEOUT: before the fix its 2^32 - 1 polls ran for minutes past a 1 ms deadline.
shmring_test(wait_duration_test SOURCES wait/duration_test.cpp LABELS ipc TIMEOUT 60)
target_include_directories(wait_duration_test PRIVATE ${SHMRING_WAIT_DIR})
# try_send of at most max_try_send() bytes into an empty ring succeeds from every head offset (issue 12).
shmring_test(wait_try_send_test SOURCES wait/try_send_test.cpp LABELS ipc TIMEOUT 120)
target_include_directories(wait_try_send_test PRIVATE ${SHMRING_WAIT_DIR})

# The scanning remove_stale() judges every shmring segment of this user, and other tests make segments that
# look abandoned on purpose: run these alone.
add_executable(wait_stale_test wait/stale_test.cpp)
target_link_libraries(wait_stale_test PRIVATE shmring_test_main shmring_warnings)
target_include_directories(wait_stale_test PRIVATE ${SHMRING_WAIT_DIR})
catch_discover_tests(wait_stale_test PROPERTIES LABELS "ipc" TIMEOUT 120 RUN_SERIAL TRUE)

if(SHMRING_SOAK)
  # 1,000 SIGKILLs of each side per wait policy (sleep; yield and spin get a fifth), label soak.
  add_executable(wait_peer_death_soak wait/peer_death_test.cpp)
  target_compile_definitions(wait_peer_death_soak PRIVATE SHMRING_KILLS=1000)
  target_link_libraries(wait_peer_death_soak PRIVATE shmring_test_main shmring_warnings)
  target_include_directories(wait_peer_death_soak PRIVATE ${SHMRING_WAIT_DIR})
  catch_discover_tests(wait_peer_death_soak TEST_PREFIX "soak." PROPERTIES LABELS "soak" TIMEOUT 3600)
  add_executable(wait_message_soak wait/message_wait_test.cpp)
  target_compile_definitions(wait_message_soak PRIVATE SHMRING_KILLS=1000)
  target_link_libraries(wait_message_soak PRIVATE shmring_test_main shmring_warnings)
  target_include_directories(wait_message_soak PRIVATE ${SHMRING_WAIT_DIR})
  catch_discover_tests(wait_message_soak TEST_PREFIX "soak." PROPERTIES LABELS "soak" TIMEOUT 3600)
endif()
