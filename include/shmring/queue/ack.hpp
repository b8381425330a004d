// shmring: acknowledgement (seed 002's acks, docs/queue.md): what read()/release() already give, as one call.
// May touch: nothing of its own; the message_consumer it is given (read, release).
//
// At-least-once, with the restart rules of message.hpp: a message read with read()/try_read() stays in the ring
// until release() (the acknowledgement): the tail moves only then. A consumer that dies between the two leaves
// it to the next consumer, which receives it first (again), whole; every message released before is never
// delivered again. So a handler that runs between read and release is run at least once per message, and more
// than once only for a message whose consumer died (or threw, see below) before releasing it. A fragmented
// message larger than the ring cannot be held (message.hpp): it is lost with a consumer that dies holding it, and
// counted in dropped().
#pragma once

#include <shmring/config.hpp>
#include <shmring/message.hpp>

#include <chrono>
#include <optional>
#include <utility>

namespace shmring::queue {

/// Consumer thread only. Reads the next message (waiting at most d), calls handler(view) with it in place, and
/// acknowledges it (release()) once the handler returns: true. Nothing waiting within d: false, handler not
/// called. When the handler throws, the message is NOT acknowledged: it stays in the ring and the next read
/// (this consumer's, or a successor's after this one died) returns it again; the exception propagates. Throws as
/// read_for() does.
template <class Rep, class Period, class Handler>
bool handle_next(message_consumer& c, std::chrono::duration<Rep, Period> d, Handler&& handler) {
  const std::optional<message_view> v = c.read_for(d);
  if (!v) return false;
  std::forward<Handler>(handler)(*v);
  c.release();
  return true;
}

}  // namespace shmring::queue
