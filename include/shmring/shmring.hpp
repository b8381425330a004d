// shmring: the whole library. Include this one header.
#pragma once

#include <shmring/config.hpp>
#include <shmring/error.hpp>
#include <shmring/layout.hpp>
#include <shmring/message.hpp>
#include <shmring/ring.hpp>
#include <shmring/segment.hpp>
#include <shmring/status.hpp>
#include <shmring/stale.hpp>
#include <shmring/typed.hpp>
#include <shmring/wait.hpp>
