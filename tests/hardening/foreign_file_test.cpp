// Files that are not ours (issue 12). Anything in /dev/shm/shmring-NAME that is not a regular file is refused by
// every entry point with errc::not_a_segment, at once, and left exactly where it was:
//   - a FIFO (mode 0666 or 0600, ours or, when the tests run as root, another user's), a directory and a Unix
//     socket: status() returns at once (it used to block forever on the FIFO, in every process that looked:
//     `shmring list` too); open/open_or_create of both kinds say not_a_segment; create says already_exists (the name
//     is taken, as by any squatter) and reclaims nothing; is_stale/remove_stale(name) say not_a_segment; the stale
//     sweep and shmring::remove leave it (create, open_or_create and the sweep used to delete a FIFO of ours
//     whose modification time was old);
//   - a symbolic link is never followed: permission_denied, as documented before, and remove() no longer deletes it.
// Another user's ring (a child that setresuid()s to nobody; needs root, skipped otherwise): open, open_or_create,
// status, remove, is_stale and remove_stale(name) all say permission_denied (remove used to say system_error), and
// the ring is untouched.
#include <catch2/catch.hpp>

#include "errors.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "reports.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>
#include <shmring/stale.hpp>
#include <shmring/status.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::key_values;
using shmring_test::code_of;
using shmring_test::say;
using shmring_test::segment_exists;
using shmring_test::segment_guard;
using shmring_test::shm_path;

namespace {
constexpr uid_t nobody = 65534;

options quick() {
  options o;
  o.open_timeout = std::chrono::milliseconds(100);
  return o;
}

bool drop_to_nobody() {
  return ::setresgid(nobody, nobody, nobody) == 0 && ::setresuid(nobody, nobody, nobody) == 0 && ::geteuid() == nobody;
}

// Something that is not a segment, planted at /dev/shm/shmring-<name>; removed (whatever it is) at scope exit.
class planted {
 public:
  explicit planted(std::string path) : path_(std::move(path)) {}
  planted(const planted&) = delete;
  planted& operator=(const planted&) = delete;
  ~planted() {
    struct stat st{};
    if (::lstat(path_.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode))
      ::rmdir(path_.c_str());
    else
      ::unlink(path_.c_str());
  }

 private:
  std::string path_;
};

struct stat lstat_of(const std::string& path) {
  struct stat st{};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

// Makes the object look an hour old, so a sweep that took it for a creator's abandoned object would remove it.
void age(const std::string& path) {
  timespec t[2]{};
  ::clock_gettime(CLOCK_REALTIME, &t[0]);
  t[0].tv_sec -= 3600;
  t[1] = t[0];
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), t, AT_SYMLINK_NOFOLLOW) == 0);
}

void plant(const std::string& kind, const std::string& path) {
  if (kind == "fifo-0666" || kind == "fifo-0600" || kind == "fifo-nobody") {
    const mode_t mode = kind == "fifo-0600" ? 0600 : 0666;
    REQUIRE(::mkfifo(path.c_str(), mode) == 0);
    REQUIRE(::chmod(path.c_str(), mode) == 0);  // whatever the umask
    if (kind == "fifo-nobody") REQUIRE(::chown(path.c_str(), nobody, nobody) == 0);
  } else if (kind == "directory") {
    REQUIRE(::mkdir(path.c_str(), 0700) == 0);
  } else if (kind == "socket") {
    const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(s >= 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof a.sun_path);
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    const int rc = ::bind(s, reinterpret_cast<const sockaddr*>(&a), sizeof a);
    ::close(s);  // the socket file stays
    REQUIRE(rc == 0);
  }
  age(path);
}

// The parent's view of a child's "key=value" lines.

std::string code_string(errc e) { return std::string(to_string(e)); }
}  // namespace

// args: name. Calls status(name) and exits 20 + the error code. In a child, so that a status() that blocks
// (as it did on a FIFO) is a failed test, killed by the hang guard, not a hung test run.
SHMRING_CHILD(status_of) {
  return 20 + static_cast<int>(code_of([&] { (void)shmring::status(args.at(0)); }));
}

// args: name. As uid 65534: every entry point on a ring another user (root) created, one "call=code" line each.
SHMRING_CHILD(other_user_calls) {
  if (!drop_to_nobody()) return 2;
  const std::string& n = args.at(0);
  say("consumer_open=" + code_string(code_of([&] { (void)consumer<std::uint64_t>::open(n, quick()); })));
  say("producer_open=" + code_string(code_of([&] { (void)producer<std::uint64_t>::open(n, quick()); })));
  say("message_open=" + code_string(code_of([&] { (void)message_consumer::open(n, quick()); })));
  say("open_or_create=" + code_string(code_of([&] { (void)consumer<std::uint64_t>::open_or_create(n, 64, quick()); })));
  say("status=" + code_string(code_of([&] { (void)shmring::status(n); })));
  say("remove=" + code_string(code_of([&] { (void)shmring::remove(n); })));
  say("is_stale=" + code_string(code_of([&] { (void)shmring::is_stale(n); })));
  say("remove_stale=" + code_string(code_of([&] { (void)shmring::remove_stale(n); })));
  return 0;
}

