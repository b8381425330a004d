// Peers over a byte stream (pipe.cpp, unix_socket.cpp): writing and reading whole messages, and the two entries
// both run once they have their descriptors: messages to a consumer child (one write and one read of `size` bytes
// per message), and the round trip of 8-byte messages with an echo child. The children are in stream.cpp.
// May touch: the descriptors it is given (writes, reads; never closes them), the child process of each run.
#pragma once

#include "harness/control.hpp"
#include "harness/counters.hpp"
#include "harness/fail.hpp"
#include "harness/process.hpp"
#include "harness/round_trip.hpp"
#include "workloads/message_rounds.hpp"

#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include <unistd.h>

namespace shmring_bench {

inline void write_full(int fd, const void* p, std::size_t n) {
  const auto* b = static_cast<const char*>(p);
  while (n != 0) {
    const ssize_t k = ::write(fd, b, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      die("write failed: " + std::string(std::strerror(errno)));
    }
    b += k;
    n -= static_cast<std::size_t>(k);
  }
}

inline void read_full(int fd, void* p, std::size_t n) {
  auto* b = static_cast<char*>(p);
  while (n != 0) {
    const ssize_t k = ::read(fd, b, n);
    if (k <= 0) {
      if (k < 0 && errno == EINTR) continue;
      die(k == 0 ? "read: the peer closed its end" : "read failed: " + std::string(std::strerror(errno)));
    }
    b += k;
    n -= static_cast<std::size_t>(k);
  }
}

/// Producer here, consumer in a child: one write and one read of `size` bytes per message. rd goes to the child
/// (and is closed here once it has it); wr stays open for held(wr), the bytes the stream holds, read after the
/// run. The caller closes wr.
inline void stream_messages(benchmark::State& state, std::size_t size, int rd, int wr, long (*held)(int wr)) {
  shared_control ctl;
  int status = 0;
  {
    child_process child("stream_consumer", {std::to_string(size)}, {ctl.fd(), rd});
    ::close(rd);
    produce_messages(state, ctl.get(), size, [&](const std::byte* p, std::size_t n) { write_full(wr, p, n); }, &child);
    status = child.wait();
  }
  finish_messages(state, ctl.get(), static_cast<std::uint64_t>(held(wr)), status);
}

/// Round trip of 8-byte messages: the ping goes through to_child_wr (the child reads to_child_rd), the pong comes
/// back through from_child_wr (the child writes it) to from_child_rd. The caller closes the descriptors.
inline void stream_round_trips(benchmark::State& state, int to_child_rd, int to_child_wr, int from_child_rd,
                               int from_child_wr) {
  shared_control ctl;
  int status = 0;
  {
    child_process child("stream_echo", {}, {ctl.fd(), to_child_rd, from_child_wr});
    start(ctl.get(), &child);
    ping_pong(
        state, [&](std::uint64_t v) { write_full(to_child_wr, &v, sizeof v); },
        [&] {
          std::uint64_t v;
          read_full(from_child_rd, &v, sizeof v);
          return v;
        });
    status = child.wait();
  }
  if (status != 0) state.SkipWithError("the echo process failed");
}

}  // namespace shmring_bench
