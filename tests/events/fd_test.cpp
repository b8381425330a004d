// The event descriptor (native_handle(), arm()) between real processes: a consumer that only ever waits in poll()
// through 100,000 sleep/wake cycles (a lost wake-up hangs the test into its CTest timeout); the descriptor made
// readable by the peer's attach, close(), detach, SIGKILL and re-attach; a producer waiting for room through its
// descriptor; no descriptor left behind (/proc/self/fd); and the busy path unchanged (no wake call while the
// peer never arms).
#include <catch2/catch.hpp>

#include "process.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <string>

#include <poll.h>
#include <unistd.h>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::segment_guard;

namespace {

constexpr std::uint64_t cycles = shmring_test::scaled(100'000, 10'000);

/// Blocks in poll() until fd is readable: the only way these tests wait for a ring.
void wait_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    const int r = ::poll(&p, 1, -1);
    if (r == 1) return;
    if (r < 0 && errno == EINTR) continue;
    FAIL("poll failed");
  }
}

/// Whether fd is readable right now (poll with a zero timeout: a look, not a wait).
bool readable_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

/// Arms e until arm() says it may sleep (the first arm of an endpoint and any event since return false).
template <class E>
void arm_quiet(const E& e) {
  while (!e.arm()) {
  }
}

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& d : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

}  // namespace

// args: ping pong count. Sends i on ping, then waits (futex) for the ack i on pong; count rounds.
SHMRING_CHILD(events_pinger) {
  auto ping = producer<std::uint64_t>::open(args.at(0));
  auto pong = consumer<std::uint64_t>::open(args.at(1));
  const std::uint64_t n = std::stoull(args.at(2));
  for (std::uint64_t i = 0; i < n; ++i) {
    ping.push(i);
    if (pong.pop() != i) return 3;
  }
  return 0;
}

TEST_CASE("100,000 sleep/wake cycles through poll() only: no wake-up is lost", "[ipc][events]") {
  segment_guard a("ev-ping");
  segment_guard b("ev-pong");
  auto ping = consumer<std::uint64_t>::create(a.name(), 64);
  auto pong = producer<std::uint64_t>::create(b.name(), 64);
  const int fd = ping.native_handle();
  child_process child("events_pinger", {a.name(), b.name(), std::to_string(cycles)});
  std::uint64_t polls = 0;
  for (std::uint64_t i = 0; i < cycles; ++i) {
    std::uint64_t v = 0;
    while (!ping.try_pop(v)) {  // never spins: one try, then arm and sleep in poll
      if (ping.arm()) {
        wait_readable(fd);
        ++polls;
      }
    }
    REQUIRE(v == i);
    pong.push(i);
  }
  REQUIRE(child.wait() == 0);
  INFO("cycles that slept in poll: " << polls);
  REQUIRE(polls > 0);  // the ack makes the pinger wait for us, so we found the ring empty at least once
}

// args: name how. Opens the producer, then waits for a byte on fd 100 and: "close", "detach", or "hold" (stay
// until killed). Pushes nothing.
SHMRING_CHILD(events_peer) {
  auto p = producer<std::uint64_t>::open(args.at(0));
  char byte = 0;
  if (::read(100, &byte, 1) != 1) return 4;
  if (args.at(1) == "close") p.close();
  if (args.at(1) == "detach") p.detach();
  if (args.at(1) == "hold")
    for (;;) ::pause();
  return 0;
}

