// shmring message ring: throughput of 64 B, 1 KiB, 64 KiB and 1 MiB messages between two processes, copying
// (send / receive into a buffer) and zero-copy (reserve + write in place + commit / read in place + release), each
// with and without the per-message timestamp, and
// the round trip of 8-byte messages over two message rings. Same harness and parameters as the peers' message
// entries in peers/ (msg_capacity bytes, msg_round_bytes per iteration, every message checked at both ends).
#include "harness/control.hpp"
#include "harness/counters.hpp"
#include "harness/cores.hpp"
#include "harness/fail.hpp"
#include "harness/process.hpp"
#include "harness/registration.hpp"
#include "harness/round_trip.hpp"
#include "workloads/message_rounds.hpp"
#include "workloads/messages.hpp"
#include "workloads/params.hpp"

#include <shmring/message.hpp>

#include <string>
#include <vector>

namespace shmring_bench {
namespace {

enum class msg_mode : int {
  copy = 0,             ///< send / receive into a buffer
  zero_copy = 1,        ///< reserve + write in place + commit / read in place + release
  copy_no_ts = 2,       ///< copy, from a producer made with options::timestamps = false (no clock read per message)
  zero_copy_no_ts = 3,  ///< zero-copy, from a producer made with options::timestamps = false
};

constexpr bool is_zero_copy(msg_mode m) noexcept { return m == msg_mode::zero_copy || m == msg_mode::zero_copy_no_ts; }
constexpr bool stamps(msg_mode m) noexcept { return m == msg_mode::copy || m == msg_mode::zero_copy; }

/// Reads every byte of a message in place (what a consumer of a zero-copy message does at least once): an xor of
/// its 8-byte words, kept so the compiler cannot drop it.
std::uint64_t touch(std::span<const std::byte> p) noexcept {
  // Four independent accumulators over 32 bytes per step, so the loop is bound by the loads, not by the xors.
  std::uint64_t x[4] = {0, 0, 0, 0};
  const std::size_t steps = p.size() / 32;
  for (std::size_t i = 0; i < steps; ++i)
    for (std::size_t k = 0; k < 4; ++k) {
      std::uint64_t w;
      std::memcpy(&w, p.data() + 32 * i + 8 * k, 8);
      x[k] ^= w;
    }
  for (std::size_t i = steps * 32; i + 8 <= p.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p.data() + i, 8);
    x[0] ^= w;
  }
  return x[0] ^ x[1] ^ x[2] ^ x[3];
}

void BM_msg_process(benchmark::State& state, std::size_t size, msg_mode m) {
  scoped_pin pin(bench_cpus().first);
  const std::string name = unique_name("msg");
  shared_control ctl;
  int status = 0;
  {
    shmring::options o;
    o.timestamps = stamps(m);
    auto p = shmring::message_producer::create(name, msg_capacity, o);
    child_process child("msg_consumer", {name, std::to_string(size), std::to_string(static_cast<int>(m))}, {ctl.fd()});
    if (!is_zero_copy(m))
      produce_messages(
          state, ctl.get(), size, [&](const std::byte* b, std::size_t n) { p.send(std::span<const std::byte>(b, n)); },
          &child);
    else
      produce_messages(
          state, ctl.get(), size,
          [&](const std::byte* b, std::size_t n) {
            const std::span<std::byte> r = p.reserve(n);
            // The producer writes the message in place: the body, then the sequence number at both ends, each
            // from where it is. (One memcpy of all n bytes from the source would load 64 bytes over the two
            // 8-byte stores that just stamped it: a load the store buffer cannot forward, which waits for every
            // older store, records in the ring included, to reach the cache. That measured the harness.)
            std::memcpy(r.data() + 8, b + 8, n - 16);
            std::memcpy(r.data(), b, 8);
            std::memcpy(r.data() + n - 8, b + n - 8, 8);
            p.commit(n);
          },
          &child);
    status = child.wait();
  }
  (void)shmring::remove(name);
  finish_messages(state, ctl.get(), msg_capacity, status);
}

SHMRING_CHILD(msg_consumer) {
  shared_control ctl(child_fd_base);
  auto c = shmring::message_consumer::open(args.at(0));
  const auto size = static_cast<std::size_t>(std::stoul(args.at(1)));
  const auto m = static_cast<msg_mode>(std::stoi(args.at(2)));
  if (!is_zero_copy(m)) {
    page_buffer buf(size);
    const std::span<std::byte> out(buf.data(), size);
    consume_messages(ctl.get(), size, [&] {
      const shmring::message_info info = c.receive(out);
      if (info.length != size) die("message of " + std::to_string(info.length) + " bytes, expected " + std::to_string(size));
      return ends_of(out.data(), size);
    });
  } else {
    std::uint64_t sink = 0;
    consume_messages(ctl.get(), size, [&] {
      const shmring::message_view v = c.read();
      if (v.payload.size() != size) die("message of " + std::to_string(v.payload.size()) + " bytes, expected " + std::to_string(size));
      sink ^= touch(v.payload);
      const auto e = ends_of(v.payload.data(), size);
      c.release();
      return e;
    });
    benchmark::DoNotOptimize(sink);
  }
  return 0;
}

/// Ping-pong of 8-byte messages over two message rings between this process and a child.
void BM_msg_rtt_process(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const std::string a = unique_name("msg-ping"), b = unique_name("msg-pong");
  shared_control ctl;
  int status = 0;
  {
    auto p = shmring::message_producer::create(a, msg_capacity);
    auto c = shmring::message_consumer::create(b, msg_capacity);
    child_process child("msg_echo", {a, b}, {ctl.fd()});
    start(ctl.get(), &child);
    ping_pong(
        state, [&](std::uint64_t v) { p.send_typed(v); }, [&] { return c.receive_typed<std::uint64_t>(); });
    status = child.wait();
  }
  (void)shmring::remove(a);
  (void)shmring::remove(b);
  if (status != 0) state.SkipWithError("the echo process failed");
}

SHMRING_CHILD(msg_echo) {
  shared_control ctl(child_fd_base);
  auto c = shmring::message_consumer::open(args.at(0));
  auto p = shmring::message_producer::open(args.at(1));
  echo(ctl.get(), [&] { return c.receive_typed<std::uint64_t>(); }, [&](std::uint64_t v) { p.send_typed(v); });
  return 0;
}

const bool registered = [] {
  for (const std::size_t s : msg_sizes) {
    benchmark::RegisterBenchmark(("msg/shmring_copy/process/" + size_name(s)).c_str(), BM_msg_process, s, msg_mode::copy)
        ->Apply(two_sided);
    benchmark::RegisterBenchmark(("msg/shmring_zero_copy/process/" + size_name(s)).c_str(), BM_msg_process, s,
                                 msg_mode::zero_copy)
        ->Apply(two_sided);
    benchmark::RegisterBenchmark(("msg/shmring_copy_no_ts/process/" + size_name(s)).c_str(), BM_msg_process, s,
                                 msg_mode::copy_no_ts)
        ->Apply(two_sided);
    benchmark::RegisterBenchmark(("msg/shmring_zero_copy_no_ts/process/" + size_name(s)).c_str(), BM_msg_process, s,
                                 msg_mode::zero_copy_no_ts)
        ->Apply(two_sided);
  }
  benchmark::RegisterBenchmark("rtt/msg/process", BM_msg_rtt_process)->Apply(round_trip);
  return true;
}();

}  // namespace
}  // namespace shmring_bench
