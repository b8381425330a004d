// Test support: the error code a call throws, so a test can compare codes instead of catching.
#pragma once

#include <shmring/shmring.hpp>

#include <utility>

namespace shmring_test {

/// The errc that f() throws as shmring::error, or errc::ok when it returns.
template <class F>
shmring::errc code_of(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const shmring::error& e) {
    return e.code();
  }
  return shmring::errc::ok;
}

}  // namespace shmring_test
