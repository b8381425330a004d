// ping_pong: round-trip latency between two processes over two typed rings, for each wait policy.
// The ping process (this program) creates a "ping" ring it produces into and a "pong" ring it consumes from,
// starts itself again as the pong process (--role pong), and times --count round trips: push a sequence number,
// wait for the same number to come back. It prints min/p50/p99/p99.9/max in nanoseconds, and how many wake-up
// system calls and kernel sleeps each side made.
#include <shmring/shmring.hpp>

#include "common.hpp"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static const char* usage =
    "usage: ping_pong [--name NAME] [--count N] [--warmup W] [--wait spin|yield|sleep|all] [--spin S] [--yields Y]\n"
    "                 [--cpu K --peer-cpu J]\n"
    "  Measures the round-trip latency between this process and a pong process it starts (itself, with\n"
    "  --role pong) over two shmring typed rings NAME-<policy>-ping and NAME-<policy>-pong (default NAME\n"
    "  ping-pong). N round trips are timed (default 100000) after W untimed ones (default 10000), for each\n"
    "  wait policy given (default all: spin, yield, sleep). Prints min/p50/p99/p99.9/max in nanoseconds and\n"
    "  the wake-up system calls and kernel sleeps of both sides. --spin: polls before a waiting side yields or\n"
    "  sleeps (default 4096); --yields: sched_yield polls before the sleep policy sleeps (default 16).\n"
    "  --wait sleep --spin 0 --yields 0 shows the cost of a kernel sleep and wake-up on every message.\n"
    "  --cpu/--peer-cpu pin ping and pong.\n"
    "  --role pong is for the started process only.\n";

