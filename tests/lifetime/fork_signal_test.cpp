// fork() and termination signals. A child that inherits an attached endpoint through fork() neither holds nor
// releases the parent's attachment: destroying its copy leaves the parent attached and the segment in place, using
// it throws errc::inherited, and a child that never touches it cannot keep a dead parent looking alive (with or
// without exec). SIGTERM/SIGINT to a process with a termination_guard detach (or close) its rings before the
// signal takes its course: no stale segment, and the peer sees absent or closed.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "reports.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace shmring;
using namespace std::chrono_literals;
using shmring_test::child_process;
using shmring_test::code_of;
using shmring_test::read_line;
using shmring_test::segment_exists;
using shmring_test::mix;
using shmring_test::segment_guard;

namespace {

constexpr int rounds = static_cast<int>(shmring_test::scaled(100, 20));

/// Forks; the child runs f and _exits with its result (never returning into the test framework). Returns the
/// child's exit code, or 128 + signal.
int in_fork_child(const std::function<int()>& f) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 100;
    try {
      rc = f();
    } catch (...) {
      rc = 101;
    }
    ::_exit(rc);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

options quick() {
  options o;
  o.wait.liveness_interval = 2ms;  // a dead peer is noticed within 2 ms of waiting
  return o;
}

/// Kills a pid (a grandchild the test learned of) when the test ends, pass or fail.
struct kill_on_exit {
  pid_t pid = -1;
  ~kill_on_exit() {
    if (pid > 0) ::kill(pid, SIGKILL);
  }
};

}  // namespace

TEST_CASE("a fork child that destroys its inherited endpoint leaves the parent attached", "[lifecycle][fork]") {
  for (int i = 0; i < rounds; ++i) {
    segment_guard g("fork-destroy");
    auto p = producer<std::uint64_t>::create(g.name(), 64);
    auto c = consumer<std::uint64_t>::open(g.name());
    REQUIRE(in_fork_child([&] {
              p.detach();  // and the destructors at _exit would not run; detach is what a destructor does
              c.detach();
              return 0;
            }) == 0);
    // The drained ring is still there, both parent sides still hold their slots, and nobody else can take them.
    REQUIRE(segment_exists(g.name()));
    CHECK(code_of([&] { (void)producer<std::uint64_t>::open(g.name()); }) == errc::already_attached);
    CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name()); }) == errc::already_attached);
    CHECK(p.consumer_state() == peer_state::alive);
    REQUIRE(p.try_push(mix(static_cast<std::uint64_t>(i))));
    REQUIRE(c.try_pop() == mix(static_cast<std::uint64_t>(i)));
    // A child that lets the object go by moving it away and destroying the new one: the same.
    REQUIRE(in_fork_child([&] {
              { auto moved = std::move(p); }
              return 0;
            }) == 0);
    REQUIRE(segment_exists(g.name()));
    CHECK(code_of([&] { (void)producer<std::uint64_t>::open(g.name()); }) == errc::already_attached);
  }
}

TEST_CASE("a fork child that uses an inherited endpoint gets errc::inherited and pushes nothing", "[lifecycle][fork]") {
  for (int i = 0; i < rounds; ++i) {
    segment_guard g("fork-use");
    auto p = producer<std::uint64_t>::create(g.name(), 1024);
    auto c = consumer<std::uint64_t>::open(g.name());
    auto mp = message_producer::create(g.name() + "-m", 4096);
    auto mc = message_consumer::open(g.name() + "-m");
    const int rc = in_fork_child([&] {
      if (p.try_push(1)) return 1;
      if (code_of([&] { p.push(2); }) != errc::inherited) return 2;
      if (code_of([&] { (void)p.push_for(3, 1s); }) != errc::inherited) return 3;
      if (c.try_pop().has_value()) return 4;
      if (code_of([&] { (void)c.pop(); }) != errc::inherited) return 5;
      if (code_of([&] { (void)c.status(); }) != errc::inherited) return 6;
      if (mp.try_send(text_bytes("x"))) return 7;
      if (code_of([&] { mp.send_string("x"); }) != errc::inherited) return 8;
      if (mc.try_receive().has_value()) return 9;
      if (code_of([&] { (void)mc.receive(); }) != errc::inherited) return 10;
      if (p.consumer_state() != peer_state::absent) return 11;
      return 0;
    });
    REQUIRE(rc == 0);
    // The parent's streams are whole: 1,024 values and a message, every one in order, nothing from the child.
    for (std::uint64_t k = 0; k < 1024; ++k) REQUIRE(p.try_push(mix(k)));
    for (std::uint64_t k = 0; k < 1024; ++k) REQUIRE(c.try_pop() == mix(k));
    REQUIRE_FALSE(c.try_pop().has_value());
    mp.send_string("parent");
    const auto m = mc.try_receive();
    REQUIRE(m.has_value());
    CHECK(m->text() == "parent");
    CHECK(m->sequence == 0);
    CHECK_FALSE(mc.try_receive().has_value());
    (void)shmring::remove(g.name() + "-m");
  }
}

