// shmring: the whole library but the lock/atomic statistics (<shmring/stats/locks.hpp>). Include this one header.
// May touch: nothing by itself; it gathers the public headers.
#pragma once

#include <shmring/config.hpp>
#include <shmring/dynamic.hpp>
#include <shmring/error.hpp>
#include <shmring/event/poller.hpp>
#include <shmring/lifecycle.hpp>
#include <shmring/message.hpp>
#include <shmring/options.hpp>
#include <shmring/ring/byte_ring.hpp>
#include <shmring/ring/typed_ring.hpp>
#include <shmring/stale.hpp>
#include <shmring/status.hpp>
#include <shmring/typed.hpp>
#include <shmring/wait.hpp>
