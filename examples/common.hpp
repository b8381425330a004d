// Small helpers shared by the example programs: argument parsing, CPU pinning, rates.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include <shmring/wait.hpp>

#include <sched.h>

namespace example {

/// `--key value` and `--flag` arguments; `--help` prints usage and exits.
class args {
 public:
  args(int argc, char** argv, const char* usage) {
    for (int i = 1; i < argc; ++i) {
      std::string_view a = argv[i];
      if (a == "--help" || a == "-h") {
        std::fputs(usage, stdout);
        std::exit(0);
      }
      if (a.substr(0, 2) != "--") fail(usage, "unexpected argument: " + std::string(a));
      const std::string key(a.substr(2));
      if (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0)
        kv_[key] = argv[++i];
      else
        kv_[key] = "";
    }
  }
  [[nodiscard]] std::string str(const std::string& k, const std::string& def) const {
    auto it = kv_.find(k);
    return it == kv_.end() ? def : it->second;
  }
  [[nodiscard]] unsigned long long num(const std::string& k, unsigned long long def) const {
    auto it = kv_.find(k);
    if (it == kv_.end()) return def;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0') throw std::invalid_argument("--" + k + " needs a number");
    return v;
  }
  [[nodiscard]] bool has(const std::string& k) const { return kv_.count(k) != 0; }

 private:
  [[noreturn]] static void fail(const char* usage, const std::string& why) {
    std::fprintf(stderr, "%s\n\n%s", why.c_str(), usage);
    std::exit(2);
  }
  std::map<std::string, std::string> kv_;
};

/// Pins the calling thread to one CPU (ignored when cpu < 0 or pinning fails).
inline void pin(long cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<int>(cpu), &set);
  (void)sched_setaffinity(0, sizeof set, &set);
}

/// --wait spin|yield|sleep.
inline shmring::wait_policy parse_wait(const std::string& w) {
  if (w == "spin") return shmring::wait_policy::spin;
  if (w == "yield") return shmring::wait_policy::yield;
  if (w == "sleep") return shmring::wait_policy::sleep;
  throw std::invalid_argument("--wait must be spin, yield or sleep");
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace example
