# shmring_optional_part(<var> <default> <package> <version> <what> <debian-package> <deps.sh-group>)
#
# A part of the build that needs a package the library does not (tests: Catch2, benchmarks: Google Benchmark).
# <var> is a cache entry that takes ON, OFF or AUTO:
#   AUTO  build the part when <package> is found, else skip it with a one-line notice (the top level's default
#         for the tests, so a machine with only a compiler, CMake and Boost can build and install shmring);
#   ON    the part was asked for: a missing <package> is a configure error that says what to install;
#   OFF   never build it.
# On return the normal variable <var> holds the resolution, ON or OFF, which is what the rest of the build reads
# (`if(SHMRING_BUILD_TESTS)`); the cache keeps what was asked for, so AUTO notices the package once installed.
function(shmring_optional_part var default package version what debian_package deps_group)
  set(${var} ${default} CACHE STRING "Build shmring's ${what}: ON, OFF or AUTO (when ${package} is found)")
  set_property(CACHE ${var} PROPERTY STRINGS ON OFF AUTO)
  string(TOUPPER "${${var}}" asked)
  string(STRIP "${package} ${version}" needs)
  if(asked STREQUAL "AUTO" OR asked)
    find_package(${package} ${version} QUIET)
  endif()
  if(asked STREQUAL "AUTO")
    if(${package}_FOUND)
      set(resolved ON)
    else()
      message(STATUS "shmring: ${needs} not found: ${what} skipped "
                     "(${var}=AUTO; -D${var}=ON makes this an error)")
      set(resolved OFF)
    endif()
  elseif(asked)
    if(NOT ${package}_FOUND)
      message(FATAL_ERROR "shmring: ${var}=${${var}} asks for the ${what}, but ${needs} was not "
                          "found. Install it (Debian: apt-get install ${debian_package}, or bash cmake/deps.sh ${deps_group}), "
                          "point CMAKE_PREFIX_PATH at it, or configure with -D${var}=AUTO or OFF.")
    endif()
    set(resolved ON)
  else()
    set(resolved OFF)
  endif()
  set(${var} ${resolved} PARENT_SCOPE)
  # What a package's config sets for its users, which a function would otherwise keep to itself: Catch2's adds
  # its directory to CMAKE_MODULE_PATH (for include(Catch)) only the first time it is loaded.
  set(CMAKE_MODULE_PATH "${CMAKE_MODULE_PATH}" PARENT_SCOPE)
  set(${package}_FOUND "${${package}_FOUND}" PARENT_SCOPE)
endfunction()
