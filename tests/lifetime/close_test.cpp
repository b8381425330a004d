// End of stream between real processes: a producer that close()s is told apart from a slow one. The consumer
// receives everything published before the close (every sequence number and checksum checked), then every
// waiting call throws errc::closed, try_ calls return nothing and producer_state() says closed. The mirror: a
// consumer that closes makes the producer's waiting calls throw errc::closed instead of waiting for a reader.
// A producer that attaches again starts a new stream; a plain detach keeps the restart semantics.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "process.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <sched.h>

using namespace shmring;
using namespace std::chrono_literals;
using shmring_test::child_process;
using shmring_test::code_of;
using shmring_test::crc32;
using shmring_test::mix;
using shmring_test::segment_guard;

namespace {

constexpr std::uint64_t typed_count = shmring_test::scaled(1'000'000, 200'000);
constexpr std::uint64_t message_count = shmring_test::scaled(100'000, 20'000);

/// The payload of message i: its size varies from 0 to 3000 bytes, and every 997th is 200 KiB (larger than the
/// 64 KiB ring: sent in fragments as the consumer frees room). The first 8 bytes carry i.
std::vector<std::byte> payload_of(std::uint64_t i) {
  const std::size_t n = i % 997 == 0 ? 200 * 1024 : static_cast<std::size_t>(mix(i) % 3001);
  std::vector<std::byte> p(std::max<std::size_t>(n, 8));
  std::uint64_t x = mix(i ^ 0x5eed);
  for (std::size_t k = 0; k < p.size(); ++k) {
    if (k % 8 == 0) x = mix(x);
    p[k] = static_cast<std::byte>(x >> (8 * (k % 8)));
  }
  std::memcpy(p.data(), &i, 8);
  return p;
}

options fast() {
  options o;
  o.wait.spin_iterations = 64;  // sleep soon: the end must also reach a consumer asleep in the kernel
  return o;
}

}  // namespace

// args: name count. Opens the typed ring, pushes 0..count-1 (each mixed), then closes it.
SHMRING_CHILD(typed_close_producer) {
  auto p = producer<std::uint64_t>::open(args.at(0), fast());
  const std::uint64_t n = std::stoull(args.at(1));
  for (std::uint64_t i = 0; i < n; ++i) p.push(mix(i));
  p.close();
  return 0;
}

// args: name count. Opens the typed ring, pops count values (checked), then closes its side. Exit 3 on a bad value.
SHMRING_CHILD(typed_close_consumer) {
  auto c = consumer<std::uint64_t>::open(args.at(0), fast());
  const std::uint64_t n = std::stoull(args.at(1));
  for (std::uint64_t i = 0; i < n; ++i)
    if (c.pop() != mix(i)) return 3;
  c.close();
  return 0;
}

// args: name count. Sends messages 0..count-1 (payload_of, type 1000 + i % 7, flags i % 8 & 7), then closes.
SHMRING_CHILD(message_close_producer) {
  auto p = message_producer::open(args.at(0), fast());
  const std::uint64_t n = std::stoull(args.at(1));
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto body = payload_of(i);
    p.send(body, static_cast<message_type>(1000 + i % 7), static_cast<message_flags>(i % 8 & 7));
  }
  p.close();
  return 0;
}

// args: name count. Receives count messages (checked), then closes its side. Exit 3 on a bad message.
SHMRING_CHILD(message_close_consumer) {
  auto c = message_consumer::open(args.at(0), fast());
  const std::uint64_t n = std::stoull(args.at(1));
  for (std::uint64_t i = 0; i < n; ++i) {
    const message m = c.receive();
    const auto want = payload_of(i);
    if (m.sequence != i || crc32(m.payload) != crc32(want) || m.payload.size() != want.size()) return 3;
  }
  c.close();
  return 0;
}

