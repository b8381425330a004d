// Peer: a pipe between two processes. Messages: one pipe holding msg_capacity bytes (or as much as pipe-max-size
// allows an unprivileged process), one write and one read per message. Round trip: two pipes of capacity 8-byte
// messages, one each way.
// May touch: the pipes it makes (closed after each run), the child process of each run (stream.hpp).
#include "peers/peers.hpp"

#include "harness/cores.hpp"
#include "harness/fail.hpp"
#include "harness/sysctl.hpp"
#include "peers/stream.hpp"
#include "workloads/params.hpp"

#include <cstddef>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace shmring_bench {
namespace {

/// A pipe {read end, write end} holding `bytes`, or as much as pipe-max-size allows.
std::pair<int, int> make_pipe(std::size_t bytes) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) die("pipe2 failed");
  if (::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(bytes)) < 0)
    (void)::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(read_long("/proc/sys/fs/pipe-max-size", 1 << 20)));
  return {fds[0], fds[1]};
}

/// The bytes the pipe holds.
long pipe_bytes(int wr) { return ::fcntl(wr, F_GETPIPE_SZ); }

}  // namespace

void BM_pipe_process(benchmark::State& state, std::size_t size) {
  scoped_pin pin(bench_cpus().first);
  const auto [rd, wr] = make_pipe(msg_capacity);
  stream_messages(state, size, rd, wr, pipe_bytes);
  ::close(wr);
}

void BM_pipe_rtt_process(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const auto [to_child_rd, to_child_wr] = make_pipe(capacity * 8);
  const auto [from_child_rd, from_child_wr] = make_pipe(capacity * 8);
  stream_round_trips(state, to_child_rd, to_child_wr, from_child_rd, from_child_wr);
  ::close(to_child_rd);
  ::close(to_child_wr);
  ::close(from_child_rd);
  ::close(from_child_wr);
}

}  // namespace shmring_bench
