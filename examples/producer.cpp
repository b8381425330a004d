// producer: pushes --count sequence numbers into the typed ring --name and prints its rate; with --size, sends
// --count messages of --size bytes (sequence number, derived bytes, CRC-32) into the message ring --name instead.
// Start `consumer` with the same --name, --capacity (and --size), before or after this program: whichever starts
// first creates the ring. What was sent stays in the ring if this program exits before the consumer reads it.
#include <shmring/shmring.hpp>

#include "common.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <vector>

static const char* usage =
    "usage: producer [--mode producer|consumer] [--name NAME] [--count N] [--capacity C] [--batch B]\n"
    "                [--size S] [--wait spin|yield|sleep] [--cpu K]\n"
    "  Pushes the 8-byte values 0..N-1 into the shmring typed ring NAME (default shmring-demo) and prints\n"
    "  messages/s. --capacity: slots, a power of two (default 65536). --batch: push B values per call with\n"
    "  push_n (default 1: push). --wait: how a full ring is waited on (default sleep). --cpu: pin to CPU K.\n"
    "  --size S: use the message ring NAME instead: send N messages of S bytes (S >= 12: the sequence number,\n"
    "  bytes derived from it, and a CRC-32 that the consumer checks); --capacity is then in bytes (default\n"
    "  1048576). --mode (as in BitRPC's cross-language test): producer, or consumer to run the consumer program.\n";

// The message ring: N messages of S bytes, each built from the sequence number the ring will give it.
static int run_messages(const example::args& a, const std::string& name, std::uint64_t count,
                        const shmring::options& o) {
  const std::uint64_t size = a.num("size", 64);
  if (size < example::min_message_size || size > shmring::max_message_size)
    throw std::invalid_argument("--size must be at least 12 and at most 2^30");
  auto p = shmring::message_producer::open_or_create(name, a.num("capacity", 1u << 20), o);
  std::vector<std::byte> buf(static_cast<std::size_t>(size));
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < count; ++i) {
    example::fill_message(p.next_sequence(), buf);
    p.send(buf);
  }
  p.close();  // end of stream: the consumer receives everything, then sees errc::closed
  const double s = example::seconds_since(t0);
  std::printf("producer: sent %llu messages of %llu bytes in %.3f s: %.2f M messages/s, %.1f MB/s (wake-up calls: "
              "%llu)\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(size), s, count / s / 1e6,
              static_cast<double>(count * size) / s / 1e6, static_cast<unsigned long long>(p.wake_calls()));
  return 0;
}

int main(int argc, char** argv) try {
  // Ctrl-C or SIGTERM detaches the ring before the process ends, so it is never left stale.
  shmring::termination_guard guard;
  example::args a(argc, argv, usage);
  example::run_mode(a, "producer", "consumer", argc, argv);
  const std::string name = a.str("name", "shmring-demo");
  const std::uint64_t count = a.num("count", 10'000'000);
  const std::uint64_t capacity = a.num("capacity", 65536);
  const std::uint64_t batch = std::max<std::uint64_t>(1, std::min<std::uint64_t>(a.num("batch", 1), 4096));
  example::pin(a.has("cpu") ? static_cast<long>(a.num("cpu", 0)) : -1);

  shmring::options o;
  o.wait.policy = example::parse_wait(a.str("wait", "sleep"));
  if (a.has("size")) return run_messages(a, name, count, o);
  auto p = shmring::producer<std::uint64_t>::open_or_create(name, capacity, o);

  const auto t0 = std::chrono::steady_clock::now();
  if (batch == 1) {
    for (std::uint64_t i = 0; i < count; ++i) p.push(i);
  } else {
    std::array<std::uint64_t, 4096> buf{};
    for (std::uint64_t i = 0; i < count;) {
      const std::uint64_t k = std::min(batch, count - i);
      for (std::uint64_t j = 0; j < k; ++j) buf[j] = i + j;
      p.push_n(std::span<const std::uint64_t>(buf.data(), k));
      i += k;
    }
  }
  p.close();  // end of stream: the consumer receives everything, then sees errc::closed
  const double s = example::seconds_since(t0);
  std::printf("producer: pushed %llu messages in %.3f s: %.1f M messages/s, %.1f MB/s (wake-up calls: %llu)\n",
              static_cast<unsigned long long>(count), s, count / s / 1e6, count * 8.0 / s / 1e6,
              static_cast<unsigned long long>(p.wake_calls()));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "producer: %s\n", e.what());
  return 1;
}
