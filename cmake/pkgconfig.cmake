# shmring.pc for pkg-config users: `c++ -std=c++20 app.cpp $(pkg-config --cflags --libs shmring)`.
# Requires: nothing: the library needs only the C++ standard library, POSIX and Linux. Libs are what the interface
# target links: threads, and librt for shm_open on older glibc.
#
# The prefix is written at install time, so `cmake --install build --prefix P` gets a .pc file that points at P
# (not at the CMAKE_INSTALL_PREFIX of the configure step). DESTDIR is honoured by file(INSTALL).
set(_shmring_pc_libs "-pthread")
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  string(APPEND _shmring_pc_libs " -lrt")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(_shmring_pc_includedir "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(_shmring_pc_includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
install(CODE "
  set(SHMRING_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(SHMRING_PC_INCLUDEDIR [[${_shmring_pc_includedir}]])
  set(SHMRING_PC_DESCRIPTION [[${PROJECT_DESCRIPTION}]])
  set(SHMRING_PC_VERSION [[${PROJECT_VERSION}]])
  set(SHMRING_PC_LIBS [[${_shmring_pc_libs}]])
  string(MD5 _shmring_pc_key \"\${CMAKE_INSTALL_PREFIX}\")
  set(_shmring_pc_file \"${PROJECT_BINARY_DIR}/pkgconfig/\${_shmring_pc_key}/shmring.pc\")
  configure_file([[${PROJECT_SOURCE_DIR}/cmake/shmring.pc.in]] \"\${_shmring_pc_file}\" @ONLY)
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${SHMRING_INSTALL_PKGCONFIGDIR}\" TYPE FILE
       FILES \"\${_shmring_pc_file}\")
")
