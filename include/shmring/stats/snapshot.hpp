// shmring: plain copies of the lock and counter statistics (lock_stats, counter_stats) and how they print.
// May touch: nothing shared; the copies are made by stats_lock::snapshot() and stats_counter::snapshot().
#pragma once

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>

namespace shmring {

/// A copy of one side (exclusive or shared) of a stats_lock's counters. Plain data.
/// Copied field by field while the lock may be in use, so the fields are exact only once it is quiescent.
struct lock_stats {
  std::uint64_t acquisitions = 0;      ///< successful lock() and try_lock() calls
  std::uint64_t contended = 0;         ///< acquisitions whose first try_lock failed, so they waited
  std::uint64_t failed_try_locks = 0;  ///< explicit try_lock() calls that returned false (not acquisitions)
  std::uint64_t wait_ns = 0;           ///< total time spent waiting in contended acquisitions
  std::uint64_t max_wait_ns = 0;       ///< longest single contended wait

  /// Contended acquisitions / acquisitions; 0 when there were none.
  [[nodiscard]] constexpr double contention_ratio() const noexcept {
    return acquisitions == 0 ? 0.0 : static_cast<double>(contended) / static_cast<double>(acquisitions);
  }
  /// Mean wait per acquisition; uncontended acquisitions are not timed and count as zero.
  [[nodiscard]] constexpr double mean_wait_ns() const noexcept {
    return acquisitions == 0 ? 0.0 : static_cast<double>(wait_ns) / static_cast<double>(acquisitions);
  }
  /// Mean wait per contended acquisition; 0 when there were none.
  [[nodiscard]] constexpr double mean_contended_wait_ns() const noexcept {
    return contended == 0 ? 0.0 : static_cast<double>(wait_ns) / static_cast<double>(contended);
  }
  /// One line: `acquisitions=10 contended=2 (20.0%) ...`. Allocates: not for the hot path.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const lock_stats&, const lock_stats&) = default;
};

/// A copy of a stats_counter's statistics. Plain data, exact once the counter is quiescent.
struct counter_stats {
  std::uint64_t adds = 0;          ///< fetch_add() and increment() calls
  std::uint64_t loads = 0;         ///< load() calls
  std::uint64_t cas_attempts = 0;  ///< compare_exchange() calls
  std::uint64_t cas_failures = 0;  ///< compare_exchange() calls that found another value: each is a CAS-loop retry

  /// All counted operations.
  [[nodiscard]] constexpr std::uint64_t operations() const noexcept { return adds + loads + cas_attempts; }
  /// Failed / attempted compare_exchange calls; 0 when there were none.
  [[nodiscard]] constexpr double cas_failure_ratio() const noexcept {
    return cas_attempts == 0 ? 0.0 : static_cast<double>(cas_failures) / static_cast<double>(cas_attempts);
  }
  /// One line: `adds=... loads=... cas_attempts=... cas_failures=... (..%)`. Allocates: not for the hot path.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const counter_stats&, const counter_stats&) = default;
};

inline std::string lock_stats::to_string() const {
  char buf[256];
  const int n = std::snprintf(buf, sizeof buf,
                              "acquisitions=%" PRIu64 " contended=%" PRIu64 " (%.1f%%) failed_try_locks=%" PRIu64
                              " wait_ns=%" PRIu64 " mean_contended_wait_ns=%.1f max_wait_ns=%" PRIu64,
                              acquisitions, contended, 100.0 * contention_ratio(), failed_try_locks, wait_ns,
                              mean_contended_wait_ns(), max_wait_ns);
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

inline std::string counter_stats::to_string() const {
  char buf[192];
  const int n = std::snprintf(
      buf, sizeof buf, "adds=%" PRIu64 " loads=%" PRIu64 " cas_attempts=%" PRIu64 " cas_failures=%" PRIu64 " (%.1f%%)",
      adds, loads, cas_attempts, cas_failures, 100.0 * cas_failure_ratio());
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

/// Writes lock_stats::to_string().
inline std::ostream& operator<<(std::ostream& os, const lock_stats& s) { return os << s.to_string(); }
/// Writes counter_stats::to_string().
inline std::ostream& operator<<(std::ostream& os, const counter_stats& s) { return os << s.to_string(); }

}  // namespace shmring
