// A segment truncated under its sides (issue 12 item 2). Any process of the same user may ftruncate
// /dev/shm/shmring-N; before the SIGBUS handler (detail/sigbus.hpp) both sides then died of SIGBUS in their next
// push, pop, sleep re-check or detach. Real processes on typed and message rings, the file truncated to 0 and to
// half (the header survives, the upper pages of the data area do not) while one side sleeps in its waiting call
// and the other runs a try_ loop between whose iterations the truncation lands, or while both run try_ loops:
// each side ends with errc::truncated from its waiting call, try_ calls returning nothing, status() saying
// truncated, a clean detach() and a normal exit (never a signal death). Values delivered before the end are the
// ones sent, in order; the one call under way when the pages vanished may deliver zeros (docs/faults.md).
// And a SIGBUS that is not shmring's still reaches the program's own handler, or kills the process without one.
#include <catch2/catch.hpp>

#include "await.hpp"
#include "errors.hpp"
#include "options.hpp"
#include "process.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace shmring;
using namespace shmring_test;

namespace {
constexpr std::uint64_t capacity = 4096;          // typed: 32 KiB of slots, 8 pages; half of the file cuts them
constexpr std::uint64_t message_capacity = 65536;  // message: 16 pages
constexpr int bad_value = 2, no_truncated = 3, bad_status = 4, try_succeeded = 5, too_many = 6;

options opts() { return with_timeouts(std::chrono::seconds(5), std::chrono::milliseconds(2)); }

std::string path_of(const std::string& name) { return object_name(name, "/dev/shm/"); }

/// What another process of the same user can do: ftruncate the object by name (to 0, or to half its size).
void truncate_segment(const std::string& name, bool to_zero) {
  const int fd = ::open(path_of(name).c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const off_t size = ::lseek(fd, 0, SEEK_END);
  REQUIRE(::ftruncate(fd, to_zero ? 0 : size / 2) == 0);
  ::close(fd);
}

/// A delivered value: the next one expected, or zeros at the end: from the call under way when the pages vanished,
/// and, after a truncation to a size that is not a multiple of the page size, from the rest of the new last page
/// (the kernel zeroes it and it stays mapped: no fault says anything happened until the next page). Never a value
/// after a zero, never more zeros than one page holds, plus one. False on anything else.
/// A typed ring truncated to a multiple of the page size (to 0) delivers no zero at all: the call under way reports
/// failure instead (allow_zeros false).
struct sequence_check {
  bool allow_zeros = true;
  std::uint64_t next = 1;
  std::uint64_t zeros = 0;
  bool take(std::uint64_t v) {
    if (v == 0) return allow_zeros && ++zeros <= static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) / sizeof v + 1;
    return zeros == 0 && v == next++;
  }
};

/// The end every side must reach: status() says truncated, try_ calls fail, the waiting call throws truncated.
template <class Status, class Try, class Wait>
int check_end(Status&& status, Try&& try_once, Wait&& wait_once) {
  if (code_of(status) != errc::truncated) return bad_status;
  if (try_once()) return try_succeeded;
  if (code_of(wait_once) != errc::truncated) return no_truncated;
  return 0;
}

std::span<const std::byte> bytes_of(const std::uint64_t& v) { return object_bytes(v); }
}  // namespace

// ------------------------------------------------------------------------------------------------ children

// args: name zero|half. Pops 1, 2, ... in pop() until it throws; that must be errc::truncated. Then status(),
// try_pop() and pop() must all say truncated, and detach() must return.
SHMRING_CHILD(typed_sleeping_consumer) {
  auto c = consumer<std::uint64_t>::open(args.at(0), opts());
  sequence_check seq;
  seq.allow_zeros = args.at(1) != "zero";
  try {
    for (std::uint64_t i = 0; i < 4 * capacity; ++i)
      if (!seq.take(c.pop())) return bad_value;
    return too_many;
  } catch (const error& e) {
    if (e.code() != errc::truncated) return no_truncated;
  }
  const int r = check_end([&] { (void)c.status(); }, [&] { return c.try_pop().has_value(); }, [&] { (void)c.pop(); });
  c.detach();
  return r;
}

// args: name. Pushes 1, 2, ... with push() (it sleeps once the ring is full) until it throws errc::truncated.
SHMRING_CHILD(typed_sleeping_producer) {
  auto p = producer<std::uint64_t>::open(args.at(0), opts());
  try {
    for (std::uint64_t i = 1; i < 4 * capacity; ++i) p.push(i);
    return too_many;
  } catch (const error& e) {
    if (e.code() != errc::truncated) return no_truncated;
  }
  const int r = check_end([&] { (void)p.status(); }, [&] { return p.try_push(0); }, [&] { p.push(0); });
  p.detach();
  return r;
}

