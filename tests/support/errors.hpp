// Test support: the error code a call throws, and what it says, so a test can compare them instead of catching.
#pragma once

#include <shmring/shmring.hpp>

#include <string>
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

/// What the shmring::error that f() throws says (its what()), or "" when f() returns.
template <class F>
std::string message_of(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const shmring::error& e) {
    return e.what();
  }
  return {};
}

}  // namespace shmring_test
