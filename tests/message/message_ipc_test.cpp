// Message rings between real processes: a million seeded random-size messages each checked for its sequence and
// CRC-32, messages larger than the ring, producers and consumers killed in the middle of a fragmented message, and
// status() read by a third process that only looks.
#include <catch2/catch.hpp>

#include <shmring/shmring.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "message_stream.hpp"
#include "process.hpp"
#include "segment_guard.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using shmring::errc;
using shmring::message_consumer;
using shmring::message_producer;
using shmring_test::child_process;
using shmring_test::code_of;
using shmring_test::segment_guard;

namespace {

constexpr std::uint64_t stream_seed = 20240601;

}  // namespace

// args: name, count. Sends messages 0..count-1 of the seeded stream, rotating through the four ways to send.
SHMRING_CHILD(stream_producer) {
  auto p = message_producer::open(args.at(0));
  const std::uint64_t count = std::stoull(args.at(1));
  std::vector<std::byte> buf(65536);
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::size_t n = msgtest::random_size(stream_seed, i);
    const auto t = msgtest::type_of(i);
    const auto f = msgtest::flags_of(i);
    const std::span<std::byte> m(buf.data(), n);
    switch (i % 4) {
      case 0:
        msgtest::fill(m, i, stream_seed);
        p.send(m, t, f);
        break;
      case 1:
        if (n <= p.max_record_payload()) {  // zero copy: written in place
          auto s = p.reserve(n);
          msgtest::fill(s, i, stream_seed);
          p.commit(n, t, f);
        } else {
          msgtest::fill(m, i, stream_seed);
          p.send(m, t, f);
        }
        break;
      case 2:
        msgtest::fill(m, i, stream_seed);
        if (!p.send_for(m, 1h, t, f)) return 2;
        break;
      default:
        msgtest::fill(m, i, stream_seed);
        if (!p.try_send(m, t, f)) p.send(m, t, f);
        break;
    }
  }
  return 0;
}

