// Test and bench support: a unique segment name that is removed again however the test ends.
// May touch: segments whose names it made.
#pragma once

#include <shmring/shmring.hpp>

#include <atomic>
#include <string>

#include <unistd.h>

namespace shmring_test {

/// A unique segment name for this test run, removed when the guard goes out of scope (pass or fail).
class segment_guard {
 public:
  explicit segment_guard(const std::string& what) {
    static std::atomic<int> counter{0};
    name_ = "test-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
    (void)shmring::remove(name_);
  }
  ~segment_guard() {
    try {
      (void)shmring::remove(name_);
    } catch (...) {
    }
  }
  segment_guard(const segment_guard&) = delete;
  segment_guard& operator=(const segment_guard&) = delete;
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const char* c_str() const noexcept { return name_.c_str(); }

 private:
  std::string name_;
};

}  // namespace shmring_test