namespace {

using clock_type = std::chrono::steady_clock;

const char* policy_name(shmring::wait_policy p) {
  return p == shmring::wait_policy::spin ? "spin" : p == shmring::wait_policy::yield ? "yield" : "sleep";
}

// What the pong process reports back at the end, on the pong ring, after the last answer.
struct answer {
  std::uint64_t seq;
  std::uint64_t wake_calls;  // pong's wake calls for ping (only meaningful in the final answer)
  std::uint64_t sleeps;      // pong's kernel sleeps
};

int run_pong(const example::args& a) {
  const std::string base = a.str("name", "ping-pong");
  const std::uint64_t total = a.num("count", 0) + a.num("warmup", 0);
  example::pin(a.has("peer-cpu") ? static_cast<long>(a.num("peer-cpu", 0)) : -1);
  shmring::options o;
  o.wait.policy = example::parse_wait(a.str("wait", "sleep"));
  o.wait.spin_iterations = static_cast<std::uint32_t>(a.num("spin", o.wait.spin_iterations));
  o.wait.yield_iterations = static_cast<std::uint32_t>(a.num("yields", o.wait.yield_iterations));
  auto in = shmring::consumer<std::uint64_t>::open(base + "-ping", o);
  auto out = shmring::producer<answer>::open(base + "-pong", o);
  for (std::uint64_t i = 0; i < total; ++i) {
    const std::uint64_t v = in.pop();
    out.push(answer{v, out.wake_calls(), in.sleeps()});
  }
  return 0;
}

using example::spawn_self;
using example::wait_exit;

// One policy: creates both rings, starts pong, times the round trips. False if anything went wrong.
bool run_policy(const example::args& a, shmring::wait_policy policy) {
  const std::string base = a.str("name", "ping-pong") + "-" + policy_name(policy);
  const std::uint64_t count = std::max<std::uint64_t>(1, a.num("count", 100'000));
  const std::uint64_t warmup = a.num("warmup", 10'000);
  // Leftovers of a run that was killed are stale: remove them (a live run's rings are left alone).
  (void)shmring::remove_stale(base + "-ping");
  (void)shmring::remove_stale(base + "-pong");
  shmring::options o;
  o.wait.policy = policy;
  o.wait.spin_iterations = static_cast<std::uint32_t>(a.num("spin", o.wait.spin_iterations));
  o.wait.yield_iterations = static_cast<std::uint32_t>(a.num("yields", o.wait.yield_iterations));
  auto out = shmring::producer<std::uint64_t>::create(base + "-ping", 64, o);
  auto in = shmring::consumer<answer>::create(base + "-pong", 64, o);

  std::vector<std::string> args{"--role", "pong", "--name", base, "--count", std::to_string(count),
                                "--warmup", std::to_string(warmup), "--wait", policy_name(policy)};
  if (a.has("spin")) {
    args.push_back("--spin");
    args.push_back(a.str("spin", "4096"));
  }
  if (a.has("yields")) {
    args.push_back("--yields");
    args.push_back(a.str("yields", "16"));
  }
  if (a.has("peer-cpu")) {
    args.push_back("--peer-cpu");
    args.push_back(a.str("peer-cpu", "0"));
  }
  const pid_t pong = spawn_self(args);

  std::vector<std::uint64_t> ns(count);
  answer last{};
  bool ok = true;
  try {
    for (std::uint64_t i = 0; i < warmup + count; ++i) {
      const auto t0 = clock_type::now();
      out.push(i);
      last = in.pop();
      const auto t1 = clock_type::now();
      if (last.seq != i) {
        std::fprintf(stderr, "ping_pong: sent %" PRIu64 ", got %" PRIu64 " back\n", i, last.seq);
        ok = false;
        break;
      }
      if (i >= warmup)
        ns[i - warmup] = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    }
  } catch (const shmring::error& e) {
    std::fprintf(stderr, "ping_pong: %s\n", e.what());
    ::kill(pong, SIGKILL);
    ok = false;
  }
  const int rc = wait_exit(pong);
  if (rc != 0) {
    std::fprintf(stderr, "ping_pong: the pong process exited with %d\n", rc);
    ok = false;
  }
  if (!ok) return false;

  std::sort(ns.begin(), ns.end());
  const auto pct = [&](double p) {
    const auto k = static_cast<std::size_t>(p / 100.0 * static_cast<double>(ns.size() - 1) + 0.5);
    return ns[std::min(k, ns.size() - 1)];
  };
  std::printf("%-6s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %10" PRIu64 "   %10" PRIu64 " / %-10" PRIu64
              " %10" PRIu64 " / %" PRIu64 "\n",
              policy_name(policy), ns.front(), pct(50), pct(99), pct(99.9), ns.back(), out.wake_calls(),
              last.wake_calls, in.sleeps(), last.sleeps);
  return true;
}

}  // namespace

int main(int argc, char** argv) try {
  shmring::termination_guard guard;  // Ctrl-C or SIGTERM detaches every ring first: none is left stale
  const example::args a(argc, argv, usage);
  if (a.str("role", "ping") == "pong") return run_pong(a);
  if (a.str("role", "ping") != "ping") throw std::invalid_argument("--role must be ping or pong");
  example::pin(a.has("cpu") ? static_cast<long>(a.num("cpu", 0)) : -1);

  std::vector<shmring::wait_policy> policies;
  const std::string w = a.str("wait", "all");
  if (w == "all")
    policies = {shmring::wait_policy::spin, shmring::wait_policy::yield, shmring::wait_policy::sleep};
  else
    policies = {example::parse_wait(w)};

  std::printf("ping_pong: %llu round trips between two processes, nanoseconds\n",
              static_cast<unsigned long long>(std::max<unsigned long long>(1, a.num("count", 100'000))));
  std::printf("%-6s %8s %8s %8s %8s %10s   %23s %21s\n", "wait", "min", "p50", "p99", "p99.9", "max",
              "wake calls ping / pong", "sleeps ping / pong");
  bool ok = true;
  for (const auto p : policies) ok = run_policy(a, p) && ok;
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "ping_pong: %s\n", e.what());
  return 1;
}
