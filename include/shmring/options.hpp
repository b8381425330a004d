// shmring: how a producer or consumer is created or opened (options), and which side it is.
// May touch: nothing. Plain values.
#pragma once

#include <shmring/wait.hpp>

#include <chrono>
#include <cstdint>

namespace shmring {

/// Which side of a ring.
enum class side : std::uint8_t { producer, consumer };

/// How a producer or consumer is created or opened.
struct options {
  /// How waiting calls wait (push, pop, send, receive and their _for forms).
  wait_options wait{};
  /// How long open() waits for a creator that has not finished setting the segment up (errc::not_ready after),
  /// and how long create() watches a not-ready segment of its name before reclaiming it as abandoned. Saturated
  /// where it meets the clock: nanoseconds::max() waits for ever, zero or less tries once.
  std::chrono::nanoseconds open_timeout = std::chrono::seconds(2);
  /// Keep the segment when both sides have detached and it is empty (default: remove it then).
  bool persistent = false;
  /// create only: the index of the first element or byte (tests start near 2^64 to prove the wrap-around).
  std::uint64_t first_index = 0;
  /// Message producers only: stamp each record with CLOCK_MONOTONIC in ns (one vDSO clock read per message, 20-60
  /// ns: about half the cost of a 64-byte send). false stores 0 instead. Each producer decides for its records.
  bool timestamps = true;
};

}  // namespace shmring
