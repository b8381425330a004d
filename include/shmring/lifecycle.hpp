// shmring: ending a process's rings cleanly when it is told to stop (SIGTERM from systemd or kill, SIGINT from a
// terminal): termination_guard.
// May touch: the process's signal dispositions for the signals it guards (installed by the constructor, restored
// by the destructor); from its handler, every attachment of the process (through detail::registry).
//
// Without it, SIGTERM kills the process attached: its slot says attached while its lock is free, so the peer
// sees peer_dead and the segment is stale until someone runs `shmring gc`. With it, the handler detaches (or
// closes) every ring of the process first, exactly as the destructors would, and then lets the signal take its
// course: a handler the program had installed before is called; otherwise the default action is restored and the
// signal raised again, so the process ends as it would have (killed by that signal).
//
// The handler does only async-signal-safe work (fcntl, stat, unlink, futex, clock_gettime, sched_yield), never
// allocates, and never blocks for long: a detach waits at most 1 s for the admin lock of each ring.
#pragma once

#include <shmring/detail/registry.hpp>
#include <shmring/detail/signal_chain.hpp>
#include <shmring/error.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <initializer_list>
#include <string>

#include <signal.h>

namespace shmring {

/// Makes SIGTERM and SIGINT (or the signals given) detach every ring of this process before the signal takes its
/// normal course. One guard at a time per process (a second one throws errc::invalid_argument); create it in
/// main() before the rings and keep it for the process's life. Signals the process ignores stay ignored.
class termination_guard {
 public:
  /// What the handler does to each ring: detach (the peer waits for a restart, as after a normal destructor)
  /// or close (the peer's waits end with errc::closed after everything was delivered).
  enum class action : std::uint8_t { detach, close };

  explicit termination_guard(action a = action::detach, std::initializer_list<int> signals = {SIGTERM, SIGINT}) {
    if (state().installed.exchange(true, std::memory_order_acq_rel))
      throw error(errc::invalid_argument, {}, "a termination_guard exists already in this process");
    state().close.store(a == action::close, std::memory_order_relaxed);
    for (const int sig : signals) {
      if (sig <= 0 || sig >= max_signal || sig == SIGKILL || sig == SIGSTOP) {
        restore();
        throw error(errc::invalid_argument, {}, "signal " + std::to_string(sig) + " cannot be guarded");
      }
      struct sigaction prev{};
      if (::sigaction(sig, nullptr, &prev) != 0) continue;
      if (prev.sa_handler == SIG_IGN && (prev.sa_flags & SA_SIGINFO) == 0) continue;  // ignored stays ignored
      struct sigaction act{};
      act.sa_sigaction = &handler;
      act.sa_flags = SA_SIGINFO | SA_RESTART;
      sigemptyset(&act.sa_mask);
      state().previous[sig] = prev;
      if (::sigaction(sig, &act, nullptr) == 0) guarded_[sig] = true;
    }
  }

  termination_guard(const termination_guard&) = delete;
  termination_guard& operator=(const termination_guard&) = delete;

  /// Restores the dispositions the guarded signals had before.
  ~termination_guard() { restore(); }

 private:
  static constexpr int max_signal = 65;

  struct shared_state {
    std::atomic<bool> installed{false};
    std::atomic<bool> close{false};
    struct sigaction previous[max_signal] = {};
  };

  static shared_state& state() noexcept {
    static shared_state s;
    return s;
  }

  void restore() noexcept {
    for (int sig = 1; sig < max_signal; ++sig)
      if (guarded_[sig]) {
        (void)::sigaction(sig, &state().previous[sig], nullptr);
        guarded_[sig] = false;
      }
    state().installed.store(false, std::memory_order_release);
  }

  static void handler(int sig, siginfo_t* info, void* context) {
    const int saved_errno = errno;
    const bool close = state().close.load(std::memory_order_relaxed);
    detail::registry::instance().for_each([close](detail::registrant& r) { r.on_terminate(close); });
    errno = saved_errno;
    // A termination signal is never a fault: with no earlier handler it is raised again with its default action,
    // so the process ends the way it would have without the guard.
    detail::chain_signal(state().previous[sig], sig, info, context, /*may_be_fault=*/false);
  }

  bool guarded_[max_signal] = {};
};

}  // namespace shmring
