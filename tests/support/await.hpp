// Test support: waiting for another process's or thread's progress, seen through shared words, by yielding the
// core (never a sleep: what ends the wait is the event itself).
#pragma once

#include <thread>

namespace shmring_test {

/// Yields until pred() holds.
template <class Pred>
void await(Pred pred) {
  while (!pred()) std::this_thread::yield();
}

}  // namespace shmring_test
