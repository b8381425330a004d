// Test support: whether this build runs under a sanitizer, so long loops can scale their counts down (the logic
// they check is the same; ASan and TSan are 5-20x slower).
#pragma once

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SHMRING_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SHMRING_TEST_SANITIZED 1
#endif
#endif
#ifndef SHMRING_TEST_SANITIZED
#define SHMRING_TEST_SANITIZED 0
#endif

namespace shmring_test {
/// full in a normal build, reduced under a sanitizer.
constexpr unsigned long long scaled(unsigned long long full, unsigned long long reduced) noexcept {
  return SHMRING_TEST_SANITIZED ? reduced : full;
}
}  // namespace shmring_test
