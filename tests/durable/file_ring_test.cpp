// File-backed rings in one process (issue 18): a name that is a path puts the ring in that regular file, with the
// checks of a /dev/shm segment (names, permissions, symlinks, owner, missing directory); the ring and both indices
// survive every endpoint going away (a reboot simulated by unmapping everything and reopening from the file),
// attach slots left "attached" by dead processes count as died, the file stays until shmring::remove, which
// removes only ring files. CRC-32C equals Boost's; a corrupt record is cut off at reopen and counted. A replay of a
// file ring after a reboot reads from the tail and the oldest record held, and stops at a record whose checksum fails.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "file_guard.hpp"
#include "line_reader.hpp"
#include "process.hpp"

#include <shmring/ring/crc32c.hpp>
#include <shmring/shmring.hpp>
#include <shmring/stale.hpp>

#include <boost/crc.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace shmring;
using shmring_test::code_of;
using shmring_test::temp_dir;

namespace {

std::vector<std::byte> payload_of(std::uint64_t i) {
  std::vector<std::byte> p(8 + shmring_test::mix(i) % 600);
  std::uint64_t x = shmring_test::mix(i + 1);
  for (std::size_t k = 0; k < p.size(); ++k) {
    if (k % 8 == 0) x = shmring_test::mix(x);
    p[k] = static_cast<std::byte>(x >> (8 * (k % 8)));
  }
  std::memcpy(p.data(), &i, 8);
  return p;
}

std::uint64_t index_of(std::span<const std::byte> p) {
  std::uint64_t i = ~std::uint64_t{0};
  if (p.size() >= 8) std::memcpy(&i, p.data(), 8);
  return i;
}

bool exists(const std::string& p) {
  struct stat st{};
  return ::lstat(p.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("a path names a file-backed ring, and bad paths are invalid names", "[durable][names]") {
  CHECK(is_file_path("/tmp/x"));
  CHECK_FALSE(is_file_path("x"));
  CHECK_NOTHROW(validate_name("/tmp/a.ring"));
  CHECK_NOTHROW(validate_name("/a"));
  for (const char* bad : {"/", "/tmp/", "/tmp//a", "/tmp/./a", "/tmp/../a", "/tmp/a/..", "/tmp/\x01"}) {
    INFO(bad);
    CHECK(code_of([&] { validate_name(bad); }) == errc::invalid_name);
  }
  CHECK(code_of([&] { validate_name("/" + std::string(4096, 'a')); }) == errc::invalid_name);
  CHECK(code_of([&] { validate_name("a/b"); }) == errc::invalid_name);  // /dev/shm names still may not hold '/'
}

TEST_CASE("a file ring is created 0600 in an existing directory and refuses what a segment refuses", "[durable][segment]") {
  temp_dir d;
  const std::string path = d.ring("perm");
  ::umask(0);  // the mode must be 0600 whatever the umask
  { auto p = message_producer::create(path, 4096); }
  ::umask(022);
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(S_ISREG(st.st_mode));
  CHECK(code_of([&] { (void)message_producer::create(path, 4096); }) == errc::already_exists);
  // The directory must exist: shmring creates no directory.
  CHECK(code_of([&] { (void)message_producer::create(d.path() + "/missing/x.ring", 4096); }) == errc::not_found);
  CHECK(code_of([&] { (void)message_consumer::open(d.path() + "/nothing.ring"); }) == errc::not_found);
  // A symbolic link is never followed.
  const std::string link = d.path() + "/link.ring";
  REQUIRE(::symlink(path.c_str(), link.c_str()) == 0);
  CHECK(code_of([&] { (void)message_consumer::open(link); }) == errc::permission_denied);
  // Writable by group: refused (someone else could have written it).
  REQUIRE(::chmod(path.c_str(), 0620) == 0);
  CHECK(code_of([&] { (void)message_consumer::open(path); }) == errc::permission_denied);
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  // A directory, a FIFO under a ring's name: not a segment, left alone.
  const std::string fifo = d.path() + "/fifo.ring";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(code_of([&] { (void)message_consumer::open(fifo); }) == errc::not_a_segment);
  CHECK(code_of([&] { (void)shmring::remove(fifo); }) == errc::not_a_segment);
  CHECK(exists(fifo));
  CHECK(shmring::remove(path));
  CHECK_FALSE(exists(path));
}

TEST_CASE("shmring::remove removes ring files only, and the stale sweep never judges them", "[durable][lifetime]") {
  temp_dir d;
  const std::string other = d.path() + "/notes.txt";
  { std::ofstream(other) << "not a ring, keep me"; }
  CHECK(code_of([&] { (void)shmring::remove(other); }) == errc::not_a_segment);
  CHECK(exists(other));
  const std::string path = d.ring("sweep");
  { auto c = consumer<std::uint64_t>::create(path, 64); }
  CHECK(exists(path));  // both sides gone, ring empty: a /dev/shm ring would be gone; a file ring is persistent
  CHECK_FALSE(is_stale(path));
  CHECK_FALSE(remove_stale(path));
  CHECK(exists(path));
  CHECK(shmring::remove(path));
  CHECK_FALSE(shmring::remove(path));
}

TEST_CASE("a typed file ring survives every endpoint going away, and the consumer continues at its tail", "[durable][reboot]") {
  temp_dir d;
  const std::string path = d.ring("typed");
  {
    auto p = producer<std::uint64_t>::create(path, 256);
    for (std::uint64_t i = 0; i < 200; ++i) REQUIRE(p.try_push(shmring_test::mix(i)));
    auto c = consumer<std::uint64_t>::open(path);
    for (std::uint64_t i = 0; i < 70; ++i) REQUIRE(c.try_pop() == shmring_test::mix(i));
  }  // "reboot": every mapping and descriptor gone
  std::uint64_t next = 70;
  for (int reboot = 0; reboot < 3; ++reboot) {
    auto c = consumer<std::uint64_t>::open(path);
    auto p = producer<std::uint64_t>::open(path);
    for (std::uint64_t i = 200 + 20 * static_cast<std::uint64_t>(reboot); i < 220 + 20 * static_cast<std::uint64_t>(reboot); ++i)
      REQUIRE(p.try_push(shmring_test::mix(i)));
    for (int k = 0; k < 40; ++k) {
      const auto v = c.try_pop();
      REQUIRE(v.has_value());
      REQUIRE(*v == shmring_test::mix(next));
      ++next;
    }
  }
  auto c = consumer<std::uint64_t>::open(path);
  std::uint64_t left = 0;
  while (const auto v = c.try_pop()) {
    REQUIRE(*v == shmring_test::mix(next));
    ++next;
    ++left;
  }
  CHECK(next == 260);
  CHECK(left == 260 - 70 - 120);
}

TEST_CASE("a message file ring survives every endpoint going away, records whole, in sequence", "[durable][reboot]") {
  temp_dir d;
  const std::string path = d.ring("message");
  constexpr std::uint64_t total = 300;
  std::uint64_t sent = 0, received = 0;
  { auto creator = message_consumer::create(path, 1 << 15); }
  std::mt19937_64 rng(18);
  while (received < total) {
    {  // one "boot": both sides attach, some traffic, then everything is unmapped
      auto p = message_producer::open(path);
      auto c = message_consumer::open(path);
      CHECK(p.recovered_bytes() == 0);
      CHECK(c.recovered_bytes() == 0);
      const std::uint64_t burst = std::min<std::uint64_t>(total - sent, 1 + rng() % 40);
      for (std::uint64_t k = 0; k < burst; ++k) {
        if (!p.try_send(payload_of(sent))) break;
        ++sent;
      }
      const std::uint64_t take = 1 + rng() % 40;
      for (std::uint64_t k = 0; k < take; ++k) {
        const auto m = c.try_receive();
        if (!m) break;
        REQUIRE(index_of(m->payload) == received);
        REQUIRE(shmring_test::crc32(m->payload) == shmring_test::crc32(payload_of(received)));
        ++received;
      }
      if (rng() % 4 == 0) {
        p.sync();
        c.sync();
      }
    }
    REQUIRE(std::filesystem::exists(path));
  }
  CHECK(sent == total);
  CHECK(shmring::remove(path));
}

TEST_CASE("attach slots that say attached for processes that died count as died: attaching is allowed",
          "[durable][reboot][ipc]") {
  temp_dir d;
  const std::string path = d.ring("slots");
  { auto creator = message_consumer::create(path, 4096); }
  {
    // Both sides attached by a child that is then SIGKILLed: its slots keep saying "attached", its locks are gone,
    // exactly as a reboot leaves them.
    shmring_test::child_process child("attach_both", {path}, true);
    REQUIRE(shmring_test::read_line(child.output_fd()) == "attached");
    child.kill_now();
  }
  auto c = message_consumer::open(path);
  CHECK(c.producer_state() == peer_state::dead);
  auto p = message_producer::open(path);
  p.send_string("after the reboot");
  // The child sent "before" and it is still there, whole; the new producer's first message is a resync.
  CHECK(c.receive_string() == "before");
  CHECK(c.receive_string() == "after the reboot");
}

SHMRING_CHILD(attach_both) {
  auto p = message_producer::open(args.at(0));
  auto c = message_consumer::open(args.at(0));
  p.send_string("before");
  std::printf("attached\n");
  std::fflush(stdout);
  for (;;) ::pause();
}

TEST_CASE("CRC-32C equals Boost's crc_optimal<32, 0x1EDC6F41, ...>, by instruction and by table", "[durable][crc]") {
  std::mt19937_64 rng(7);
  std::vector<std::byte> buf(5000);
  for (auto& b : buf) b = static_cast<std::byte>(rng());
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 31u, 32u, 33u, 100u, 4095u, 5000u}) {
    for (std::size_t start : {0u, 1u, 3u}) {
      if (start + n > buf.size()) continue;
      boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> ref;
      ref.process_bytes(buf.data() + start, n);
      INFO("n " << n << " start " << start);
      CHECK(crc32c::of(buf.data() + start, n) == ref.checksum());
      CHECK(crc32c::of_by_table(buf.data() + start, n) == ref.checksum());
    }
  }
  CHECK(crc32c::of("123456789", 9) == 0xE3069283u);  // the check value of CRC-32C
}

TEST_CASE("a record changed in the file is cut off at the next attach, counted, never delivered", "[durable][recovery]") {
  temp_dir d;
  const std::string path = d.ring("corrupt");
  std::uint64_t record_at = 0;
  {
    auto p = message_producer::create(path, 1 << 14);
    for (std::uint64_t i = 0; i < 10; ++i) {
      if (i == 6) record_at = p.head_index();
      p.send(payload_of(i));
    }
  }
  {  // flip one payload byte of message 6 in the file: storage that lost or garbled a page
    const int fd = ::open(path.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    const off_t at = static_cast<off_t>(layout::data_offset_for(8) + record_at + record::header_size + 20);
    unsigned char b = 0;
    REQUIRE(::pread(fd, &b, 1, at) == 1);
    b ^= 0x40;
    REQUIRE(::pwrite(fd, &b, 1, at) == 1);
    ::close(fd);
  }
  auto c = message_consumer::open(path);
  CHECK(c.recovered_bytes() > 0);
  for (std::uint64_t i = 0; i < 6; ++i) {
    const auto m = c.try_receive();
    REQUIRE(m.has_value());
    CHECK(index_of(m->payload) == i);
  }
  CHECK_FALSE(c.try_receive().has_value());
  CHECK_FALSE(c.corrupted());
  // A producer resumes: its first message says resync; sequences never repeat.
  auto p = message_producer::open(path);
  CHECK(p.recovered_bytes() == 0);  // the consumer recovered it already
  p.send(payload_of(100));
  const auto m = c.receive();
  CHECK(index_of(m.payload) == 100);
  CHECK(m.sequence >= 10);
  CHECK(shmring::remove(path));
}

TEST_CASE("durability policies are accepted and do nothing on a /dev/shm ring", "[durable][policy]") {
  const std::string name = "test-durable-shm-" + std::to_string(::getpid());
  (void)shmring::remove(name);
  for (const sync_policy pol : {sync_policy::none, sync_policy::batch, sync_policy::commit}) {
    options o;
    o.durability = pol;
    auto p = message_producer::create(name, 4096, o);
    auto c = message_consumer::open(name);
    p.send_string("x");
    p.sync();
    c.sync();
    CHECK(c.receive_string() == "x");
    CHECK(p.sync_error() == 0);
  }
  (void)shmring::remove(name);
}

TEST_CASE("shmring::status reads a file ring by its path, and an event descriptor wakes across it", "[durable][events]") {
  temp_dir d;
  const std::string path = d.ring("status");
  auto c = message_consumer::create(path, 4096);
  auto p = message_producer::open(path);
  p.send_string("one");
  const ring_status s = shmring::status(path);
  CHECK(s.name == path);
  CHECK(s.persistent);
  CHECK(s.head - s.tail == record::size_of(3, record::trailer_size));
  REQUIRE(c.receive_string() == "one");
  // The consumer's descriptor (its wake address hashes the file's device and inode): readable once a message
  // arrives after arm().
  const int fd = c.native_handle();
  bool armed = false;
  for (int i = 0; i < 100 && !armed; ++i) {  // the protocol: drain, arm, and drain again when arm() says so
    REQUIRE_FALSE(c.try_receive().has_value());
    armed = c.arm();
  }
  REQUIRE(armed);
  std::thread sender([&] { p.send_string("two"); });
  pollfd pfd{fd, POLLIN, 0};
  REQUIRE(::poll(&pfd, 1, -1) == 1);  // a hang is the CTest timeout's to catch; no duration asserted
  sender.join();
  CHECK(c.receive_string() == "two");
}

TEST_CASE("recovery never leaves a padding record last: a torn record after the wrap is cut with its padding",
          "[durable][recovery]") {
  temp_dir d;
  const std::string path = d.ring("padding");
  constexpr std::uint64_t cap = 4096;
  std::uint64_t wrapped_at = 0;
  {
    auto p = message_producer::create(path, cap);
    auto c = message_consumer::open(path);
    // Fill most of the area, free it, then send a message that does not fit before the end: padding, then the
    // record at offset 0.
    for (std::uint64_t i = 0; i < 6; ++i) p.send(payload_of(i));
    for (std::uint64_t i = 0; i < 6; ++i) REQUIRE(index_of(c.receive().payload) == i);
    const std::vector<std::byte> big(1500, std::byte{7});
    while ((p.head_index() & (cap - 1)) + record::size_of(big.size(), record::trailer_size) <= cap) {
      p.send(big);
      REQUIRE(c.try_receive().has_value());
    }
    wrapped_at = p.head_index();
    p.send(big);  // padding to the end, then this record at offset 0
    REQUIRE(p.head_index() - wrapped_at > record::size_of(big.size(), record::trailer_size));
  }
  {  // tear the record at offset 0 (its payload)
    const int fd = ::open(path.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    const off_t at = static_cast<off_t>(layout::data_offset_for(8) + record::header_size + 100);
    const unsigned char z[8] = {};
    REQUIRE(::pwrite(fd, z, sizeof z, at) == 8);
    ::close(fd);
  }
  auto c = message_consumer::open(path);
  CHECK(c.recovered_bytes() == record::size_of(1500, record::trailer_size) + (cap - (wrapped_at & (cap - 1))));
  CHECK_FALSE(c.try_receive().has_value());
  CHECK_FALSE(c.corrupted());
  auto p = message_producer::open(path);
  p.send(payload_of(7));
  CHECK(index_of(c.receive().payload) == 7);
}

TEST_CASE("a file ring is replayed read-only after a reboot: from the tail, from the oldest, checksums verified", "[durable][replay]") {
  temp_dir d;
  const std::string path = d.ring("replay");
  constexpr std::uint64_t cap = 1 << 14;
  auto payload = [](std::uint64_t s) {
    std::vector<std::byte> b(8 + shmring_test::mix(s) % 120);
    for (std::size_t k = 0; k < b.size(); ++k) b[k] = static_cast<std::byte>(shmring_test::mix(s * 131 + k));
    return b;
  };
  std::uint64_t sent = 0, received = 0;
  {
    auto c = message_consumer::create(path, cap);
    auto p = message_producer::open(path);
    // Wrap the ring several times so that consumed records older than the tail are still held.
    for (int round = 0; round < 60; ++round) {
      for (int k = 0; k < 7; ++k) REQUIRE(p.try_send(payload(sent++)));
      for (int k = 0; k < 6; ++k) {
        const auto m = c.try_receive();
        REQUIRE(m);
        REQUIRE(m->sequence == received++);
      }
    }
  }  // "reboot": every mapping and descriptor gone; the file keeps the ring and both indices
  const auto bytes_before = [&] {
    std::ifstream f(path, std::ios::binary);
    return std::vector<char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  const auto before = bytes_before();
  // No producer runs while this replays (every process is gone): no bytes past the head are being written, so the
  // reader may trust everything older than the head down to head - capacity + this window (replay_options).
  replay_options quiet;
  quiet.write_window = 1024;
  auto r = message_replay::open(path, quiet);
  auto read_all = [&](std::uint64_t& first) {
    std::uint64_t n = 0;
    replay_message m;
    message_replay::status s;
    while ((s = r.next(m)) == message_replay::status::ready) {
      if (n == 0) first = m.info.sequence;
      REQUIRE(m.info.sequence == first + n);
      REQUIRE(shmring_test::crc32(m.payload) == shmring_test::crc32(payload(m.info.sequence)));
      ++n;
    }
    CHECK(s == message_replay::status::end);
    return n;
  };
  std::uint64_t first = 0;
  CHECK(read_all(first) == sent - received);  // from the tail: what the consumer will receive next
  CHECK(first == received);
  r.seek_oldest();
  const std::uint64_t held = read_all(first);
  CHECK(first < received);  // consumed records still intact before the tail
  CHECK(first + held == sent);
  CHECK(bytes_before() == before);  // a replay writes nothing

  // A flipped payload byte of the first unreceived message: its checksum no longer matches, so the replay stops
  // there (corrupted), never delivering it.
  {
    auto scan = message_replay::open(path);
    const std::uint64_t at = scan.tail();
    const std::uint64_t off = 576 + (at & (cap - 1)) + record::header_size + 3;  // data area at 576 (L = 64)
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(static_cast<std::streamoff>(off));
    char ch = 0;
    f.read(&ch, 1);
    ch = static_cast<char>(ch ^ 0x10);
    f.seekp(static_cast<std::streamoff>(off));
    f.write(&ch, 1);
  }
  auto r2 = message_replay::open(path);
  replay_message m;
  CHECK(r2.next(m) == message_replay::status::corrupted);
  CHECK(shmring::remove(path));
}