// args: name. As typed_sleeping_consumer, on a message ring (receive_typed).
SHMRING_CHILD(message_sleeping_consumer) {
  auto c = message_consumer::open(args.at(0), opts());
  sequence_check seq;
  try {
    for (std::uint64_t i = 0; i < 4 * capacity; ++i)
      if (!seq.take(c.receive_typed<std::uint64_t>())) return bad_value;
    return too_many;
  } catch (const error& e) {
    if (e.code() != errc::truncated) return no_truncated;
  }
  const int r = check_end([&] { (void)c.status(); }, [&] { return c.try_receive().has_value(); },
                          [&] { (void)c.receive(); });
  c.detach();
  return r;
}

// args: name. As typed_sleeping_producer, on a message ring (send_typed).
SHMRING_CHILD(message_sleeping_producer) {
  auto p = message_producer::open(args.at(0), opts());
  try {
    for (std::uint64_t i = 1; i < 4 * message_capacity; ++i) p.send_typed(i);
    return too_many;
  } catch (const error& e) {
    if (e.code() != errc::truncated) return no_truncated;
  }
  const std::uint64_t zero = 0;
  const int r = check_end([&] { (void)p.status(); }, [&] { return p.try_send(bytes_of(zero)); },
                          [&] { p.send_typed(zero); });
  p.detach();
  return r;
}

// args: name kind(typed|message). try_push / try_send 1, 2, ... as fast as it can; whenever the ring is full, asks
// status(): errc::truncated ends the loop (any other error fails).
SHMRING_CHILD(busy_producer) {
  const bool typed = args.at(1) == "typed";
  auto run = [&](auto& p, auto&& try_one, auto&& wait_one) {
    for (std::uint64_t i = 1;;) {
      if (try_one(i)) {
        ++i;
        continue;
      }
      const errc e = code_of([&] { (void)p.status(); });
      if (e == errc::truncated) break;
      if (e != errc::ok) return bad_status;
    }
    const int r = check_end([&] { (void)p.status(); }, [&] { return try_one(0); }, wait_one);
    p.detach();
    return r;
  };
  if (typed) {
    auto p = producer<std::uint64_t>::open(args.at(0), opts());
    return run(p, [&](std::uint64_t v) { return p.try_push(v); }, [&] { p.push(0); });
  }
  auto p = message_producer::open(args.at(0), opts());
  return run(p, [&](const std::uint64_t& v) { return p.try_send(bytes_of(v)); }, [&] { p.send_typed(std::uint64_t{0}); });
}

// args: name kind zero|half. try_pop / try_receive as fast as it can, checking every value; whenever the ring is empty, asks
// status(): errc::truncated ends the loop.
SHMRING_CHILD(busy_consumer) {
  const bool typed = args.at(1) == "typed";
  sequence_check seq;
  seq.allow_zeros = !typed || args.at(2) != "zero";
  auto run = [&](auto& c, auto&& try_one, auto&& wait_one) {
    for (;;) {
      std::uint64_t v = 0;
      if (try_one(v)) {
        if (!seq.take(v)) return bad_value;
        continue;
      }
      const errc e = code_of([&] { (void)c.status(); });
      if (e == errc::truncated) break;
      if (e != errc::ok) return bad_status;
    }
    std::uint64_t dummy = 0;
    const int r = check_end([&] { (void)c.status(); }, [&] { return try_one(dummy); }, wait_one);
    c.detach();
    return r;
  };
  if (typed) {
    auto c = consumer<std::uint64_t>::open(args.at(0), opts());
    return run(c, [&](std::uint64_t& v) { return c.try_pop(v); }, [&] { (void)c.pop(); });
  }
  auto c = message_consumer::open(args.at(0), opts());
  return run(
      c,
      [&](std::uint64_t& v) {
        const auto i = c.try_receive(std::span<std::byte>(reinterpret_cast<std::byte*>(&v), sizeof v));
        return i.has_value() && i->length == sizeof v;
      },
      [&] { (void)c.receive(); });
}

// ------------------------------------------------------------------------------------------------ tests

