// shmring: variable-length messages between two processes: message_producer and message_consumer over a
// message ring (framed records, layout/record.hpp), and what a message is (message/types.hpp).
// May touch: nothing by itself; it gathers the three headers below.
//
// RESTARTS (docs/layout.md, "Message ring data area", has the record-level rules)
// - A message is consumed when the consumer releases it (try_receive/receive release at once; read() holds it
//   until release()). A consumer that dies before releasing leaves it to the next consumer: at-least-once for that
//   one message, exactly-once for every other.
// - A consumer that dies while reassembling a fragmented message has consumed some of its fragments. The next
//   consumer skips the fragments that remain (counted in dropped()) and starts with the next whole message.
// - A producer that dies (or whose send_for times out, or whose send throws peer_dead) after publishing some
//   fragments of a message leaves a partial message. The consumer keeps it aside, never delivers it, and drops it
//   (counted in dropped()) when the next message arrives: that message's first record carries the resync flag,
//   because a producer that attaches to a ring another producer used always sets it on its first message, and a
//   producer that gives up a message sets it on its next one. Sequence numbers continue from the header's
//   next-sequence word, so they never repeat; a given-up message leaves a gap, which the resync flag excuses.
#pragma once

#include <shmring/message/consumer.hpp>
#include <shmring/message/producer.hpp>
#include <shmring/message/types.hpp>
