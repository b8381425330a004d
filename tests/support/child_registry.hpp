// Test and bench support: functions a program can run as separate processes of itself. A function defined with
// SHMRING_CHILD(name) is registered by name; the program's main(), started with a hidden flag and that name
// (see child_process in process.hpp), runs it instead of its usual work and exits with what it returns.
// Nothing here depends on Catch2: benchmarks use it with their own main().
#pragma once

#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <vector>

namespace shmring_test {

using child_fn = int (*)(const std::vector<std::string>& args);

/// Every registered child function, by name.
inline std::map<std::string, child_fn>& children() {
  static std::map<std::string, child_fn> m;
  return m;
}

struct child_registrar {
  child_registrar(const char* name, child_fn f) { children()[name] = f; }
};

/// Defines a function that can be started as a separate process: SHMRING_CHILD(producer_child) { ... return 0; }
#define SHMRING_CHILD(name)                                                   \
  static int name(const std::vector<std::string>& args);                     \
  static const ::shmring_test::child_registrar name##_registrar(#name, name); \
  static int name([[maybe_unused]] const std::vector<std::string>& args)

/// Runs the child function `name` with args: its return value; 127 if no such function is registered, 99 if it
/// threw (the exception's text goes to standard error).
inline int run_child(const std::string& name, const std::vector<std::string>& args) {
  const auto it = children().find(name);
  if (it == children().end()) {
    std::fprintf(stderr, "unknown child %s\n", name.c_str());
    return 127;
  }
  try {
    return it->second(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child %s: %s\n", name.c_str(), e.what());
    return 99;
  }
}

/// main() of a child started as `<program> <flag> NAME ARGS...` (argc >= 3): runs NAME with ARGS.
inline int run_child(int argc, char* argv[]) { return run_child(argv[2], std::vector<std::string>(argv + 3, argv + argc)); }

}  // namespace shmring_test
