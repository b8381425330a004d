// shmring: the lock and atomic statistics, all of it: a spinlock that can live in a shared segment
// (stats/spinlock.hpp), a wrapper that counts how any lock is acquired (stats/stats_lock.hpp) and an atomic counter
// that counts its own operations (stats/stats_counter.hpp). Part of the library, independent of the rings: the
// umbrella <shmring/shmring.hpp> does not include it.
// May touch: nothing by itself.
#pragma once

#include <shmring/stats/snapshot.hpp>
#include <shmring/stats/spinlock.hpp>
#include <shmring/stats/stats_counter.hpp>
#include <shmring/stats/stats_lock.hpp>