TEST_CASE("a consumer asleep in pop() and a producer in a try_push loop both end with truncated",
          "[hardening][truncation][ipc]") {
  const bool to_zero = GENERATE(true, false);
  const bool typed = GENERATE(true, false);
  CAPTURE(to_zero, typed);
  segment_guard g("trunc-sleep-cons");
  auto run = [&](auto& p, auto&& try_one, auto&& status, auto&& wait_one, const char* child) {
    child_process c(child, {g.name(), to_zero ? "zero" : "half"});
    for (std::uint64_t i = 1; i <= 10; ++i) REQUIRE(try_one(i));
    // The consumer took all ten and sleeps on the futex: its sleeps counter moved (never a sleep as a wait).
    await([&] {
      const ring_status s = status();
      return s.consumer.messages == 10 && s.consumer.sleeps > 0;
    });
    truncate_segment(g.name(), to_zero);
    // Between two iterations of the loop: every call now lands on lost pages (or, at half, on the survivors until
    // one does not); within one lap of the ring the try_ calls fail, and keep failing.
    std::uint64_t pushed_after = 0;
    for (std::uint64_t i = 11; try_one(i); ++i) REQUIRE(++pushed_after <= 2 * capacity);
    if (typed && to_zero) CHECK(pushed_after == 0);  // the push that faulted reports it: nothing "pushed" is lost
    CHECK(code_of([&] { (void)status(); }) == errc::truncated);
    CHECK_FALSE(try_one(0));
    CHECK(code_of(wait_one) == errc::truncated);
    p.detach();
    CHECK(c.wait() == 0);  // 0: every check of the child passed; 128 + SIGBUS would be the old death
  };
  if (typed) {
    auto p = producer<std::uint64_t>::create(g.name(), capacity, opts());
    run(p, [&](std::uint64_t v) { return p.try_push(v); }, [&] { return p.status(); }, [&] { p.push(0); },
        "typed_sleeping_consumer");
  } else {
    auto p = message_producer::create(g.name(), message_capacity, opts());
    run(p, [&](const std::uint64_t& v) { return p.try_send(bytes_of(v)); }, [&] { return p.status(); },
        [&] { p.send_typed(std::uint64_t{0}); }, "message_sleeping_consumer");
  }
}

TEST_CASE("a producer asleep in push() and a consumer in a try_pop loop both end with truncated",
          "[hardening][truncation][ipc]") {
  const bool to_zero = GENERATE(true, false);
  const bool typed = GENERATE(true, false);
  CAPTURE(to_zero, typed);
  segment_guard g("trunc-sleep-prod");
  sequence_check seq;
  seq.allow_zeros = !(typed && to_zero);
  auto run = [&](auto& c, auto&& try_one, auto&& status, auto&& wait_one, const char* child) {
    child_process p(child, {g.name()});
    // The producer filled the ring and sleeps waiting for room.
    await([&] { return status().producer.sleeps > 0; });
    truncate_segment(g.name(), to_zero);
    std::uint64_t got = 0;
    for (std::uint64_t v = 0; try_one(v);) {
      INFO("value " << v << " expected " << seq.next);
      REQUIRE(seq.take(v));  // the values sent, in order (at half: the surviving pages), or one zero at the end
      REQUIRE(++got <= 8 * capacity);
    }
    CHECK(code_of([&] { (void)status(); }) == errc::truncated);
    std::uint64_t dummy = 0;
    CHECK_FALSE(try_one(dummy));
    CHECK(code_of(wait_one) == errc::truncated);
    c.detach();
    CHECK(p.wait() == 0);
  };
  if (typed) {
    auto c = consumer<std::uint64_t>::create(g.name(), capacity, opts());
    run(c, [&](std::uint64_t& v) { return c.try_pop(v); }, [&] { return c.status(); }, [&] { (void)c.pop(); },
        "typed_sleeping_producer");
  } else {
    auto c = message_consumer::create(g.name(), message_capacity, opts());
    run(
        c,
        [&](std::uint64_t& v) {
          const auto i = c.try_receive(std::span<std::byte>(reinterpret_cast<std::byte*>(&v), sizeof v));
          return i.has_value() && i->length == sizeof v;
        },
        [&] { return c.status(); }, [&] { (void)c.receive(); }, "message_sleeping_producer");
  }
}