TEST_CASE("a typed producer's close ends the stream after every value, for every waiting call", "[ipc][close]") {
  enum class how { pop, pop_for, pop_n, front };
  const how way = GENERATE(how::pop, how::pop_for, how::pop_n, how::front);
  segment_guard g("close-typed");
  auto c = consumer<std::uint64_t>::create(g.name(), 1024, fast());
  child_process child("typed_close_producer", {g.name(), std::to_string(typed_count)});
  std::uint64_t next = 0;
  std::array<std::uint64_t, 61> buf{};
  const errc end = code_of([&] {
    for (;;) {
      switch (way) {
        case how::pop: {
          const std::uint64_t v = c.pop();  // outside REQUIRE: the end is an exception this loop waits for
          REQUIRE(v == mix(next));
          ++next;
          break;
        }
        case how::pop_for:
          if (const auto v = c.pop_for(std::chrono::hours(1))) {
            REQUIRE(*v == mix(next));
            ++next;
          }
          break;
        case how::pop_n: {
          const std::size_t n = c.pop_n(buf);
          for (std::size_t k = 0; k < n; ++k) REQUIRE(buf[k] == mix(next + k));
          next += n;
          break;
        }
        case how::front:
          if (const std::uint64_t* v = c.front()) {
            REQUIRE(*v == mix(next));
            c.pop_front();
            ++next;
          } else if (const auto w = c.pop_for(std::chrono::hours(1))) {  // waits; throws closed at the end
            REQUIRE(*w == mix(next));
            ++next;
          }
          break;
      }
    }
  });
  CHECK(end == errc::closed);
  CHECK(next == typed_count);
  CHECK(child.wait() == 0);
  // After the end: every waiting call throws closed, try_ calls return nothing, the state says closed.
  CHECK(code_of([&] { (void)c.pop(); }) == errc::closed);
  CHECK(code_of([&] { (void)c.pop_for(1s); }) == errc::closed);
  CHECK(code_of([&] { (void)c.pop_n(buf); }) == errc::closed);
  CHECK_FALSE(c.try_pop().has_value());
  CHECK(c.front() == nullptr);
  CHECK(c.producer_state() == peer_state::closed);
  CHECK(c.status().producer.state == layout::attach_state::closed);
}

TEST_CASE("a producer that opens a closed ring starts a new stream; a plain detach is not an end", "[ipc][close]") {
  segment_guard g("close-again");
  auto c = consumer<std::uint64_t>::create(g.name(), 256, fast());
  for (int round = 0; round < 3; ++round) {
    child_process child("typed_close_producer", {g.name(), "1000"});
    // The previous stream ended closed: wait until this round's producer has attached (its attach count moves),
    // or the consumer would see the old end. A yield loop on a counter, not a sleep.
    while (c.status().producer.attach_count < static_cast<std::uint64_t>(round + 1)) ::sched_yield();
    std::uint64_t next = 0;
    const errc end = code_of([&] {
      for (;;) {
        const std::uint64_t v = c.pop();
        REQUIRE(v == mix(next));
        ++next;
      }
    });
    CHECK(end == errc::closed);
    CHECK(next == 1000);
    CHECK(child.wait() == 0);
    CHECK(c.popped() == 1000u * static_cast<unsigned>(round + 1));
  }
  {
    auto p = producer<std::uint64_t>::open(g.name());
    REQUIRE(p.try_push(7));
    // p detaches without close: the consumer gets the value, then waits for a restart rather than ending.
  }
  CHECK(c.pop() == 7);
  CHECK_FALSE(c.pop_for(0ns).has_value());
  CHECK(c.producer_state() == peer_state::absent);
}

TEST_CASE("a typed consumer's close makes the producer's waiting calls throw closed", "[ipc][close]") {
  enum class how { push, push_for, push_n };
  const how way = GENERATE(how::push, how::push_for, how::push_n);
  segment_guard g("close-reader");
  constexpr std::uint64_t slots = 64, taken = 5000;
  auto p = producer<std::uint64_t>::create(g.name(), slots, fast());
  child_process child("typed_close_consumer", {g.name(), std::to_string(taken)});
  std::uint64_t next = 0;
  const errc end = code_of([&] {
    for (;;) {
      switch (way) {
        case how::push:
          p.push(mix(next));
          ++next;
          break;
        case how::push_for:
          if (p.push_for(mix(next), std::chrono::hours(1))) ++next;
          break;
        case how::push_n: {
          const std::array<std::uint64_t, 3> three{mix(next), mix(next + 1), mix(next + 2)};
          p.push_n(three);  // all or throw: the ring moves in steps of one, so no partial batch is left unchecked
          next += 3;
          break;
        }
      }
    }
  });
  CHECK(end == errc::closed);
  CHECK(child.wait() == 0);
  // The consumer took exactly `taken`; what stayed in the ring fills it (the producer waited only when full).
  CHECK(next >= taken);
  CHECK(next <= taken + slots + 2);
  CHECK(p.size_approx() == slots);
  CHECK(p.consumer_state() == peer_state::closed);
  CHECK(code_of([&] { p.push(0); }) == errc::closed);
  CHECK_FALSE(p.try_push(0));
}

