// consumer: pops --count values from the typed ring --name, checks that they are exactly 0..N-1 in order, and
// prints its rate. Exits 1 if any value is missing, repeated or out of order.
#include <shmring/shmring.hpp>

#include "common.hpp"

#include <array>
#include <cstdint>
#include <cstdio>

static const char* usage =
    "usage: consumer [--name NAME] [--count N] [--capacity C] [--batch B] [--wait spin|yield|sleep] [--cpu K]\n"
    "  Pops N 8-byte values from the shmring typed ring NAME (default shmring-demo), checks that they are\n"
    "  0..N-1 in order, and prints messages/s. Options as for producer.\n";

int main(int argc, char** argv) try {
  example::args a(argc, argv, usage);
  const std::string name = a.str("name", "shmring-demo");
  const std::uint64_t count = a.num("count", 10'000'000);
  const std::uint64_t capacity = a.num("capacity", 65536);
  const std::uint64_t batch = std::max<std::uint64_t>(1, std::min<std::uint64_t>(a.num("batch", 1), 4096));
  example::pin(a.has("cpu") ? static_cast<long>(a.num("cpu", 0)) : -1);

  shmring::options o;
  o.wait.policy = example::parse_wait(a.str("wait", "sleep"));
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