TEST_CASE("a producer and a consumer in try_ loops in two processes both end with truncated",
          "[hardening][truncation][ipc]") {
  const bool to_zero = GENERATE(true, false);
  const std::string kind = GENERATE("typed", "message");
  CAPTURE(to_zero, kind);
  segment_guard g("trunc-busy");
  {
    // Created here and detached at once, so that both children open it; persistent, so that the detach does not
    // remove the empty ring before they do (segment_guard removes it at the end, pass or fail).
    options o = opts();
    o.persistent = true;
    if (kind == "typed")
      (void)consumer<std::uint64_t>::create(g.name(), capacity, o);
    else
      (void)message_consumer::create(g.name(), message_capacity, o);
  }
  child_process cons("busy_consumer", {g.name(), kind, to_zero ? "zero" : "half"});
  child_process prod("busy_producer", {g.name(), kind});
  // Both run: wait until many values went through (read-only status, which is safe itself after a truncation).
  await([&] { return shmring::status(g.name()).consumer.messages > 20000 || !cons.running() || !prod.running(); });
  truncate_segment(g.name(), to_zero);
  CHECK(prod.wait() == 0);
  CHECK(cons.wait() == 0);
}

// ------------------------------------------------------------------------------------------------ other SIGBUS

namespace {
std::atomic<void*> own_fault{nullptr};

// The program's own handler: records the address and makes the access complete (a private page over it).
void own_handler(int, siginfo_t* info, void*) {
  own_fault.store(info->si_addr, std::memory_order_relaxed);
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  void* at = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(info->si_addr) & ~(page - 1));
  (void)::mmap(at, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

/// A mapping of a file of our own, truncated under it: touching it raises a real SIGBUS (BUS_ADRERR) outside every
/// shmring mapping.
volatile char* own_truncated_mapping() {
  const int fd = ::memfd_create("not-shmring", MFD_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, 2 * 4096) != 0) return nullptr;
  void* p = ::mmap(nullptr, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED || ::ftruncate(fd, 0) != 0) return nullptr;
  return static_cast<volatile char*>(p);
}
}  // namespace

// args: name. Installs its own SIGBUS handler, then attaches (shmring's handler is installed after it and chains to
// it). A fault on its own truncated file reaches its handler; a truncation of the ring does not (shmring's).
SHMRING_CHILD(own_sigbus_handler) {
  struct sigaction act{};
  act.sa_sigaction = &own_handler;
  act.sa_flags = SA_SIGINFO;
  sigemptyset(&act.sa_mask);
  if (::sigaction(SIGBUS, &act, nullptr) != 0) return 10;
  auto p = producer<std::uint64_t>::create(args.at(0), capacity, opts());
  volatile char* mine = own_truncated_mapping();
  if (mine == nullptr) return 11;
  mine[4096] = 1;  // SIGBUS: not shmring's mapping, so our handler runs and repairs it
  if (own_fault.load() != static_cast<void*>(const_cast<char*>(mine + 4096))) return 12;
  own_fault.store(nullptr);
  const int fd = ::open(path_of(args.at(0)).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, 0) != 0) return 13;
  ::close(fd);
  for (std::uint64_t i = 0; i < 2 * capacity && p.try_push(i); ++i) {
  }
  if (own_fault.load() != nullptr) return 14;  // shmring's fault must not reach the program's handler
  if (code_of([&] { (void)p.status(); }) != errc::truncated) return 15;
  p.detach();
  return 0;
}

// args: name. Attaches (installing shmring's handler), then touches its own truncated file without a handler of
// its own: the SIGBUS must kill it as it would without shmring.
SHMRING_CHILD(no_sigbus_handler) {
  auto p = producer<std::uint64_t>::create(args.at(0), capacity, opts());
  volatile char* mine = own_truncated_mapping();
  if (mine == nullptr) return 11;
  mine[4096] = 1;
  return 0;  // survived: wrong
}

TEST_CASE("a SIGBUS outside shmring's mappings reaches the program's own handler", "[hardening][truncation]") {
  segment_guard g("trunc-own-handler");
  child_process c("own_sigbus_handler", {g.name()});
  CHECK(c.wait() == 0);
}

TEST_CASE("a SIGBUS outside shmring's mappings still kills a program without a handler", "[hardening][truncation]") {
  segment_guard g("trunc-no-handler");
  child_process c("no_sigbus_handler", {g.name()});
  const int code = c.wait();
  INFO("exit code " << code);
#if SHMRING_TEST_SANITIZED
  // Under a sanitizer the handler before ours is the sanitizer's (ASan's handle_sigbus=1, TSan's): it reports the
  // fault and ends the process its own way: ASan aborts (abort_on_error=1: 128 + SIGABRT) or exits 1, TSan exits
  // 66. Either way the process does not survive the fault (0) nor fail to make it (11).
  CHECK((code == 128 + SIGBUS || code == 128 + SIGABRT || code == 1 || code == 66));
#else
  CHECK(code == 128 + SIGBUS);
#endif
}
