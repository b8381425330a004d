// shmring: variable-length messages between two processes: message_producer and message_consumer over a
// message ring (framed records, layout/record.hpp), and what a message is (message/types.hpp).
// May touch: nothing by itself; it gathers the three headers below.
//
// RESTARTS (docs/layout.md, "Message ring data area", has the record-level rules)
// - A message is consumed when the consumer releases it (try_receive/receive release at once; read() holds it
//   until release()). A consumer that dies before releasing leaves it to the next consumer: at-least-once for that
//   one message, exactly-once for every other.
// - A fragmented message that fits the ring whole (record::span_of from its first record <= capacity: every
//   message up to about capacity - 96 bytes) is held too: the consumer gives the producer none of its records back
//   until release(), so a consumer that dies while reassembling or holding it leaves it, whole, to the next one.
// - A message larger than that cannot be held (the producer needs its room back to send the rest): its records
//   are freed as they are read, so a consumer that dies while reassembling or holding it loses it, and the loss
//   is counted: the next consumer skips what remains of it (counted in dropped()), and since the consumer's stats
//   line keeps the sequence after the last message released, a successor whose first message has a higher
//   sequence (and no resync flag) counts the messages in between in dropped() as well.
// - A producer that dies (or whose send_for times out, or whose send throws peer_dead) after publishing some
//   fragments of a message leaves a partial message. The consumer keeps it aside, never delivers it, and drops it
//   (counted in dropped()) when the next message arrives: that message's first record carries the resync flag,
//   because a producer that attaches to a ring another producer used always sets it on its first message, and a
//   producer that gives up a message sets it on its next one. Sequence numbers continue from the header's
//   next-sequence word, so they never repeat; a given-up message leaves a gap, which the resync flag excuses.
#pragma once

#include <shmring/message/consumer.hpp>
#include <shmring/message/producer.hpp>
#include <shmring/message/replay.hpp>
#include <shmring/message/types.hpp>
#include <shmring/stale.hpp>  // shmring::remove, is_stale, remove_stale
