// Segments and attachment, in one process on real shared memory: names, permissions, refusals with their error
// codes, exclusive attach, and the segment's lifetime.
#include <catch2/catch.hpp>

#include "errors.hpp"
#include "options.hpp"
#include "raw_segment.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace shmring;
using shmring_test::code_of;
using shmring_test::raw_map;
using shmring_test::segment_guard;
using shmring_test::shm_path;

namespace {
bool exists(const std::string& name) { return shmring_test::segment_exists(name); }

options fast_open() { return shmring_test::with_timeouts(std::chrono::milliseconds(50)); }
}  // namespace

TEST_CASE("bad names are refused before any system call", "[segment]") {
  const std::string long_name(201, 'a');
  for (const std::string& bad : {std::string(), std::string("a/b"), std::string("/x/"), std::string("/a//b"), std::string("."),
                                std::string(".."), std::string("tab\there"), std::string("nl\n"),
                                std::string("del\x7f"), std::string("nul\0x", 5), long_name}) {
    CAPTURE(bad);
    CHECK(code_of([&] { (void)producer<int>::create(bad, 8); }) == errc::invalid_name);
    CHECK(code_of([&] { (void)consumer<int>::open(bad); }) == errc::invalid_name);
    CHECK(code_of([&] { (void)shmring::remove(bad); }) == errc::invalid_name);
  }
  CHECK_NOTHROW(validate_name(std::string(200, 'a')));
  CHECK_NOTHROW(validate_name("dots.are-fine_here ok"));
}

TEST_CASE("opening a name that does not exist is not_found", "[segment]") {
  segment_guard g("absent");
  CHECK(code_of([&] { (void)consumer<int>::open(g.name()); }) == errc::not_found);
  CHECK(code_of([&] { (void)producer<int>::open(g.name()); }) == errc::not_found);
  CHECK_FALSE(shmring::remove(g.name()));
}

TEST_CASE("create is exclusive", "[segment]") {
  segment_guard g("excl");
  auto p = producer<int>::create(g.name(), 8);
  CHECK(code_of([&] { (void)consumer<int>::create(g.name(), 8); }) == errc::already_exists);
}

TEST_CASE("segments are created 0600 whatever the umask", "[segment]") {
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}}) {
    segment_guard g("perm");
    const mode_t old = ::umask(mask);
    auto p = producer<int>::create(g.name(), 8);
    ::umask(old);
    struct stat st{};
    REQUIRE(::stat(shm_path(g.name()).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(st.st_uid == ::geteuid());
  }
}

TEST_CASE("a segment others may write is refused", "[segment]") {
  segment_guard g("squat");
  auto p = producer<int>::create(g.name(), 8, {.persistent = true});
  REQUIRE(::chmod(shm_path(g.name()).c_str(), 0666) == 0);
  CHECK(code_of([&] { (void)consumer<int>::open(g.name()); }) == errc::permission_denied);
  REQUIRE(::chmod(shm_path(g.name()).c_str(), 0620) == 0);
  CHECK(code_of([&] { (void)consumer<int>::open(g.name()); }) == errc::permission_denied);
}

TEST_CASE("capacity must be a power of two", "[segment]") {
  segment_guard g("cap");
  CHECK(code_of([&] { (void)producer<int>::create(g.name(), 0); }) == errc::invalid_argument);
  CHECK(code_of([&] { (void)producer<int>::create(g.name(), 1000); }) == errc::invalid_argument);
  CHECK(code_of([&] { (void)producer<int>::create(g.name(), std::uint64_t{1} << 41); }) == errc::invalid_argument);
  CHECK_FALSE(exists(g.name()));  // nothing was created
  try {
    (void)producer<int>::create(g.name(), 1000);
  } catch (const error& e) {
    CHECK(std::string(e.what()).find("use 1024") != std::string::npos);
  }
}

TEST_CASE("an opener with another element type, kind or capacity is refused", "[segment]") {
  segment_guard g("mismatch");
  auto p = producer<std::uint64_t>::create(g.name(), 16);
  CHECK(code_of([&] { (void)consumer<std::uint32_t>::open(g.name()); }) == errc::element_mismatch);
  struct alignas(16) wide {
    std::uint64_t a;
  };
  CHECK(code_of([&] { (void)consumer<wide>::open(g.name()); }) == errc::element_mismatch);
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name(), 32); }) == errc::capacity_mismatch);
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name(), 16); }) == errc::ok);
}

TEST_CASE("a wrong magic or version written into the segment is refused", "[segment]") {
  segment_guard g("magic");
  auto p = producer<int>::create(g.name(), 8, {.persistent = true});
  raw_map m(g.name());
  SECTION("magic") {
    m.h().control.magic[3] = 'X';
    CHECK(code_of([&] { (void)consumer<int>::open(g.name()); }) == errc::bad_magic);
  }
  SECTION("version") {
    m.h().control.version = 7;
    CHECK(code_of([&] { (void)consumer<int>::open(g.name()); }) == errc::version_mismatch);
  }
  SECTION("kind") {
    m.h().control.kind = 2;
    CHECK(code_of([&] { (void)consumer<int>::open(g.name()); }) == errc::kind_mismatch);
  }
  SECTION("indices") {
    m.h().head.value.store(100);
    CHECK(code_of([&] { (void)consumer<int>::open(g.name()); }) == errc::corrupted);
  }
}

