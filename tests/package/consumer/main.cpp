// A user's program: includes the umbrella header and moves values through a ring it creates.
#include <shmring/shmring.hpp>

#include <cstdio>
#include <string>

#include <unistd.h>

int main() {
  const std::string name = "package-consumer-" + std::to_string(::getpid());
  auto c = shmring::consumer<long>::create(name, 64);
  auto p = shmring::producer<long>::open(name);
  for (long i = 0; i < 1000; ++i) {
    p.push(i);
    if (c.pop() != i) return 1;
  }
  std::printf("package consumer: 1000 values ok\n");
  return 0;
}