TEST_CASE("a FIFO, directory or socket in a segment's place is refused at once and left as it is",
          "[hardening][foreign]") {
  const std::string kind = GENERATE(as<std::string>{}, "fifo-0666", "fifo-0600", "fifo-nobody", "directory", "socket");
  CAPTURE(kind);
  if (kind == "fifo-nobody" && ::geteuid() != 0) {
    WARN("SKIPPED: planting another user's FIFO needs root (chown); run the tests as root to cover it");
    return;
  }
  segment_guard g("foreign");
  const std::string path = shm_path(g.name());
  plant(kind, path);
  planted cleanup(path);
  const struct stat before = lstat_of(path);

  // status() returns at once (a child under the hang guard: before, it blocked forever on the FIFO).
  child_process st("status_of", {g.name()});
  CHECK(st.wait(std::chrono::seconds(60)) == 20 + static_cast<int>(errc::not_a_segment));

  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name(), quick()); }) == errc::not_a_segment);
  CHECK(code_of([&] { (void)producer<std::uint64_t>::open(g.name(), quick()); }) == errc::not_a_segment);
  CHECK(code_of([&] { (void)message_consumer::open(g.name(), quick()); }) == errc::not_a_segment);
  // create: the name is taken (as by any squatter), and the object is not reclaimed.
  CHECK(code_of([&] { (void)producer<std::uint64_t>::create(g.name(), 64, quick()); }) == errc::already_exists);
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open_or_create(g.name(), 64, quick()); }) ==
        errc::not_a_segment);
  CHECK(code_of([&] { (void)message_producer::open_or_create(g.name(), 4096, quick()); }) == errc::not_a_segment);
  CHECK(code_of([&] { (void)is_stale(g.name()); }) == errc::not_a_segment);
  CHECK(code_of([&] { (void)remove_stale(g.name()); }) == errc::not_a_segment);
  const std::vector<std::string> swept = remove_stale();
  CHECK(std::find(swept.begin(), swept.end(), g.name()) == swept.end());
  CHECK(code_of([&] { (void)shmring::remove(g.name()); }) == errc::not_a_segment);

  // Still there, the same object, untouched.
  const struct stat after = lstat_of(path);
  CHECK(after.st_ino == before.st_ino);
  CHECK((after.st_mode & S_IFMT) == (before.st_mode & S_IFMT));
  CHECK(after.st_mode == before.st_mode);
  CHECK(after.st_uid == before.st_uid);
}

TEST_CASE("a symlink in a segment's place is never followed and never removed", "[hardening][foreign]") {
  segment_guard g("foreign-link");
  segment_guard target("foreign-link-target");
  auto victim = producer<std::uint64_t>::create(target.name(), 64, {.persistent = true});
  const std::string path = shm_path(g.name());
  REQUIRE(::symlink(shm_path(target.name()).c_str(), path.c_str()) == 0);
  planted cleanup(path);
  age(path);
  const struct stat before = lstat_of(path);

  child_process st("status_of", {g.name()});
  CHECK(st.wait(std::chrono::seconds(60)) == 20 + static_cast<int>(errc::permission_denied));  // ELOOP, as before
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open_or_create(g.name(), 64, quick()); }) ==
        errc::permission_denied);
  CHECK(code_of([&] { (void)producer<std::uint64_t>::create(g.name(), 64, quick()); }) == errc::already_exists);
  CHECK(code_of([&] { (void)is_stale(g.name()); }) == errc::permission_denied);
  const std::vector<std::string> swept = remove_stale();
  CHECK(std::find(swept.begin(), swept.end(), g.name()) == swept.end());
  // remove() used to delete the link; it removes segments only.
  CHECK(code_of([&] { (void)shmring::remove(g.name()); }) == errc::permission_denied);

  const struct stat after = lstat_of(path);
  CHECK(S_ISLNK(after.st_mode));
  CHECK(after.st_ino == before.st_ino);
  CHECK(segment_exists(target.name()));
  CHECK(victim.consumer_state() == peer_state::absent);  // nobody attached to the target through the link
}

TEST_CASE("every entry point says permission_denied on another user's ring, and leaves it untouched",
          "[hardening][foreign][permissions]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: acting as another user needs root (setresuid); run the tests as root to cover it");
    return;
  }
  segment_guard g("root-ring");
  auto p = producer<std::uint64_t>::create(g.name(), 64, quick());
  REQUIRE(p.try_push(42));
  const ino_t ino = shmring_test::segment_inode(g.name());

  child_process other("other_user_calls", {g.name()}, /*capture_stdout=*/true);
  const std::string raw = other.read_output();
  REQUIRE(other.wait() == 0);
  INFO("child output:\n" << raw);
  const auto kv = key_values(raw);
  for (const char* call : {"consumer_open", "producer_open", "message_open", "open_or_create", "status", "remove",
                           "is_stale", "remove_stale"}) {
    CAPTURE(call);
    REQUIRE(kv.count(call) == 1);
    CHECK(kv.at(call) == "permission_denied");  // remove said system_error (EPERM of the sticky /dev/shm) before
  }
  // Root's ring: the same object, still named, still working.
  CHECK(shmring_test::segment_inode(g.name()) == ino);
  auto c = consumer<std::uint64_t>::open(g.name(), quick());
  CHECK(c.try_pop() == std::optional<std::uint64_t>(42));
}