// args: name exec(0|1). Opens the producer side, forks a helper that never touches the ring (it waits in pause(),
// or execs into this binary's `idle` child), prints the helper's pid and "ready", then waits to be killed.
SHMRING_CHILD(producer_with_helper) {
  auto p = producer<std::uint64_t>::open(args.at(0));
  p.push(7);
  const pid_t helper = ::fork();
  if (helper == 0) {
    if (args.at(1) == "1") {
      char exe[] = "/proc/self/exe";
      char child[] = "--child";
      char idle[] = "idle";
      char* argv[] = {exe, child, idle, nullptr};
      ::execv(exe, argv);
      ::_exit(127);
    }
    for (;;) ::pause();
  }
  std::printf("%d\nready\n", static_cast<int>(helper));
  std::fflush(stdout);
  for (;;) ::pause();
}

SHMRING_CHILD(idle) {
  for (;;) ::pause();
}

TEST_CASE("a forked helper cannot keep a SIGKILLed producer alive, with or without exec", "[lifecycle][fork]") {
  const bool exec = GENERATE(false, true);
  const int n = static_cast<int>(shmring_test::scaled(100, 20)) / (exec ? 4 : 1);
  for (int i = 0; i < n; ++i) {
    segment_guard g("fork-helper");
    auto c = consumer<std::uint64_t>::create(g.name(), 64, quick());
    child_process producer_process("producer_with_helper", {g.name(), exec ? "1" : "0"}, true);
    kill_on_exit helper{static_cast<pid_t>(std::stol(read_line(producer_process.output_fd())))};
    REQUIRE(read_line(producer_process.output_fd()) == "ready");
    REQUIRE(c.pop() == 7);
    REQUIRE(c.producer_state() == peer_state::alive);
    producer_process.kill_now();
    // The helper still runs, but holds nothing of the ring: the producer is dead, and a waiting pop says so.
    CHECK(::kill(helper.pid, 0) == 0);
    CHECK(code_of([&] { (void)c.pop(); }) == errc::peer_dead);
    CHECK(c.producer_state() == peer_state::dead);
  }
}

// args: name side(producer|consumer) action(detach|close) own_handler(0|1). Creates or opens its side under a
// termination_guard, prints "ready" and waits for a signal. With own_handler, a SIGTERM handler installed before
// the guard sets a flag, and the child then exits 42 by itself.
namespace {
volatile std::sig_atomic_t got_term = 0;
void on_term(int) { got_term = 1; }
}  // namespace

SHMRING_CHILD(guarded_side) {
  if (args.at(3) == "1") {
    struct sigaction act{};
    act.sa_handler = &on_term;
    sigemptyset(&act.sa_mask);
    ::sigaction(SIGTERM, &act, nullptr);
  }
  termination_guard guard(args.at(2) == "close" ? termination_guard::action::close : termination_guard::action::detach);
  if (args.at(1) == "producer") {
    auto p = producer<std::uint64_t>::open_or_create(args.at(0), 64);
    p.push(11);
    std::printf("ready\n");
    std::fflush(stdout);
    while (got_term == 0) ::pause();
    return 42;
  }
  auto c = consumer<std::uint64_t>::open_or_create(args.at(0), 64);
  std::printf("ready\n");
  std::fflush(stdout);
  while (got_term == 0) ::pause();
  return 42;
}