TEST_CASE("a message producer's close ends the stream after every message, for every waiting call",
          "[ipc][close][message]") {
  enum class how { receive, receive_for, buffer, read };
  const how way = GENERATE(how::receive, how::receive_for, how::buffer, how::read);
  segment_guard g("close-msg");
  auto c = message_consumer::create(g.name(), 1 << 16, fast());
  child_process child("message_close_producer", {g.name(), std::to_string(message_count)});
  std::uint64_t next = 0;
  std::vector<std::byte> buf(256 * 1024);
  auto check = [&](const message_info& i, std::span<const std::byte> payload) {
    const auto want = payload_of(next);
    REQUIRE(i.sequence == next);
    REQUIRE(i.type == static_cast<message_type>(1000 + next % 7));
    REQUIRE(i.flags == static_cast<message_flags>(next % 8 & 7));
    REQUIRE(payload.size() == want.size());
    REQUIRE(crc32(payload) == crc32(want));
    ++next;
  };
  const errc end = code_of([&] {
    for (;;) {
      switch (way) {
        case how::receive: {
          const message m = c.receive();
          check(m.info(), m.payload);
          break;
        }
        case how::receive_for:
          if (const auto m = c.receive_for(std::chrono::hours(1))) check(m->info(), m->payload);
          break;
        case how::buffer: {
          const message_info i = c.receive(buf);
          REQUIRE(i.length <= buf.size());
          check(i, std::span<const std::byte>(buf.data(), i.length));
          break;
        }
        case how::read: {
          const message_view v = c.read();
          check(v.info, v.payload);
          c.release();
          break;
        }
      }
    }
  });
  CHECK(end == errc::closed);
  CHECK(next == message_count);
  CHECK(child.wait() == 0);
  CHECK(code_of([&] { (void)c.receive(); }) == errc::closed);
  CHECK(code_of([&] { (void)c.receive_for(1s); }) == errc::closed);
  CHECK(code_of([&] { (void)c.receive(buf); }) == errc::closed);
  CHECK(code_of([&] { (void)c.read(); }) == errc::closed);
  CHECK(code_of([&] { (void)c.read_for(1s); }) == errc::closed);
  CHECK(code_of([&] { (void)c.receive_string(); }) == errc::closed);
  CHECK_FALSE(c.try_receive().has_value());
  CHECK_FALSE(c.try_read().has_value());
  CHECK(c.producer_state() == peer_state::closed);
  CHECK(c.dropped() == 0);
}

TEST_CASE("a message consumer's close makes the producer's waiting calls throw closed", "[ipc][close][message]") {
  enum class how { send, send_for, reserve };
  const how way = GENERATE(how::send, how::send_for, how::reserve);
  segment_guard g("close-msg-reader");
  constexpr std::uint64_t taken = 3000;
  auto p = message_producer::create(g.name(), 1 << 14, fast());
  child_process child("message_close_consumer", {g.name(), std::to_string(taken)});
  std::uint64_t next = 0;
  const errc end = code_of([&] {
    for (;;) {
      const auto body = payload_of(next);
      const auto t = static_cast<message_type>(1000 + next % 7);
      const auto f = static_cast<message_flags>(next % 8 & 7);
      switch (way) {
        case how::send:
          p.send(body, t, f);
          ++next;
          break;
        case how::send_for:
          if (p.send_for(body, std::chrono::hours(1), t, f)) ++next;
          break;
        case how::reserve:
          if (body.size() > p.max_record_payload()) {  // reservations are one record: send the large ones
            p.send(body, t, f);
          } else {
            const std::span<std::byte> room = p.reserve(body.size());
            std::memcpy(room.data(), body.data(), body.size());
            p.commit(body.size(), t, f);
          }
          ++next;
          break;
      }
    }
  });
  CHECK(end == errc::closed);
  CHECK(child.wait() == 0);
  CHECK(next >= taken);
  CHECK(p.consumer_state() == peer_state::closed);
  CHECK(code_of([&] { p.send(payload_of(0)); }) == errc::closed);
}
