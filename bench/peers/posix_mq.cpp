// Peer: POSIX message queues between two processes. Messages up to msgsize_max (8 KiB by default: the 64 B and
// 1 KiB runs), a queue holding msg_capacity bytes or as many messages as the system allows; round trip: two queues
// of 8-byte messages.
// May touch: its queues (named by unique_name, unlinked after each run), the child process of each run.
#include "peers/peers.hpp"

#include "harness/control.hpp"
#include "harness/counters.hpp"
#include "harness/cores.hpp"
#include "harness/fail.hpp"
#include "harness/process.hpp"
#include "harness/round_trip.hpp"
#include "harness/sysctl.hpp"
#include "workloads/message_rounds.hpp"
#include "workloads/messages.hpp"
#include "workloads/params.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <mqueue.h>

namespace shmring_bench {
namespace {

/// Opens a new POSIX queue of msg_bytes messages holding `want` of them, or as many as the system allows
/// (/proc/sys/fs/mqueue/msg_max, 10 by default, for an unprivileged user; RLIMIT_MSGQUEUE for everyone). Returns
/// the descriptor; held is set to the number of messages obtained.
mqd_t open_mq(const std::string& name, std::size_t msg_bytes, long want, long& held) {
  const long size_max = read_long("/proc/sys/fs/mqueue/msgsize_max", 8192);
  if (static_cast<long>(msg_bytes) > size_max) die("POSIX mq: messages of " + std::to_string(msg_bytes) + " bytes exceed msgsize_max");
  const long msg_max = read_long("/proc/sys/fs/mqueue/msg_max", 10);
  for (long n : {want, std::min(want, 65536L), std::min(want, 4096L), std::min(want, 1024L), std::min(want, msg_max)}) {
    mq_attr attr{};
    attr.mq_maxmsg = n;
    attr.mq_msgsize = static_cast<long>(msg_bytes);
    const mqd_t q = ::mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
    if (q != static_cast<mqd_t>(-1)) {
      held = n;
      return q;
    }
    if (errno != EINVAL && errno != EMFILE && errno != ENOMEM) break;
  }
  die("mq_open(" + name + ") failed: " + std::strerror(errno));
}

/// "/" and a unique name: a POSIX queue's name. (Appended, not "/" + unique_name(...): gcc 12 at -O3 warns about
/// the inlined string insert that makes, a bogus -Wrestrict, GCC bug 105651.)
std::string mq_name(std::string_view what) {
  std::string n = "/";
  n += unique_name(what);
  return n;
}

void mq_send_all(mqd_t q, const void* p, std::size_t n) {
  while (::mq_send(q, static_cast<const char*>(p), n, 0) != 0)
    if (errno != EINTR) die("mq_send failed: " + std::string(std::strerror(errno)));
}

void mq_receive_all(mqd_t q, void* p, std::size_t n) {
  for (;;) {
    const ssize_t k = ::mq_receive(q, static_cast<char*>(p), n, nullptr);
    if (k == static_cast<ssize_t>(n)) return;
    if (k < 0 && errno == EINTR) continue;
    die("mq_receive failed or short: " + std::string(k < 0 ? std::strerror(errno) : "short message"));
  }
}

}  // namespace

/// Messages up to msgsize_max (8 KiB by default): the 64 B and 1 KiB runs.
void BM_posix_mq_process(benchmark::State& state, std::size_t size) {
  scoped_pin pin(bench_cpus().first);
  const std::string name = mq_name("mq");
  long held = 0;
  const mqd_t q = open_mq(name, size, static_cast<long>(msg_capacity / size), held);
  shared_control ctl;
  int status = 0;
  {
    child_process child("posix_mq_consumer", {name, std::to_string(size)}, {ctl.fd()});
    produce_messages(state, ctl.get(), size, [&](const std::byte* p, std::size_t n) { mq_send_all(q, p, n); }, &child);
    status = child.wait();
  }
  ::mq_close(q);
  ::mq_unlink(name.c_str());
  finish_messages(state, ctl.get(), static_cast<std::uint64_t>(held) * size, status);
}

SHMRING_CHILD(posix_mq_consumer) {
  shared_control ctl(child_fd_base);
  const mqd_t q = ::mq_open(args.at(0).c_str(), O_RDONLY);
  if (q == static_cast<mqd_t>(-1)) return 2;
  const auto size = static_cast<std::size_t>(std::stoul(args.at(1)));
  page_buffer buf(size);
  std::byte* p = buf.data();
  consume_messages(ctl.get(), size, [&] {
    mq_receive_all(q, p, size);
    return ends_of(p, size);
  });
  return 0;
}

void BM_posix_mq_rtt_process(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const std::string a = mq_name("mq-ping"), b = mq_name("mq-pong");
  long held = 0;
  const mqd_t ping = open_mq(a, 8, static_cast<long>(capacity), held);
  const mqd_t pong = open_mq(b, 8, static_cast<long>(capacity), held);
  shared_control ctl;
  int status = 0;
  {
    child_process child("posix_mq_echo", {a, b}, {ctl.fd()});
    start(ctl.get(), &child);
    ping_pong(
        state, [&](std::uint64_t v) { mq_send_all(ping, &v, sizeof v); },
        [&] {
          std::uint64_t v = 0;
          mq_receive_all(pong, &v, sizeof v);
          return v;
        });
    status = child.wait();
  }
  ::mq_close(ping);
  ::mq_close(pong);
  ::mq_unlink(a.c_str());
  ::mq_unlink(b.c_str());
  if (status != 0) state.SkipWithError("the echo process failed");
}

SHMRING_CHILD(posix_mq_echo) {
  shared_control ctl(child_fd_base);
  const mqd_t ping = ::mq_open(args.at(0).c_str(), O_RDONLY);
  const mqd_t pong = ::mq_open(args.at(1).c_str(), O_WRONLY);
  if (ping == static_cast<mqd_t>(-1) || pong == static_cast<mqd_t>(-1)) return 2;
  echo(
      ctl.get(),
      [&] {
        std::uint64_t v = 0;
        mq_receive_all(ping, &v, sizeof v);
        return v;
      },
      [&](std::uint64_t v) { mq_send_all(pong, &v, sizeof v); });
  return 0;
}

}  // namespace shmring_bench
