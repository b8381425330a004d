// consumer: pops --count values from the typed ring --name, checks that they are exactly 0..N-1 in order, and
// prints its rate. Exits 1 if any value is missing, repeated or out of order. With --size, receives --count
// messages from the message ring --name and checks each one's sequence number, size, bytes and CRC-32.
#include <shmring/shmring.hpp>

#include "common.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <vector>

static const char* usage =
    "usage: consumer [--mode producer|consumer] [--name NAME] [--count N] [--capacity C] [--batch B]\n"
    "                [--size S] [--wait spin|yield|sleep] [--cpu K]\n"
    "  Pops N 8-byte values from the shmring typed ring NAME (default shmring-demo), checks that they are\n"
    "  0..N-1 in order, and prints messages/s. Options as for producer.\n"
    "  --size S: receive N messages of S bytes from the message ring NAME instead (--capacity in bytes, default\n"
    "  1048576), reading each in place, and check its sequence number (consecutive), size, every byte and its\n"
    "  CRC-32. --mode: consumer, or producer to run the producer program. Exits 1 on any error.\n";

// The message ring: N messages, each read in place and checked, then released.
static int run_messages(const example::args& a, const std::string& name, std::uint64_t count,
                        const shmring::options& o) {
  const std::uint64_t size = a.num("size", 64);
  if (size < example::min_message_size || size > shmring::max_message_size)
    throw std::invalid_argument("--size must be at least 12 and at most 2^30");
  auto c = shmring::message_consumer::open_or_create(name, a.num("capacity", 1u << 20), o);
  std::vector<std::byte> scratch;
  std::uint64_t errors = 0, expected = 0, first_error = ~0ull;
  auto check = [&](const shmring::message_view& m, std::uint64_t k) {
    const bool ok = m.info.sequence == expected && m.payload.size() == size &&
                    example::check_message(m.info.sequence, m.payload, scratch);
    if (!ok && errors++ == 0) first_error = k;
    expected = m.info.sequence + 1;  // resynchronise, so one bad message counts once
  };
  // The first message starts the clock (and the sequence: a ring may have carried messages before this run).
  const shmring::message_view first = c.read();
  expected = first.info.sequence;
  const std::uint64_t first_sequence = expected;
  check(first, 0);
  c.release();
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t k = 1; k < count; ++k) {
    check(c.read(), k);
    c.release();
  }
  const double s = example::seconds_since(t0);
  std::printf("consumer: received %llu messages of %llu bytes (sequence %llu..%llu) in %.3f s: %.2f M messages/s, "
              "%.1f MB/s, %llu bad (sequence, size, bytes or CRC)\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(size),
              static_cast<unsigned long long>(first_sequence), static_cast<unsigned long long>(expected - 1), s,
              (count - 1) / s / 1e6, static_cast<double>((count - 1) * size) / s / 1e6,
              static_cast<unsigned long long>(errors));
  if (errors != 0)
    std::fprintf(stderr, "consumer: the first bad message is number %llu\n", static_cast<unsigned long long>(first_error));
  return errors == 0 ? 0 : 1;
}

int main(int argc, char** argv) try {
  // Ctrl-C or SIGTERM detaches the ring before the process ends, so it is never left stale.
  shmring::termination_guard guard;
  example::args a(argc, argv, usage);
  example::run_mode(a, "consumer", "producer", argc, argv);
  const std::string name = a.str("name", "shmring-demo");
  const std::uint64_t count = a.num("count", 10'000'000);
  const std::uint64_t capacity = a.num("capacity", 65536);
  const std::uint64_t batch = std::max<std::uint64_t>(1, std::min<std::uint64_t>(a.num("batch", 1), 4096));
  example::pin(a.has("cpu") ? static_cast<long>(a.num("cpu", 0)) : -1);

  shmring::options o;
  o.wait.policy = example::parse_wait(a.str("wait", "sleep"));
  if (a.has("size")) return run_messages(a, name, count, o);
  auto c = shmring::consumer<std::uint64_t>::open_or_create(name, capacity, o);

  // The first value starts the clock, so the time spent waiting for a late producer is not counted.
  std::uint64_t expected = 0, errors = 0;
  const std::uint64_t first = c.pop();
  errors += first != expected++;
  const auto t0 = std::chrono::steady_clock::now();
  if (batch == 1) {
    while (expected < count) errors += c.pop() != expected++;
  } else {
    std::array<std::uint64_t, 4096> buf{};
    while (expected < count) {
      const std::size_t n = c.pop_n(std::span<std::uint64_t>(buf.data(), std::min(batch, count - expected)));
      for (std::size_t j = 0; j < n; ++j) errors += buf[j] != expected++;
    }
  }
  const double s = example::seconds_since(t0);
  std::printf("consumer: received %llu messages in %.3f s: %.1f M messages/s, %.1f MB/s, %llu out of sequence\n",
              static_cast<unsigned long long>(count), s, (count - 1) / s / 1e6, (count - 1) * 8.0 / s / 1e6,
              static_cast<unsigned long long>(errors));
  return errors == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "consumer: %s\n", e.what());
  return 1;
}
