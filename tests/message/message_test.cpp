// message_producer / message_consumer over real segments in one process: helpers, zero copy, limits, timeouts,
// large messages, status(). (status() read by a third process is in message_ipc_test.cpp.)
#include <catch2/catch.hpp>

#include <shmring/shmring.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "message_stream.hpp"
#include "segment_guard.hpp"

#include <sys/mman.h>

#include <array>
#include <cstdio>
#include <functional>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;
using shmring::errc;
using shmring::message_consumer;
using shmring::message_flags;
using shmring::message_producer;
using shmring::message_type;
using shmring_test::code_of;
using shmring_test::segment_guard;

namespace {

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

static_assert(std::is_nothrow_move_constructible_v<message_producer> &&
              std::is_nothrow_move_constructible_v<message_consumer>);

struct point {
  std::int32_t id;
  double value;
  char tag[3];
};

}  // namespace

TEST_CASE("type, flags, sequence and timestamp arrive as sent", "[message]") {
  segment_guard g("msg-meta");
  auto p = message_producer::create(g.name(), 4096);
  auto c = message_consumer::open(g.name());
  const std::array<message_type, 6> types{message_type::data, message_type::control, message_type::heartbeat,
                                          message_type::error, message_type::custom_min,
                                          static_cast<message_type>(0xFFFFFFFFu)};
  const std::array<message_flags, 5> flags{message_flags::none, message_flags::urgent, message_flags::compressed,
                                           message_flags::encrypted,
                                           message_flags::urgent | message_flags::compressed | message_flags::encrypted};
  std::uint64_t seq = 0;
  for (const auto t : types)
    for (const auto f : flags) {
      const std::string body = "message " + std::to_string(seq);
      const std::uint64_t before = now_ns();
      // A sender's last_fragment is ignored: framing is the ring's business.
      REQUIRE(p.try_send(shmring::text_bytes(body), t, f | message_flags::last_fragment));
      const std::uint64_t after = now_ns();
      auto m = c.try_receive();
      REQUIRE(m.has_value());
      CHECK(m->type == t);
      CHECK(m->flags == f);
      CHECK(m->sequence == seq);
      // Within the record timestamp's documented accuracy of the clock (detail/clock.hpp: ~50 ns from the TSC).
      constexpr std::uint64_t accuracy_ns = 1'000'000;
      CHECK(m->timestamp_ns + accuracy_ns >= before);
      CHECK(m->timestamp_ns <= after + accuracy_ns);
      CHECK(m->time().time_since_epoch() + std::chrono::nanoseconds(accuracy_ns) >= std::chrono::nanoseconds(before));
      CHECK(m->text() == body);
      ++seq;
    }
  REQUIRE(p.next_sequence() == seq);
  REQUIRE_FALSE(c.try_receive().has_value());
}

TEST_CASE("options::timestamps = false sends 0 on every path and changes nothing else", "[message]") {
  segment_guard g("msg-no-ts");
  shmring::options o;
  o.timestamps = false;
  auto p = message_producer::create(g.name(), 4096, o);
  auto c = message_consumer::open(g.name());  // the consumer's own option is irrelevant: the producer stamps
  const std::string small = "small";
  const std::string large(10000, 'x');  // over the 4 KiB ring: the fragmenting slow path
  std::uint64_t seq = 0;
  for (int round = 0; round < 3; ++round) {
    REQUIRE(p.try_send(shmring::text_bytes(small), message_type::control));
    auto m = c.try_receive();
    REQUIRE(m.has_value());
    CHECK(m->timestamp_ns == 0);
    CHECK(m->sequence == seq++);
    CHECK(m->type == message_type::control);
    CHECK(m->text() == small);

    auto r = p.reserve(16);
    std::memset(r.data(), 'z', r.size());
    p.commit(16, message_type::heartbeat);
    m = c.try_receive();
    REQUIRE(m.has_value());
    CHECK(m->timestamp_ns == 0);
    CHECK(m->sequence == seq++);
    CHECK(m->text() == std::string(16, 'z'));

    std::thread t([&] { p.send_string(large); });
    const auto big = c.receive();
    t.join();
    CHECK(big.timestamp_ns == 0);
    CHECK(big.sequence == seq++);
    CHECK(big.text() == large);
  }
  // A second producer with the default option stamps again: the choice is per producer, not per segment.
  p.detach();
  auto q = message_producer::open(g.name());
  const std::uint64_t before = now_ns();
  REQUIRE(q.try_send(shmring::text_bytes(small)));
  auto m = c.try_receive();
  REQUIRE(m.has_value());
  CHECK(m->timestamp_ns >= before);
  CHECK(m->sequence == seq);
}

