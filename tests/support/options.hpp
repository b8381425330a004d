// Test support: options for tests that must not wait long: how long an opener waits for a segment that is being
// created (open_timeout), and how often a waiting side checks that its peer still lives (liveness_interval).
#pragma once

#include <shmring/shmring.hpp>

#include <chrono>

namespace shmring_test {

/// The default options but for open_timeout and, when given, liveness_interval.
inline shmring::options with_timeouts(std::chrono::nanoseconds open_timeout,
                                      std::chrono::nanoseconds liveness_interval = shmring::wait_options{}.liveness_interval) {
  shmring::options o;
  o.open_timeout = open_timeout;
  o.wait.liveness_interval = liveness_interval;
  return o;
}

}  // namespace shmring_test
