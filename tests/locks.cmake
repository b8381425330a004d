# Lock and atomic statistics (include/shmring/stats/locks.hpp).
shmring_test(locks_test SOURCES unit/locks_test.cpp LABELS unit)