TEST_CASE("string and typed helpers round-trip; a typed receive refuses another size", "[message]") {
  segment_guard g("msg-helpers");
  auto c = message_consumer::create(g.name(), 4096);
  auto p = message_producer::open(g.name());

  p.send_string("");
  p.send_string(std::string("with\0nul", 8));
  p.send_typed(point{7, 2.5, {'a', 'b', 'c'}});
  p.send_typed(std::uint16_t{0xBEEF});
  REQUIRE(c.try_receive()->text().empty());
  REQUIRE(c.receive_string() == std::string("with\0nul", 8));
  const point pt = c.receive_typed<point>();
  CHECK(pt.id == 7);
  CHECK(pt.value == 2.5);
  CHECK(std::string(pt.tag, 3) == "abc");

  // A uint16_t is not a point: refused, and the message stays for a receive that takes it.
  REQUIRE(code_of([&] { (void)c.receive_typed<point>(); }) == errc::type_mismatch);
  REQUIRE(code_of([&] { (void)c.receive_typed<std::uint32_t>(); }) == errc::type_mismatch);
  const auto m = c.try_receive();
  REQUIRE(m.has_value());
  // message::as<T>() checks the size as receive_typed does.
  REQUIRE(code_of([&] { (void)m->as<point>(); }) == errc::type_mismatch);
  REQUIRE(m->as<std::uint16_t>() == std::uint16_t{0xBEEF});
  REQUIRE_FALSE(c.try_receive().has_value());
}

TEST_CASE("receive into a caller's buffer consumes nothing when the buffer is too small", "[message]") {
  segment_guard g("msg-buffer");
  auto p = message_producer::create(g.name(), 1 << 15);  // both messages fit at once
  auto c = message_consumer::open(g.name());
  std::vector<std::byte> payload(5000);
  msgtest::fill(payload, 0);
  p.send(payload, message_type::control, message_flags::urgent);  // fits one record: received in place
  std::vector<std::byte> big(20000);
  msgtest::fill(big, 1);
  p.send(big);  // fragmented: reassembled, then copied

  std::vector<std::byte> out(100);
  auto i = c.try_receive(out);
  REQUIRE(i.has_value());
  REQUIRE(i->length == 5000);  // too long for out: not consumed
  REQUIRE(i->sequence == 0);
  out.resize(i->length);
  i = c.receive(out);
  REQUIRE(i->length == 5000);
  REQUIRE(i->type == message_type::control);
  REQUIRE(i->flags == message_flags::urgent);
  REQUIRE(msgtest::check(out, 0));

  out.assign(20000, std::byte{0});
  i = c.receive_for(out, 10s);
  REQUIRE(i.has_value());
  REQUIRE(i->sequence == 1);
  REQUIRE(i->length == 20000);
  REQUIRE(msgtest::check(out, 1));
  REQUIRE_FALSE(c.try_receive(out).has_value());
}

TEST_CASE("zero copy: reserve in place, commit or abandon; read in place, release", "[message][zero-copy]") {
  segment_guard g("msg-zero-copy");
  auto p = message_producer::create(g.name(), 1024);  // max record payload 480
  auto c = message_consumer::open(g.name());
  REQUIRE(p.max_record_payload() == 480);
  REQUIRE(code_of([&] { (void)p.reserve(481); }) == errc::message_too_large);
  REQUIRE_FALSE(p.try_reserve(481).has_value());

  auto s = p.reserve(300);
  REQUIRE(s.size() == 300);
  REQUIRE(reinterpret_cast<std::uintptr_t>(s.data()) % 8 == 0);
  REQUIRE(code_of([&] { p.send_string("x"); }) == errc::invalid_argument);  // a reservation is open
  REQUIRE_FALSE(p.try_send(shmring::text_bytes("x")));
  msgtest::fill(s.first(200), 0);
  REQUIRE_FALSE(c.try_read().has_value());  // nothing before commit
  p.commit(200, message_type::heartbeat);

  auto v = c.try_read();
  REQUIRE(v.has_value());
  REQUIRE(v->info.length == 200);
  REQUIRE(v->info.type == message_type::heartbeat);
  REQUIRE(msgtest::check(v->payload, 0));
  // The view is the very memory the producer wrote (mapped at another address): a byte changed through the
  // producer's span shows through it.
  s[199] ^= std::byte{0xFF};
  REQUIRE(v->payload[199] == s[199]);
  REQUIRE_FALSE(msgtest::check(v->payload, 0));
  s[199] ^= std::byte{0xFF};
  auto again = c.try_read();  // the same message until released
  REQUIRE(again->payload.data() == v->payload.data());
  c.release();
  c.release();  // nothing held: no effect

  auto s2 = p.try_reserve(64);
  REQUIRE(s2.has_value());
  p.abandon();
  REQUIRE_FALSE(c.try_read().has_value());
  p.send_string("after");
  auto m = c.read();
  REQUIRE(m.text() == "after");
  REQUIRE(m.info.sequence == 1);  // the abandoned reservation used no sequence number
  c.release();
  REQUIRE(c.received() == 2);
  REQUIRE(p.sent() == 2);

  // Both sides move (into a container, out of a function) and keep working.
  std::vector<message_producer> ps;
  ps.push_back(std::move(p));
  std::vector<message_consumer> cs;
  cs.push_back(std::move(c));
  ps[0].send_string("moved");
  REQUIRE(cs[0].receive_string() == "moved");
}