TEST_CASE("a million random-size messages cross processes, each sequence and CRC-32 checked", "[message][ipc]") {
  const std::uint64_t count = msgtest::scaled(1'000'000, 100'000);
  segment_guard g("msg-million");
  // 64 KiB: messages over 32736 bytes are fragmented, and the producer waits for room often.
  auto c = message_consumer::create(g.name(), 1 << 16);
  child_process producer("stream_producer", {g.name(), std::to_string(count)});

  std::vector<std::byte> buf(65536);
  std::uint64_t i = 0, last_ts = 0, fragmented = 0, bytes = 0;
  std::string failure;
  for (; i < count && failure.empty(); ++i) {
    const std::size_t n = msgtest::random_size(stream_seed, i);
    shmring::message_info info;
    std::span<const std::byte> payload;
    shmring::message owned;
    switch (i % 4) {
      case 0:
        owned = c.receive();
        info = owned.info();
        payload = owned.payload;
        break;
      case 1: {
        const auto v = c.read();  // in place (or reassembled); released below
        info = v.info;
        payload = v.payload;
        break;
      }
      case 2:
        info = c.receive(buf);
        payload = std::span<const std::byte>(buf.data(), info.length);
        break;
      default: {
        auto m = c.receive_for(1h);
        if (!m) {
          failure = "receive_for timed out";
          continue;
        }
        owned = std::move(*m);
        info = owned.info();
        payload = owned.payload;
        break;
      }
    }
    if (info.sequence != i) failure = "sequence " + std::to_string(info.sequence);
    else if (info.length != n || payload.size() != n) failure = "length " + std::to_string(info.length) + ", sent " + std::to_string(n);
    else if (info.type != msgtest::type_of(i) || info.flags != msgtest::flags_of(i)) failure = "type or flags";
    else if (info.timestamp_ns < last_ts) failure = "timestamp went backwards";
    else if (!msgtest::check(payload, i)) failure = "payload: sequence field or CRC-32 mismatch";
    last_ts = info.timestamp_ns;
    bytes += n;
    if (n > (1 << 16) / 2 - shmring::record::header_size) ++fragmented;
    if (i % 4 == 1) c.release();
  }
  INFO("message " << (i - 1) << ": " << failure);
  REQUIRE(failure.empty());
  REQUIRE(fragmented > count / 500);  // about 1 in 144 is over one record
  WARN(count << " messages, " << bytes << " payload bytes, " << fragmented << " fragmented");
  REQUIRE(producer.wait() == 0);
  REQUIRE_FALSE(c.try_receive().has_value());
  const auto s = c.status();
  REQUIRE(s.producer.messages == count);
  REQUIRE(s.consumer.messages == count);
  REQUIRE(s.producer.bytes == s.consumer.bytes);
  REQUIRE(s.messages_in_ring == 0);
  REQUIRE(s.dropped == 0);
  REQUIRE_FALSE(s.consumer.corrupted);
}

// args: name, count, seed. Sends count messages 1x..8x the ring's capacity.
SHMRING_CHILD(large_producer) {
  auto p = message_producer::open(args.at(0));
  const std::uint64_t count = std::stoull(args.at(1)), seed = std::stoull(args.at(2));
  std::vector<std::byte> buf;
  for (std::uint64_t i = 0; i < count; ++i) {
    buf.resize(p.capacity() + 1 + shmring_test::mix(seed + i) % (7 * p.capacity()));
    msgtest::fill(buf, i, seed);
    p.send(buf, shmring::message_type::data, msgtest::flags_of(i));
  }
  return 0;
}

TEST_CASE("messages larger than the ring cross processes in fragments", "[message][ipc][large]") {
  const std::uint64_t count = msgtest::scaled(64, 16), seed = 77;
  segment_guard g("msg-larger");
  auto c = message_consumer::create(g.name(), 1 << 16);
  child_process producer("large_producer", {g.name(), std::to_string(count), std::to_string(seed)});
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto m = c.receive();
    const std::size_t n = (1 << 16) + 1 + shmring_test::mix(seed + i) % (7 << 16);
    INFO("message " << i);
    REQUIRE(m.sequence == i);
    REQUIRE(m.size() == n);
    REQUIRE(m.flags == msgtest::flags_of(i));
    REQUIRE(msgtest::check(m.payload, i));
  }
  REQUIRE(producer.wait() == 0);
  REQUIRE(c.dropped() == 0);
}

// args: name, bytes. Sends one message of that size (it blocks, and is killed, while the ring is full).
SHMRING_CHILD(big_sender) {
  auto p = message_producer::open(args.at(0));
  std::vector<std::byte> big(std::stoull(args.at(1)));
  msgtest::fill(big, 0);
  p.send(big);
  return 0;
}

// args: name, text. Sends one string message and exits.
SHMRING_CHILD(string_sender) {
  auto p = message_producer::open(args.at(0));
  p.send_string(args.at(1));
  return 0;
}

TEST_CASE("a producer killed in the middle of a fragmented message: the part is never delivered", "[message][ipc][restart]") {
  segment_guard g("msg-kill-producer");
  auto c = message_consumer::create(g.name(), 4096);  // records of at most 2016 payload bytes
  child_process dying("big_sender", {g.name(), "20000"});
  // Consume until part of the message has arrived. It cannot be complete: 20000 bytes need more room than the
  // ring and what we take of it can hold before we stop.
  while (c.partial_bytes() == 0) {
    REQUIRE_FALSE(c.try_receive().has_value());
    std::this_thread::yield();
  }
  dying.kill_now();
  REQUIRE(code_of([&] { (void)c.receive(); }) == errc::peer_dead);  // the rest never comes; nothing delivered
  REQUIRE(c.partial_bytes() > 0);
  REQUIRE(c.status().producer.dead());

  child_process heir("string_sender", {g.name(), "after the crash"});
  REQUIRE(heir.wait() == 0);
  const auto m = c.receive();
  REQUIRE(m.text() == "after the crash");
  REQUIRE(m.sequence == 1);  // 0 was the lost message: numbers never repeat
  REQUIRE(c.dropped() == 1);
  REQUIRE(c.partial_bytes() == 0);
  REQUIRE_FALSE(c.try_receive().has_value());
  REQUIRE_FALSE(c.corrupted());
}

