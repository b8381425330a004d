# The shmring tool (issue 6) against live rings: tool/tool_test.py starts rings with tool_fixture, runs the tool
# and parses its --json output. RUN_SERIAL: `gc --dry-run` judges every shmring segment of this user, and other
# tests deliberately make segments that look abandoned.
if(TARGET shmring_tool)
  find_package(Python3 COMPONENTS Interpreter)
  add_executable(tool_fixture tool/fixture.cpp)
  target_link_libraries(tool_fixture PRIVATE shmring::shmring shmring_warnings)
  if(Python3_Interpreter_FOUND)
    add_test(NAME shmring_tool_json
             COMMAND Python3::Interpreter ${CMAKE_CURRENT_SOURCE_DIR}/tool/tool_test.py
                     $<TARGET_FILE:shmring_tool> $<TARGET_FILE:tool_fixture>)
    set_tests_properties(shmring_tool_json PROPERTIES LABELS hardening TIMEOUT 120 RUN_SERIAL TRUE)
  else()
    message(STATUS "shmring: python3 not found, the tool's test is not registered")
  endif()
endif()
