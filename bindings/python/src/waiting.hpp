// How the module's blocking calls wait: with the GIL released, in bounded slices, checking for signals (Ctrl-C)
// with the GIL re-taken between slices; and the guard that keeps two Python threads out of one endpoint (the C++
// endpoints are single-threaded, and a call that released the GIL would otherwise let a second thread in).
#pragma once

#include "errors.hpp"

#include <shmring/options.hpp>

#include <pybind11/pybind11.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>

namespace shmring_py {

/// The longest a blocking call stays in C++ without looking for a pending signal.
inline constexpr std::chrono::milliseconds signal_check_slice{50};

/// A timeout argument: None waits for ever; seconds >= 0 (0: one attempt, no waiting).
struct timeout_arg {
  std::optional<double> seconds;

  [[nodiscard]] bool forever() const noexcept { return !seconds || std::isinf(*seconds); }
};

inline timeout_arg check_timeout(std::optional<double> seconds) {
  if (seconds && !(*seconds >= 0)) throw pybind11::value_error("timeout must be None or a number of seconds >= 0");
  return {seconds};
}

/// Runs attempt(slice) (a timed C++ call: true when done) with the GIL released until it succeeds, the timeout
/// passes (false), or a signal handler raises (its exception, e.g. KeyboardInterrupt, is thrown). Call with the GIL
/// held.
template <class Attempt>
bool wait_interruptibly(Attempt&& attempt, timeout_arg t) {
  using clock = std::chrono::steady_clock;
  const bool forever = t.forever();
  clock::time_point deadline{};
  if (!forever) {
    // Saturated: a timeout beyond a year waits for ever.
    const double s = std::min(*t.seconds, 365.0 * 24 * 3600);
    deadline = clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s));
  }
  for (;;) {
    std::chrono::nanoseconds slice = signal_check_slice;
    if (!forever) slice = std::clamp<std::chrono::nanoseconds>(deadline - clock::now(), std::chrono::nanoseconds(0), slice);
    bool done = false;
    {
      pybind11::gil_scoped_release nogil;
      done = attempt(slice);
    }
    if (done) return true;
    if (PyErr_CheckSignals() != 0) throw pybind11::error_already_set();
    if (!forever && clock::now() >= deadline) return false;
  }
}

/// Marks an endpoint in use for one call; a second thread entering meanwhile gets errc::invalid_argument. Only
/// touched with the GIL held, so a plain bool suffices.
class busy_guard {
 public:
  busy_guard(bool& busy, const std::string& name) : busy_(busy) {
    if (busy_)
      raise(shmring::errc::invalid_argument, name,
            "this endpoint is in use by another thread (a shmring endpoint is used by one thread at a time)");
    busy_ = true;
  }
  busy_guard(const busy_guard&) = delete;
  busy_guard& operator=(const busy_guard&) = delete;
  ~busy_guard() { busy_ = false; }

 private:
  bool& busy_;
};

/// The options keyword arguments every create/open takes.
inline shmring::options make_options(bool persistent, bool timestamps, const std::string& wait, double open_timeout) {
  shmring::options o;
  o.persistent = persistent;
  o.timestamps = timestamps;
  if (wait == "sleep") {
    o.wait.policy = shmring::wait_policy::sleep;
  } else if (wait == "yield") {
    o.wait.policy = shmring::wait_policy::yield;
  } else if (wait == "spin") {
    o.wait.policy = shmring::wait_policy::spin;
  } else {
    throw pybind11::value_error("wait must be \"sleep\", \"yield\" or \"spin\", not \"" + wait + "\"");
  }
  if (!(open_timeout >= 0)) throw pybind11::value_error("open_timeout must be a number of seconds >= 0");
  o.open_timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(std::min(open_timeout, 365.0 * 24 * 3600)));
  return o;
}

}  // namespace shmring_py
