// Harness: real child processes. Every cross-process entry re-runs this binary (posix_spawn of /proc/self/exe
// with the hidden flag) as its peer, pinned to the consumer core, running a function of registry.hpp; the parent
// waits on the peer without hanging when it dies, and names the objects the two share uniquely per run.
// May touch: the processes it starts (spawn, kill, reap), the descriptors it hands to them (at child_fd_base), the
// calling thread's core (a child pins itself). Never a queue or a segment: names are only made here.
#pragma once

#include "harness/cores.hpp"
#include "harness/fail.hpp"
#include "harness/registry.hpp"

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
  const child_fn fn = find_child(argv[2]);
  if (fn == nullptr) {
    std::fprintf(stderr, "shmring_bench: unknown child %s\n", argv[2]);
    return 127;
  }
  pin_to(std::atoi(argv[3]));
  try {
    return fn(std::vector<std::string>(argv + 4, argv + argc));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmring_bench child %s: %s\n", argv[2], e.what());
    return 99;
  }
}

/// Descriptors handed to a child land at these numbers (dup2 clears close-on-exec there).
inline constexpr int child_fd_base = 100;

/// This binary re-run (fork + exec through posix_spawn) as `--bench-child fn args...`. The descriptors in fds are
/// passed at child_fd_base, child_fd_base + 1, ...; everything else the parent holds is close-on-exec, so the child
/// inherits no segment descriptor and no lock. Killed and reaped by the destructor if still running.
class child_process {
 public:
  child_process(const std::string& fn, const std::vector<std::string>& args, const std::vector<int>& fds = {}) {
    std::vector<std::string> argv_s{"shmring_bench", std::string(child_flag), fn, std::to_string(bench_cpus().second)};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    char exe[4096];
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) die("readlink /proc/self/exe failed");
    exe[n] = '\0';
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (std::size_t i = 0; i < fds.size(); ++i)
      posix_spawn_file_actions_adddup2(&fa, fds[i], child_fd_base + static_cast<int>(i));
    const int rc = ::posix_spawn(&pid_, exe, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) die("posix_spawn failed: " + std::string(std::strerror(rc)));
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }

  /// False once the child has exited (reaps it; wait() then returns its status).
  bool running() {
    if (pid_ <= 0) return false;
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == 0) return true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    pid_ = -1;
    return false;
  }

  /// Waits for the child to exit; its exit code (128 + signal if killed).
  int wait() {
    if (pid_ > 0) {
      int st = 0;
      if (::waitpid(pid_, &st, 0) == pid_) status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      pid_ = -1;
    }
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
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
