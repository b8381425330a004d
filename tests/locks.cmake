# Lock and atomic statistics (include/shmring/locks.hpp).
shmring_test(locks_test SOURCES stats/locks_test.cpp LABELS unit)
