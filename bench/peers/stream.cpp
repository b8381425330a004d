// The children of the byte-stream peers (stream.hpp): the consumer of the message entries and the echo peer of the
// round trips, the same for a pipe and a Unix socket pair (they only see descriptors).
// May touch: the descriptors handed to it (at child_fd_base), the control block, its own buffer.
#include "peers/stream.hpp"

#include "harness/control.hpp"
#include "harness/process.hpp"
#include "harness/round_trip.hpp"
#include "workloads/message_rounds.hpp"
#include "workloads/messages.hpp"

#include <cstdint>
#include <string>

namespace shmring_bench {

SHMRING_CHILD(stream_consumer) {
  shared_control ctl(child_fd_base);
  const int rd = child_fd_base + 1;
  const auto size = static_cast<std::size_t>(std::stoul(args.at(0)));
  page_buffer buf(size);
  std::byte* p = buf.data();
  consume_messages(ctl.get(), size, [&] {
    read_full(rd, p, size);
    return ends_of(p, size);
  });
  return 0;
}

SHMRING_CHILD(stream_echo) {
  shared_control ctl(child_fd_base);
  const int rd = child_fd_base + 1, wr = child_fd_base + 2;
  echo(
      ctl.get(),
      [&] {
        std::uint64_t v;
        read_full(rd, &v, sizeof v);
        return v;
      },
      [&](std::uint64_t v) { write_full(wr, &v, sizeof v); });
  return 0;
}

}  // namespace shmring_bench
