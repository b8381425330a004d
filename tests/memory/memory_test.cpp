// options::memory between real processes: prefault, mlock and huge pages are applied to the side's own mapping and
// status().memory says what was done; what the system refuses is a clear shmring::error, and a refused create
// leaves no segment behind. RLIMIT_MEMLOCK is lowered in a child process (with CAP_IPC_LOCK dropped, which would
// exempt root from the limit). Every element pushed is popped and checked by sequence.
#include <catch2/catch.hpp>

#include "errors.hpp"
#include "process.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::code_of;
using shmring_test::segment_guard;

namespace {

constexpr std::uint64_t small_capacity = 1 << 14;  // 128 KiB of 8-byte elements: smaller than a huge page
constexpr std::uint64_t large_capacity = 1 << 19;  // 4 MiB: one whole 2 MiB extent at least after the header

/// Pushes count sequence numbers from p to c and checks each one; returns the number that arrived in order.
std::uint64_t round_trip(producer<std::uint64_t>& p, consumer<std::uint64_t>& c, std::uint64_t count) {
  std::uint64_t ok = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (!p.try_push(i)) return ok;
    const auto v = c.try_pop();
    if (v && *v == i) ++ok;
  }
  return ok;
}

options with(memory_options m) {
  options o;
  o.memory = m;
  return o;
}

/// Bytes of the mapping in whole 2 MiB extents.
std::uint64_t whole_extents(const ring_status& s) { return s.segment_size / (2u << 20) * (2u << 20); }

/// Drops CAP_IPC_LOCK (which exempts a process from RLIMIT_MEMLOCK) from this process's capability sets.
bool drop_ipc_lock() {
  __user_cap_header_struct h{};
  h.version = _LINUX_CAPABILITY_VERSION_3;
  h.pid = 0;
  __user_cap_data_struct d[2]{};
  if (::syscall(SYS_capget, &h, d) != 0) return false;
  d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
  d[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
  d[CAP_IPC_LOCK / 32].inheritable &= ~(1u << (CAP_IPC_LOCK % 32));
  return ::syscall(SYS_capset, &h, d) == 0;
}

/// In a child: locked memory limited to `limit` bytes and no exemption from it.
bool limit_memlock(rlim_t limit) {
  rlimit now{};
  if (::getrlimit(RLIMIT_MEMLOCK, &now) != 0) return false;
  if (now.rlim_max != RLIM_INFINITY && limit > now.rlim_max) limit = now.rlim_max;  // lowering only
  const rlimit rl{limit, limit};
  return ::setrlimit(RLIMIT_MEMLOCK, &rl) == 0 && drop_ipc_lock();
}

}  // namespace

// args: name. With a 64 KiB locked-memory limit, create (locking) must fail with limit_exceeded naming the
// limit and the size, and leave no segment. Exit 0 when it did; 2..5 name what went wrong.
SHMRING_CHILD(memlock_create_refused) {
  if (!limit_memlock(64 * 1024)) return 2;
  memory_options m;
  m.lock = true;
  try {
    auto p = producer<std::uint64_t>::create(args.at(0), small_capacity, with(m));
    return 3;
  } catch (const error& e) {
    if (e.code() != errc::limit_exceeded) return 4;
    const std::string w = e.what();
    // The size it wanted to lock: the segment's, more than its data area.
    const std::size_t at = w.find("segment's ");
    const unsigned long long wanted = at == std::string::npos ? 0 : std::strtoull(w.c_str() + at + 10, nullptr, 10);
    if (w.find("RLIMIT_MEMLOCK") == std::string::npos || w.find("65536 bytes") == std::string::npos ||
        wanted <= small_capacity * 8)
      return 5;
  } catch (...) {
    return 6;
  }
  return 0;
}

// args: name. The ring exists (the parent's producer); opening its consumer with lock under a 64 KiB limit fails
// with limit_exceeded; opening it without lock works and pops what the parent pushed: 0..99 in order.
SHMRING_CHILD(memlock_open_refused) {
  if (!limit_memlock(64 * 1024)) return 2;
  memory_options m;
  m.lock = true;
  if (code_of([&] { (void)consumer<std::uint64_t>::open(args.at(0), with(m)); }) != errc::limit_exceeded) return 3;
  auto c = consumer<std::uint64_t>::open(args.at(0));
  for (std::uint64_t i = 0; i < 100; ++i) {
    const auto v = c.try_pop();
    if (!v || *v != i) return 4;
  }
  return c.try_pop() ? 5 : 0;
}

// args: name. Under a limit larger than the segment (4 MiB, or the hard limit if lower), lock works: status says locked, VmLck covers the segment.
SHMRING_CHILD(memlock_allowed) {
  if (!limit_memlock(4u << 20)) return 2;
  memory_options m;
  m.lock = true;
  auto p = producer<std::uint64_t>::create(args.at(0), small_capacity, with(m));
  auto c = consumer<std::uint64_t>::open(args.at(0));
  const ring_status s = p.status();
  if (!s.memory.applied || !s.memory.locked || !s.memory.prefaulted) return 3;
  if (shmring::detail::locked_bytes() < s.segment_size) return 4;
  if (c.status().memory.locked) return 5;  // the consumer did not ask: its mapping is not locked
  return round_trip(p, c, small_capacity) == small_capacity ? 0 : 6;
}