TEST_CASE("a truncated segment is refused before anything past the header is read", "[segment]") {
  segment_guard g("trunc");
  auto p = producer<std::uint64_t>::create(g.name(), 1024, {.persistent = true});
  const int fd = ::shm_open(object_name(g.name(), "/").c_str(), O_RDWR, 0);
  REQUIRE(fd >= 0);
  SECTION("shorter than declared") {
    REQUIRE(::ftruncate(fd, static_cast<off_t>(layout::data_offset_for(8) + 100)) == 0);
    CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name()); }) == errc::truncated);
  }
  SECTION("shorter than a header") {
    REQUIRE(::ftruncate(fd, 100) == 0);
    CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name(), fast_open()); }) == errc::not_ready);
  }
  ::close(fd);
}

TEST_CASE("a segment whose creator never finished is not_ready, not a hang", "[segment]") {
  segment_guard g("unready");
  const int fd = ::shm_open(object_name(g.name(), "/").c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  REQUIRE(fd >= 0);
  SECTION("never sized") {
    CHECK(code_of([&] { (void)consumer<int>::open(g.name(), fast_open()); }) == errc::not_ready);
  }
  SECTION("sized, header written, ready never set") {
    REQUIRE(::ftruncate(fd, 4096) == 0);
    CHECK(code_of([&] { (void)consumer<int>::open(g.name(), fast_open()); }) == errc::not_ready);
  }
  ::close(fd);
}

TEST_CASE("only one producer and one consumer may be attached", "[segment][attach]") {
  segment_guard g("attach");
  auto p = producer<int>::create(g.name(), 8, {.persistent = true});
  CHECK(code_of([&] { (void)producer<int>::open(g.name()); }) == errc::already_attached);
  {
    auto c = consumer<int>::open(g.name());
    CHECK(code_of([&] { (void)consumer<int>::open(g.name()); }) == errc::already_attached);
    CHECK(p.consumer_state() == peer_state::alive);
    CHECK(c.producer_state() == peer_state::alive);
  }
  CHECK(p.consumer_state() == peer_state::absent);  // detached cleanly
  auto c2 = consumer<int>::open(g.name());        // the slot is free again
  p.detach();
  CHECK(c2.producer_state() == peer_state::absent);
  auto p2 = producer<int>::open(g.name());
  CHECK(c2.producer_state() == peer_state::alive);
}

TEST_CASE("values pushed before any consumer opened survive their producer", "[segment][lifetime]") {
  segment_guard g("lifetime");
  {
    auto p = producer<std::uint64_t>::create(g.name(), 64);
    for (std::uint64_t i = 0; i < 50; ++i) REQUIRE(p.try_push(i * 3));
  }  // the producer is gone; the ring is not empty, so the segment stays
  REQUIRE(exists(g.name()));
  {
    auto c = consumer<std::uint64_t>::open(g.name());
    for (std::uint64_t i = 0; i < 50; ++i) REQUIRE(c.try_pop() == i * 3);
    CHECK_FALSE(c.try_pop().has_value());
    CHECK(c.popped() == 50);
  }  // drained, producer gone: removed
  CHECK_FALSE(exists(g.name()));
}

TEST_CASE("a drained segment stays while its peer is attached, and a persistent one always", "[segment][lifetime]") {
  segment_guard g("lifetime2");
  {
    auto p = producer<int>::create(g.name(), 8);
    { auto c = consumer<int>::open(g.name()); }
    CHECK(exists(g.name()));  // the producer is still attached
  }
  CHECK_FALSE(exists(g.name()));
  {
    auto p = producer<int>::create(g.name(), 8, {.persistent = true});
    auto c = consumer<int>::open(g.name());
  }
  CHECK(exists(g.name()));
  CHECK(shmring::remove(g.name()));
  CHECK_FALSE(exists(g.name()));
}

TEST_CASE("open_or_create creates once and opens afterwards", "[segment]") {
  segment_guard g("ooc");
  auto c = consumer<int>::open_or_create(g.name(), 8);
  auto p = producer<int>::open_or_create(g.name(), 8);
  REQUIRE(p.try_push(5));
  CHECK(c.try_pop() == 5);
  CHECK(code_of([&] { (void)producer<int>::open_or_create(g.name(), 8); }) == errc::already_attached);
}

TEST_CASE("the first index can be chosen at creation to test the 2^64 wrap", "[segment]") {
  segment_guard g("first");
  options o;
  o.first_index = ~std::uint64_t{0} - 3;
  auto p = producer<std::uint64_t>::create(g.name(), 4, o);
  auto c = consumer<std::uint64_t>::open(g.name());
  for (std::uint64_t i = 0; i < 100; ++i) {
    REQUIRE(p.try_push(i));
    REQUIRE(c.try_pop() == i);
  }
  CHECK(p.pushed() == 100);
  CHECK(c.popped() == 100);
}

TEST_CASE("producers and consumers can be moved, e.g. returned from a function or kept in a vector", "[segment]") {
  static_assert(std::is_nothrow_move_constructible_v<producer<int>>);
  static_assert(std::is_nothrow_move_constructible_v<consumer<int>>);
  segment_guard g("move");
  auto make = [&] {
    auto p = producer<int>::create(g.name(), 8);
    return p;  // a named return: needs the move constructor
  };
  std::vector<producer<int>> ps;
  ps.push_back(make());
  std::vector<consumer<int>> cs;
  cs.push_back(consumer<int>::open(g.name()));
  REQUIRE(ps.front().try_push(7));
  CHECK(cs.front().try_pop() == 7);
  CHECK(cs.front().producer_state() == peer_state::alive);
}
