# The module's sources, relative to bindings/python (setup.py reads this list too).
set(SHMRING_PYTHON_SOURCES
  src/module.cpp
  src/errors.cpp
  src/status.cpp
  src/messages.cpp
  src/message_view.cpp
  src/values.cpp
  src/typed.cpp
  src/async_support.cpp
)
