#include "typed.hpp"
namespace shmring_py {
void bind_typed(pybind11::module_&) {}
}