TEST_CASE("the descriptor becomes readable when the peer attaches, closes, detaches, dies or re-attaches",
          "[ipc][events]") {
  const std::size_t fds_before = open_fds();
  {
    segment_guard g("ev-peer");
    options o;
    o.persistent = true;  // the segment stays while the producers come and go
    auto c = consumer<std::uint64_t>::create(g.name(), 64, o);
    const int fd = c.native_handle();
    REQUIRE(c.native_handle() == fd);  // one descriptor per endpoint
    arm_quiet(c);
    REQUIRE_FALSE(readable_now(fd));

    const auto round = [&](const char* how, peer_state after) {
      int go[2];
      REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
      shmring_test::spawn_options so;
      so.fds = {go[0]};
      child_process child("events_peer", {g.name(), how}, so);
      ::close(go[0]);
      wait_readable(fd);  // the attach
      REQUIRE(c.producer_state() == peer_state::alive);
      arm_quiet(c);
      REQUIRE_FALSE(readable_now(fd));  // the producer is blocked on the pipe: nothing happens
      if (std::string(how) == "hold") {
        ::kill(child.pid(), SIGKILL);
        REQUIRE(child.wait() == 128 + SIGKILL);
      } else {
        REQUIRE(::write(go[1], "x", 1) == 1);
      }
      wait_readable(fd);  // the close, detach or death
      if (std::string(how) != "hold") REQUIRE(child.wait() == 0);
      REQUIRE(c.producer_state() == after);
      arm_quiet(c);
      REQUIRE_FALSE(readable_now(fd));  // reported once, not readable for ever
      ::close(go[1]);
    };
    SECTION("close") { round("close", peer_state::closed); }
    SECTION("detach") { round("detach", peer_state::absent); }
    SECTION("SIGKILL, then a re-attach") {
      round("hold", peer_state::dead);
      round("close", peer_state::closed);  // the re-attach of a new producer wakes us too
    }
    (void)shmring::remove(g.name());
  }
  REQUIRE(open_fds() == fds_before);  // the endpoint's epoll, socket and pidfd are all closed
}

// args: name count. Pops count values (checked), slowly: a sched_yield after each.
SHMRING_CHILD(events_slow_consumer) {
  auto c = consumer<std::uint64_t>::open(args.at(0));
  const std::uint64_t n = std::stoull(args.at(1));
  for (std::uint64_t i = 0; i < n; ++i) {
    if (c.pop() != i * 3 + 1) return 3;
    ::sched_yield();
  }
  return 0;
}

TEST_CASE("a producer waits for room through its descriptor while the consumer drains slowly", "[ipc][events]") {
  segment_guard g("ev-room");
  auto p = producer<std::uint64_t>::create(g.name(), 16);
  const int fd = p.native_handle();
  const std::uint64_t n = shmring_test::scaled(200'000, 20'000);
  child_process child("events_slow_consumer", {g.name(), std::to_string(n)});
  std::uint64_t polls = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    while (!p.try_push(i * 3 + 1)) {
      if (p.arm()) {
        wait_readable(fd);
        ++polls;
      }
    }
  }
  REQUIRE(child.wait() == 0);  // the child checked every value
  INFO("polls: " << polls);
  REQUIRE(polls > 0);  // 16 slots and a slow consumer: the ring was found full
}

TEST_CASE("a message producer waits for room through its descriptor", "[ipc][events]") {
  segment_guard g("ev-mroom");
  auto c = message_consumer::create(g.name(), 4096);
  auto p = message_producer::open(g.name());
  const int pfd = p.native_handle();
  const int cfd = c.native_handle();
  std::vector<std::byte> body(1000);
  std::uint64_t sent = 0;
  while (p.try_send(body)) ++sent;  // fill the ring
  REQUIRE(sent > 0);
  arm_quiet(p);
  REQUIRE_FALSE(readable_now(pfd));
  REQUIRE(readable_now(cfd) == false);  // the consumer never armed: nothing was sent to it
  REQUIRE(c.try_receive().has_value());  // frees room: the producer was armed, so its descriptor speaks
  REQUIRE(readable_now(pfd));
  REQUIRE(p.try_send(body));
}

TEST_CASE("a busy stream makes no wake call when neither side arms", "[unit][events]") {
  segment_guard g("ev-busy");
  auto c = consumer<std::uint64_t>::create(g.name(), 1024);
  auto p = producer<std::uint64_t>::open(g.name());
  (void)c.native_handle();  // a descriptor alone costs the peer nothing: only an armed side is signalled
  for (std::uint64_t i = 0; i < 100'000; ++i) {
    REQUIRE(p.try_push(i));
    std::uint64_t v = 0;
    REQUIRE(c.try_pop(v));
    REQUIRE(v == i);
  }
  REQUIRE(p.wake_calls() == 0);
  REQUIRE(c.wake_calls() == 0);
}
