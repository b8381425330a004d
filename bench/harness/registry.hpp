// Harness: the registry of child functions, by name: what a child process of the suite runs (process.hpp starts
// the children and looks their function up here).
// May touch: its own static map. Nothing else: no process, no descriptor, no core, no other bench header.
// Self-contained on purpose (standard headers only): the shared test/bench support library in tests/support/ has
// the same registry, and this file is meant to be replaced by it as a whole; BENCH_CHILD and find_child are all
// that the rest of bench/ uses.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace shmring_bench {

using child_fn = int (*)(const std::vector<std::string>& args);

inline std::map<std::string, child_fn>& children() {
  static std::map<std::string, child_fn> m;
  return m;
}

struct child_registrar {
  child_registrar(const char* name, child_fn f) { children()[name] = f; }
};

/// A function the benchmarks can start as a separate process: BENCH_CHILD(name) { ...; return 0; }
#define BENCH_CHILD(name)                                                        \
  static int name(const std::vector<std::string>& args);                         \
  static const ::shmring_bench::child_registrar name##_registrar(#name, name);   \
  static int name([[maybe_unused]] const std::vector<std::string>& args)

/// The child function registered as name; nullptr if there is none.
inline child_fn find_child(const std::string& name) {
  const auto it = children().find(name);
  return it == children().end() ? nullptr : it->second;
}

}  // namespace shmring_bench