TEST_CASE("limits: capacity, first index, payloads over 1 GiB, the wrong kind of ring", "[message]") {
  segment_guard g("msg-limits");
  REQUIRE(code_of([&] { (void)message_producer::create(g.name(), 64); }) == errc::invalid_argument);
  REQUIRE(code_of([&] { (void)message_producer::create(g.name(), 1000); }) == errc::invalid_argument);
  shmring::options o;
  o.first_index = 4;
  REQUIRE(code_of([&] { (void)message_consumer::create(g.name(), 4096, o); }) == errc::invalid_argument);

  auto p = message_producer::create(g.name(), 4096);
  REQUIRE(code_of([&] { (void)shmring::consumer<std::uint64_t>::open(g.name()); }) == errc::kind_mismatch);
  {
    // 1 GiB + 1 bytes of address space, never touched: the size is refused before any byte is read.
    const std::size_t n = shmring::max_message_size + 1;
    void* big = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    REQUIRE(big != MAP_FAILED);
    const std::span<const std::byte> huge(static_cast<const std::byte*>(big), n);
    CHECK(code_of([&] { p.send(huge); }) == errc::message_too_large);
    CHECK(code_of([&] { (void)p.send_for(huge, 1ms); }) == errc::message_too_large);
    CHECK_FALSE(p.try_send(huge));
    ::munmap(big, n);
  }
  segment_guard t("msg-limits-typed");
  auto tp = shmring::producer<std::uint64_t>::create(t.name(), 64);
  REQUIRE(code_of([&] { (void)message_consumer::open(t.name()); }) == errc::kind_mismatch);
}

TEST_CASE("timeouts: send_for on a full ring, receive_for on an empty one, a large send cut short", "[message]") {
  segment_guard g("msg-timeouts");
  auto p = message_producer::create(g.name(), 1024);
  auto c = message_consumer::open(g.name());
  REQUIRE_FALSE(c.receive_for(1ms).has_value());
  REQUIRE_FALSE(c.receive_for(0ns).has_value());
  REQUIRE_FALSE(c.read_for(1ms).has_value());

  std::vector<std::byte> m(400);
  while (p.try_send(m)) {
  }
  REQUIRE_FALSE(p.send_for(m, 1ms));
  REQUIRE_FALSE(p.reserve_for(400, 1ms).has_value());
  while (c.try_receive()) {
  }

  // A message four times the ring: send_for publishes what fits, then times out waiting for the consumer.
  std::vector<std::byte> big(4096);
  msgtest::fill(big, 99);
  const std::uint64_t seq = p.next_sequence();
  REQUIRE_FALSE(p.send_for(big, 1ms));
  REQUIRE(p.status().aborted == 1);
  REQUIRE_FALSE(c.try_receive().has_value());  // fragments consumed and kept aside, never delivered
  REQUIRE(c.partial_bytes() > 0);
  p.send_string("next");
  auto n = c.receive();
  REQUIRE(n.text() == "next");
  REQUIRE(n.sequence == seq + 1);  // the given-up message keeps its number
  REQUIRE(c.dropped() == 1);
  REQUIRE(c.partial_bytes() == 0);
  REQUIRE(c.status().dropped == 1);
}

