// Harness: real child processes. Every cross-process entry re-runs this binary (posix_spawn of /proc/self/exe
// with the hidden flag) as its peer, pinned to the consumer core, running a SHMRING_CHILD function
// (tests/support/child_registry.hpp, shared with the tests); the parent
// waits on the peer without hanging when it dies, and names the objects the two share uniquely per run.
// May touch: the processes it starts (spawn, kill, reap), the descriptors it hands to them (at child_fd_base), the
// calling thread's core (a child pins itself). Never a queue or a segment: names are only made here.
#pragma once

#include "harness/cores.hpp"
#include "harness/fail.hpp"
#include "support/child_registry.hpp"  // SHMRING_CHILD, run_child (shared with the tests)
#include "support/process.hpp"         // child_process, spawn_options (shared with the tests)

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace shmring_bench {

/// The hidden flag that makes the binary run a child function instead of the benchmarks.
inline constexpr std::string_view child_flag = "--bench-child";

/// main() of a child: argv = {exe, --bench-child, name, cpu, args...}. Pins itself to cpu (the consumer core: the
/// parent names it, since the child inherits the parent thread's mask, which is pinned to the producer core).
inline int run_child(int argc, char** argv) {
  (void)::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a benchmark that was killed
  if (argc < 4) return 126;
  pin_to(std::atoi(argv[3]));
  return shmring_test::run_child(argv[2], std::vector<std::string>(argv + 4, argv + argc));
}

/// Descriptors handed to a child land at these numbers (dup2 clears close-on-exec there).
inline constexpr int child_fd_base = 100;

/// This binary re-run (fork + exec through posix_spawn) as `--bench-child fn cpu args...`, the shared support
/// library's child process (tests/support/process.hpp). The descriptors in fds are passed at child_fd_base,
/// child_fd_base + 1, ...; everything else the parent holds is close-on-exec, so the child inherits no segment
/// descriptor and no lock. Killed and reaped by the destructor if still running.
class child_process : public shmring_test::child_process {
 public:
  child_process(const std::string& fn, const std::vector<std::string>& args, const std::vector<int>& fds = {})
      : shmring_test::child_process(fn, with_cpu(args), options_for(fds)) {}

 private:
  static std::vector<std::string> with_cpu(const std::vector<std::string>& args) {
    std::vector<std::string> a{std::to_string(bench_cpus().second)};
    a.insert(a.end(), args.begin(), args.end());
    return a;
  }
  static shmring_test::spawn_options options_for(const std::vector<int>& fds) {
    shmring_test::spawn_options o;
    o.flag = std::string(child_flag);
    o.fds = fds;
    o.fd_base = child_fd_base;
    return o;
  }
};

/// Spins until pred() holds. When a child is given, checks every 2^18 failed attempts that it still runs, and ends
/// the benchmark binary if it does not (a dead peer must not hang a report).
template <class Pred>
inline void spin_until(Pred&& pred, child_process* peer = nullptr) {
  for (std::uint32_t i = 1; !pred(); ++i) {
    cpu_relax();
    if (peer != nullptr && (i & 0x3ffff) == 0 && !peer->running() && !pred()) die("the peer process exited early");
  }
}

/// A fresh name for a segment, queue or socket of this benchmark run.
inline std::string unique_name(std::string_view what) {
  static std::atomic<int> counter{0};
  return "bench-" + std::string(what) + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

}  // namespace shmring_bench
