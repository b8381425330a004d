// Peer: a Unix domain socket pair (SOCK_STREAM) between two processes, with the kernel's default buffer sizes.
// Messages: one write and one read per message, one direction. Round trip: the same pair carries both directions.
// May touch: the socket pairs it makes (closed after each run), the child process of each run (stream.hpp).
#include "peers/peers.hpp"

#include "harness/cores.hpp"
#include "harness/fail.hpp"
#include "peers/stream.hpp"

#include <cstddef>
#include <utility>

#include <sys/socket.h>
#include <unistd.h>

namespace shmring_bench {
namespace {

/// One socket pair as {the child's end, ours}: both ends are read-write.
std::pair<int, int> make_socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) die("socketpair failed");
  return {fds[1], fds[0]};  // we write fds[0], the child reads fds[1]
}

/// The bytes the socket holds: its send buffer, as the kernel accounts it.
long socket_bytes(int wr) {
  int v = 0;
  socklen_t len = sizeof v;
  return ::getsockopt(wr, SOL_SOCKET, SO_SNDBUF, &v, &len) == 0 ? v : -1;
}

}  // namespace

void BM_unix_socket_process(benchmark::State& state, std::size_t size) {
  scoped_pin pin(bench_cpus().first);
  const auto [rd, wr] = make_socket_pair();
  stream_messages(state, size, rd, wr, socket_bytes);
  ::close(wr);
}

void BM_unix_socket_rtt_process(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const auto [child_end, our_end] = make_socket_pair();
  stream_round_trips(state, child_end, our_end, our_end, child_end);
  ::close(child_end);
  ::close(our_end);
}

}  // namespace shmring_bench
