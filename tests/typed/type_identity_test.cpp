// Type identity (opt-in): an element type that declares `shmring_type_name` has that name stored in the segment,
// and an opener whose type declares another name is refused with errc::element_mismatch naming both, even when
// size and alignment agree (two layouts of the same 16 bytes). Without the member, size and alignment are all
// that is compared, as before.
#include <catch2/catch.hpp>

#include "errors.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <cstdint>
#include <string>
#include <string_view>

using namespace shmring;
using shmring_test::code_of;
using shmring_test::segment_guard;

namespace {
struct tick_a {
  static constexpr std::string_view shmring_type_name = "tick/v1";
  std::int32_t id;
  double price;
};
struct tick_b {  // the same size and alignment, the members the other way round
  static constexpr std::string_view shmring_type_name = "tick/v2";
  double price;
  std::int32_t id;
};
struct plain_a {
  std::int32_t id;
  double price;
};
struct plain_b {
  double price;
  std::int32_t id;
};
struct big {  // more than one record of a 4 KiB ring
  static constexpr std::string_view shmring_type_name = "big/v1";
  std::uint8_t bytes[3000];
};
static_assert(sizeof(tick_a) == sizeof(tick_b) && alignof(tick_a) == alignof(tick_b));
static_assert(type_name_of<tick_a>() == "tick/v1" && type_name_of<plain_a>().empty());
}  // namespace

TEST_CASE("a typed ring stores its element type's name and refuses an opener with another", "[typed][identity]") {
  segment_guard g("identity");
  auto p = producer<tick_a>::create(g.name(), 16);
  CHECK(p.status().element_type == "tick/v1");
  CHECK(to_string(p.status()).find("\"tick/v1\"") != std::string::npos);
  CHECK(to_json(status(g.name())).find("\"element_type\":\"tick/v1\"") != std::string::npos);

  // The same name opens, and values pass.
  auto c = consumer<tick_a>::open(g.name());
  REQUIRE(p.try_push({7, 2.5}));
  const auto v = c.try_pop();
  REQUIRE(v.has_value());
  CHECK(v->id == 7);
  CHECK(v->price == 2.5);
  c.detach();

  // Another name is refused, and the message names both.
  try {
    (void)consumer<tick_b>::open(g.name());
    FAIL("a consumer of tick/v2 opened a ring of tick/v1");
  } catch (const error& e) {
    CHECK(e.code() == errc::element_mismatch);
    const std::string what = e.what();
    CHECK(what.find("\"tick/v1\" in the segment") != std::string::npos);
    CHECK(what.find("\"tick/v2\" in this program") != std::string::npos);
  }
  CHECK(code_of([&] { (void)producer<tick_b>::open_or_create(g.name(), 16); }) == errc::element_mismatch);
}

TEST_CASE("without declared names only size and alignment are compared, as before", "[typed][identity]") {
  segment_guard g("identity-plain");
  auto p = producer<plain_a>::create(g.name(), 16);
  CHECK(p.status().element_type.empty());
  // plain_b has another layout of the same size and alignment: nothing can tell them apart, and nothing does.
  CHECK(code_of([&] { (void)consumer<plain_b>::open(g.name()); }) == errc::ok);
  // A declared name on one side only: the other declares nothing to compare with, so size and alignment decide.
  CHECK(code_of([&] { (void)consumer<tick_a>::open(g.name()); }) == errc::ok);
  // A type of another size is refused as always.
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name()); }) == errc::element_mismatch);
}

TEST_CASE("send_typed tags a named type's records, and receive_typed of another named type refuses them",
          "[message][identity]") {
  segment_guard g("identity-msg");
  auto p = message_producer::create(g.name(), 4096);
  auto c = message_consumer::open(g.name());
  static_assert(record::tag_of("tick/v1") != 0 && record::tag_of("tick/v1") != record::tag_of("tick/v2"));

  p.send_typed(tick_a{3, 1.5});
  // Another name: refused, naming the type, and the message stays in the ring for a receive that takes it.
  try {
    (void)c.receive_typed<tick_b>();
    FAIL("a message of tick/v1 was received as tick/v2");
  } catch (const error& e) {
    CHECK(e.code() == errc::type_mismatch);
    CHECK(std::string(e.what()).find("\"tick/v2\"") != std::string::npos);
  }
  const tick_a a = c.receive_typed<tick_a>();
  CHECK(a.id == 3);
  CHECK(a.price == 1.5);

  // message::as<T>() checks the tag the same way; a type without a name is judged by size alone.
  p.send_typed(tick_a{4, 2.5});
  const auto m = c.try_receive();
  REQUIRE(m.has_value());
  CHECK(m->type_tag == record::tag_of("tick/v1"));
  CHECK(code_of([&] { (void)m->as<tick_b>(); }) == errc::type_mismatch);
  CHECK(m->as<tick_a>().id == 4);
  CHECK(m->as<plain_a>().id == 4);

  // Bytes sent without a type (try_send of object_bytes) carry no tag: any type of the right size takes them.
  REQUIRE(p.try_send(object_bytes(tick_a{5, 3.5})));
  CHECK(c.receive_typed<tick_b>().price != 0);  // reinterpreted, as a message without identity is
  // A fragmented typed message carries the tag in every fragment.
  big b{};
  b.bytes[2999] = 7;
  p.send_typed(b);
  const big got = c.receive_typed<big>();
  CHECK(got.bytes[2999] == 7);
}
