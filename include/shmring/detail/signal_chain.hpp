// shmring: what a shmring signal handler (termination_guard's, the SIGBUS handler's) does once its own work is
// done: hand the signal to the handler installed before it, or let the signal take its default course.
// May touch: the signal's disposition (restored to the default when there was no earlier handler). Async-signal-safe.
#pragma once

#include <csignal>

#include <signal.h>

namespace shmring::detail {

/// Chains sig to prev, the disposition it had before shmring's handler. A handler of the program (or of a
/// sanitizer) is called and decides what happens next. Otherwise the default action is restored; a signal that was
/// sent (kill, raise, a terminal; always so when !may_be_fault) is raised again, blocked while the caller runs and
/// delivered when it returns, and a fault needs nothing more: the access is retried on return and faults again,
/// now with the default action. A sent signal that was ignored stays ignored.
inline void chain_signal(const struct sigaction& prev, int sig, siginfo_t* info, void* context,
                         bool may_be_fault) noexcept {
  if ((prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction != nullptr) {
    prev.sa_sigaction(sig, info, context);
    return;
  }
  const bool sent = !may_be_fault || info == nullptr || info->si_code <= 0;  // kill(), raise(), sigqueue()
  if ((prev.sa_flags & SA_SIGINFO) == 0 && prev.sa_handler == SIG_IGN && sent) return;
  if ((prev.sa_flags & SA_SIGINFO) == 0 && prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
    return;
  }
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  (void)::sigaction(sig, &dfl, nullptr);
  if (sent) (void)::raise(sig);
}

}  // namespace shmring::detail