TEST_CASE("memory options: the defaults apply nothing, and status() says so", "[memory]") {
  segment_guard g("mem-default");
  auto p = producer<std::uint64_t>::create(g.name(), small_capacity);
  auto c = consumer<std::uint64_t>::open(g.name());
  const ring_status s = p.status();
  CHECK(s.memory.applied);
  CHECK_FALSE(s.memory.prefaulted);
  CHECK_FALSE(s.memory.locked);
  CHECK(s.memory.huge == huge_pages::off);
  CHECK(s.memory.huge_note.empty());
  CHECK_FALSE(shmring::status(g.name()).memory.applied);  // the read-only status maps only the header
  CHECK(round_trip(p, c, small_capacity) == small_capacity);
}

TEST_CASE("memory options: prefault maps every page at attach", "[memory]") {
  segment_guard g("mem-prefault");
  memory_options m;
  m.prefault = true;
  auto p = producer<std::uint64_t>::create(g.name(), small_capacity, with(m));
  auto c = consumer<std::uint64_t>::open(g.name(), with(m));
  CHECK(p.status().memory.prefaulted);
  CHECK(c.status().memory.prefaulted);
  CHECK_FALSE(p.status().memory.locked);
  CHECK(to_string(p.status()).find("this mapping: prefaulted") != std::string::npos);
  CHECK(to_json(p.status()).find("\"memory\":{\"huge\":\"off\",\"prefaulted\":true") != std::string::npos);
  CHECK(round_trip(p, c, small_capacity) == small_capacity);
}

TEST_CASE("memory options: lock under RLIMIT_MEMLOCK is applied or refused with limit_exceeded", "[memory]") {
  SECTION("a limit larger than the segment: locked") {
    segment_guard g("mem-lock-ok");
    child_process child("memlock_allowed", {g.name()});
    CHECK(child.wait() == 0);
  }
  SECTION("create under a 64 KiB limit: limit_exceeded, no segment left") {
    segment_guard g("mem-lock-create");
    child_process child("memlock_create_refused", {g.name()});
    CHECK(child.wait() == 0);
    CHECK(code_of([&] { (void)shmring::status(g.name()); }) == errc::not_found);
  }
  SECTION("open under a 64 KiB limit: limit_exceeded; the ring goes on") {
    segment_guard g("mem-lock-open");
    auto p = producer<std::uint64_t>::create(g.name(), small_capacity);
    for (std::uint64_t i = 0; i < 100; ++i) REQUIRE(p.try_push(i));
    child_process child("memlock_open_refused", {g.name()});
    CHECK(child.wait() == 0);
    CHECK(p.status().consumer.messages == 100);
  }
}

TEST_CASE("memory options: huge pages are obtained and counted, or the reason is given", "[memory]") {
  SECTION("a segment smaller than a huge page: prefer notes it, require refuses with unsupported") {
    segment_guard g("mem-huge-small");
    memory_options m;
    m.huge = huge_pages::prefer;
    {
      auto p = producer<std::uint64_t>::create(g.name(), small_capacity, with(m));
      const ring_status s = p.status();
      CHECK(s.memory.huge == huge_pages::prefer);
      CHECK(s.memory.huge_bytes == 0);
      CHECK(s.memory.huge_note.find("smaller than one 2 MiB huge page") != std::string::npos);
    }
    (void)shmring::remove(g.name());
    m.huge = huge_pages::require;
    CHECK(code_of([&] { (void)producer<std::uint64_t>::create(g.name(), small_capacity, with(m)); }) ==
          errc::unsupported);
    CHECK(code_of([&] { (void)shmring::status(g.name()); }) == errc::not_found);
  }
  SECTION("a 4 MiB segment: every whole extent in huge pages, or a note saying why not") {
    segment_guard g("mem-huge-large");
    memory_options m;
    m.huge = huge_pages::prefer;
    auto p = producer<std::uint64_t>::create(g.name(), large_capacity, with(m));
    auto c = consumer<std::uint64_t>::open(g.name(), with(m));
    const ring_status s = p.status();
    const std::uint64_t whole = whole_extents(s);
    REQUIRE(whole >= (2u << 20));
    CHECK(s.memory.prefaulted);
    CHECK(s.memory.huge_bytes <= whole);
    // Honest either way: all of it, or less and a reason.
    CHECK((s.memory.huge_bytes == whole) == s.memory.huge_note.empty());
    CHECK(round_trip(p, c, large_capacity) == large_capacity);
    CHECK(round_trip(p, c, large_capacity) == large_capacity);  // across the wrap, through every page again
    const bool obtained = s.memory.huge_bytes == whole;
    p.detach();
    c.detach();
    (void)shmring::remove(g.name());
    m.huge = huge_pages::require;
    const errc r = code_of([&] {
      auto q = producer<std::uint64_t>::create(g.name(), large_capacity, with(m));
      if (q.status().memory.huge_bytes != whole) throw error(errc::corrupted, g.name(), "require gave less");
    });
    CHECK(r == (obtained ? errc::ok : errc::unsupported));
    UNSCOPED_INFO("huge pages on this machine: " << (obtained ? "obtained" : s.memory.huge_note));
  }
}