TEST_CASE("a 16 MiB message passes a 64 KiB ring between two threads", "[message][large]") {
  segment_guard g("msg-large");
  auto c = message_consumer::create(g.name(), 1 << 16);
  const std::size_t n = msgtest::scaled(16u << 20, 4u << 20);
  std::vector<std::byte> big(n);
  msgtest::fill(big, 5);
  std::thread t([&] {
    auto p = message_producer::open(g.name());
    p.send(big, message_type::custom_min, message_flags::compressed);
    p.send_string("tail");
  });
  auto m = c.receive();
  auto tail = c.receive_string();
  t.join();
  REQUIRE(m.size() == n);
  REQUIRE(m.type == message_type::custom_min);
  REQUIRE(m.flags == message_flags::compressed);
  REQUIRE(msgtest::check(m.payload, 5));
  REQUIRE(shmring_test::crc32(m.payload) == shmring_test::crc32(big));
  REQUIRE(tail == "tail");
  REQUIRE(c.status().consumer.bytes == n + 4);
}

TEST_CASE("status() counts messages and bytes per side and what is in the ring", "[message][status]") {
  segment_guard g("msg-status");
  auto p = message_producer::create(g.name(), 4096);
  auto c = message_consumer::open(g.name());
  std::vector<std::byte> m(100);
  for (int i = 0; i < 10; ++i) REQUIRE(p.try_send(m));
  for (int i = 0; i < 4; ++i) REQUIRE(c.try_receive().has_value());
  REQUIRE_FALSE(p.try_send(std::vector<std::byte>(5000)));  // one "found full"

  for (const auto& s : {p.status(), c.status(), shmring::status(g.name())}) {
    CHECK(s.name == g.name());
    CHECK(s.kind == shmring::segment_kind::message);
    CHECK(s.capacity == 4096);
    CHECK(s.element_size == 1);
    CHECK(s.element_align == 8);
    CHECK(s.consistent);
    CHECK(s.messages_in_ring == 6);
    CHECK(s.bytes_used == 6 * shmring::record::size_of(100));
    CHECK(s.usage_percent == Approx(100.0 * 6 * 136 / 4096));
    CHECK(s.producer.messages == 10);
    CHECK(s.producer.bytes == 1000);
    CHECK(s.producer.stalls == 1);
    CHECK(s.consumer.messages == 4);
    CHECK(s.consumer.bytes == 400);
    CHECK(s.next_sequence == 10);
    CHECK(s.producer.alive);
    CHECK(s.consumer.alive);
    CHECK(s.producer.state == shmring::layout::attach_state::attached);
    CHECK(s.producer.attach_count == 1);
    CHECK_FALSE(s.producer.dead());
    CHECK_FALSE(s.consumer.corrupted);
    const std::string json = shmring::to_json(s);
    CHECK(json.find("\"kind\":\"message\"") != std::string::npos);
    CHECK(json.find("\"messages_in_ring\":6,") != std::string::npos);
    CHECK(json.find("\"producer\":{\"state\":\"attached\",\"alive\":true,\"dead\":false") != std::string::npos);
    CHECK(shmring::to_string(s).find("6 messages, 816 bytes") != std::string::npos);
  }
  REQUIRE(code_of([] { (void)shmring::status("msg-status-no-such-ring"); }) == errc::not_found);
}

TEST_CASE("status() of a typed ring counts elements", "[message][status]") {
  segment_guard g("msg-status-typed");
  auto p = shmring::producer<std::uint32_t>::create(g.name(), 64);
  for (std::uint32_t i = 0; i < 20; ++i) REQUIRE(p.try_push(i));
  const auto s = shmring::status(g.name());
  CHECK(s.kind == shmring::segment_kind::typed);
  CHECK(s.element_size == 4);
  CHECK(s.messages_in_ring == 20);
  CHECK(s.bytes_used == 80);
  CHECK(s.usage_percent == Approx(100.0 * 20 / 64));
  CHECK(s.producer.messages == 20);
  CHECK(s.consumer.state == shmring::layout::attach_state::never);
  CHECK_FALSE(s.consumer.alive);
  CHECK(shmring::to_json(s).find("\"kind\":\"typed\"") != std::string::npos);

  auto c = shmring::consumer<std::uint32_t>::open(g.name());
  for (int i = 0; i < 5; ++i) REQUIRE(c.try_pop().has_value());
  for (const auto& m : {p.status(), c.status()}) {  // the members added to producer<T>/consumer<T>
    CHECK(m.messages_in_ring == 15);
    CHECK(m.consumer.messages == 5);
    CHECK(m.consumer.bytes == 20);
    CHECK(m.consumer.alive);
    CHECK(m.producer.alive);
  }
}
