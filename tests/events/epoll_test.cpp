// Edge-triggered epoll over 64 rings fed by 4 producer processes in random order: every message of every ring is
// received and every sequence number checked. And shmring::poller over mixed endpoints (typed and message,
// consumers and producers) and a pipe, against one child process that plays every peer.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "process.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <sys/epoll.h>
#include <unistd.h>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::mix;
using shmring_test::segment_guard;

namespace {

constexpr int rings = 64;
constexpr int producers = 4;
constexpr std::uint64_t per_ring = shmring_test::scaled(5'000, 1'000);

std::string ring_name(const std::string& base, int i) { return base + "-" + std::to_string(i); }

}  // namespace

// args: base first count per_ring seed. Pushes per_ring values (ring << 32 | seq) into each of rings first ..
// first+count-1, choosing the ring at random for every push (a full ring waits: push()).
SHMRING_CHILD(events_fan_in_producer) {
  const int first = std::stoi(args.at(1));
  const int count = std::stoi(args.at(2));
  const std::uint64_t n = std::stoull(args.at(3));
  std::vector<producer<std::uint64_t>> ps;
  for (int i = 0; i < count; ++i) ps.push_back(producer<std::uint64_t>::open(ring_name(args.at(0), first + i)));
  std::vector<std::uint64_t> next(static_cast<std::size_t>(count), 0);
  std::vector<int> open_rings;
  for (int i = 0; i < count; ++i) open_rings.push_back(i);
  std::mt19937_64 rng(std::stoull(args.at(4)));
  while (!open_rings.empty()) {
    const std::size_t k = rng() % open_rings.size();
    const int i = open_rings[k];
    const auto ui = static_cast<std::size_t>(i);
    ps[ui].push(static_cast<std::uint64_t>(first + i) << 32 | next[ui]);
    if (++next[ui] == n) {
      ps[ui].close();
      open_rings.erase(open_rings.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }
  return 0;
}

TEST_CASE("edge-triggered epoll over 64 rings from 4 producer processes: every sequence number", "[ipc][events]") {
  segment_guard g("ev-et");  // the rings are named after it: g's name plus -0 .. -63
  const std::string base = g.name();
  std::vector<consumer<std::uint64_t>> cs;
  options o;
  o.wait.spin_iterations = 16;  // the producers sleep soon when a ring is full
  for (int i = 0; i < rings; ++i) {
    cs.push_back(consumer<std::uint64_t>::create(ring_name(base, i), 32, o));
  }
  struct remove_all {
    std::string base;
    ~remove_all() {
      for (int i = 0; i < rings; ++i) (void)shmring::remove(ring_name(base, i));
    }
  } cleanup{base};
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  REQUIRE(ep >= 0);
  for (int i = 0; i < rings; ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    REQUIRE(::epoll_ctl(ep, EPOLL_CTL_ADD, cs[static_cast<std::size_t>(i)].native_handle(), &ev) == 0);
  }
  std::vector<std::unique_ptr<child_process>> kids;
  for (int k = 0; k < producers; ++k)
    kids.push_back(std::make_unique<child_process>(
        "events_fan_in_producer", std::vector<std::string>{base, std::to_string(k * rings / producers),
                                                           std::to_string(rings / producers), std::to_string(per_ring),
                                                           std::to_string(1234 + k)}));
  std::vector<std::uint64_t> next(rings, 0);
  int finished = 0;
  // Drain ring i and arm it; with edge triggering nothing is reported again unless something new happens, so a
  // ring is left only once arm() says every later event will be a new edge.
  const auto service = [&](int i) {
    auto& c = cs[static_cast<std::size_t>(i)];
    auto& n = next[static_cast<std::size_t>(i)];
    for (;;) {
      std::uint64_t v = 0;
      while (c.try_pop(v)) {
        REQUIRE(v == (static_cast<std::uint64_t>(i) << 32 | n));
        ++n;
        if (n == per_ring) ++finished;
      }
      if (c.arm()) return;
    }
  };
  for (int i = 0; i < rings; ++i) service(i);
  while (finished < rings) {
    epoll_event evs[16];
    const int n = ::epoll_wait(ep, evs, 16, -1);
    if (n < 0 && errno == EINTR) continue;
    REQUIRE(n > 0);
    for (int k = 0; k < n; ++k) service(static_cast<int>(evs[k].data.u32));
  }
  for (auto& kid : kids) REQUIRE(kid->wait() == 0);
  for (int i = 0; i < rings; ++i) REQUIRE(next[static_cast<std::size_t>(i)] == per_ring);
  ::close(ep);
}

// args: base count. The peer of every endpoint of the poller test: produces count values on base-t (typed) and
// count messages on base-m, consumes count values from base-tr and count messages from base-mr (checked), and
// writes count bytes into fd 100 (a pipe).
SHMRING_CHILD(events_mixed_peer) {
  const std::string base = args.at(0);
  const std::uint64_t n = std::stoull(args.at(1));
  auto tp = producer<std::uint64_t>::open(base + "-t");
  auto mp = message_producer::open(base + "-m");
  auto tc = consumer<std::uint64_t>::open(base + "-tr");
  auto mc = message_consumer::open(base + "-mr");
  for (std::uint64_t i = 0; i < n; ++i) {
    tp.push(mix(i));
    const std::uint64_t body = mix(i + 7);
    mp.send_typed(body);
    if (tc.pop() != mix(i + 11)) return 3;
    if (mc.receive_typed<std::uint64_t>() != mix(i + 13)) return 4;
    if (::write(100, "p", 1) != 1) return 5;
  }
  return 0;
}

TEST_CASE("shmring::poller over typed and message consumers and producers and a pipe", "[ipc][events]") {
  segment_guard g("ev-mix");
  const std::string base = g.name();
  struct remove_all {
    std::string base;
    ~remove_all() {
      for (const char* s : {"-t", "-m", "-tr", "-mr"}) (void)shmring::remove(base + s);
    }
  } cleanup{base};
  const std::uint64_t n = shmring_test::scaled(20'000, 4'000);
  auto tc = consumer<std::uint64_t>::create(base + "-t", 8);
  auto mc = message_consumer::create(base + "-m", 256);
  auto tp = producer<std::uint64_t>::create(base + "-tr", 8);
  auto mp = message_producer::create(base + "-mr", 256);
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) == 0);
  shmring_test::spawn_options so;
  so.fds = {pipe_fds[1]};
  child_process child("events_mixed_peer", {base, std::to_string(n)}, so);
  ::close(pipe_fds[1]);

  poller p;
  const poller::id itc = p.add(tc);
  const poller::id imc = p.add(mc);
  const poller::id itp = p.add(tp);
  const poller::id imp = p.add(mp);
  const poller::id ipipe = p.add_fd(pipe_fds[0]);
  REQUIRE(p.size() == 5);
  std::uint64_t got_t = 0, got_m = 0, sent_t = 0, sent_m = 0, bytes = 0, rounds = 0;
  while (got_t < n || got_m < n || sent_t < n || sent_m < n || bytes < n) {
    const auto ready = p.wait(std::chrono::seconds(100));
    REQUIRE_FALSE(ready.empty());  // a hang guard: 100 s without any event is a lost one
    ++rounds;
    for (const poller::id i : ready) {
      if (i == itc) {
        std::uint64_t v = 0;
        while (tc.try_pop(v)) REQUIRE(v == mix(got_t++));
      } else if (i == imc) {
        while (auto m = mc.try_receive()) REQUIRE(m->as<std::uint64_t>() == mix(got_m++ + 7));
      } else if (i == itp) {
        while (sent_t < n && tp.try_push(mix(sent_t + 11))) ++sent_t;
      } else if (i == imp) {
        while (sent_m < n) {
          const std::uint64_t body = mix(sent_m + 13);
          if (!mp.try_send(object_bytes(body))) break;
          ++sent_m;
        }
      } else if (i == ipipe) {
        char buf[256];
        ssize_t r = 0;
        while ((r = ::read(pipe_fds[0], buf, sizeof buf)) > 0) {
          for (ssize_t k = 0; k < r; ++k) REQUIRE(buf[k] == 'p');
          bytes += static_cast<std::uint64_t>(r);
        }
      } else {
        FAIL("an id that was never added");
      }
    }
  }
  REQUIRE(child.wait() == 0);
  REQUIRE(got_t == n);
  REQUIRE(got_m == n);
  REQUIRE(bytes == n);
  p.remove(ipipe);
  p.remove(ipipe);  // twice: nothing
  REQUIRE(p.size() == 4);
  REQUIRE(p.wait(std::chrono::milliseconds(0)).size() <= 4);  // a look without waiting returns
  ::close(pipe_fds[0]);
}
