// Space and limits (issue 12): the system refusing memory is an error with a name, never a signal.
//   - In a private mount namespace (`unshare -m`) whose /dev/shm is a fresh 16 MiB tmpfs: a 64 MiB typed ring, a
//     64 MiB message ring and a 64 MiB open_or_create fail with errc::no_space naming the bytes wanted and free,
//     and leave nothing in /dev/shm (no file, no space used); a full /dev/shm makes even a tiny create fail with
//     no_space (it used to die of SIGBUS writing the header); an 8 MiB ring created first keeps its memory when
//     another file then takes the rest of the tmpfs, and cycles 64 MiB one element at a time with every value
//     checked (it used to die of SIGBUS once the pages it touched for the first time found the tmpfs full).
//   - A process whose RLIMIT_FSIZE is 1 MiB gets no_space naming the limit for a 4 MiB ring (it used to die of
//     SIGXFSZ inside create() and leave the half-made object behind).
//   - A ring of 2^40 one-byte or eight-byte elements (1 and 8 TiB) is refused with no_space on any machine that
//     has less memory than that, and nothing is left behind (it used to be created, sparse).
// The namespace cases need root (mount); without it they say SKIPPED and pass.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "reports.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::key_values;
using shmring_test::code_of;
using shmring_test::command_process;
using shmring_test::mix;
using shmring_test::say;
using shmring_test::segment_exists;
using shmring_test::segment_guard;