TEST_CASE("SIGTERM and SIGINT to a guarded process detach its rings, then end it as the signal would",
          "[lifecycle][signal]") {
  const int sig = GENERATE(SIGTERM, SIGINT);
  const std::string side = GENERATE(std::string("producer"), std::string("consumer"));
  for (int i = 0; i < 5; ++i) {
    segment_guard g("sigterm");
    auto other = [&] {
      // The test holds the other side, so the segment stays and the peer's state can be read.
      return side == "producer" ? std::optional<consumer<std::uint64_t>>(consumer<std::uint64_t>::create(g.name(), 64))
                                : std::optional<consumer<std::uint64_t>>();
    }();
    std::optional<producer<std::uint64_t>> prod;
    if (side == "consumer") prod.emplace(producer<std::uint64_t>::create(g.name(), 64));
    child_process child("guarded_side", {g.name(), side, "detach", "0"}, true);
    REQUIRE(read_line(child.output_fd()) == "ready");
    ::kill(child.pid(), sig);
    CHECK(child.wait() == 128 + sig);  // it ended by the signal, as without the guard
    const ring_status s = status(g.name());
    const side_status& gone = side == "producer" ? s.producer : s.consumer;
    CHECK(gone.state == layout::attach_state::detached);
    CHECK_FALSE(gone.dead());
    CHECK_FALSE(is_stale(g.name()));
    if (other) {
      CHECK(other->pop() == 11);
      CHECK(other->producer_state() == peer_state::absent);
      CHECK_FALSE(other->pop_for(0ns).has_value());
    } else {
      CHECK(prod->consumer_state() == peer_state::absent);
    }
  }
}

TEST_CASE("a guarded producer alone on a drained ring leaves no segment behind; close tells the peer the end",
          "[lifecycle][signal]") {
  {
    segment_guard g("sigterm-alone");
    // The consumer side is taken and left first, so the producer's ring is drained and nobody else is attached.
    { auto c = consumer<std::uint64_t>::create(g.name(), 64); }
    child_process child("guarded_side", {g.name(), "consumer", "detach", "0"}, true);
    REQUIRE(read_line(child.output_fd()) == "ready");
    ::kill(child.pid(), SIGTERM);
    CHECK(child.wait() == 128 + SIGTERM);
    CHECK_FALSE(segment_exists(g.name()));  // drained, peer absent: retired as a destructor would
  }
  {
    segment_guard g("sigterm-close");
    auto c = consumer<std::uint64_t>::create(g.name(), 64);
    child_process child("guarded_side", {g.name(), "producer", "close", "0"}, true);
    REQUIRE(read_line(child.output_fd()) == "ready");
    ::kill(child.pid(), SIGTERM);
    CHECK(child.wait() == 128 + SIGTERM);
    CHECK(c.pop() == 11);
    CHECK(code_of([&] { (void)c.pop(); }) == errc::closed);
    CHECK(c.producer_state() == peer_state::closed);
  }
  {
    segment_guard g("sigterm-chain");
    auto c = consumer<std::uint64_t>::create(g.name(), 64);
    child_process child("guarded_side", {g.name(), "producer", "detach", "1"}, true);
    REQUIRE(read_line(child.output_fd()) == "ready");
    ::kill(child.pid(), SIGTERM);
    CHECK(child.wait() == 42);  // the program's own handler ran after the guard's: it chose to exit 42
    CHECK(c.pop() == 11);
    CHECK(c.producer_state() == peer_state::absent);
  }
}

TEST_CASE("only one termination_guard at a time", "[lifecycle][signal]") {
  termination_guard a;
  CHECK(code_of([] { termination_guard b; }) == errc::invalid_argument);
}