// args: name. Consumes until part of a fragmented message has arrived, then dies without detaching.
SHMRING_CHILD(partial_consumer) {
  auto c = message_consumer::open(args.at(0));
  while (c.partial_bytes() == 0) {
    if (c.try_receive().has_value()) return 1;  // nothing whole can arrive before the big message
    std::this_thread::yield();
  }
  ::_exit(7);
}

// args: name, expected text. Receives one message, which must be the expected one, after dropping the remains of
// the message its predecessor began.
SHMRING_CHILD(heir_consumer) {
  auto c = message_consumer::open(args.at(0));
  const auto m = c.receive();
  if (m.text() != args.at(1) || m.sequence != 1 || c.dropped() != 1) {
    std::fprintf(stderr, "got \"%s\" sequence %llu dropped %llu\n", std::string(m.text()).c_str(),
                 static_cast<unsigned long long>(m.sequence), static_cast<unsigned long long>(c.dropped()));
    return 1;
  }
  return 0;
}

TEST_CASE("a consumer killed while reassembling: its successor skips the rest and gets the next message", "[message][ipc][restart]") {
  segment_guard g("msg-kill-consumer");
  auto p = message_producer::create(g.name(), 4096);
  errc big_result = errc::ok;
  std::atomic<bool> big_done{false};
  std::thread sender([&] {
    std::vector<std::byte> big(20000);
    msgtest::fill(big, 0);
    big_result = code_of([&] { p.send(big); });  // the consumer dies under it: peer_dead
    big_done.store(true, std::memory_order_release);
    for (;;) {  // until a live consumer makes room
      if (code_of([&] { p.send_string("next whole message"); }) == errc::ok) break;
      std::this_thread::yield();
    }
  });
  child_process first("partial_consumer", {g.name()});
  REQUIRE(first.wait() == 7);
  // Start the successor only once the producer has seen the death, so that it gives the big message up.
  while (!big_done.load(std::memory_order_acquire)) std::this_thread::yield();
  child_process heir("heir_consumer", {g.name(), "next whole message"});
  REQUIRE(heir.wait() == 0);
  sender.join();
  REQUIRE(big_result == errc::peer_dead);
  const auto s = p.status();
  REQUIRE(s.aborted == 1);
  REQUIRE(s.dropped == 1);
  REQUIRE(s.producer.messages == 1);
}

SHMRING_CHILD(status_reader) {
  // args: name, expected messages in the ring, expected producer messages. Only opens the segment to look.
  const auto s = shmring::status(args.at(0));
  const bool ok = s.messages_in_ring == std::stoull(args.at(1)) && s.producer.messages == std::stoull(args.at(2)) &&
                  s.producer.alive && s.consumer.alive && !s.producer.dead() && s.kind == shmring::segment_kind::message;
  if (!ok) std::fprintf(stderr, "%s", shmring::to_string(s).c_str());
  return ok ? 0 : 1;
}

TEST_CASE("a third process reads status() without attaching or writing anything", "[message][status][ipc]") {
  segment_guard g("msg-status-third");
  auto p = message_producer::create(g.name(), 4096);
  auto c = message_consumer::open(g.name());
  for (int i = 0; i < 7; ++i) p.send_string("seven");
  REQUIRE(c.try_receive().has_value());
  msgtest::raw_segment raw(g.name());
  std::vector<std::byte> before(sizeof(shmring::layout::header));
  std::memcpy(before.data(), &raw.header(), before.size());

  shmring_test::child_process reader("status_reader", {g.name(), "6", "7"});
  REQUIRE(reader.wait() == 0);

  // Not one byte of the header changed: no attach count, no lock state, no counter.
  REQUIRE(std::memcmp(before.data(), &raw.header(), before.size()) == 0);
  REQUIRE(c.producer_state() == shmring::peer_state::alive);
  REQUIRE(p.consumer_state() == shmring::peer_state::alive);
}
