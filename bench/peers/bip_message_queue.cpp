// Peer: Boost.Interprocess message_queue between two processes. Messages: a queue of msg_capacity / size messages
// of `size` bytes, one send and one receive per message. Round trip: two queues of capacity 8-byte messages.
// May touch: its message queues (named by unique_name, removed after each run), the child process of each run.
#include "peers/peers.hpp"

#include "harness/control.hpp"
#include "harness/counters.hpp"
#include "harness/cores.hpp"
#include "harness/fail.hpp"
#include "harness/process.hpp"
#include "harness/round_trip.hpp"
#include "workloads/message_rounds.hpp"
#include "workloads/messages.hpp"
#include "workloads/params.hpp"

#include <boost/interprocess/ipc/message_queue.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace shmring_bench {

namespace bip = boost::interprocess;

namespace {

/// The next 8-byte message of a round trip.
std::uint64_t receive_word(bip::message_queue& q) {
  std::uint64_t v = 0;
  bip::message_queue::size_type got = 0;
  unsigned prio = 0;
  q.receive(&v, sizeof v, got, prio);
  return v;
}

}  // namespace

void BM_bip_mq_process(benchmark::State& state, std::size_t size) {
  scoped_pin pin(bench_cpus().first);
  const std::string name = unique_name("bip-mq");
  bip::message_queue::remove(name.c_str());
  shared_control ctl;
  int status = 0;
  {
    bip::message_queue mq(bip::create_only, name.c_str(), msg_capacity / size, size);
    child_process child("bip_mq_consumer", {name, std::to_string(size)}, {ctl.fd()});
    produce_messages(state, ctl.get(), size, [&](const std::byte* p, std::size_t n) { mq.send(p, n, 0); }, &child);
    status = child.wait();
  }
  bip::message_queue::remove(name.c_str());
  finish_messages(state, ctl.get(), msg_capacity, status);
}

SHMRING_CHILD(bip_mq_consumer) {
  shared_control ctl(child_fd_base);
  bip::message_queue mq(bip::open_only, args.at(0).c_str());
  const auto size = static_cast<std::size_t>(std::stoul(args.at(1)));
  page_buffer buf(size);
  std::byte* p = buf.data();
  consume_messages(ctl.get(), size, [&] {
    bip::message_queue::size_type got = 0;
    unsigned prio = 0;
    mq.receive(p, size, got, prio);
    if (got != size) die("short Boost message_queue message");
    return ends_of(p, size);
  });
  return 0;
}

void BM_bip_mq_rtt_process(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const std::string a = unique_name("bip-ping"), b = unique_name("bip-pong");
  bip::message_queue::remove(a.c_str());
  bip::message_queue::remove(b.c_str());
  shared_control ctl;
  int status = 0;
  {
    bip::message_queue ping(bip::create_only, a.c_str(), capacity, 8);
    bip::message_queue pong(bip::create_only, b.c_str(), capacity, 8);
    child_process child("bip_mq_echo", {a, b}, {ctl.fd()});
    start(ctl.get(), &child);
    ping_pong(state, [&](std::uint64_t v) { ping.send(&v, sizeof v, 0); }, [&] { return receive_word(pong); });
    status = child.wait();
  }
  bip::message_queue::remove(a.c_str());
  bip::message_queue::remove(b.c_str());
  if (status != 0) state.SkipWithError("the echo process failed");
}

SHMRING_CHILD(bip_mq_echo) {
  shared_control ctl(child_fd_base);
  bip::message_queue ping(bip::open_only, args.at(0).c_str());
  bip::message_queue pong(bip::open_only, args.at(1).c_str());
  echo(ctl.get(), [&] { return receive_word(ping); }, [&](std::uint64_t v) { pong.send(&v, sizeof v, 0); });
  return 0;
}

}  // namespace shmring_bench