namespace {
constexpr std::uint64_t MiB = std::uint64_t{1} << 20;
constexpr int skip_code = 77;

std::uint64_t shm_free() {
  struct statvfs v{};
  if (::statvfs("/dev/shm", &v) != 0) return 0;
  return static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
}

// The shmring-* files in /dev/shm.
int shmring_files() {
  int n = 0;
  if (DIR* d = ::opendir("/dev/shm")) {
    while (const dirent* e = ::readdir(d))
      if (std::strncmp(e->d_name, "shmring-", 8) == 0) ++n;
    ::closedir(d);
  }
  return n;
}

std::string mount_namespace() {
  char buf[128];
  const ssize_t n = ::readlink("/proc/self/ns/mnt", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("?");
}

// Writes a file in /dev/shm until the tmpfs is full (write() reports ENOSPC; nothing is mapped, so no SIGBUS).
void fill_shm() {
  const int fd = ::open("/dev/shm/filler", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create /dev/shm/filler");
  static char block[64 * 1024];
  for (;;) {
    const ssize_t n = ::write(fd, block, sizeof block);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(fd);
}


// Reports the outcome of a create: its error code and message, and what it left in /dev/shm.
template <class F>
void report_create(F&& f) {
  const std::uint64_t before = shm_free();
  std::string what;
  errc code = errc::ok;
  try {
    f();
  } catch (const error& e) {
    code = e.code();
    what = e.what();
  }
  say("free=" + std::to_string(before));
  say("code=" + std::string(to_string(code)));
  say("what=" + what);
  say("left=" + std::to_string(shmring_files()));
  say("free_after=" + std::to_string(shm_free()));
}
}  // namespace

// Runs inside `unshare -m`. args: case, the parent's mount namespace. Refuses (exit 77) to mount anything unless
// it really is in a namespace of its own, so the machine's /dev/shm is never covered; then mounts a 16 MiB tmpfs
// on /dev/shm and runs the case, reporting "key=value" lines.
SHMRING_CHILD(in_small_shm) {
  const std::string& what = args.at(0);
  if (mount_namespace() == args.at(1)) {
    say("skip=unshare -m did not give this process a mount namespace of its own");
    return skip_code;
  }
  // Private, recursively: nothing mounted here propagates back to the parent's namespace.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("none", "/dev/shm", "tmpfs", 0, "size=16m") != 0) {
    say(std::string("skip=mounting a tmpfs on /dev/shm is not permitted here: ") + std::strerror(errno));
    return skip_code;
  }
  const std::string name = "space-test";
  if (what == "typed64") {
    report_create([&] { (void)producer<std::uint64_t>::create(name, 64 * MiB / 8); });
  } else if (what == "message64") {
    report_create([&] { (void)message_producer::create(name, 64 * MiB); });
  } else if (what == "open_or_create64") {
    report_create([&] { (void)consumer<std::uint64_t>::open_or_create(name, 64 * MiB / 8); });
  } else if (what == "full") {
    fill_shm();
    report_create([&] { (void)producer<std::uint64_t>::create(name, 64); });
  } else if (what == "cycle") {
    // 8 MiB of ring, then another file takes every byte left: the ring's pages must already be its own.
    constexpr std::uint64_t capacity = 8 * MiB / ring<std::uint64_t>::slot_stride;  // layout 4: 16-byte slots
    auto p = producer<std::uint64_t>::create(name, capacity);
    auto c = consumer<std::uint64_t>::open(name);
    fill_shm();
    say("free_after_fill=" + std::to_string(shm_free()));
    constexpr std::uint64_t total = 64 * MiB / 8;  // 64 MiB of data, eight times round the ring
    std::uint64_t bad = 0;
    for (std::uint64_t i = 0; i < total; ++i) {
      if (!p.try_push(mix(i))) {
        say("push_failed_at=" + std::to_string(i));
        return 1;
      }
      const auto v = c.try_pop();
      if (!v || *v != mix(i)) ++bad;
    }
    say("cycled=" + std::to_string(total));
    say("bad=" + std::to_string(bad));
  } else {
    return 2;
  }
  return 0;
}

// args: name. With a 1 MiB file-size limit, creates a 4 MiB ring and reports the outcome.
SHMRING_CHILD(fsize_limited_create) {
  rlimit rl{};
  ::getrlimit(RLIMIT_FSIZE, &rl);
  rl.rlim_cur = 1 * MiB;
  if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) return 3;
  report_create([&] { (void)producer<std::uint64_t>::create(args.at(0), 4 * MiB / 8); });
  return 0;
}

namespace {
struct outcome {
  int rc = -1;
  std::map<std::string, std::string> kv;
  std::string raw;
};

bool unshare_permitted() {
  try {
    command_process probe({"unshare", "-m", "true"});
    return probe.wait() == 0;
  } catch (const std::exception&) {
    return false;
  }
}

// Runs one case of in_small_shm in a mount namespace of its own. Empty kv and rc skip_code: skipped.
outcome in_small_shm(const std::string& what) {
  command_process p({"unshare", "-m", shmring_test::self_exe(), "--child", "in_small_shm", what, mount_namespace()});
  outcome o;
  o.raw = p.read_output();
  o.rc = p.wait();
  o.kv = key_values(o.raw);
  return o;
}

// True (with a message in the report) when the private-tmpfs cases cannot run here.
bool skipped(const outcome& o) {
  if (o.rc != skip_code) return false;
  const std::string why = o.kv.count("skip") != 0 ? o.kv.at("skip") : o.raw;
  WARN("SKIPPED: " << why);
  return true;
}

void check_no_space(const outcome& o, std::uint64_t wanted) {
  INFO("child output:\n" << o.raw);
  REQUIRE(o.rc == 0);  // 128 + 7 (SIGBUS) before the fix
  CHECK(o.kv.at("code") == "no_space");
  const std::string& what = o.kv.at("what");
  CHECK(what.find(std::to_string(wanted) + " bytes") != std::string::npos);  // the bytes wanted...
  CHECK(what.find(o.kv.at("free") + " bytes free") != std::string::npos);    // ...and the bytes free
  CHECK(o.kv.at("left") == "0");                        // no half-made object
  CHECK(o.kv.at("free_after") == o.kv.at("free"));      // and no space kept
}
}  // namespace

TEST_CASE("a ring larger than a small /dev/shm fails to create with no_space and leaves nothing",
          "[hardening][space]") {
  if (!unshare_permitted()) {
    WARN("SKIPPED: `unshare -m` is not permitted here (needs root or CAP_SYS_ADMIN); run the tests as root");
    return;
  }
  const std::uint64_t header = layout::data_offset_for(8);
  const std::uint64_t stride = ring<std::uint64_t>::slot_stride;  // layout 4: 64 Mi / 8 elements in 16-byte slots
  SECTION("typed ring of 64 MiB") {
    const outcome o = in_small_shm("typed64");
    if (skipped(o)) return;
    check_no_space(o, header + 64 * MiB / 8 * stride);
  }
  SECTION("message ring of 64 MiB") {
    const outcome o = in_small_shm("message64");
    if (skipped(o)) return;
    check_no_space(o, header + 64 * MiB);
  }
  SECTION("open_or_create of 64 MiB") {
    const outcome o = in_small_shm("open_or_create64");
    if (skipped(o)) return;
    check_no_space(o, header + 64 * MiB / 8 * stride);
  }
}

TEST_CASE("creating on a full /dev/shm fails with no_space instead of SIGBUS", "[hardening][space]") {
  if (!unshare_permitted()) {
    WARN("SKIPPED: `unshare -m` is not permitted here (needs root or CAP_SYS_ADMIN); run the tests as root");
    return;
  }
  const outcome o = in_small_shm("full");
  if (skipped(o)) return;
  check_no_space(o, layout::data_offset_for(8) + 64 * ring<std::uint64_t>::slot_stride);
}

TEST_CASE("a ring keeps the memory reserved at create when another file fills /dev/shm", "[hardening][space]") {
  if (!unshare_permitted()) {
    WARN("SKIPPED: `unshare -m` is not permitted here (needs root or CAP_SYS_ADMIN); run the tests as root");
    return;
  }
  const outcome o = in_small_shm("cycle");
  if (skipped(o)) return;
  INFO("child output:\n" << o.raw);
  REQUIRE(o.rc == 0);                                  // 128 + 7 (SIGBUS) before the fix
  CHECK(o.kv.at("free_after_fill") == "0");            // the filler really took every byte left
  CHECK(o.kv.at("cycled") == std::to_string(64 * MiB / 8));
  CHECK(o.kv.at("bad") == "0");                        // every value came back as pushed
}

TEST_CASE("a ring larger than RLIMIT_FSIZE fails with no_space, not SIGXFSZ", "[hardening][limits]") {
  segment_guard g("fsize");
  child_process c("fsize_limited_create", {g.name()}, /*capture_stdout=*/true);
  const std::string raw = c.read_output();
  const int rc = c.wait();
  INFO("child output:\n" << raw);
  REQUIRE(rc == 0);  // 128 + 25 (SIGXFSZ) before the fix
  const auto kv = key_values(raw);
  CHECK(kv.at("code") == "no_space");
  CHECK(kv.at("what").find("RLIMIT_FSIZE") != std::string::npos);
  CHECK(kv.at("what").find(std::to_string(1 * MiB) + " bytes") != std::string::npos);  // the limit, named
  CHECK_FALSE(segment_exists(g.name()));
}

TEST_CASE("a ring of 2^40 elements is refused on a machine that cannot hold it", "[hardening][limits]") {
  constexpr std::uint64_t n = std::uint64_t{1} << 40;
  segment_guard g("huge");
  // 1 TiB and 8 TiB: within the layout's 2^46-byte limit, beyond this machine's memory (checked, not assumed).
  const std::uint64_t mem = static_cast<std::uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                            static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  if (mem >= n || shm_free() >= n) {
    WARN("SKIPPED: this machine has 1 TiB of memory or /dev/shm space; the refusal is not reached");
    return;
  }
  CHECK(code_of([&] { (void)producer<std::uint8_t>::create(g.name(), n); }) == errc::no_space);
  CHECK_FALSE(segment_exists(g.name()));
  CHECK(code_of([&] { (void)producer<std::uint64_t>::create(g.name(), n); }) == errc::no_space);
  CHECK_FALSE(segment_exists(g.name()));
  CHECK(code_of([&] { (void)message_consumer::create(g.name(), n); }) == errc::no_space);
  CHECK_FALSE(segment_exists(g.name()));
  CHECK(code_of([&] { (void)producer<std::uint64_t>::open_or_create(g.name(), n); }) == errc::no_space);
  CHECK_FALSE(segment_exists(g.name()));
  // Past the layout's 2^46 bytes the existing argument check answers first.
  struct wide {
    char bytes[128];
  };
  CHECK(code_of([&] { (void)producer<wide>::create(g.name(), n); }) == errc::invalid_argument);
  CHECK_FALSE(segment_exists(g.name()));
}
